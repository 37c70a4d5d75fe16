"""The map page for its users (issue 12) at phone, tablet and desktop sizes, in headless Chromium:
first view, collapsed controls, popups in the viewport, URL state that survives the form, the city
panel, the table beside/under the map, shapes, labels, keyboard. Screenshots go to artifacts/."""
import json
import re
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import ARTIFACTS, shot
from tests.test_map_browser import open_layer_list

SIZES = {"phone": (390, 844), "tablet": (768, 1024), "desktop": (1440, 900)}


def sized(browser, size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.failed, page.console_errors = [], []
    page.on("response", lambda r: r.status >= 400 and page.failed.append(f"{r.url} {r.status}"))
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    return context, page


def open_map(page, base, query=""):
    page.goto(f"{base}/{query}")
    page.wait_for_function("() => window.atlas && atlas.loaded")
    page.wait_for_function("() => document.querySelector('#atlas-table').hasAttribute('data-total')")
    return page


def drawn_ids(page):
    """Ids of the places drawn (or clustered) on the map, over the counted point layers."""
    return sorted(page.evaluate("""Object.keys(atlas.markers).filter(function (id) {
        return atlas.config.layers.some(function (l) { return l.id === id && l.searchable; });
      }).reduce(function (all, id) { return all.concat(Object.keys(atlas.markers[id])); }, [])"""))


def visible_box(page, selector):
    """The element's box clipped to the viewport, or None when nothing of it is on screen."""
    return page.evaluate("""(sel) => { var e = document.querySelector(sel); if (!e) return null;
        var r = e.getBoundingClientRect(); var s = getComputedStyle(e);
        if (r.width === 0 || r.height === 0 || s.visibility === 'hidden' || s.display === 'none') return null;
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; }""", selector)


def province_on_screen(page):
    """Each corner of the province's bounds, as pixels in the page, must be inside both the map
    element and the viewport: the whole province is in the first view."""
    return page.evaluate("""() => {
        var map = atlas.map, box = map.getContainer().getBoundingClientRect();
        var b = atlas.config.province, out = [];
        [[b[0][0], b[0][1]], [b[1][0], b[1][1]], [b[0][0], b[1][1]], [b[1][0], b[0][1]]].forEach(function (c) {
          var p = map.latLngToContainerPoint(c);
          var x = box.left + p.x, y = box.top + p.y;
          out.push(x >= Math.max(0, box.left) && y >= Math.max(0, box.top)
                   && x <= Math.min(window.innerWidth, box.right) && y <= Math.min(window.innerHeight, box.bottom));
        });
        return out; }""")


@pytest.mark.browser
@pytest.mark.parametrize("size", list(SIZES))
def test_first_view_is_the_whole_province_and_phone_controls_are_collapsed(browser, live_server, size):
    context, page = sized(browser, size)
    try:
        open_map(page, live_server)
        assert province_on_screen(page) == [True] * 4
        assert page.evaluate("atlas.map.getZoom()") >= 6          # not a dot, not zoom 18
        # Leaflet measured the map as it is (on phones the filter form folds away before the fit)
        assert page.evaluate("""(() => { var s = atlas.map.getSize(), c = atlas.map.getContainer();
            return s.x === c.clientWidth && s.y === c.clientHeight; })()""")
        expanded = page.evaluate("!!document.querySelector('.leaflet-control-layers-expanded')")
        legend_open = page.get_attribute("#atlas-legend-toggle", "aria-expanded") == "true"
        if size == "phone":
            assert not page.is_visible("#atlas-filter")              # the form is behind a button
            assert page.is_visible("#atlas-filter-toggle")
            assert not expanded                                       # the layer list is a button
            assert not legend_open and page.is_visible("#atlas-legend-toggle")
            assert not page.is_visible("#atlas-legend-body")
            page.click("#atlas-filter-toggle")
            assert page.is_visible("#atlas-filter")
            page.click("details[data-param=city] summary")
            assert page.is_visible("label.chip:has(input[value='210200'])")
            shot(page, "ux_phone_filter_open")
            page.click("#atlas-filter-toggle")
        else:
            assert page.is_visible("#atlas-filter") and not page.is_visible("#atlas-filter-toggle")
        assert not expanded   # the layer list is a button at every size until asked (it hid 铁岭)
        if size == "desktop":
            assert legend_open
            # the table is beside the map, not under it
            table, mapbox = visible_box(page, "#atlas-side"), visible_box(page, ".atlas-mapbox")
            assert table["left"] >= mapbox["right"] - 1
        else:
            side = page.evaluate("document.querySelector('#atlas-side').getBoundingClientRect().top")
            assert side >= page.evaluate("document.querySelector('.atlas-mapbox').getBoundingClientRect().bottom") - 1
        # the legend collapses and opens everywhere
        page.click("#atlas-legend-toggle")
        assert page.is_visible("#atlas-legend-body") != legend_open
        page.click("#atlas-legend-toggle")
        # city labels in Chinese with no basemap (the test app runs ATLAS_TILES=none)
        labels = page.eval_on_selector_all(".atlas-city-label", "els => els.map(e => e.textContent)")
        assert len(labels) == 14 and "大连市" in labels and "沈阳市" in labels
        shot(page, f"ux_first_view_{size}")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("size", list(SIZES))
def test_popup_stays_inside_the_viewport(browser, live_server, size):
    context, page = sized(browser, size)
    try:
        open_map(page, live_server)
        page.evaluate("atlas.goTo({layer: 'platforms_labs', id: 'lab_clean_energy_dalian', lat: 38.9, lon: 121.6})")
        page.wait_for_selector(".leaflet-popup-content")
        page.wait_for_function("() => !atlas.moving")   # the pan that brings the popup into view is over
        box = visible_box(page, ".leaflet-popup-content-wrapper")
        width, height = SIZES[size]
        assert box and box["left"] >= 0 and box["top"] >= 0 and box["right"] <= width and box["bottom"] <= height, box
        mapbox = visible_box(page, ".atlas-mapbox")
        assert box["top"] >= mapbox["top"] and box["bottom"] <= mapbox["bottom"]
        assert "大连洁净能源国家实验室" in page.inner_text(".leaflet-popup-content")
        shot(page, f"ux_popup_{size}")
    finally:
        context.close()


@pytest.mark.browser
def test_multi_value_url_survives_metric_change_and_keeps_view_and_layers(browser, live_server):
    context, page = sized(browser, "desktop")
    try:
        open_map(page, live_server, "?city=大连,沈阳&industry=biomedicine,marine")
        before = drawn_ids(page)
        assert len(before) == 6, before
        # chips: both cities and both industries are ticked
        checked = page.eval_on_selector_all("#atlas-filter input:checked", "els => els.map(e => e.value)")
        assert sorted(checked) == ["210100", "210200", "biomedicine", "marine"]
        assert "沈阳市" in page.inner_text("details[data-param=city] summary")
        # switch a layer off and move the map: both go into the URL
        open_layer_list(page)   # the layer list opens when asked
        page.get_by_label("产业集群、基地与园区", exact=True).uncheck()
        page.evaluate("atlas.map.setView([39.5, 122.0], 8, {animate: false})")
        page.wait_for_function("() => location.search.indexOf('at=8') >= 0")
        assert "clusters_bases" not in page.evaluate("new URLSearchParams(location.search).get('layers')")
        # change the shading metric: the form submits itself
        page.select_option("select[name=metric]", "htz_total")
        page.wait_for_url(re.compile(r".*metric=htz_total.*"))
        page.wait_for_function("() => window.atlas && atlas.loaded")
        params = page.evaluate("Object.fromEntries(Array.from(new URLSearchParams(location.search).keys()).map(k => [k, new URLSearchParams(location.search).getAll(k)]))")
        assert params["city"] == ["210100,210200"] and params["industry"] == ["biomedicine,marine"]
        zoom, lat, lon = map(float, params["at"][0].split("/"))
        assert zoom == 8 and abs(lat - 39.5) < 0.01 and abs(lon - 122.0) < 0.01
        assert ",".join(params["city"]) == "210100,210200"   # one comma-separated value, as shared
        assert page.evaluate("atlas.map.getZoom()") == 8
        assert not page.evaluate("atlas.map.hasLayer(atlas.layers.clusters_bases)")
        open_layer_list(page)
        page.get_by_label("产业集群、基地与园区", exact=True).check()
        page.wait_for_function("() => window.atlas && atlas.loaded")
        assert drawn_ids(page) == before
        # and the plain submit button keeps it all too
        page.click("#atlas-filter button[type=submit]")
        page.wait_for_function("() => window.atlas && atlas.loaded")
        assert drawn_ids(page) == before
        assert page.evaluate("atlas.map.getZoom()") == 8
        shot(page, "ux_multi_value_after_metric")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


@pytest.mark.browser
def test_layers_stack_in_spec_order_whatever_order_they_arrive(browser, live_server):
    """The province fill arriving last (slow network, busy server) must not cover the cities and
    take their clicks: the layers stack by their spec order, not by which fetch finished first."""
    context, page = sized(browser, "desktop")
    try:
        held = []
        page.route(re.compile(r".*/map/layers/province\.geojson.*"), lambda route: held.append(route))
        page.goto(f"{live_server}/")
        page.wait_for_function("() => window.atlas && atlas.markers.cities && atlas.markers.plan_areas")
        assert len(held) == 1 and not page.evaluate("'province' in atlas.markers")
        held[0].continue_()                     # the province arrives after the cities
        page.wait_for_function("() => atlas.loaded")
        order = page.evaluate("""() => atlas.config.layers.filter(function (l) { return atlas.markers[l.id] && l.geometry !== 'point'; })
            .map(function (l) {
                var drawn = Object.values(atlas.markers[l.id]).filter(function (m) { return m._path && m._path.isConnected; });
                return drawn.length ? [l.id, +getComputedStyle(drawn[0]._path.closest('.leaflet-pane')).zIndex] : null; })
            .filter(function (x) { return x; })""")
        ids = [i for i, _ in order]
        assert ids[:2] == ["province", "cities"]
        assert [z for _, z in order] == sorted(z for _, z in order) and len({z for _, z in order}) == len(order)
        hit = page.evaluate("""() => { var p = atlas.map.latLngToContainerPoint([39.65, 122.65]);
            var r = atlas.map.getContainer().getBoundingClientRect();
            return document.elementFromPoint(r.left + p.x, r.top + p.y) === atlas.markers.cities['210200']._path; }""")
        assert hit
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_clicking_dalian_opens_its_city_panel(browser, live_server, client, size):
    context, page = sized(browser, size)
    try:
        open_map(page, live_server)
        page.evaluate("atlas.map.setView([39.65, 122.65], 8, {animate: false})")   # 大连's mainland, north
        page.wait_for_function("() => document.querySelector('#atlas-table').getAttribute('data-state') === atlas.tableUrl()")
        point = page.evaluate("""() => { var p = atlas.map.latLngToContainerPoint([39.65, 122.65]);
            var r = atlas.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""")
        # state, not a timer: wait until 大连's shape is what is under the pointer (nothing animating over it)
        page.wait_for_function("(p) => !atlas.moving && document.elementFromPoint(p[0], p[1]) === atlas.markers.cities['210200']._path",
                               arg=point, timeout=10000)
        page.mouse.click(*point)
        page.wait_for_selector("#atlas-city[data-adcode='210200']")
        panel = page.inner_text("#atlas-city")
        city = client.get("/map/cities/210200.json").get_json()
        distribution = {r["city_adcode"]: r for r in client.get("/api/distribution").get_json()["cities"]}
        assert city["name"] == "大连市" and "大连市" in panel
        # its numbers are the /stats numbers
        numbers = {n["key"]: n["value"] for n in city["numbers"]}
        for key in ("places", "htz_national", "tasks"):
            assert numbers[key] == distribution["210200"][key]
        # its places, by name, and the plan tasks naming it with their status
        assert "大连高新技术产业园区" in panel and "大连洁净能源国家实验室" in panel
        assert city["places_total"] + len(city["areas"]) == numbers["places"]
        assert len(city["places"]) == min(city["places_total"], 50)
        assert city["tasks"] and all(t["status_label"] in panel for t in city["tasks"])
        assert any("示范区" in t["title"] for t in city["tasks"])
        for key in ("map", "stats", "gpkg", "csv"):
            assert page.locator(f"#atlas-city a[href='{city['links'][key]}']").count() == 1
        assert "city=210200" in city["links"]["map"] and "city=210200" in city["links"]["gpkg"]
        # a place in the panel goes to the place
        page.click("#atlas-city button.placebutton:text('大连高新技术产业园区')")
        page.wait_for_selector(".leaflet-popup-content")
        shot(page, f"ux_city_panel_dalian_{size}")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_table_is_in_step_with_the_filter_and_the_map(browser, live_server, client, size):
    context, page = sized(browser, size)
    try:
        open_map(page, live_server, "?industry=biomedicine")
        # the whole province in view: every place the map draws is a row
        assert int(page.get_attribute("#atlas-table", "data-total")) == len(drawn_ids(page))
        if size == "phone":   # the table is in the bottom sheet: its handle says how many, a tap opens it
            assert page.inner_text("#atlas-sheet-label") == f"地点列表 · {len(drawn_ids(page))} 处"
            page.click("#atlas-sheet-handle")
            page.wait_for_selector("#atlas-side[data-sheet=half]")
        names = page.eval_on_selector_all("#atlas-table tbody td:first-child button", "els => els.map(e => e.textContent)")
        assert names == sorted(names)
        page.click("#atlas-table th button[data-sort=city]")
        page.wait_for_function("() => document.querySelector('#atlas-table').getAttribute('data-state').indexOf('sort=city') >= 0")
        cities = page.eval_on_selector_all("#atlas-table tbody td:nth-child(3)", "els => els.map(e => e.textContent)")
        assert cities == sorted(cities) and page.get_attribute("#atlas-table th:nth-child(3)", "aria-sort") == "ascending"
        # a row -> the map zooms there and opens the place's popup
        row = page.locator("#atlas-table tbody tr[data-id='htz_benxi'] button")
        row.click()
        page.wait_for_selector(".leaflet-popup-content")
        assert "本溪" in page.inner_text(".leaflet-popup-content")
        assert page.evaluate("atlas.map.getZoom()") >= 10
        # (on the phone the list folds away for the popup: the row is marked, out of sight)
        page.wait_for_selector("#atlas-table tbody tr.selected[data-id='htz_benxi']", state="attached")
        if size == "phone":
            assert page.get_attribute("#atlas-side", "data-sheet") == "peek"
        # zoomed in, the table holds only what is in view
        page.wait_for_function("() => document.querySelector('#atlas-table').getAttribute('data-state').indexOf('bbox') >= 0 && +document.querySelector('#atlas-table').getAttribute('data-total') < %d" % len(drawn_ids(page)))
        shot(page, f"ux_table_{size}")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


def box_of(page, selector):
    return page.evaluate("""(sel) => { var r = document.querySelector(sel).getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, height: r.height}; }""", selector)


def page_does_not_scroll(page):
    return page.evaluate("window.scrollY === 0 && document.scrollingElement.scrollHeight <= window.innerHeight")


@pytest.mark.browser
def test_phone_city_panel_and_popups_are_a_bottom_sheet_over_the_map(browser, live_server):
    """At 390×844 the city panel, the table and a long popup sit in a sheet over the lower part of
    the map: the map stays in sight above it, the page never scrolls away, the sheet is dragged,
    tapped or closed."""
    context, page = sized(browser, "phone")
    try:
        open_map(page, live_server)
        width, height = SIZES["phone"]
        assert page_does_not_scroll(page)
        # closed: only the handle shows, along the bottom; the map ends where it starts
        sheet, mapbox = box_of(page, "#atlas-side"), box_of(page, ".atlas-mapbox")
        assert page.get_attribute("#atlas-side", "data-sheet") == "peek"
        assert height - 60 <= sheet["top"] and sheet["bottom"] == height
        assert abs(mapbox["bottom"] - sheet["top"]) <= 1 and mapbox["height"] > height * 0.6
        assert page.is_visible("#atlas-sheet-handle") and not page.is_visible("#atlas-table")
        # a city opens the sheet half-way, its name on the handle, the map above it
        page.evaluate("atlas.openCity('210200')")
        page.wait_for_selector("#atlas-side[data-sheet=half] #atlas-city[data-adcode='210200']")
        sheet = box_of(page, "#atlas-side")
        assert height * 0.3 < sheet["top"] < height * 0.65
        assert sheet["top"] - mapbox["top"] > 200                       # map still in sight
        assert page_does_not_scroll(page)
        assert page.inner_text("#atlas-sheet-label") == "大连市"
        title = box_of(page, "#atlas-city h2")
        assert sheet["top"] < title["top"] < title["bottom"] < height   # the panel's head is on screen
        assert page.get_attribute("#atlas-sheet-handle", "aria-expanded") == "true"
        shot(page, "ux_sheet_city_phone")
        # dragged up it fills most of the map, dragged down it closes
        grip = box_of(page, "#atlas-sheet-handle")
        x, y = width / 2, grip["top"] + 20
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, 150, steps=8)
        page.mouse.up()
        page.wait_for_selector("#atlas-side[data-sheet=full]")
        assert mapbox["top"] < box_of(page, "#atlas-side")["top"] < 200
        grip = box_of(page, "#atlas-sheet-handle")
        page.mouse.move(x, grip["top"] + 20)
        page.mouse.down()
        page.mouse.move(x, height - 10, steps=8)
        page.mouse.up()
        page.wait_for_selector("#atlas-side[data-sheet=peek]")
        assert box_of(page, "#atlas-side")["top"] >= height - 60
        # a tap opens it again, Escape closes it; the × closes the panel and the sheet
        page.click("#atlas-sheet-handle")
        page.wait_for_selector("#atlas-side[data-sheet=half]")
        page.keyboard.press("Escape")
        page.wait_for_selector("#atlas-side[data-sheet=peek]")
        page.click("#atlas-sheet-handle")
        page.click("#atlas-city header button")
        page.wait_for_selector("#atlas-side[data-sheet=peek]")
        assert page.is_hidden("#atlas-city") and page.inner_text("#atlas-sheet-label").startswith("地点列表")
        # a long popup: a sheet along the bottom of the map, the place above it in sight
        page.evaluate("atlas.goTo({layer: 'platforms_labs', id: 'lab_clean_energy_dalian', lat: 38.9, lon: 121.6})")
        page.wait_for_selector("#atlas-popup-host .leaflet-popup-content")
        page.wait_for_function("() => !atlas.moving")
        popup, mapbox = box_of(page, "#atlas-popup-host .leaflet-popup"), box_of(page, ".atlas-mapbox")
        assert popup["left"] == 0 and popup["right"] == width
        assert abs(popup["bottom"] - mapbox["bottom"]) <= 1 and popup["top"] > mapbox["top"] + 150
        marker = box_of(page, ".atlas-shape[data-id='lab_clean_energy_dalian']")
        assert mapbox["top"] < marker["top"] and marker["bottom"] < popup["top"]
        # no tip points at it: the place's marker is marked instead (only that one)
        assert page.eval_on_selector_all(".atlas-selected", "els => els.map(e => e.getAttribute('data-id'))") == ["lab_clean_energy_dalian"]
        assert "大连洁净能源国家实验室" in page.inner_text("#atlas-popup-host .leaflet-popup-content")
        assert page.get_attribute("#atlas-side", "data-sheet") == "peek" and page_does_not_scroll(page)
        shot(page, "ux_sheet_popup_phone")
        # its grip makes it taller (still inside the map), × closes it
        page.click(".atlas-popup-grip")
        page.wait_for_selector(".atlas-popup-grip[aria-expanded=true]")
        taller = box_of(page, "#atlas-popup-host .leaflet-popup")
        assert taller["height"] > popup["height"] and taller["top"] >= mapbox["top"]
        page.click("#atlas-popup-host .leaflet-popup-close-button")
        page.wait_for_selector("#atlas-popup-host .leaflet-popup", state="detached")
        assert page.locator(".atlas-selected").count() == 0
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


