// Printing: the print stylesheet (atlas.css, @media print) hides the search, the filter form and
// the map's buttons and shows a print header (title, the filter in words), the map, the legend of
// what is drawn, the list and a footer (sources, date). This part opens the legend and sizes the
// map for the page while print media applies, and the Print button first loads the whole list
// (up to 500 places) rather than the page of 50 on screen.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map;
  // What the screen showed is what the paper shows, fitted into the printed map (whose shape
  // differs) at any zoom step: the province (or the filtered cities) when the view is still the
  // first one, else the bounds on screen. The screen's view comes back after printing.
  var saved = null;
  function enter() {
    if (!saved) {
      var first = atlas.firstView, c = map.getCenter();
      var untouched = first && first.zoom === map.getZoom() && first.center.equals(c, 1e-6);
      saved = { legend: atlas.legendOpen(), center: c, zoom: map.getZoom(), snap: map.options.zoomSnap,
                bounds: untouched ? L.latLngBounds(atlas.config.bounds) : map.getBounds() };
    }
    atlas.setLegend(true);
    document.getElementById("atlas-print-date").textContent = atlas.today();
    map.invalidateSize({ pan: false });
    map.options.zoomSnap = 0;
    map.fitBounds(saved.bounds, { animate: false, padding: [8, 8] });
    document.body.setAttribute("data-print", "true");
  }
  function leave() {
    if (!saved) return;
    atlas.setLegend(saved.legend);
    document.body.removeAttribute("data-print");
    map.options.zoomSnap = saved.snap;
    map.invalidateSize({ pan: false });
    map.setView(saved.center, saved.zoom, { animate: false });
    saved = null;
  }
  atlas.enterPrint = enter;
  window.addEventListener("beforeprint", enter);
  window.addEventListener("afterprint", leave);
  var media = window.matchMedia && window.matchMedia("print");
  if (media && media.addEventListener) {
    media.addEventListener("change", function (e) { if (e.matches) enter(); else leave(); });
  }
  var button = document.getElementById("atlas-print");
  if (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      Promise.resolve(atlas.loadTable({ perPage: 500 })).then(function () {
        button.disabled = false;
        window.print();
      });
    });
  }
})();
