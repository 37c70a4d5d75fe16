// The bottom sheet (screens under 1000 px): the city panel and the table over the map. States
// peek (the handle only), half and full, in data-sheet; the handle toggles peek <-> half
// (full -> peek) when tapped and follows the finger when dragged, snapping to the nearest state.
(function () {
  "use strict";
  var atlas = window.atlas, T = atlas.T;
  var side = document.getElementById("atlas-side");
  var handle = document.getElementById("atlas-sheet-handle");
  var panel = document.getElementById("atlas-city");
  var table = document.getElementById("atlas-table");
  atlas.setSheet = function (state) {
    side.setAttribute("data-sheet", state);
    side.style.height = "";
    handle.setAttribute("aria-expanded", state === "peek" ? "false" : "true");
  };
  atlas.sheetLabel = function () {
    var label = document.getElementById("atlas-sheet-label");
    if (!panel.hidden && panel.querySelector("h2")) label.textContent = panel.querySelector("h2").textContent;
    else label.textContent = T.sheetPlaces.replace("{total}", table.getAttribute("data-total") || "…");
  };
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
    atlas.setSheet(states[0][0]);
  }
  handle.addEventListener("pointerup", endDrag);
  handle.addEventListener("pointercancel", function () { endDrag(); drag = null; });
  handle.addEventListener("click", function () {
    // a tap (or Enter / Space on the focused handle), not the end of a drag
    if (drag && drag.moved) { drag = null; return; }
    drag = null;
    atlas.setSheet(side.getAttribute("data-sheet") === "peek" ? "half" : "peek");
  });
  // opened from a city panel's "more in the places list" link (#atlas-list-title): the sheet
  // shows the list at once
  if (location.hash === "#atlas-list-title" && atlas.sheetLayout()) atlas.setSheet("half");
  side.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && atlas.sheetLayout() && side.getAttribute("data-sheet") !== "peek") {
      atlas.setSheet("peek");
      handle.focus();
    }
  });
})();