@pytest.mark.browser
def test_phone_filter_form_scrolls_inside_itself(browser, live_server):
    """Every facet open on a phone: the form scrolls within the screen and Apply stays reachable
    (the page itself does not scroll)."""
    context, page = sized(browser, "phone")
    try:
        open_map(page, live_server)
        page.click("#atlas-filter-toggle")
        page.eval_on_selector_all("details.atlas-facet", "els => els.forEach(d => { d.open = true; })")
        form = box_of(page, "#atlas-filter")
        assert form["bottom"] <= SIZES["phone"][1] and page_does_not_scroll(page)
        assert page.evaluate("(f => f.scrollHeight > f.clientHeight)(document.querySelector('#atlas-filter'))")
        page.click("label.chip:has(input[value='marine'])")
        page.click("#atlas-filter button[type=submit]")
        page.wait_for_url(re.compile(r".*industry=marine.*"))
        page.wait_for_function("() => window.atlas && atlas.loaded")
    finally:
        context.close()


@pytest.mark.browser
def test_keyboard_reaches_markers_and_popups(browser, live_server):
    context, page = sized(browser, "desktop")
    try:
        open_map(page, live_server, "?city=210500")
        page.focus(".atlas-shape.atlas-high_tech_zones")
        assert page.evaluate("document.activeElement.getAttribute('aria-label')").startswith("本溪")
        page.keyboard.press("Enter")
        page.wait_for_selector(".leaflet-popup-content")
        assert page.evaluate("document.activeElement.classList.contains('leaflet-popup-content')")
        page.keyboard.press("Escape")
        page.wait_for_selector(".leaflet-popup-content", state="detached")
        assert page.evaluate("document.activeElement.classList.contains('atlas-high_tech_zones')")
    finally:
        context.close()


