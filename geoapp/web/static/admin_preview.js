/* /admin/import preview map: the file's points over the outlines of their districts, drawn with the
   vendored Leaflet and no basemap (works on an intranet). The data comes from the page's
   <script type="application/json" id="preview-map-data"> block; no inline script, so the default
   CSP (script-src 'self') allows it. Names are set as text, never as HTML. */
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("preview-map");
    var data = document.getElementById("preview-map-data");
    if (!box || !data || typeof L === "undefined") { return; }
    var d = JSON.parse(data.textContent);
    var map = L.map(box, { scrollWheelZoom: false, attributionControl: false });
    if (d.province) {   // context only: the province's outline, not interactive
      L.geoJSON(d.province, { interactive: false,
        style: function () { return { color: "#909497", weight: 1, dashArray: "4 3", fill: false }; } }).addTo(map);
    }
    var outlines = L.geoJSON(d.districts, {
      style: function () { return { color: "#5d6d7e", weight: 1.5, fill: true, fillColor: "#d6dbdf", fillOpacity: 0.25 }; },
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(document.createTextNode(String(feature.properties.name_zh || "")), { sticky: true });
      }
    }).addTo(map);
    var points = L.geoJSON(d.points, {
      pointToLayer: function (feature, latlng) {
        var bad = feature.properties.bad;
        return L.circleMarker(latlng, { radius: bad ? 6 : 5, weight: 1.5, color: bad ? "#922b21" : "#1a5276",
                                        fillColor: bad ? "#e74c3c" : "#2e86c1", fillOpacity: 0.85 });
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        var text = "第 " + p.row + " 行 / row " + p.row + ": " + p.name +
          (p.district || p.city ? " — " + (p.city || "") + (p.district ? " " + p.district : "") : "") +
          (p.bad ? " (有问题 / has a problem)" : "");
        layer.bindTooltip(document.createTextNode(text));
      }
    }).addTo(map);
    box.setAttribute("data-points", String(d.points.features.length));
    box.setAttribute("data-districts", String(d.districts.features.length));
    var bounds = points.getBounds();
    if (outlines.getBounds().isValid()) { bounds = bounds.isValid() ? bounds.extend(outlines.getBounds()) : outlines.getBounds(); }
    if (bounds.isValid()) {
      map.fitBounds(bounds, { maxZoom: 13, padding: [12, 12] });
    } else {
      map.setView([41.3, 122.6], 6); // Liaoning
    }
    box.setAttribute("data-ready", "1");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
