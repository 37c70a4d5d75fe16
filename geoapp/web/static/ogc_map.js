/* Small map on the OGC API HTML item/items pages. The features come from the page's
   <script type="application/json" id="ogc-map-data"> block, the basemap URL from data-tiles
   (empty: no basemap). No inline script, so a CSP with script-src 'self' allows it. */
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("ogc-map");
    var data = document.getElementById("ogc-map-data");
    if (!box || !data || typeof L === "undefined") { return; }
    var features = JSON.parse(data.textContent);
    var map = L.map(box, { scrollWheelZoom: false });
    var tiles = box.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 18, attribution: box.getAttribute("data-attribution") || "" }).addTo(map);
    }
    var layer = L.geoJSON(features, {
      style: function () { return { color: "#c0392b", weight: 2, fillOpacity: 0.15 }; },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, { radius: 7, color: "#922b21", fillColor: "#e74c3c", fillOpacity: 0.9, weight: 2 });
      },
      onEachFeature: function (feature, item) {
        var props = feature.properties || {};
        var name = props.name_zh || feature.id;
        // Text, not HTML: names come from data files and are shown literally.
        item.bindTooltip(document.createTextNode(String(name)));
      }
    }).addTo(map);
    box.setAttribute("data-features", String(features.features.length));
    var bounds = layer.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { maxZoom: 12, padding: [20, 20] });
    } else {
      map.setView([41.3, 122.6], 6); // Liaoning
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
