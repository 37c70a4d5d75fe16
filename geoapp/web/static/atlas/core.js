// The atlas map page, part 1 of its components (loaded in order by map.html, each a small IIFE
// adding to window.atlas): the page's config, the ONE base every URL is built from, DOM helpers
// and the state kept in the URL. Plain JS, no dependencies beyond Leaflet and markercluster.
// Data text is only ever set with textContent (or is popup HTML the server escaped).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("atlas-config").textContent);
  var map = window[config.map];
  // Every URL the script builds starts from this one base, read once from the page ("" for the
  // default plan, "/plans/<id>" under a plan prefix; the server writes it into the config).
  var base = (config.base || "").replace(/\/$/, "");
  var atlas = window.atlas = {
    map: map, config: config, counts: config.counts, matched: config.matched, lang: config.lang,
    T: config.text, base: base, layers: {}, markers: {}, loaded: false, errors: [], ready: false
  };
  atlas.status = document.getElementById("atlas-status");
  atlas.narrow = function () { return window.innerWidth < 700; };        // phones: popups are a sheet
  atlas.sheetLayout = function () { return window.innerWidth < 1000; };  // the side is a bottom sheet

  // base + path (+ the page's language): the only way the script makes a URL of this app
  atlas.url = function (path, params) {
    var url = base + path, query = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) { if (params[k]) query.set(k, params[k]); });
    if (atlas.lang === "en") query.set("lang", "en");
    var q = query.toString();
    return q ? url + (url.indexOf("?") < 0 ? "?" : "&") + q : url;
  };

  atlas.el = function (tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;  // literally, never HTML
    return node;
  };
  atlas.textNode = function (text) { return atlas.el("div", "atlas-tip", text); };

  // --- state in the URL: the filter (server), the view (`at`), the layers switched on and the
  // open city panel (`city_panel`, an adcode: `city` is the filter, and opening a
  // panel must not narrow it) ---------------------------------------------------------
  var params = atlas.params = new URLSearchParams(window.location.search);
  atlas.wanted = params.has("layers") ? params.get("layers").split(",").filter(Boolean) : null;
  atlas.openPanel = null;   // the adcode of the open city panel

  atlas.viewParam = function () {
    var c = map.getCenter();
    return map.getZoom() + "/" + c.lat.toFixed(4) + "/" + c.lng.toFixed(4);
  };
  // the layers switched on; a layer this filter leaves empty (not on the page) keeps its state
  // from the URL (or its default), so an empty result does not switch layers off for the next one
  atlas.layersParam = function () {
    var on = config.layers.filter(function (l) { return l.control && atlas.layers[l.id] && map.hasLayer(atlas.layers[l.id]); })
      .map(function (l) { return l.id; });
    Object.keys(config.absent || {}).forEach(function (id) {
      if (atlas.wanted ? atlas.wanted.indexOf(id) >= 0 : config.absent[id]) on.push(id);
    });
    return on.join(",");
  };
  function tidy(url) { return url.pathname + url.search.replace(/%2C/g, ",").replace(/%2F/g, "/"); }
  // a link that keeps the view (the language link); `layers` too unless it goes to the default view
  atlas.withView = function (href, keepLayers) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("at", atlas.viewParam());
    if (keepLayers !== false) url.searchParams.set("layers", atlas.layersParam());
    return tidy(url);
  };
  atlas.syncUrl = function () {
    if (!atlas.ready) return;
    var url = new URL(window.location.href);
    url.searchParams.set("at", atlas.viewParam());
    url.searchParams.set("layers", atlas.layersParam());
    if (atlas.openPanel) url.searchParams.set("city_panel", atlas.openPanel); else url.searchParams.delete("city_panel");
    history.replaceState(null, "", tidy(url));
    var lang = document.getElementById("atlas-lang-link");
    if (lang) lang.setAttribute("href", atlas.withView(lang.getAttribute("href")));
  };
})();
