// The city panel: a city's places, the plan tasks touching it and its figures, opened by a click,
// by Enter / Space on its shape, by search, or by `city_panel=<adcode>` in a shared URL.
(function () {
  "use strict";
  var atlas = window.atlas, map = atlas.map, config = atlas.config, T = atlas.T, el = atlas.el;
  var panel = document.getElementById("atlas-city");
  var sheetBody = document.getElementById("atlas-sheet-body");

  function close() {
    var adcode = atlas.openPanel;
    panel.hidden = true;
    atlas.openPanel = null;
    atlas.syncUrl();
    if (atlas.sheetLayout()) atlas.setSheet("peek");
    atlas.sheetLabel();
    // back to the shape the panel was opened from (keyboard users)
    var shape = document.querySelector("path[data-adcode='" + adcode + "']");
    if (panel._fromKeyboard && shape) shape.focus();
  }

  atlas.openCity = function (adcode, options) {
    options = options || {};
    return fetch(config.cityUrl.replace("%7Badcode%7D", adcode).replace("{adcode}", adcode))
      .then(function (r) { return r.json(); }).then(function (city) {
        panel.textContent = "";
        panel.setAttribute("data-adcode", city.adcode);
        panel._fromKeyboard = !!options.focus;
        var head = el("header"), closeButton = el("button", "atlas-button atlas-close", "×");
        closeButton.type = "button";
        closeButton.setAttribute("aria-label", T.close);
        closeButton.addEventListener("click", close);
        var title = el("h2", null, city.name);
        title.tabIndex = -1;
        head.appendChild(title);
        head.appendChild(closeButton);
        panel.appendChild(head);
        panel.appendChild(el("h3", null, T.numbers));
        var dl = el("dl");
        city.numbers.forEach(function (n) { dl.appendChild(el("dt", null, n.label)); dl.appendChild(el("dd", null, String(n.value))); });
        panel.appendChild(dl);
        if (city.industries) panel.appendChild(el("p", null, city.industries));
        var total = city.places_total === undefined ? city.places.length : city.places_total;
        panel.appendChild(el("h3", null, T.places + " (" + (total + city.areas.length) + ")"));
        var places = el("ul", "places");
        city.places.forEach(function (p) {
          var li = el("li"), b = el("button", "placebutton", p.name);
          b.type = "button";
          b.addEventListener("click", function () { atlas.goTo(p); });
          li.appendChild(b);
          li.appendChild(document.createTextNode(" · " + p.kind));
          places.appendChild(li);
        });
        city.areas.concat(city.crossing).forEach(function (a) { places.appendChild(el("li", null, a.name)); });
        panel.appendChild(places);
        // the panel lists the first page of the city's places; the places list pages the rest
        if (city.places.length < total && city.places_list) {
          var more = el("p", "atlas-note atlas-city-more", T.cityMore.replace("{total}", total)
                        .replace("{shown}", city.places.length) + " ");
          var moreLink = el("a", null, T.cityMoreLink);
          moreLink.href = city.places_list.page;
          more.appendChild(moreLink);
          more.appendChild(document.createTextNode(" · "));
          var csv = el("a", null, "CSV");
          csv.href = city.places_list.csv;
          more.appendChild(csv);
          more.appendChild(document.createTextNode(" · "));
          var xlsx = el("a", null, "XLSX");
          xlsx.href = city.places_list.xlsx;
          more.appendChild(xlsx);
          panel.appendChild(more);
        }
        if (city.areas.length) panel.appendChild(el("p", "atlas-note", T.areasNote));
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
        // "copy table": the city's figures as a clean table for Word / WPS (tables.js)
        if (window.atlasTables) {
          var figures = el("table");
          figures.id = "atlas-city-figures";
          figures.hidden = true;
          city.numbers.forEach(function (n) {
            var tr = figures.insertRow(), th = el("th", null, n.label);
            th.scope = "row";
            tr.appendChild(th);
            tr.appendChild(el("td", null, String(n.value)));
          });
          panel.appendChild(figures);
          var copyButton = el("button", "atlas-button atlas-copy", T.copyTable);
          copyButton.type = "button";
          copyButton.setAttribute("data-copy-table", figures.id);
          copyButton.setAttribute("data-caption", city.name + " · " + T.numbers);
          copyButton.setAttribute("data-done", T.copied);
          links.appendChild(copyButton);
        }
        panel.appendChild(links);
        if (window.atlasTables) window.atlasTables.wire(panel);
        panel.hidden = false;
        atlas.openPanel = city.adcode;
        atlas.syncUrl();
        if (atlas.narrow()) map.closePopup();
        if (atlas.sheetLayout()) atlas.setSheet("half");
        sheetBody.scrollTop = 0;   // the sheet scrolls, never the page
        atlas.sheetLabel();
        if (options.focus) title.focus({ preventScroll: true });
      });
  };
})();
