// Markers: an SVG shape per category (colour and shape), focusable for keyboard users.
(function () {
  "use strict";
  var atlas = window.atlas, config = atlas.config;
  var SVG = "http://www.w3.org/2000/svg";

  function shapeIcon(style, spec) {
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
    // the icon's box is at least 24 px (WCAG 2.2 target size), the shape centred in it
    var box = Math.max(size, 24);
    return L.divIcon({ html: svg, className: "atlas-shape atlas-marker atlas-" + spec.id + " atlas-shape-" + shape,
                       iconSize: [box, box], iconAnchor: [box / 2, box / 2], popupAnchor: [0, -half + 2] });
  }

  atlas.placeMarker = function (latlng, style, spec, id, tip) {
    var ring = (style.shape === "ring");
    var marker = L.marker(latlng, {
      icon: shapeIcon(style, spec), pane: "atlasPoints", keyboard: !ring,
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
  };
})();
