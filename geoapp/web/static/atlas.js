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

  // Characters of q appear in order in name: finds 中科院丹东育成中心 in
  // 中国科学院沈阳分院丹东产业技术创新与育成中心 (via its short form 中科院…).
  function inOrder(q, name) {
    var at = 0;
    for (var i = 0; i < q.length; i++) {
      at = name.indexOf(q[i], at);
      if (at < 0) return false;
      at += 1;
    }
    return true;
  }

  function names(item) { return [item.zh, item.en, item.id].concat(item.aliases || []).map(norm); }

  input.addEventListener("input", function () {
    var q = norm(input.value);
    active = -1;
    if (!q) { hits = []; render(); return; }
    var exact = atlas.index.filter(function (item) {
      return names(item).some(function (name) { return name.indexOf(q) >= 0; });
    });
    // looser matches only for longer queries, listed after the exact ones
    var loose = q.length < 4 ? [] : atlas.index.filter(function (item) {
      return exact.indexOf(item) < 0 && names(item).some(function (name) { return inOrder(q, name); });
    });
    hits = exact.concat(loose).slice(0, 12);
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
