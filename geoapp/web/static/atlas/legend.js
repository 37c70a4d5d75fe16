// The legend: collapsible everywhere, collapsed on phones; its sections follow the layers switched
// on, and a section's classes that nothing drawn uses are left out (the shading's empty classes).
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map;
  var legend = document.getElementById("atlas-legend");
  var toggle = document.getElementById("atlas-legend-toggle");
  var body = document.getElementById("atlas-legend-body");
  // open on wide, tall screens, folded below 1000 px or 560 px high: said by CSS until a button
  // (or the script) sets data-open, so the first paint is already right (no layout shift)
  var folded = window.matchMedia("(max-width: 999px), (max-height: 559px)");
  atlas.legendOpen = function () {
    var open = legend.getAttribute("data-open");
    return open === null ? !folded.matches : open === "true";
  };
  atlas.setLegend = function (open) {
    legend.setAttribute("data-open", open ? "true" : "false");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  };
  toggle.setAttribute("aria-expanded", atlas.legendOpen() ? "true" : "false");
  toggle.addEventListener("click", function () { atlas.setLegend(!atlas.legendOpen()); });
  L.DomEvent.disableClickPropagation(legend);
  L.DomEvent.disableScrollPropagation(legend);

  atlas.syncLegend = function () {
    legend.querySelectorAll("section[data-layer]").forEach(function (section) {
      var layer = atlas.layers[section.getAttribute("data-layer")];
      section.hidden = !(layer && map.hasLayer(layer));
    });
  };
})();
