// Search on the server (the page does not carry an index): places, cities and districts by
// Chinese, English, pinyin or initials, as a combobox.
(function () {
  "use strict";
  var atlas = window.atlas, config = atlas.config, T = atlas.T, el = atlas.el, lang = atlas.lang;
  var input = document.getElementById("atlas-search");
  var list = document.getElementById("atlas-search-results");
  var active = -1, hits = [], timer = null, asked = 0;

  function openList(open) {
    list.classList.toggle("open", open);
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) input.removeAttribute("aria-activedescendant");
  }

  function show(hit) {
    openList(false);
    input.value = lang === "en" ? hit.name_en : hit.name_zh;
    atlas.goTo(hit);
  }

  function render() {
    list.textContent = "";
    hits.forEach(function (hit, i) {
      var li = el("li", null, lang === "en" ? hit.name_en : hit.name_zh);
      li.setAttribute("role", "option");
      li.id = "atlas-hit-" + i;
      li.appendChild(el("small", null, (lang === "en" ? hit.name_zh : hit.name_en) + " · " + hit.layer_title));
      if (i === active) {
        li.className = "active"; li.setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", li.id);
      }
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
      // the list already answers what is typed: the highlighted hit (or the first)
      if (hits.length && list.getAttribute("data-query") === input.value.trim()) { show(hits[Math.max(active, 0)]); return; }
      ask().then(function () { if (hits.length) show(hits[0]); });
    }
    else if (e.key === "Escape") { openList(false); }
  });
  input.addEventListener("blur", function () { setTimeout(function () { openList(false); }, 150); });
})();