@pytest.mark.browser
def test_pinyin_shenyang_finds_shenyang_htz(page, live_server):
    open_map(page, live_server)
    page.fill("#atlas-search", "shenyang")
    page.wait_for_selector('#atlas-search-results[data-query="shenyang"] li')
    hits = page.inner_text("#atlas-search-results")
    assert "沈阳高新技术产业开发区" in hits and "鞍山" not in hits


def test_markers_have_distinct_colour_and_shape_per_category(client):
    """No two categories of the point layers share colour and shape; the legend says the shape."""
    config = json.loads(re.search(r'id="atlas-config">(.*?)</script>', client.get("/").get_data(as_text=True), re.S).group(1))
    seen = {}
    for layer in config["layers"]:
        if layer["geometry"] != "point" or layer["id"] == "demo_zone_core":
            continue
        for entry in layer["legend"]:
            style = entry["style"]
            key = (style.get("shape"), style.get("fill_color"))
            assert key not in seen, (entry["label"], seen.get(key))
            seen[key] = entry["label"]
    shapes = {s for s, _ in seen}
    assert {"circle", "square", "triangle", "diamond"} <= shapes
    # provincial HTZs and coastal parks, platforms and innovation areas no longer look alike
    by_label = {label: key for key, label in seen.items()}
    assert by_label["省级高新区"][0] != by_label["沿海产业园区"][0]
    assert by_label["创新平台"] != by_label["创新集聚区"]
    html = client.get("/").get_data(as_text=True)
    assert "<polygon points=" in html        # legend swatches draw the shapes


