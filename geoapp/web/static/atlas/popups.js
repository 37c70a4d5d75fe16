// Popups: fitted into the map at any size; keyboard: focus moves in, Escape goes back.
// On phones a popup is a sheet along the bottom of the map (a long popup floating over a 390 px
// map hides the place it belongs to): Leaflet's popup element is moved into a host at the bottom
// of the map container and the map pans the place into the part left above it.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map, T = atlas.T, el = atlas.el, narrow = atlas.narrow;
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
    if (narrow()) atlas.setLegend(false);
    if (atlas.sheetLayout()) atlas.setSheet("peek");   // the place and its popup, not the list, in front
    // the legend floats above the map: fold it when it would hide the popup
    setTimeout(function () {
      if (atlas.legendOpen() && overlaps(container, document.getElementById("atlas-legend"))) atlas.setLegend(false);
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
    if (source && source.feature) atlas.markRow(source.feature.id);
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

  atlas.popupUrl = function (layerId, placeId) {
    return atlas.url("/map/layers/" + encodeURIComponent(layerId) + "/" + encodeURIComponent(placeId) + "/popup");
  };

  atlas.bindPopup = function (layer, spec, props) {
    if (props.popup !== undefined) {
      layer.bindPopup(props.popup, { maxWidth: 440 });
      return;
    }
    // Large layers: the popup is fetched when opened.
    layer.bindPopup(T.loading, { maxWidth: 440 });
    layer.on("popupopen", function (e) {
      if (layer._atlasPopupLoaded) return;
      fetch(atlas.popupUrl(spec.id, props.id))
        .then(function (r) { return r.json(); })
        .then(function (body) { layer._atlasPopupLoaded = true; e.popup.setContent(body.popup); });
    });
  };
})();
