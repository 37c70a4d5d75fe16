// The filter form: one dropdown of checkbox chips per parameter, behind a button on phones and
// when the page is zoomed (little height); every form action keeps the view and the layers.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map, narrow = atlas.narrow;
  var form = atlas.form = document.getElementById("atlas-filter");
  form.addEventListener("submit", function (e) {
    // the ticked chips of a parameter are one comma-separated value (city=210100,210200), as
    // shared links write them
    e.preventDefault();
    var query = new URLSearchParams();
    form.querySelectorAll("details.atlas-facet").forEach(function (facet) {
      var name = facet.getAttribute("data-param");
      var values = Array.from(facet.querySelectorAll("input:checked")).map(function (i) { return i.value; });
      if (values.length) query.set(name, values.join(","));
    });
    var metric = form.querySelector("select[name=metric]").value;
    if (metric !== "places") query.set("metric", metric);
    if (atlas.lang === "en") query.set("lang", "en");
    query.set("at", atlas.viewParam());
    query.set("layers", atlas.layersParam());
    window.location.assign(form.getAttribute("action") + "?" + query.toString().replace(/%2C/g, ",").replace(/%2F/g, "/"));
  });
  form.querySelector("select[name=metric]").addEventListener("change", function () { form.requestSubmit(); });

  // the form folds behind its button where there is little room: phones, and short windows
  // (a desktop at 200 % zoom is 720 × 450 CSS px)
  atlas.compact = function () { return window.matchMedia("(max-width: 699px), (max-height: 559px)").matches; };
  // Which is folded is said by CSS (the same media queries), so nothing moves once the page is
  // drawn (no layout shift); the buttons add or remove the class atlas-open.
  var toggle = document.getElementById("atlas-filter-toggle");
  atlas.setFilter = function (open) {
    form.classList.toggle("atlas-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    map.invalidateSize();   // the form takes its height from the map's
  };
  toggle.addEventListener("click", function () { atlas.setFilter(!form.classList.contains("atlas-open")); });

  // The header's links fold behind "More" where there is little height (a desktop at 200 % zoom);
  // on phones they keep their one line under the title and search.
  var menu = document.getElementById("atlas-menu-toggle"), links = document.getElementById("atlas-links");
  atlas.setHeader = function (open) {
    links.classList.toggle("atlas-open", open);
    menu.setAttribute("aria-expanded", open ? "true" : "false");
    map.invalidateSize();
  };
  menu.addEventListener("click", function () { atlas.setHeader(!links.classList.contains("atlas-open")); });
  // the toggles say what the stylesheet shows at start
  toggle.setAttribute("aria-expanded", atlas.compact() ? "false" : "true");
  menu.setAttribute("aria-expanded", atlas.compact() ? "false" : "true");

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
})();
