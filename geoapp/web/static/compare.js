/* /compare: both plans' places on one map, styled by what changed (continued / dropped / new),
   over the city outlines (no tiles needed). Clicking a city opens its "what changed" entry.
   /compare/cities/<adcode>: the print button. Data comes from the page (#cmp-data), shown as text. */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  var holder = document.getElementById("cmp-data"), box = document.getElementById("cmp-map");
  if (!holder || !box || !window.L) return;
  var data = JSON.parse(holder.textContent), colours = data.colours, en = data.lang === "en";
  var map = L.map(box, {attributionControl: false, zoomSnap: 0.25});
  var outlines = L.geoJSON(data.outlines, {
    style: {color: "#888", weight: 1, fillColor: "#f2f2f2", fillOpacity: 1},
    onEachFeature: function (f, layer) {
      layer.bindTooltip(en ? f.properties.name_en : f.properties.name_zh, {sticky: true});
      layer.on("click", function () {
        var entry = document.getElementById("city-" + f.properties.adcode);
        if (!entry) return;
        entry.open = true;
        entry.scrollIntoView({behavior: "smooth", block: "start"});
      });
    }
  }).addTo(map);
  var styles = {
    continued: {radius: 5, color: "#fff", weight: 1, fillColor: colours.continued, fillOpacity: 0.9},
    dropped: {radius: 7, color: colours.dropped, weight: 2, dashArray: "3 2", fill: false},
    new: {radius: 6, color: "#fff", weight: 1.5, fillColor: colours["new"], fillOpacity: 1}
  };
  L.geoJSON(data.features, {
    pointToLayer: function (f, latlng) { return L.circleMarker(latlng, styles[f.properties.status]); },
    onEachFeature: function (f, layer) {
      var tip = document.createElement("span");
      tip.textContent = f.properties.name + " · " + f.properties.label;
      layer.bindTooltip(tip);
    }
  }).addTo(map);
  map.fitBounds(outlines.getBounds(), {padding: [4, 4]});
  window.atlasCompare = {map: map};
  window.addEventListener("resize", function () { map.invalidateSize(); });
})();
