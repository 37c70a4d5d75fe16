// Search box and legend sync for the atlas map page. Plain JS, no dependencies beyond Leaflet.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map;
  var input = document.getElementById("atlas-search");
  var list = document.getElementById("atlas-search-results");
  var active = -1, hits = [];

  function norm(s) { return (s || "").toLowerCase().replace(/\s+/g, ""); }

  function show(item) {
    var marker = window[item.marker], group = window[item.group];
    if (!marker) return;
    if (group && !map.hasLayer(group)) map.addLayer(group);
    var cluster = item.cluster && window[item.cluster];
    var open = function () { map.setView(marker.getLatLng(), Math.max(map.getZoom(), 10)); marker.openPopup(); };
    if (cluster) cluster.zoomToShowLayer(marker, open); else open();
    list.style.display = "none";
    input.value = item.zh;
  }

  function render() {
    list.innerHTML = "";
    hits.forEach(function (item, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.textContent = document.documentElement.lang === "en" ? item.en : item.zh;
      var small = document.createElement("small");
      small.textContent = (document.documentElement.lang === "en" ? item.zh : item.en) + " · " + item.layer;
      li.appendChild(small);
      if (i === active) li.className = "active";
      li.addEventListener("mousedown", function (e) { e.preventDefault(); show(item); });
      list.appendChild(li);
    });
    list.style.display = hits.length ? "block" : "none";
  }

  input.addEventListener("input", function () {
    var q = norm(input.value);
    active = -1;
    hits = q ? atlas.index.filter(function (item) {
      return norm(item.zh).indexOf(q) >= 0 || norm(item.en).indexOf(q) >= 0 || norm(item.id).indexOf(q) >= 0;
    }).slice(0, 12) : [];
    render();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { active = Math.min(active + 1, hits.length - 1); render(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
    else if (e.key === "Enter") { if (hits.length) show(hits[Math.max(active, 0)]); e.preventDefault(); }
    else if (e.key === "Escape") { list.style.display = "none"; }
  });
  input.addEventListener("blur", function () { setTimeout(function () { list.style.display = "none"; }, 150); });

  // The legend shows a section only while its layer is on the map.
  function syncLegend() {
    document.querySelectorAll("#atlas-legend section[data-layer]").forEach(function (section) {
      var layer = window[section.getAttribute("data-layer")];
      section.hidden = !(layer && map.hasLayer(layer));
    });
  }
  map.on("overlayadd overlayremove", syncLegend);
  syncLegend();
})();