def test_filter_options_carry_counts_from_the_stats_numbers(client):
    html = client.get("/?industry=biomedicine").get_data(as_text=True)
    rows = {r["city_adcode"]: r for r in client.get("/api/distribution?industry=biomedicine").get_json()["cities"]}
    for code in ("210200", "210500", "211300"):
        match = re.search(r'value="%s"[^>]*><span>[^<]+</span> <small>\((\d+)\)</small>' % code, html)
        assert match and int(match.group(1)) == rows[code]["places"], code
    industry = re.search(r'value="biomedicine" checked><span>生物医药</span> <small>\((\d+)\)</small>', html)
    total = client.get("/api/distribution?industry=biomedicine").get_json()
    assert industry and int(industry.group(1)) == sum(r["places"] for r in total["cities"])


def test_places_and_city_endpoints_page_sort_and_refuse_bad_input(client):
    body = client.get("/map/places.json?industry=biomedicine&sort=city&order=desc&per_page=3&page=2").get_json()
    assert body["per_page"] == 3 and body["page"] == 2 and len(body["rows"]) == 3
    every = client.get("/map/places.json?industry=biomedicine&sort=city&order=desc&per_page=500").get_json()
    assert body["total"] == every["total"] and [r["id"] for r in every["rows"][3:6]] == [r["id"] for r in body["rows"]]
    assert [r["city"] for r in every["rows"]] == sorted((r["city"] for r in every["rows"]), reverse=True)
    inside = client.get("/map/places.json?bbox=121.0,38.6,122.5,39.5").get_json()
    assert inside["total"] and all(121.0 <= r["lon"] <= 122.5 and 38.6 <= r["lat"] <= 39.5 for r in inside["rows"])
    for query in ("sort=colour", "order=up", "page=0", "per_page=100000", "bbox=1,2,3", "bbox=10,5,0,6"):
        response = client.get(f"/map/places.json?{query}")
        assert response.status_code == 400 and response.get_json()["allowed"], query
    assert client.get("/map/cities/999999.json").status_code == 404
    for query in ("at=30/41/122", "at=abc", "layers=nope"):
        assert client.get(f"/?{query}", headers={"Accept": "application/json"}).status_code == 400, query
    assert client.get("/?at=8/39.5/122.0&layers=high_tech_zones,cities").status_code == 200


