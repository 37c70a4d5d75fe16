// Printing: the print stylesheet (atlas.css, @media print) hides the search, the filter form and
// the map's buttons and shows a print header (title, the filter in words), the map, the legend of
// what is drawn, the list and a footer (sources, date). This part opens the legend and sizes the
// map for the page while print media applies, and the Print button first loads the whole list
// (up to 500 places) rather than the page of 50 on screen.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map;
  var legendWasOpen = null;
  function enter() {
    if (legendWasOpen === null) legendWasOpen = atlas.legendOpen();
    atlas.setLegend(true);
    document.getElementById("atlas-print-date").textContent = atlas.today();
    map.invalidateSize({ pan: false });
    document.body.setAttribute("data-print", "true");
  }
  function leave() {
    if (legendWasOpen !== null) atlas.setLegend(legendWasOpen);
    legendWasOpen = null;
    document.body.removeAttribute("data-print");
    map.invalidateSize({ pan: false });
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
