// The atlas map page: loads every layer from the app's own endpoints (the page carries no data),
// draws it with Leaflet, keeps the legend, the table and the URL in step with the map, and
// searches on the server. Plain JS, no dependencies beyond Leaflet and Leaflet.markercluster.
// Data text is only ever set with textContent (or is popup HTML the server escaped).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("atlas-config").textContent);
  // The plan's URL prefix ("" or "/plans/<id>"), given once by the page (<body data-base>): every
  // path this script builds starts with it (URLs from config already carry it).
  var BASE = document.body.getAttribute("data-base") || "";
  var map = window[config.map];
  var lang = config.lang;
  var T = config.text;
  var status = document.getElementById("atlas-status");
  var narrow = function () { return window.innerWidth < 700; };        // phones: popups are a sheet
  var sheetLayout = function () { return window.innerWidth < 1000; };  // the side is a bottom sheet
  var atlas = window.atlas = {
    map: map, config: config, counts: config.counts, matched: config.matched,
    layers: {}, markers: {}, loaded: false, errors: []
  };
  var SVG = "http://www.w3.org/2000/svg";

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

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;  // literally, never HTML
    return node;
  }

  function textNode(text) { return el("div", "atlas-tip", text); }

  function withLang(url) {
    return lang === "en" ? url + (url.indexOf("?") < 0 ? "?" : "&") + "lang=en" : url;
  }

  // --- state in the URL: the filter (server), plus the view (`at`) and the layers switched on ---
  var params = new URLSearchParams(window.location.search);
  var wanted = params.has("layers") ? params.get("layers").split(",").filter(Boolean) : null;

  function viewParam() {
    var c = map.getCenter();
    return map.getZoom() + "/" + c.lat.toFixed(4) + "/" + c.lng.toFixed(4);
  }

  function layersParam() {
    return config.layers.filter(function (l) { return l.control && atlas.layers[l.id] && map.hasLayer(atlas.layers[l.id]); })
      .map(function (l) { return l.id; }).join(",");
  }

  function withView(href) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("at", viewParam());
    url.searchParams.set("layers", layersParam());
    return url.pathname + url.search;
  }

  var ready = false;
  function syncUrl() {
    if (!ready) return;
    var url = new URL(window.location.href);
    url.searchParams.set("at", viewParam());
    url.searchParams.set("layers", layersParam());
    history.replaceState(null, "", url.pathname + url.search.replace(/%2C/g, ",").replace(/%2F/g, "/"));
    ["atlas-lang-link", "atlas-clear"].forEach(function (id) {
      var a = document.getElementById(id);
      if (a) a.setAttribute("href", withView(a.getAttribute("href")));
    });
  }

  var form = document.getElementById("atlas-filter");
  form.addEventListener("submit", function (e) {
    // every form action keeps the view and the layers; the ticked chips of a parameter are one
    // comma-separated value (city=210100,210200), as shared links write them
    e.preventDefault();
    var query = new URLSearchParams();
    form.querySelectorAll("details.atlas-facet").forEach(function (facet) {
      var name = facet.getAttribute("data-param");
      var values = Array.from(facet.querySelectorAll("input:checked")).map(function (i) { return i.value; });
      if (values.length) query.set(name, values.join(","));
    });
    var metric = form.querySelector("select[name=metric]").value;
    if (metric !== "places") query.set("metric", metric);
    if (lang === "en") query.set("lang", "en");
    query.set("at", viewParam());
    query.set("layers", layersParam());
    window.location.assign(form.getAttribute("action") + "?" + query.toString().replace(/%2C/g, ",").replace(/%2F/g, "/"));
  });
  form.querySelector("select[name=metric]").addEventListener("change", function () { form.requestSubmit(); });

  // --- markers: an SVG shape per category (colour and shape), focusable for keyboard users ------
  function shapeIcon(style, spec, tip) {
    var r = style.radius || 7, w = Math.min(style.weight || 2, 4), shape = style.shape || "circle";
    var half = Math.ceil(r * 1.2 + w), size = 2 * half;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", size); svg.setAttribute("height", size);
    svg.setAttribute("viewBox", "0 0 " + size + " " + size);
    svg.setAttribute("aria-hidden", "true");
    var node;
    if (config.shapes[shape]) {
      node = document.createElementNS(SVG, "polygon");
      node.setAttribute("points", config.shapes[shape].map(function (p) {
        return (half + p[0] * r).toFixed(2) + "," + (half + p[1] * r).toFixed(2);
      }).join(" "));
    } else {
      node = document.createElementNS(SVG, "circle");
      node.setAttribute("cx", half); node.setAttribute("cy", half); node.setAttribute("r", r);
    }
    node.setAttribute("stroke", style.color || "#3388ff");
    node.setAttribute("stroke-width", w);
    node.setAttribute("fill", style.fill === false ? "none" : (style.fillColor || style.color || "#3388ff"));
    node.setAttribute("fill-opacity", style.fillOpacity === undefined ? 0.2 : style.fillOpacity);
    if (style.dashArray) node.setAttribute("stroke-dasharray", style.dashArray);
    if (shape === "ring") node.setAttribute("pointer-events", "visibleStroke");
    svg.appendChild(node);
    return L.divIcon({ html: svg, className: "atlas-shape atlas-marker atlas-" + spec.id + " atlas-shape-" + shape,
                       iconSize: [size, size], iconAnchor: [half, half], popupAnchor: [0, -half + 2] });
  }

  function placeMarker(latlng, style, spec, id, tip) {
    var ring = (style.shape === "ring");
    var marker = L.marker(latlng, {
      icon: shapeIcon(style, spec, tip), pane: "atlasPoints", keyboard: !ring,
      zIndexOffset: ring ? -1000 : 0, riseOnHover: !ring
    });
    marker.feature = marker.feature || { type: "Feature", properties: {} };
    marker.feature.id = id;
    marker.on("add", function () {
      var icon = marker.getElement();
      if (!icon) return;
      icon.setAttribute("data-id", id);
      if (ring) { icon.style.pointerEvents = "none"; return; }
      icon.setAttribute("role", "button");
      icon.setAttribute("aria-label", tip);  // an attribute: set literally
    });
    return marker;
  }

  // --- popups: fitted into the map at any size; keyboard: focus moves in, Escape goes back ------
  // On phones a popup is a sheet along the bottom of the map (a long popup floating over a
  // 390 px map hides the place it belongs to): Leaflet's popup element is moved into a host at
  // the bottom of the map container and the map pans the place into the part left above it.
  var popupHost = el("div", "atlas-popup-host");
  popupHost.id = "atlas-popup-host";
  map.getContainer().appendChild(popupHost);
  L.DomEvent.disableClickPropagation(popupHost);   // dragging the sheet must not drag the map
  L.DomEvent.disableScrollPropagation(popupHost);

  function fitPopup(popup) {
    // below the zoom and layer buttons, inside the map, whatever its size
    var size = map.getSize();
    if (narrow()) {
      popup.options.maxWidth = size.x;
      popup.options.minWidth = size.x;
      popup.options.maxHeight = Math.round(size.y * (popup._atlasExpanded ? 0.85 : 0.42));
      popup.options.keepInView = false;
      return;
    }
    popup.options.maxWidth = Math.max(160, Math.min(440, size.x - 60));
    popup.options.minWidth = Math.min(220, size.x - 80);
    popup.options.maxHeight = Math.max(120, Math.min(360, size.y - 150));
    popup.options.autoPanPaddingTopLeft = L.point(10, 70);
    popup.options.autoPanPaddingBottomRight = L.point(10, 10);
    popup.options.keepInView = true;
  }

  // The sheet's height can change after it was placed (a web font arriving late, content fetched
  // when opened, the grip): the place is kept in sight above it whenever it does.
  var sheetSize = window.ResizeObserver ? new ResizeObserver(function () {
    var open = map._popup, container = open && open.getElement();
    if (container && container.parentNode === popupHost && narrow()) placeInSheet(open);
  }) : null;

  map.on("resize", function () {   // the map's box changed under an open sheet
    var open = map._popup, container = open && open.getElement();
    if (container && container.parentNode === popupHost && narrow()) placeInSheet(open);
  });

  function placeInSheet(popup) {
    var container = popup.getElement();
    if (!container) return;
    if (container.parentNode !== popupHost) {
      popupHost.appendChild(container);
      if (sheetSize) sheetSize.observe(container);
    }
    if (!container.querySelector(".atlas-popup-grip")) {
      var grip = el("button", "atlas-popup-grip");
      grip.type = "button";
      grip.title = T.more;
      grip.setAttribute("aria-label", T.more);
      grip.setAttribute("aria-expanded", "false");
      grip.appendChild(el("span"));
      grip.addEventListener("click", function () {
        var open = map._popup;
        if (!open) return;
        open._atlasExpanded = !open._atlasExpanded;
        grip.setAttribute("aria-expanded", open._atlasExpanded ? "true" : "false");
        fitPopup(open);
        open.update();
      });
      container.insertBefore(grip, container.firstChild);
    }
    // the place stays in sight, in the part of the map above the sheet
    var at = popup.getLatLng();
    if (!at) return;
    var p = map.latLngToContainerPoint(at), size = map.getSize();
    var top = 60, bottom = Math.max(top + 10, size.y - container.offsetHeight - 40);
    var dy = p.y > bottom || p.y < top ? p.y - (top + bottom) / 2 : 0;   // to the middle of the free part
    var dx = p.x < 16 ? p.x - 16 : p.x > size.x - 16 ? p.x - size.x + 16 : 0;
    if (dx || dy) map.panBy([dx, dy], { animate: false });
  }
  // Leaflet lays a popup out and pans for it in one step (update -> _adjustPan, in onAdd and on
  // every setContent): on phones that step places the popup in the sheet instead.
  var leafletAdjustPan = L.Popup.prototype._adjustPan;
  L.Popup.include({
    _adjustPan: function () {
      if (this._map && narrow()) return placeInSheet(this);
      return leafletAdjustPan.apply(this, arguments);
    }
  });
  function overlaps(a, b) {
    var r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
    return r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom;
  }
  var lastFocus = null;
  map.on("popupopen", function (e) {
    e.popup._atlasExpanded = false;
    fitPopup(e.popup);
    e.popup.update();
    var container = e.popup.getElement();
    if (!container) return;
    if (narrow()) setLegend(false);
    if (sheetLayout()) setSheet("peek");   // the place and its popup, not the list, in front
    // the legend floats above the map: fold it when it would hide the popup
    setTimeout(function () {
      if (!legendBody.hidden && overlaps(container, document.getElementById("atlas-legend"))) setLegend(false);
    }, 350);
    container.setAttribute("role", "dialog");
    var content = container.querySelector(".leaflet-popup-content");
    if (content) content.setAttribute("tabindex", "-1");
    if (document.activeElement && document.activeElement.classList.contains("atlas-shape")) {
      lastFocus = document.activeElement;
      if (content) content.focus();
    }
    container.addEventListener("keydown", function (k) {
      if (k.key === "Escape") { map.closePopup(); }
    });
    var source = e.popup._source;
    if (source && source.feature) markRow(source.feature.id);
    // the popup's own marker stands out (on phones the sheet has no tip pointing at it)
    var icon = source && source.getElement && source.getElement();
    if (icon && icon.classList.contains("atlas-shape")) icon.classList.add("atlas-selected");
  });
  map.on("popupclose", function (e) {
    var source = e.popup._source, icon = source && source.getElement && source.getElement();
    if (icon) icon.classList.remove("atlas-selected");
    if (lastFocus && document.body.contains(lastFocus)) lastFocus.focus();
    lastFocus = null;
  });

  function bindPopup(layer, spec, props) {
    if (props.popup !== undefined) {
      layer.bindPopup(props.popup, { maxWidth: 440 });
      return;
    }
    // Large layers: the popup is fetched when opened.
    layer.bindPopup(T.loading, { maxWidth: 440 });
    layer.on("popupopen", function (e) {
      if (layer._atlasPopupLoaded) return;
      fetch(withLang(BASE + "/map/layers/" + encodeURIComponent(spec.id) + "/" + encodeURIComponent(props.id) + "/popup"))
        .then(function (r) { return r.json(); })
        .then(function (body) { layer._atlasPopupLoaded = true; e.popup.setContent(body.popup); });
    });
  }

  var labels = L.layerGroup().addTo(map);

  function makeLayer(spec, data) {
    var index = atlas.markers[spec.id] = {};
    return L.geoJSON(data, {
      pane: spec.geometry === "point" ? "atlasPoints" : polygonPane(spec),
      style: function (feature) { return feature.properties.style; },
      pointToLayer: function (feature, latlng) {
        var props = feature.properties;
        return placeMarker(latlng, props.style, spec, props.id, props.tip);
      },
      onEachFeature: function (feature, layer) {
        var props = feature.properties;
        index[props.id] = layer;
        layer.feature.id = props.id;
        layer.bindTooltip(textNode(props.tip), { sticky: spec.geometry !== "point" });
        if (spec.geometry === "choropleth") {
          // a city: its panel (places, tasks, numbers) instead of a popup
          layer.on("click", function () { openCity(props.id); });
          if (props.label) {
            var label = el("span", null, props.label);
            L.marker(props.label_at, { pane: "atlasLabels", interactive: false, keyboard: false,
              icon: L.divIcon({ className: "atlas-city-label", html: label, iconSize: null }) }).addTo(labels);
          }
        } else if (props.popup !== undefined || spec.geometry === "point") {
          bindPopup(layer, spec, props);
        }
        if (spec.geometry !== "point" && spec.control) {
          layer.on("mouseover", function () { layer.setStyle({ weight: 3, color: "#222" }); });
          layer.on("mouseout", function () { layer.setStyle(props.style); });
        }
      }
    });
  }

  var control = L.control.layers(null, null, { collapsed: window.innerWidth < 1000, position: "topright" }).addTo(map);
  var pending = config.layers.length;
  status.textContent = T.loading;
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
          var marker = placeMarker([p[2], p[1]], body.styles[p[3]], spec, p[0], p[4]);
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

  function shown(spec) {
    return wanted && spec.control ? wanted.indexOf(spec.id) >= 0 : spec.show;
  }

  // --- legend: collapsible everywhere, collapsed on phones; in step with the layer list ---------
  var legendToggle = document.getElementById("atlas-legend-toggle");
  var legendBody = document.getElementById("atlas-legend-body");
  function setLegend(open) {
    legendBody.hidden = !open;
    legendToggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
  legendToggle.addEventListener("click", function () { setLegend(legendBody.hidden); });
  setLegend(window.innerWidth >= 1000);
  L.DomEvent.disableClickPropagation(document.getElementById("atlas-legend"));
  L.DomEvent.disableScrollPropagation(document.getElementById("atlas-legend"));

  // --- filter form behind a button on phones ----------------------------------------------------
  var filterToggle = document.getElementById("atlas-filter-toggle");
  function setFilter(open) {
    form.hidden = !open;
    filterToggle.setAttribute("aria-expanded", open ? "true" : "false");
    map.invalidateSize();   // the form takes its height from the map's
  }
  filterToggle.addEventListener("click", function () {
    setFilter(form.hidden);
  });
  setFilter(!narrow());   // before the first view is fitted: the map's height depends on it
  // First view: the `at` of the URL, else the whole province (or the filtered cities) at any size.
  function fit() {
    var size = map.getSize(), pad = [Math.round(size.x * 0.03), Math.round(size.y * 0.03)];
    var legend = document.getElementById("atlas-legend");
    // an open legend covers the map's lower left: keep the province clear of it
    var left = legendBody.hidden ? pad[0] : Math.min(legend.offsetWidth + 16, Math.round(size.x * 0.35));
    map.fitBounds(config.bounds, { paddingTopLeft: [left, pad[1]], paddingBottomRight: pad, animate: false });
  }
  map.invalidateSize();
  var at = (params.get("at") || "").split("/");
  if (at.length === 3 && at.every(function (v) { return v !== "" && !isNaN(+v); })) {
    map.setView([+at[1], +at[2]], +at[0], { animate: false });
  } else {
    fit();
  }
  atlas.fit = fit;

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
        status.textContent = T.failed + error.message;
      })
      .then(done);
  });


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

  function syncLegend() {
    document.querySelectorAll("#atlas-legend section[data-layer]").forEach(function (section) {
      var layer = atlas.layers[section.getAttribute("data-layer")];
      section.hidden = !(layer && map.hasLayer(layer));
    });
  }
  map.on("overlayadd overlayremove", function () { syncLegend(); syncUrl(); loadTable(); });
  syncLegend();

  // one facet dropdown open at a time (desktop)
  form.querySelectorAll("details.atlas-facet").forEach(function (details) {
    details.addEventListener("toggle", function () {
      if (!details.open || narrow()) return;
      form.querySelectorAll("details.atlas-facet[open]").forEach(function (other) { if (other !== details) other.open = false; });
    });
  });
  document.addEventListener("click", function (e) {
    if (narrow() || e.target.closest("details.atlas-facet")) return;
    form.querySelectorAll("details.atlas-facet[open]").forEach(function (d) { d.open = false; });
  });

  // --- going to a place (search, table, city panel) ----------------------------------------------
  function goTo(place) {
    var group = atlas.layers[place.layer];
    if (group && !map.hasLayer(group)) map.addLayer(group);
    var marker = (atlas.markers[place.layer] || {})[place.id];
    if (!marker) {  // a large layer: go there and open the popup when its tile has drawn it
      map.setView([place.lat, place.lon], 16);
      var popup = L.popup({ maxWidth: 440 }).setLatLng([place.lat, place.lon]).setContent(T.loading).openOn(map);
      fetch(withLang(BASE + "/map/layers/" + encodeURIComponent(place.layer) + "/" + encodeURIComponent(place.id) + "/popup"))
        .then(function (r) { return r.json(); }).then(function (body) { popup.setContent(body.popup); });
      return;
    }
    // on phones without animation: the popup sheet is placed against where the map ends up
    var open = function () {
      map.setView(marker.getLatLng(), Math.max(map.getZoom(), 10), { animate: !narrow() });
      marker.openPopup();
    };
    if (group && group.zoomToShowLayer) group.zoomToShowLayer(marker, open); else open();
  }
  atlas.goTo = goTo;

  // --- the table of places: the filter's places, sorted and paged on the server -----------------
  var table = document.getElementById("atlas-table");
  var tbody = table.querySelector("tbody");
  var inView = document.getElementById("atlas-table-inview");
  var pageInfo = document.getElementById("atlas-page-info");
  var sort = { key: "name", order: "asc", page: 1 }, tableTicket = 0, tableTimer = null;

  function tableUrl() {
    var url = config.places + (config.places.indexOf("?") < 0 ? "?" : "&") +
      "sort=" + sort.key + "&order=" + sort.order + "&page=" + sort.page + "&per_page=50";
    if (inView.checked) {
      var b = map.getBounds();
      url += "&bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
        return Math.max(-180, Math.min(180, v)).toFixed(4);
      }).join(",");
    }
    return url;
  }

  function visibleLayerIds() {
    return config.layers.filter(function (l) { return atlas.layers[l.id] && map.hasLayer(atlas.layers[l.id]); })
      .map(function (l) { return l.id; });
  }

  function loadTable() {
    if (!ready) return;
    var ticket = ++tableTicket;
    return fetch(tableUrl()).then(function (r) { return r.json(); }).then(function (body) {
      if (ticket !== tableTicket) return;
      var on = visibleLayerIds();
      tbody.textContent = "";
      body.rows.forEach(function (row) {
        var tr = el("tr");
        tr.setAttribute("data-id", row.id);
        tr.setAttribute("data-layer", row.layer);
        if (on.indexOf(row.layer) < 0) tr.className = "off";
        var name = el("td"), button = el("button", null, row.name);
        button.type = "button";
        button.addEventListener("click", function () { goTo(row); });
        name.appendChild(button);
        // the other language's name only for English readers (the Chinese name is the official one)
        if (row.name_other && config.lang === "en") name.appendChild(el("small", null, row.name_other));
        tr.appendChild(name);
        tr.appendChild(el("td", null, row.kind));
        tr.appendChild(el("td", null, row.city));
        tr.appendChild(el("td", null, row.level));
        tr.addEventListener("click", function (e) { if (e.target === tr || e.target.tagName === "TD") goTo(row); });
        tbody.appendChild(tr);
      });
      if (!body.rows.length) {
        var tr = el("tr"), td = el("td", null, T.none);
        td.colSpan = 4; tr.appendChild(td); tbody.appendChild(tr);
      }
      table.setAttribute("data-total", body.total);
      pageInfo.textContent = T.page.replace("{page}", body.page).replace("{pages}", body.pages).replace("{total}", body.total);
      sheetLabel();
      document.getElementById("atlas-prev").disabled = body.page <= 1;
      document.getElementById("atlas-next").disabled = body.page >= body.pages;
      table.setAttribute("data-state", tableUrl());
      // the list's downloads follow the filter, the sort and the view (every page, not this one)
      var files = tableUrl().replace(/&page=\d+&per_page=\d+/, "");
      document.querySelectorAll("a[data-places-file]").forEach(function (a) {
        a.href = files.replace("/map/places.json", "/map/places." + a.getAttribute("data-places-file"));
      });
      var open = map._popup && map._popup._source && map._popup._source.feature;
      if (open) markRow(open.id);
    });
  }
  atlas.loadTable = loadTable;
  atlas.tableUrl = tableUrl;

  function markRow(id) {
    tbody.querySelectorAll("tr.selected").forEach(function (tr) { tr.classList.remove("selected"); });
    tbody.querySelectorAll("tr[data-id]").forEach(function (tr) {
      if (tr.getAttribute("data-id") === id) tr.classList.add("selected");
    });
  }

  table.querySelectorAll("th button").forEach(function (button) {
    button.addEventListener("click", function () {
      var key = button.getAttribute("data-sort");
      sort.order = sort.key === key && sort.order === "asc" ? "desc" : "asc";
      sort.key = key; sort.page = 1;
      table.querySelectorAll("th").forEach(function (th) { th.removeAttribute("aria-sort"); });
      button.parentNode.setAttribute("aria-sort", sort.order === "asc" ? "ascending" : "descending");
      loadTable();
    });
  });
  document.getElementById("atlas-prev").addEventListener("click", function () { sort.page -= 1; loadTable(); });
  document.getElementById("atlas-next").addEventListener("click", function () { sort.page += 1; loadTable(); });
  inView.addEventListener("change", function () { sort.page = 1; loadTable(); });
  // whether the map is moving (a pan for a popup, a zoom): tests wait on it, not on timers
  map.on("movestart", function () { atlas.moving = true; });
  map.on("moveend", function () {
    atlas.moving = false;
    syncUrl();
    if (!inView.checked) return;
    clearTimeout(tableTimer);
    tableTimer = setTimeout(function () { sort.page = 1; loadTable(); }, 150);
  });

  // --- the bottom sheet (screens under 1000 px): the city panel and the table over the map ------
  // States peek (the handle only), half and full, in data-sheet; the handle toggles peek <-> half
  // (full -> peek) when tapped and follows the finger when dragged, snapping to the nearest state.
  var side = document.getElementById("atlas-side");
  var sheetBody = document.getElementById("atlas-sheet-body");
  var handle = document.getElementById("atlas-sheet-handle");
  var panel = document.getElementById("atlas-city");
  function setSheet(state) {
    side.setAttribute("data-sheet", state);
    side.style.height = "";
    handle.setAttribute("aria-expanded", state === "peek" ? "false" : "true");
  }
  function sheetLabel() {
    var label = document.getElementById("atlas-sheet-label");
    if (!panel.hidden && panel.querySelector("h2")) label.textContent = panel.querySelector("h2").textContent;
    else label.textContent = T.sheetPlaces.replace("{total}", table.getAttribute("data-total") || "…");
  }
  atlas.setSheet = setSheet;
  var drag = null;
  handle.addEventListener("pointerdown", function (e) {
    drag = { y: e.clientY, height: side.getBoundingClientRect().height, moved: false };
    handle.setPointerCapture(e.pointerId);
  });
  handle.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var dy = drag.y - e.clientY;
    if (Math.abs(dy) > 6) drag.moved = true;
    if (!drag.moved) return;
    var room = side.parentNode.getBoundingClientRect().height;
    side.style.height = Math.max(handle.offsetHeight, Math.min(room - 48, drag.height + dy)) + "px";
  });
  function endDrag() {
    if (!drag || !drag.moved) return;
    var room = side.parentNode.getBoundingClientRect().height, h = side.getBoundingClientRect().height;
    var states = [["peek", handle.offsetHeight], ["half", room * 0.55], ["full", room - 48]];
    states.sort(function (a, b) { return Math.abs(a[1] - h) - Math.abs(b[1] - h); });
    setSheet(states[0][0]);
  }
  handle.addEventListener("pointerup", endDrag);
  handle.addEventListener("pointercancel", function () { endDrag(); drag = null; });
  handle.addEventListener("click", function () {
    // a tap (or Enter / Space on the focused handle), not the end of a drag
    if (drag && drag.moved) { drag = null; return; }
    drag = null;
    setSheet(side.getAttribute("data-sheet") === "peek" ? "half" : "peek");
  });
  side.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && sheetLayout() && side.getAttribute("data-sheet") !== "peek") {
      setSheet("peek");
      handle.focus();
    }
  });

  // --- the city panel ---------------------------------------------------------------------------
  function openCity(adcode) {
    return fetch(config.cityUrl.replace("%7Badcode%7D", adcode).replace("{adcode}", adcode))
      .then(function (r) { return r.json(); }).then(function (city) {
        panel.textContent = "";
        panel.setAttribute("data-adcode", city.adcode);
        var head = el("header"), close = el("button", "atlas-button", "×");
        close.type = "button";
        close.setAttribute("aria-label", T.close);
        close.addEventListener("click", function () {
          panel.hidden = true;
          if (sheetLayout()) setSheet("peek");
          sheetLabel();
        });
        head.appendChild(el("h2", null, city.name));
        head.appendChild(close);
        panel.appendChild(head);
        panel.appendChild(el("h3", null, T.numbers));
        var dl = el("dl");
        city.numbers.forEach(function (n) { dl.appendChild(el("dt", null, n.label)); dl.appendChild(el("dd", null, String(n.value))); });
        panel.appendChild(dl);
        if (city.industries) panel.appendChild(el("p", null, city.industries));
        panel.appendChild(el("h3", null, T.places + " (" + (city.places.length + city.areas.length) + ")"));
        var places = el("ul", "places");
        city.places.forEach(function (p) {
          var li = el("li"), b = el("button", "placebutton", p.name);
          b.type = "button";
          b.addEventListener("click", function () { goTo(p); });
          li.appendChild(b);
          li.appendChild(document.createTextNode(" · " + p.kind));
          places.appendChild(li);
        });
        city.areas.concat(city.crossing).forEach(function (a) { places.appendChild(el("li", null, a.name)); });
        panel.appendChild(places);
        panel.appendChild(el("h3", null, T.tasks + " (" + city.tasks.length + ")"));
        var tasks = el("ul", "tasks");
        city.tasks.forEach(function (task) {
          var li = el("li", null, task.title + " ");
          li.appendChild(el("span", "status " + task.status, task.status_label));
          tasks.appendChild(li);
        });
        panel.appendChild(tasks);
        // the plan's targets this city has a task or a figure of its own for (/stats#scorecard)
        if (city.scorecard && city.scorecard.rows.length) {
          var cardHead = el("h3"), cardLink = el("a", null, city.scorecard.title);
          cardLink.href = city.scorecard.link;
          cardHead.appendChild(cardLink);
          cardHead.appendChild(document.createTextNode(" (" + city.scorecard.rows.length + ")"));
          panel.appendChild(cardHead);
          var card = el("ul", "scorecard");
          city.scorecard.rows.forEach(function (r) {
            var li = el("li", null, r.metric + ": " + r.target + (r.when ? " (" + r.when + ")" : "") + " → " +
                        (r.outcome ? r.outcome + (r.outcome_year ? " (" + r.outcome_year + ")" : "") : "—") + " ");
            var badge = el("span", "status", r.status_label);
            badge.style.background = r.colour;
            badge.style.color = "#fff";
            li.appendChild(badge);
            r.city_figures.forEach(function (f) {
              li.appendChild(el("div", "figure-note", f.text + " · " + f.basis + (f.source ? " · " + f.source : "")));
            });
            card.appendChild(li);
          });
          panel.appendChild(card);
        }
        var links = el("div", "links");
        [["map", T.mapLink], ["stats", T.statsLink], ["gpkg", T.gpkgLink], ["xlsx", T.xlsxLink], ["csv", T.csvLink]].forEach(function (pair) {
          var a = el("a", null, pair[1]);
          a.href = city.links[pair[0]];
          links.appendChild(a);
        });
        panel.appendChild(links);
        panel.hidden = false;
        if (narrow()) map.closePopup();
        if (sheetLayout()) setSheet("half");
        sheetBody.scrollTop = 0;   // the sheet scrolls, never the page
        sheetLabel();
      });
  }
  atlas.openCity = openCity;

  // --- save as image: the map as drawn (outlines, shading, markers, labels) with the title, the
  // legend, the filter, the sources and the date, as one PNG. html-to-image (vendored) renders the
  // DOM; basemap tiles are left out (other origins: the page's connect-src is 'self', and their
  // licences differ). -------------------------------------------------------------------------
  var saveButton = document.getElementById("atlas-save-image");
  var imageLibrary = null;
  function loadImageLibrary() {  // fetched on the first click only
    if (!imageLibrary) {
      imageLibrary = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = config.imageLibrary;
        script.onload = resolve;
        script.onerror = function () { imageLibrary = null; reject(new Error(config.imageLibrary)); };
        document.head.appendChild(script);
      });
    }
    return imageLibrary;
  }
  function saveImage() {
    var mapEl = map.getContainer();
    var legendEl = document.getElementById("atlas-legend");
    var legendWasOpen = !legendBody.hidden;
    setLegend(true);
    legendEl.classList.add("atlas-capturing");
    var keep = function (node) {
      var c = node.classList;
      return !(c && (c.contains("leaflet-control-zoom") || c.contains("leaflet-control-layers") ||
                     c.contains("leaflet-tile-pane") || c.contains("leaflet-popup-pane") ||
                     c.contains("leaflet-tooltip-pane") || c.contains("atlas-legend-toggle")));
    };
    var blank = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==";
    saveButton.disabled = true;
    return loadImageLibrary().then(function () { return Promise.all([
      htmlToImage.toCanvas(mapEl, { pixelRatio: 1, backgroundColor: "#dfe6e9", filter: keep, imagePlaceholder: blank, skipFonts: true }),
      htmlToImage.toCanvas(document.getElementById("atlas-legend-body"), { pixelRatio: 1, backgroundColor: "#ffffff", skipFonts: true })
    ]); }).then(function (parts) {
      var m = parts[0], lg = parts[1], pad = 16, head = 70, foot = 52;
      var canvas = document.createElement("canvas");
      canvas.width = m.width + lg.width + 3 * pad;
      canvas.height = Math.max(m.height, lg.height) + head + foot;
      var ctx = canvas.getContext("2d");
      var font = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
      ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "#1b2631"; ctx.font = "bold 22px " + font; ctx.textBaseline = "top";
      ctx.fillText(T.imageTitle, pad, 12);
      var chips = document.getElementById("atlas-chips");
      ctx.font = "14px " + font; ctx.fillStyle = "#7e5109";
      ctx.fillText(chips ? chips.textContent.trim() : T.imageFilter + ": " + T.imageAll, pad, 44);
      ctx.drawImage(m, pad, head);
      ctx.strokeStyle = "#aab7c4"; ctx.strokeRect(pad - 0.5, head - 0.5, m.width + 1, m.height + 1);
      ctx.drawImage(lg, m.width + 2 * pad, head);
      ctx.fillStyle = "#566573"; ctx.font = "12px " + font;
      ctx.fillText(T.imageSources, pad, head + Math.max(m.height, lg.height) + 10);
      var line = T.imageDate + ": " + new Date().toISOString().slice(0, 10) + " · " + window.location.href;
      while (line.length > 20 && ctx.measureText(line).width > canvas.width - 2 * pad) line = line.slice(0, -2);
      ctx.fillText(line, pad, head + Math.max(m.height, lg.height) + 28);
      atlas.lastImage = { width: canvas.width, height: canvas.height, map: [m.width, m.height], legend: [lg.width, lg.height] };
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/png"); });
    }).then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "liaoning-atlas-" + new Date().toISOString().slice(0, 10) + ".png";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }).catch(function (error) {
      atlas.errors.push(String(error));
      status.textContent = String(error);
      status.hidden = false;
    }).then(function () {
      legendEl.classList.remove("atlas-capturing");
      setLegend(legendWasOpen);
      saveButton.disabled = false;
    });
  }
  saveButton.addEventListener("click", saveImage);
  atlas.saveImage = saveImage;

  // --- search (on the server: the page does not carry an index) ---------------------------------
  var input = document.getElementById("atlas-search");
  var list = document.getElementById("atlas-search-results");
  var active = -1, hits = [], timer = null, asked = 0;

  function openList(open) {
    list.classList.toggle("open", open);
    input.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function show(hit) {
    openList(false);
    input.value = lang === "en" ? hit.name_en : hit.name_zh;
    goTo(hit);
  }

  function render() {
    list.textContent = "";
    hits.forEach(function (hit, i) {
      var li = el("li", null, lang === "en" ? hit.name_en : hit.name_zh);
      li.setAttribute("role", "option");
      li.id = "atlas-hit-" + i;
      li.appendChild(el("small", null, (lang === "en" ? hit.name_zh : hit.name_en) + " · " + hit.layer_title));
      if (i === active) { li.className = "active"; li.setAttribute("aria-selected", "true"); }
      li.addEventListener("mousedown", function (e) { e.preventDefault(); show(hit); });
      list.appendChild(li);
    });
    if (!hits.length && input.value.trim()) list.appendChild(el("li", "none", T.noHits));
    openList(list.children.length > 0);
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
    else if (e.key === "Escape") { openList(false); }
  });
  input.addEventListener("blur", function () { setTimeout(function () { openList(false); }, 150); });

  // The URL and the table follow the map once the first view is set.
  ready = true;
  map.once("atlas:loaded", function () { syncUrl(); loadTable(); });
  window.addEventListener("resize", function () { map.invalidateSize(); });
})();