def test_amap_basemap_shifts_only_what_is_drawn(client):
    """On a GCJ-02 basemap the drawn coordinates are shifted (prcoords); stored and exported
    coordinates are not."""
    import prcoords

    from geoapp.web import create_app
    amap = create_app({"TESTING": True, "ATLAS_TILES": "amap"}).test_client()
    page = amap.get("/")
    assert "webrd0{s}.is.autonavi.com" in page.get_data(as_text=True)
    assert "https://*.is.autonavi.com" in page.headers["Content-Security-Policy"]
    stored = next(f for f in client.get("/export/high_tech_zones.geojson").get_json()["features"]
                  if f["properties"]["id"] == "htz_dalian")["geometry"]["coordinates"]
    exported = next(f for f in amap.get("/export/high_tech_zones.geojson").get_json()["features"]
                    if f["properties"]["id"] == "htz_dalian")["geometry"]["coordinates"]
    assert exported == stored
    drawn = next(f for f in amap.get("/map/layers/high_tech_zones.geojson").get_json()["features"]
                 if f["properties"]["id"] == "htz_dalian")["geometry"]["coordinates"]
    plain = next(f for f in client.get("/map/layers/high_tech_zones.geojson").get_json()["features"]
                 if f["properties"]["id"] == "htz_dalian")["geometry"]["coordinates"]
    assert 0.002 < abs(drawn[0] - plain[0]) < 0.01 and 0.0005 < abs(drawn[1] - plain[1]) < 0.01
    back = prcoords.gcj_wgs_bored(prcoords.Coords(drawn[1], drawn[0]))
    # the same place as on a WGS84 basemap (which may be moved apart from a shared seat: offsets.py)
    assert abs(back.lon - plain[0]) < 2e-5 and abs(back.lat - plain[1]) < 2e-5
    hit = amap.get("/map/search?q=大连高新区").get_json()["hits"][0]
    assert abs(hit["lon"] - drawn[0]) < 1e-5
    row = next(r for r in amap.get("/map/places.json?per_page=500").get_json()["rows"] if r["id"] == "htz_dalian")
    assert abs(row["lon"] - drawn[0]) < 1e-5


