// Start-up, in an order that matters: the controls that take height are folded by the stylesheet
// (the map's size depends on them), then the first view is fitted, then the layers load; the URL and the table
// follow the map once it has its first view, and a city panel named in the URL opens.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map, config = atlas.config;

  // First view: the `at` of the URL, else the whole province (or the filtered cities) at any size.
  function fit() {
    var size = map.getSize(), pad = [Math.round(size.x * 0.03), Math.round(size.y * 0.03)];
    var legend = document.getElementById("atlas-legend");
    // an open legend covers the map's lower left: keep the province clear of it
    var left = atlas.legendOpen() ? Math.min(legend.offsetWidth + 16, Math.round(size.x * 0.35)) : pad[0];
    // on phones the zoom may be fractional (quarter steps): the province fills the map's width
    // instead of the integer zoom below it (which left it a third of the map's height)
    map.fitBounds(config.bounds, { paddingTopLeft: [left, pad[1]], paddingBottomRight: pad, animate: false });
    atlas.firstView = { center: map.getCenter(), zoom: map.getZoom() };   // printing knows it is untouched
  }
  atlas.fit = fit;
  if (atlas.narrow()) map.options.zoomSnap = 0.25;
  map.invalidateSize();
  var at = (atlas.params.get("at") || "").split("/");
  if (at.length === 3 && at.every(function (v) { return v !== "" && !isNaN(+v); })) {
    map.setView([+at[1], +at[2]], +at[0], { animate: false });
  } else {
    fit();
  }

  atlas.loadLayers();
  map.on("overlayadd overlayremove", function () { atlas.syncLegend(); atlas.syncUrl(); atlas.loadTable(); });
  atlas.syncLegend();

  atlas.ready = true;
  map.once("atlas:loaded", function () {
    atlas.syncUrl();
    atlas.loadTable();
    var panel = atlas.params.get("city_panel");
    if (panel) atlas.openCity(panel);
  });
  window.addEventListener("resize", function () { map.invalidateSize(); });
})();
