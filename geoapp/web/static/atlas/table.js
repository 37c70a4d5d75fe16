// The table of places beside (or under) the map: the filter's places, sorted and paged on the
// server, in the map's view when asked.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map, config = atlas.config, T = atlas.T, el = atlas.el;
  var table = document.getElementById("atlas-table");
  var tbody = table.querySelector("tbody");
  var inView = document.getElementById("atlas-table-inview");
  var pageInfo = document.getElementById("atlas-page-info");
  var sort = { key: "name", order: "asc", page: 1, perPage: 50 }, ticket = 0, timer = null;

  function tableUrl() {
    var url = config.places + (config.places.indexOf("?") < 0 ? "?" : "&") +
      "sort=" + sort.key + "&order=" + sort.order + "&page=" + sort.page + "&per_page=" + sort.perPage;
    if (inView.checked) {
      var b = map.getBounds();
      url += "&bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
        return Math.max(-180, Math.min(180, v)).toFixed(4);
      }).join(",");
    }
    return url;
  }

  // options.perPage: 500 for printing (the whole list on paper), else pages of 50
  function loadTable(options) {
    if (!atlas.ready) return;
    var perPage = options && options.perPage || 50;
    if (perPage !== sort.perPage) { sort.perPage = perPage; sort.page = 1; }
    var mine = ++ticket;
    return fetch(tableUrl()).then(function (r) { return r.json(); }).then(function (body) {
      if (mine !== ticket) return;
      var on = atlas.visibleLayerIds();
      tbody.textContent = "";
      body.rows.forEach(function (row) {
        var tr = el("tr");
        tr.setAttribute("data-id", row.id);
        tr.setAttribute("data-layer", row.layer);
        if (on.indexOf(row.layer) < 0) tr.className = "off";
        var name = el("td"), button = el("button", null, row.name);
        button.type = "button";
        button.addEventListener("click", function () { atlas.goTo(row); });
        name.appendChild(button);
        // the other language's name only for English readers (the Chinese name is the official one)
        if (row.name_other && atlas.lang === "en") name.appendChild(el("small", null, row.name_other));
        tr.appendChild(name);
        tr.appendChild(el("td", null, row.kind));
        tr.appendChild(el("td", null, row.city));
        tr.appendChild(el("td", null, row.level));
        tr.addEventListener("click", function (e) { if (e.target === tr || e.target.tagName === "TD") atlas.goTo(row); });
        tbody.appendChild(tr);
      });
      if (!body.rows.length) {
        var tr = el("tr"), td = el("td", null, T.none);
        td.colSpan = 4; tr.appendChild(td); tbody.appendChild(tr);
      }
      table.setAttribute("data-total", body.total);
      pageInfo.textContent = T.page.replace("{page}", body.page).replace("{pages}", body.pages).replace("{total}", body.total);
      atlas.sheetLabel();
      document.getElementById("atlas-prev").disabled = body.page <= 1;
      document.getElementById("atlas-next").disabled = body.page >= body.pages;
      table.setAttribute("data-state", tableUrl());
      // the list's downloads follow the filter, the sort and the view (every page, not this one)
      var files = tableUrl().replace(/&page=\d+&per_page=\d+/, "");
      document.querySelectorAll("a[data-places-file]").forEach(function (a) {
        a.href = files.replace("/map/places.json", "/map/places." + a.getAttribute("data-places-file"));
      });
      var open = map._popup && map._popup._source && map._popup._source.feature;
      if (open) atlas.markRow(open.id);
    });
  }
  atlas.loadTable = loadTable;
  atlas.tableUrl = tableUrl;

  atlas.markRow = function (id) {
    tbody.querySelectorAll("tr.selected").forEach(function (tr) { tr.classList.remove("selected"); });
    tbody.querySelectorAll("tr[data-id]").forEach(function (tr) {
      if (tr.getAttribute("data-id") === id) tr.classList.add("selected");
    });
  };

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
    atlas.syncUrl();
    if (!inView.checked) return;
    clearTimeout(timer);
    timer = setTimeout(function () { sort.page = 1; loadTable(); }, 150);
  });
})();