def test_basemap_presets_and_their_settings():
    from geoapp.layers.build import MapConfigError, basemap_settings
    assert basemap_settings("none").layers == []
    tdt = basemap_settings("tianditu", tianditu_key="0123456789abcdef0123456789abcdef")
    assert [u.split("/")[3] for u, _, _ in tdt.layers] == ["vec_w", "cva_w"]   # map + Chinese labels
    assert tdt.datum == "wgs84"        # CGCS2000: drawn unshifted
    assert basemap_settings("amap").datum == "gcj02"
    with pytest.raises(MapConfigError, match="ATLAS_TIANDITU_KEY"):
        basemap_settings("tianditu")
    with pytest.raises(MapConfigError, match="ATLAS_TIANDITU_KEY"):
        basemap_settings("tianditu", tianditu_key="abc{{7*7}}def0123456789")
    with pytest.raises(MapConfigError, match="ATLAS_TILES_DATUM"):
        basemap_settings("http://t.example/{z}/{x}/{y}.png", datum="bd09")
    assert basemap_settings("http://t.example/{z}/{x}/{y}.png", datum="gcj02").datum == "gcj02"


@pytest.mark.browser
def test_failing_tiles_show_a_notice_and_the_outlines(browser):
    """Offline (tiles unreachable): a visible notice, the basemap removed, outlines drawn."""
    import socket

    from geoapp.web import create_app
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()   # nothing listens there now
    app = create_app({"TESTING": True, "ATLAS_TILES": f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context, page = sized(browser, "phone")
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        page.wait_for_function("() => window.atlas && atlas.loaded")
        page.wait_for_selector("#atlas-notice:not([hidden])")
        assert "底图" in page.inner_text("#atlas-notice")
        assert page.evaluate("atlas.tilesFailed") is True
        assert page.evaluate("Object.keys(atlas.markers.cities).length") == 14
        shot(page, "ux_tiles_failed_phone")
    finally:
        context.close()
        server.shutdown()


@pytest.mark.browser
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_save_as_image_has_map_legend_title_filter_and_date(browser, live_server, size, tmp_path):
    import struct
    context, page = sized(browser, size)
    try:
        open_map(page, live_server, "?industry=biomedicine")
        if size == "phone":   # the header's links are behind "More" on phones
            page.click("#atlas-menu-toggle")
        with page.expect_download() as download:
            page.click("#atlas-save-image")
        path = tmp_path / "map.png"
        download.value.save_as(path)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        made = page.evaluate("atlas.lastImage")
        mapbox = page.evaluate("[atlas.map.getSize().x, atlas.map.getSize().y]")
        assert made["map"] == mapbox                      # the map as it is on screen (CSS px)
        assert made["scale"] == 2 and made["width"] % 2 == 0   # drawn at twice the resolution
        assert (width, height) == (made["width"], made["height"])
        width, height = width // 2, height // 2
        assert width > mapbox[0] + made["legend"][0] and height > mapbox[1] + 100   # title, filter, sources, date
        assert made["legend"][1] > 100                    # the legend, opened for the image
        assert page.get_attribute("#atlas-legend-toggle", "aria-expanded") == ("true" if size == "desktop" else "false")
        (ARTIFACTS / f"ux_saved_image_{size}.png").write_bytes(data)
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


def test_city_panel_speaks_the_page_language(client):
    """The English city panel said its industries in Chinese (生物医药)."""
    en = client.get("/map/cities/211300.json?lang=en").get_json()
    zh = client.get("/map/cities/211300.json").get_json()
    distribution = {r["city_adcode"]: r for r in client.get("/api/distribution").get_json()["cities"]}
    present = [code.removeprefix("industry_") for code, n in distribution["211300"].items()
               if code.startswith("industry_") and isinstance(n, int) and n > 0]
    from tests.plans_fixture import shipped_plan
    industries = shipped_plan().industries
    assert en["industries"] == ", ".join(industries[c][1] for c in present)
    assert zh["industries"] == "、".join(industries[c][0] for c in present)
    assert not re.search(r"[\u4e00-\u9fff]", en["industries"]) and en["industries"]
