// The atlas map page: loads every layer from the app's own endpoints (the page carries no data),
// draws it with Leaflet, keeps the legend in step with the layer control, and searches on the
// server. Plain JS, no dependencies beyond Leaflet and Leaflet.markercluster (vendored).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("atlas-config").textContent);
  var map = window[config.map];
  var lang = config.lang;
  var status = document.getElementById("atlas-status");
  var atlas = window.atlas = {
    map: map, config: config, counts: config.counts, matched: config.matched,
    layers: {}, markers: {}, loaded: false, errors: []
  };

  map.createPane("atlasPolygons").style.zIndex = 410;
  map.createPane("atlasPoints").style.zIndex = 450;

  function textNode(text) {
    var div = document.createElement("div");
    div.className = "atlas-tip";
    div.textContent = text;  // data text is shown literally, never parsed as HTML
    return div;
  }

  function withLang(url) {
    return lang === "en" ? url + (url.indexOf("?") < 0 ? "?" : "&") + "lang=en" : url;
  }

  function bindPopup(layer, spec, props) {
    if (props.popup !== undefined) {
      layer.bindPopup(props.popup, { maxWidth: 440 });
      return;
    }
    // Large layers: the popup is fetched when opened.
    layer.bindPopup(config.text.loading, { maxWidth: 440 });
    layer.on("popupopen", function (e) {
      if (layer._atlasPopupLoaded) return;
      fetch(withLang("/map/layers/" + encodeURIComponent(spec.id) + "/" + encodeURIComponent(props.id) + "/popup"))
        .then(function (r) { return r.json(); })
        .then(function (body) { layer._atlasPopupLoaded = true; e.popup.setContent(body.popup); });
    });
  }

  function makeLayer(spec, data) {
    var index = atlas.markers[spec.id] = {};
    return L.geoJSON(data, {
      pane: spec.geometry === "point" ? "atlasPoints" : "atlasPolygons",
      style: function (feature) { return feature.properties.style; },
      pointToLayer: function (feature, latlng) {
        var options = Object.assign({ pane: "atlasPoints", className: "atlas-marker atlas-" + spec.id },
                                    feature.properties.style);
        return L.circleMarker(latlng, options);
      },
      onEachFeature: function (feature, layer) {
        var props = feature.properties;
        index[props.id] = layer;
        layer.feature.id = props.id;
        layer.bindTooltip(textNode(props.tip), { sticky: spec.geometry !== "point" });
        bindPopup(layer, spec, props);
        if (spec.geometry !== "point" && spec.control) {
          layer.on("mouseover", function () { layer.setStyle({ weight: 3, color: "#222" }); });
          layer.on("mouseout", function () { layer.setStyle(props.style); });
        }
      }
    });
  }

  var control = L.control.layers(null, null, { collapsed: false, position: "topright" }).addTo(map);
  var pending = config.layers.length;
  status.textContent = config.text.loading;
  status.hidden = false;

  function done() {
    pending -= 1;
    if (pending > 0) return;
    status.hidden = atlas.errors.length === 0;
    atlas.loaded = true;
    document.body.setAttribute("data-loaded", "true");
    map.fire("atlas:loaded");
  }

  // A large point layer: the server clusters it per tile; this grid layer draws each tile's
  // clusters and points as Leaflet layers and removes them when the tile goes out of view.
  var TileClusters = L.GridLayer.extend({
    initialize: function (spec, options) {
      L.GridLayer.prototype.initialize.call(this, Object.assign({ pane: "atlasGrid", maxZoom: 18 }, options));
      this.spec = spec;
      this.drawn = {};
      this.markers = atlas.markers[spec.id] = {};
      this.on("tileunload", function (e) { this.forget(this._tileCoordsToKey(e.coords)); }, this);
    },
    forget: function (key) {
      var layers = this.drawn[key] || [];
      var map = this._map;
      layers.forEach(function (layer) {
        if (map) map.removeLayer(layer);
        if (layer.feature) delete this.markers[layer.feature.id];
      }, this);
      delete this.drawn[key];
    },
    onRemove: function (map) {
      Object.keys(this.drawn).forEach(this.forget, this);
      L.GridLayer.prototype.onRemove.call(this, map);
    },
    createTile: function (coords, done) {
      var tile = document.createElement("div");
      var key = this._tileCoordsToKey(coords), self = this, spec = this.spec;
      var url = L.Util.template(spec.url, { z: coords.z, x: coords.x, y: coords.y });
      fetch(url).then(function (r) {
        if (!r.ok) throw new Error(spec.title + " (HTTP " + r.status + ")");
        return r.json();
      }).then(function (body) {
        if (!self._map) return;
        var layers = [];
        body.clusters.forEach(function (c) {
          var size = c[2] < 100 ? "small" : c[2] < 1000 ? "medium" : "large";
          var marker = L.marker([c[1], c[0]], {
            pane: "atlasPoints", keyboard: true, title: String(c[2]),
            icon: L.divIcon({ className: "marker-cluster marker-cluster-" + size + " atlas-cluster atlas-" + spec.id,
                              html: "<div><span>" + c[2] + "</span></div>", iconSize: [40, 40] })
          });
          marker.on("click", function () { self._map.setView(marker.getLatLng(), Math.min(self._map.getZoom() + 2, 18)); });
          layers.push(marker);
        });
        body.points.forEach(function (p) {
          var options = Object.assign({ pane: "atlasPoints", className: "atlas-marker atlas-" + spec.id }, body.styles[p[3]]);
          var marker = L.circleMarker([p[2], p[1]], options);
          marker.feature = { id: p[0] };
          marker.bindTooltip(textNode(p[4]));
          bindPopup(marker, spec, { id: p[0] });
          self.markers[p[0]] = marker;
          layers.push(marker);
        });
        self.forget(key);
        self.drawn[key] = layers;
        layers.forEach(function (layer) { layer.addTo(self._map); });
        done(null, tile);
      }).catch(function (error) { atlas.errors.push(String(error)); done(error, tile); });
      return tile;
    }
  });
  map.createPane("atlasGrid").style.pointerEvents = "none";

  config.layers.forEach(function (spec) {
    if (spec.mode === "tiles") {
      var grid = new TileClusters(spec);
      var tiled = atlas.layers[spec.id] = L.layerGroup([grid]);
      if (spec.show) tiled.addTo(map);
      if (spec.control) control.addOverlay(tiled, spec.title);
      if (spec.show) grid.once("load", done); else done();
      return;
    }
    var group = spec.cluster
      ? L.markerClusterGroup({ maxClusterRadius: 40, spiderfyOnMaxZoom: true, showCoverageOnHover: false,
                               chunkedLoading: true })
      : L.featureGroup();
    atlas.layers[spec.id] = group;
    if (spec.show) group.addTo(map);
    if (spec.control) control.addOverlay(group, spec.title);
    fetch(spec.url, { headers: { Accept: "application/geo+json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(spec.title + " (HTTP " + response.status + ")");
        return response.json();
      })
      .then(function (data) { group.addLayer(makeLayer(spec, data)); })
      .catch(function (error) {
        atlas.errors.push(String(error));
        status.textContent = config.text.failed + error.message;
      })
      .then(done);
  });

  // First view: the whole province (or the filtered cities) at any screen size.
  function fit() {
    var size = map.getSize();
    map.fitBounds(config.bounds, { padding: [Math.round(size.x * 0.03), Math.round(size.y * 0.03)] });
  }
  fit();

  // The legend shows a section only while its layer is on the map.
  function syncLegend() {
    document.querySelectorAll("#atlas-legend section[data-layer]").forEach(function (section) {
      var layer = atlas.layers[section.getAttribute("data-layer")];
      section.hidden = !(layer && map.hasLayer(layer));
    });
  }
  map.on("overlayadd overlayremove", syncLegend);
  syncLegend();

  // --- search (on the server: the page does not carry an index) ---------------------------------
  var input = document.getElementById("atlas-search");
  var list = document.getElementById("atlas-search-results");
  var active = -1, hits = [], timer = null, asked = 0;

  function show(hit) {
    var group = atlas.layers[hit.layer];
    if (group && !map.hasLayer(group)) map.addLayer(group);
    var marker = (atlas.markers[hit.layer] || {})[hit.id];
    list.style.display = "none";
    input.setAttribute("aria-expanded", "false");
    input.value = lang === "en" ? hit.name_en : hit.name_zh;
    if (!marker) {  // a large layer: go there and open the popup when its tile has drawn it
      map.setView([hit.lat, hit.lon], 16);
      var popup = L.popup({ maxWidth: 440 }).setLatLng([hit.lat, hit.lon]).setContent(config.text.loading).openOn(map);
      fetch(withLang("/map/layers/" + encodeURIComponent(hit.layer) + "/" + encodeURIComponent(hit.id) + "/popup"))
        .then(function (r) { return r.json(); }).then(function (body) { popup.setContent(body.popup); });
      return;
    }
    var open = function () { map.setView(marker.getLatLng(), Math.max(map.getZoom(), 10)); marker.openPopup(); };
    if (group && group.zoomToShowLayer) group.zoomToShowLayer(marker, open); else open();
  }

  function render() {
    list.innerHTML = "";
    hits.forEach(function (hit, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = "atlas-hit-" + i;
      li.textContent = lang === "en" ? hit.name_en : hit.name_zh;
      var small = document.createElement("small");
      small.textContent = (lang === "en" ? hit.name_zh : hit.name_en) + " · " + hit.layer_title;
      li.appendChild(small);
      if (i === active) { li.className = "active"; li.setAttribute("aria-selected", "true"); }
      li.addEventListener("mousedown", function (e) { e.preventDefault(); show(hit); });
      list.appendChild(li);
    });
    if (!hits.length && input.value.trim()) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = config.text.noHits;
      list.appendChild(none);
    }
    var open = list.children.length > 0;
    list.style.display = open ? "block" : "none";
    input.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function ask() {
    var q = input.value.trim();
    var ticket = ++asked;
    active = -1;
    if (!q) { hits = []; render(); return Promise.resolve(); }
    var url = config.search + (config.search.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(q);
    return fetch(url).then(function (r) { return r.json(); }).then(function (body) {
      if (ticket !== asked) return;  // a newer query is on its way
      hits = body.hits || [];
      list.setAttribute("data-query", q);  // which query the list answers (tests wait on it)
      render();
    });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 120);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { active = Math.min(active + 1, hits.length - 1); render(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); e.preventDefault(); }
    else if (e.key === "Enter") {
      e.preventDefault();
      clearTimeout(timer);
      ask().then(function () { if (hits.length) show(hits[Math.max(active, 0)]); });
    }
    else if (e.key === "Escape") { list.style.display = "none"; }
  });
  input.addEventListener("blur", function () { setTimeout(function () { list.style.display = "none"; }, 150); });
})();
