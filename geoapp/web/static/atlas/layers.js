// The map's layers: loaded from the app's own endpoints (the page carries no data), one pane per
// polygon layer in spec order, city shapes that open their panel (pointer, Enter or Space), the
// layer list, large point layers as server-side clusters per tile, and the basemap's notice.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map, config = atlas.config, T = atlas.T, el = atlas.el;

  // Each outline/area layer has its own pane, stacked in the order of the layer specs: the
  // layers arrive in whatever order their fetches finish, and a province fill that lands last
  // must not cover (and take the clicks of) the cities. 401-439, under the labels and points.
  function polygonPane(spec) {
    var name = "atlasPolygons-" + spec.id;
    if (!map.getPane(name)) {
      map.createPane(name).style.zIndex = 401 + Math.min(38, config.layers.indexOf(spec));
    }
    return name;
  }
  map.createPane("atlasLabels").style.zIndex = 440;
  map.getPane("atlasLabels").style.pointerEvents = "none";
  map.createPane("atlasPoints").style.zIndex = 450;
  map.createPane("atlasGrid").style.pointerEvents = "none";

  var labels = atlas.labels = L.layerGroup().addTo(map);

  // a city shape is a button: named, focusable, Enter / Space open its panel like a click
  function cityButton(layer, props) {
    var path = layer.getElement && layer.getElement();
    if (!path) return;
    path.setAttribute("tabindex", "0");
    path.setAttribute("role", "button");
    path.setAttribute("aria-label", T.cityButton.replace("{city}", props.label || props.tip).replace("{tip}", props.tip.replace(/\n/g, " · ")));
    path.setAttribute("data-adcode", props.id);
    path.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " " || e.key === "Spacebar") {
        e.preventDefault();
        layer.closeTooltip();
        atlas.openCity(props.id, { focus: true });
      }
    });
  }

  function makeLayer(spec, data) {
    var index = atlas.markers[spec.id] = {};
    // a layer always on and without a place of its own (the province) is a background: it takes
    // no clicks, so a tap beside a city's label reaches the city
    var background = spec.geometry === "polygon" && spec.control === false;
    return L.geoJSON(data, {
      pane: spec.geometry === "point" ? "atlasPoints" : polygonPane(spec),
      interactive: !background,
      style: function (feature) { return feature.properties.style; },
      pointToLayer: function (feature, latlng) {
        var props = feature.properties;
        return atlas.placeMarker(latlng, props.style, spec, props.id, props.tip);
      },
      onEachFeature: function (feature, layer) {
        var props = feature.properties;
        index[props.id] = layer;
        layer.feature.id = props.id;
        if (background) return;
        layer.bindTooltip(atlas.textNode(props.tip), { sticky: spec.geometry !== "point" });
        if (spec.geometry === "choropleth") {
          // a city: its panel (places, tasks, numbers) instead of a popup
          layer.on("click", function () { atlas.openCity(props.id); });
          layer.on("add", function () { cityButton(layer, props); });
          if (props.label) {
            var label = el("span", null, props.label);
            L.marker(props.label_at, { pane: "atlasLabels", interactive: false, keyboard: false,
              icon: L.divIcon({ className: "atlas-city-label", html: label, iconSize: null }) }).addTo(labels);
          }
        } else if (props.popup !== undefined || spec.geometry === "point") {
          atlas.bindPopup(layer, spec, props);
        }
        if (spec.geometry !== "point") {
          layer.on("add", function () {   // an outline's name for screen readers (not a stop for Tab)
            var path = layer.getElement && layer.getElement();
            if (path && !path.hasAttribute("aria-label")) path.setAttribute("aria-label", props.tip.replace(/\n/g, " · "));
          });
        }
        if (spec.geometry !== "point" && spec.control) {
          layer.on("mouseover", function () { layer.setStyle({ weight: 3, color: "#222" }); });
          layer.on("mouseout", function () { layer.setStyle(props.style); });
        }
      }
    });
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
          var inner = el("div"), span = el("span", null, String(c[2]));
          inner.appendChild(span);
          var marker = L.marker([c[1], c[0]], {
            pane: "atlasPoints", keyboard: true, title: String(c[2]),
            icon: L.divIcon({ className: "marker-cluster marker-cluster-" + size + " atlas-cluster atlas-" + spec.id,
                              html: inner, iconSize: [40, 40] })
          });
          marker.on("click", function () { self._map.setView(marker.getLatLng(), Math.min(self._map.getZoom() + 2, 18)); });
          layers.push(marker);
        });
        body.points.forEach(function (p) {
          var marker = atlas.placeMarker([p[2], p[1]], body.styles[p[3]], spec, p[0], p[4]);
          marker.bindTooltip(atlas.textNode(p[4]));
          atlas.bindPopup(marker, spec, { id: p[0] });
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

  function shown(spec) {
    return atlas.wanted && spec.control ? atlas.wanted.indexOf(spec.id) >= 0 : spec.show;
  }

  // The layer list: collapsed into its button until asked, at every size (open, it covered the
  // east of the province: 铁岭, 抚顺 at 1440 px); Leaflet opens it on hover and on Enter.
  var control = atlas.control = L.control.layers(null, null, { collapsed: true, position: "topright" }).addTo(map);
  // Leaflet's own control texts, in the page's language
  var toggle = control.getContainer().querySelector(".leaflet-control-layers-toggle");
  if (toggle) { toggle.title = T.layersControl; toggle.setAttribute("aria-label", T.layersControl); }
  [[".leaflet-control-zoom-in", T.zoomIn], [".leaflet-control-zoom-out", T.zoomOut]].forEach(function (pair) {
    var button = map.getContainer().querySelector(pair[0]);
    if (button) { button.title = pair[1]; button.setAttribute("aria-label", pair[1]); }
  });

  // Fetch and draw every layer; fires "atlas:loaded" on the map when all have answered.
  atlas.loadLayers = function () {
    var pending = config.layers.length;
    atlas.status.textContent = T.loading;
    atlas.status.hidden = false;
    function done() {
      pending -= 1;
      if (pending > 0) return;
      atlas.status.hidden = atlas.errors.length === 0;
      atlas.loaded = true;
      document.body.setAttribute("data-loaded", "true");
      map.fire("atlas:loaded");
    }
    config.layers.forEach(function (spec) {
      var on = shown(spec);
      if (spec.mode === "tiles") {
        var grid = new TileClusters(spec);
        var tiled = atlas.layers[spec.id] = L.layerGroup([grid]);
        if (on) tiled.addTo(map);
        if (spec.control) control.addOverlay(tiled, spec.title);
        if (on) grid.once("load", done); else done();
        return;
      }
      var group = spec.cluster
        ? L.markerClusterGroup({ maxClusterRadius: 40, spiderfyOnMaxZoom: true, showCoverageOnHover: false,
                                 chunkedLoading: true })
        : L.featureGroup();
      atlas.layers[spec.id] = group;
      if (on) group.addTo(map);
      if (spec.control) control.addOverlay(group, spec.title);
      fetch(spec.url, { headers: { Accept: "application/geo+json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(spec.title + " (HTTP " + response.status + ")");
          return response.json();
        })
        .then(function (data) { group.addLayer(makeLayer(spec, data)); })
        .catch(function (error) {
          atlas.errors.push(String(error));
          atlas.status.textContent = T.failed + error.message;
        })
        .then(done);
    });
  };

  // --- basemap: a notice and the outlines alone when its tiles do not load -----------------------
  var notice = document.getElementById("atlas-notice");
  (config.basemap.tileLayers || []).forEach(function (name) {
    var tiles = window[name], loads = 0, errors = 0;
    if (!tiles) return;
    tiles.on("tileload", function () { loads += 1; });
    tiles.on("tileerror", function () {
      errors += 1;
      if (errors >= 3 && loads === 0 && map.hasLayer(tiles)) {
        (config.basemap.tileLayers || []).forEach(function (n) { if (window[n]) map.removeLayer(window[n]); });
        notice.textContent = T.tilesFailed;
        notice.hidden = false;
        atlas.tilesFailed = true;
      }
    });
  });

  atlas.visibleLayerIds = function () {
    return config.layers.filter(function (l) { return atlas.layers[l.id] && map.hasLayer(atlas.layers[l.id]); })
      .map(function (l) { return l.id; });
  };

  // --- going to a place (search, table, city panel) ----------------------------------------------
  atlas.goTo = function (place) {
    var group = atlas.layers[place.layer];
    if (group && !map.hasLayer(group)) map.addLayer(group);
    var marker = (atlas.markers[place.layer] || {})[place.id];
    if (place.layer === "cities" || place.layer === "districts") {   // an area found by search
      var shape = marker;
      if (shape && shape.getBounds) map.fitBounds(shape.getBounds(), { animate: false, maxZoom: 10 });
      else map.setView([place.lat, place.lon], 9, { animate: false });
      if (place.layer === "cities") atlas.openCity(place.id);
      else if (shape) shape.openTooltip();
      return;
    }
    if (!marker) {  // a large layer: go there and open the popup when its tile has drawn it
      map.setView([place.lat, place.lon], 16);
      var popup = L.popup({ maxWidth: 440 }).setLatLng([place.lat, place.lon]).setContent(T.loading).openOn(map);
      fetch(atlas.popupUrl(place.layer, place.id))
        .then(function (r) { return r.json(); }).then(function (body) { popup.setContent(body.popup); });
      return;
    }
    // on phones without animation: the popup sheet is placed against where the map ends up
    var open = function () {
      map.setView(marker.getLatLng(), Math.max(map.getZoom(), 10), { animate: !atlas.narrow() });
      marker.openPopup();
    };
    if (group && group.zoomToShowLayer) group.zoomToShowLayer(marker, open); else open();
  };
})();
