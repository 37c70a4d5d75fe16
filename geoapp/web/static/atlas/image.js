// Save as image: the map as drawn (outlines, shading, markers, labels) with the title, the legend
// of what is drawn, the filter in words, the sources and the date, as one PNG at twice the screen's
// resolution. html-to-image (vendored, fetched on the first click) renders the DOM; basemap tiles
// are left out (other origins: the page's connect-src is 'self', and their licences differ).
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map, config = atlas.config, T = atlas.T;
  var SCALE = 2;
  var saveButton = document.getElementById("atlas-save-image");
  var imageLibrary = null;
  function loadImageLibrary() {
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
  // the filter in words (the chips line the server wrote), or "all places"
  atlas.filterWords = function () {
    var chips = document.getElementById("atlas-chips");
    return chips ? chips.textContent.trim() : T.imageFilter + T.colon + T.imageAll;
  };
  atlas.today = function () { return new Date().toISOString().slice(0, 10); };

  function saveImage() {
    var mapEl = map.getContainer();
    var legendEl = document.getElementById("atlas-legend");
    var legendWasOpen = atlas.legendOpen();
    atlas.setLegend(true);
    legendEl.classList.add("atlas-capturing");
    var keep = function (node) {
      var c = node.classList;
      return !(c && (c.contains("leaflet-control-zoom") || c.contains("leaflet-control-layers") ||
                     c.contains("leaflet-tile-pane") || c.contains("leaflet-popup-pane") ||
                     c.contains("leaflet-tooltip-pane") || c.contains("atlas-legend-toggle") ||
                     c.contains("atlas-popup-host")));
    };
    var blank = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==";
    saveButton.disabled = true;
    return loadImageLibrary().then(function () { return Promise.all([
      htmlToImage.toCanvas(mapEl, { pixelRatio: SCALE, backgroundColor: "#dfe6e9", filter: keep, imagePlaceholder: blank, skipFonts: true }),
      htmlToImage.toCanvas(document.getElementById("atlas-legend-body"), { pixelRatio: SCALE, backgroundColor: "#ffffff", skipFonts: true })
    ]); }).then(function (parts) {
      // laid out in CSS pixels, drawn at SCALE
      var m = { width: parts[0].width / SCALE, height: parts[0].height / SCALE };
      var lg = { width: parts[1].width / SCALE, height: parts[1].height / SCALE };
      var pad = 16, head = 70, foot = 52;
      var width = m.width + lg.width + 3 * pad, height = Math.max(m.height, lg.height) + head + foot;
      var canvas = document.createElement("canvas");
      canvas.width = width * SCALE;
      canvas.height = height * SCALE;
      var ctx = canvas.getContext("2d");
      ctx.scale(SCALE, SCALE);
      var font = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
      ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, width, height);
      ctx.fillStyle = "#1b2631"; ctx.font = "bold 22px " + font; ctx.textBaseline = "top";
      ctx.fillText(T.imageTitle, pad, 12);
      ctx.font = "14px " + font; ctx.fillStyle = "#7e5109";
      ctx.fillText(atlas.filterWords(), pad, 44);
      ctx.drawImage(parts[0], pad, head, m.width, m.height);
      ctx.strokeStyle = "#aab7c4"; ctx.strokeRect(pad - 0.5, head - 0.5, m.width + 1, m.height + 1);
      ctx.drawImage(parts[1], m.width + 2 * pad, head, lg.width, lg.height);
      ctx.fillStyle = "#566573"; ctx.font = "12px " + font;
      var below = head + Math.max(m.height, lg.height);
      var line = T.imageSources;
      while (line.length > 20 && ctx.measureText(line).width > width - 2 * pad) line = line.slice(0, -2);
      ctx.fillText(line, pad, below + 10);
      ctx.fillText(T.imageDate + T.colon + atlas.today(), pad, below + 28);
      atlas.lastImage = { width: canvas.width, height: canvas.height, scale: SCALE,
                          map: [m.width, m.height], legend: [lg.width, lg.height] };
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/png"); });
    }).then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "liaoning-atlas-" + atlas.today() + ".png";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }).catch(function (error) {
      atlas.errors.push(String(error));
      atlas.status.textContent = String(error);
      atlas.status.hidden = false;
    }).then(function () {
      legendEl.classList.remove("atlas-capturing");
      atlas.setLegend(legendWasOpen);
      saveButton.disabled = false;
    });
  }
  saveButton.addEventListener("click", saveImage);
  atlas.saveImage = saveImage;
})();
