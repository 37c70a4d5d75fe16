"""Issue 22 on the map page, in headless Chromium at 390×844 and 1440×900 in both languages: the
print layout, cities reachable from the keyboard and the URL, the page at 200 % zoom, no layout
shift while it loads, touch targets, and the texts of each language. Screenshots go to artifacts/."""
import re

import pytest

from tests.conftest import ARTIFACTS, shot
from tests.test_map_browser import open_layer_list

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "desktop": (1440, 900)}
CJK = re.compile(r"[\u3400-\u9fff]")

# every layout shift from the first paint on, summed as the CLS score is (no input before the test
# reads it, so none is excluded)
RECORD_SHIFTS = """
window.__shifts = [];
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) {
    if (!e.hadRecentInput) window.__shifts.push({value: e.value, nodes: (e.sources || []).map(function (s) {
      var n = s.node; return n ? (n.id || n.className || n.nodeName) + '' : '?'; })});
  });
}).observe({type: 'layout-shift', buffered: true});
"""


def new_page(browser, width, height, lang="zh"):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="en-GB" if lang == "en" else "zh-CN")
    context.add_init_script(RECORD_SHIFTS)
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


def shown(page, selector):
    """Whether any element matching `selector` takes room on the page (print media included)."""
    return page.evaluate("""(sel) => Array.from(document.querySelectorAll(sel)).some(function (e) {
        var r = e.getBoundingClientRect(), s = getComputedStyle(e);
        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; })""", selector)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_print_layout_has_title_filter_map_legend_list_sources_and_date(browser, live_server, client, size, lang):
    query = "?industry=biomedicine" + ("&lang=en" if lang == "en" else "")
    context, page = new_page(browser, *SIZES[size], lang=lang)
    try:
        open_map(page, live_server, query)
        on_screen = {sel: shown(page, sel) for sel in ("#atlas-search", ".leaflet-control-zoom")}
        assert on_screen == {"#atlas-search": True, ".leaflet-control-zoom": True}
        page.emulate_media(media="print")
        page.wait_for_function("() => document.body.getAttribute('data-print') === 'true'")
        # gone on paper: the search, the filter form and its buttons, the map's buttons, the sheet handle
        for selector in ("#atlas-search", "#atlas-filter", "#atlas-filter-toggle", ".leaflet-control-zoom",
                         ".leaflet-control-layers", "#atlas-sheet-handle", "#atlas-legend-toggle", "#atlas-links"):
            assert not shown(page, selector), selector
        # on paper: the title, the filter in words, the map, the legend open, the list, sources and date
        text = page.evaluate("document.body.innerText")
        title = "Liaoning 13th Five-Year S&T Plan Atlas" if lang == "en" else "辽宁“十三五”科技创新地图"
        words = "Filter: Industry: Biomedicine" if lang == "en" else "筛选：产业：生物医药"
        assert title in text and words in page.inner_text(".atlas-print-head")
        assert shown(page, ".atlas-mapbox path.leaflet-interactive") and shown(page, "#atlas-legend-body")
        assert page.evaluate("document.querySelector('.atlas-mapbox').getBoundingClientRect().height") > 400
        rows = page.locator("#atlas-table tbody tr[data-id]").count()
        assert rows > 0 and shown(page, "#atlas-table tbody tr[data-id]")
        foot = page.inner_text(".atlas-print-foot")
        assert ("Sources" in foot if lang == "en" else "来源" in foot)
        assert re.search(r"\d{4}-\d{2}-\d{2}", foot)
        assert "127.0.0.1" not in text and "http://" not in text
        # the legend's shading classes are those some city is in (no empty class on paper)
        cities = client.get(next(layer["url"] for layer in page.evaluate("atlas.config.layers") if layer["id"] == "cities"))
        values = [f["properties"]["value"] for f in cities.get_json()["features"]]
        classes = page.eval_on_selector_all("#atlas-legend section[data-layer=cities] .row span",
                                            "els => els.map(e => e.textContent)")
        assert classes
        for label in classes:
            low, _, high = label.rsplit(" ", 1)[-1].partition("–")
            low, high = int(low), int(high or low)
            assert any(low <= v <= high for v in values), (label, values)
        # the map was re-measured for the page (Leaflet's size is the printed box's)
        assert page.evaluate("""(() => { var s = atlas.map.getSize(), c = atlas.map.getContainer();
            return s.x === c.clientWidth && s.y === c.clientHeight; })()""")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"print_{size}_{lang}.png"), full_page=True)
        page.emulate_media(media="screen")
        page.wait_for_function("() => !document.body.hasAttribute('data-print')")
        assert shown(page, "#atlas-search")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_print_button_prints_the_whole_list(browser, live_server, size):
    context, page = new_page(browser, *SIZES[size])
    try:
        open_map(page, live_server)
        page.evaluate("window.print = function () { window.__printed = true; }")   # no dialog in a test
        page.evaluate("document.getElementById('atlas-table-inview').checked = false")
        page.evaluate("atlas.loadTable()")
        page.wait_for_function("() => document.querySelector('#atlas-table').getAttribute('data-state') === atlas.tableUrl()")
        total = int(page.get_attribute("#atlas-table", "data-total"))
        assert total > 10
        if size == "phone":
            page.click("#atlas-menu-toggle")
        page.click("#atlas-print")
        page.wait_for_function("() => window.__printed === true")
        assert page.locator("#atlas-table tbody tr[data-id]").count() == min(total, 500)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_cities_are_named_buttons_enter_and_space_open_the_panel_kept_in_the_url(browser, live_server, size, lang):
    en = "?lang=en" if lang == "en" else ""
    context, page = new_page(browser, *SIZES[size], lang=lang)
    try:
        open_map(page, live_server, en)
        names = page.eval_on_selector_all("path[data-adcode]", "els => els.map(e => [e.getAttribute('role'), e.getAttribute('tabindex'), e.getAttribute('aria-label')])")
        assert len(names) == 14
        assert all(role == "button" and tab == "0" and label for role, tab, label in names)
        dalian = page.get_attribute("path[data-adcode='210200']", "aria-label")
        assert ("Dalian" in dalian and "Enter" in dalian) if lang == "en" else ("大连市" in dalian and "回车" in dalian)
        page.focus("path[data-adcode='210200']")
        page.keyboard.press("Enter")
        page.wait_for_selector("#atlas-city[data-adcode='210200']:not([hidden])")
        assert page.evaluate("document.activeElement.closest('#atlas-city') !== null")   # focus went in
        page.wait_for_function("() => new URLSearchParams(location.search).get('city_panel') === '210200'")
        shared = page.url
        # closing it goes back to the shape, and out of the URL
        page.click("#atlas-city .atlas-close")
        page.wait_for_function("() => !new URLSearchParams(location.search).has('city_panel')")
        assert page.evaluate("document.activeElement.getAttribute('data-adcode')") == "210200"
        page.focus("path[data-adcode='210100']")
        page.keyboard.press(" ")
        page.wait_for_selector("#atlas-city[data-adcode='210100']:not([hidden])")
        # the shared URL opens the panel it names
        page.goto(shared)
        page.wait_for_selector("#atlas-city[data-adcode='210200']:not([hidden])")
        assert ("Dalian" if lang == "en" else "大连市") in page.inner_text("#atlas-city h2")
        shot(page, f"city_panel_from_url_{size}_{lang}")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


def test_unknown_city_panel_in_the_url_answers_400(client):
    response = client.get("/?city_panel=999999")
    assert response.status_code == 400 and "210200" in response.get_data(as_text=True)


@pytest.mark.parametrize("size", list(SIZES))
def test_skip_link_goes_to_the_list_and_search_finds_a_city(browser, live_server, size):
    context, page = new_page(browser, *SIZES[size])
    try:
        open_map(page, live_server)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "atlas-skip"
        assert shown(page, ".atlas-skip")
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.activeElement.id === 'atlas-side'")
        page.fill("#atlas-search", "沈阳市")
        page.wait_for_function("() => document.querySelector('#atlas-search-results').getAttribute('data-query') === '沈阳市'")
        first = page.inner_text("#atlas-search-results li:first-child")
        assert first.startswith("沈阳市") and "地级市" in first
        page.keyboard.press("Enter")
        page.wait_for_selector("#atlas-city[data-adcode='210100']:not([hidden])")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_at_200_percent_zoom_the_header_folds_and_the_map_keeps_the_room(browser, live_server, lang):
    """1440 × 900 at 200 % zoom is 720 × 450 CSS px: the header and the filter took 47 % of it."""
    context, page = new_page(browser, 720, 450, lang=lang)
    try:
        open_map(page, live_server, "?lang=en" if lang == "en" else "")
        top = page.evaluate("document.querySelector('.atlas-main').getBoundingClientRect().top")
        assert top <= 0.12 * 450, top
        assert not shown(page, "#atlas-filter") and not shown(page, "#atlas-links")
        assert not shown(page, "#atlas-legend-body")
        assert not page.evaluate("!!document.querySelector('.leaflet-control-layers-expanded')")
        page.click("#atlas-filter-toggle")
        assert shown(page, "#atlas-filter")
        page.click("#atlas-filter-toggle")
        page.click("#atlas-menu-toggle")
        assert shown(page, "#atlas-stats-link")
        shot(page, f"zoom200_{lang}")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_the_layer_list_is_a_button_and_the_province_fits(browser, live_server, size):
    context, page = new_page(browser, *SIZES[size])
    try:
        open_map(page, live_server)
        assert not page.evaluate("!!document.querySelector('.leaflet-control-layers-expanded')")
        # 铁岭 (the north-east) is not under the layer button
        label = page.evaluate("""Array.from(document.querySelectorAll('.atlas-city-label span')).find(
            e => e.textContent === '铁岭市').getBoundingClientRect().toJSON()""")
        button = page.evaluate("document.querySelector('.leaflet-control-layers').getBoundingClientRect().toJSON()")
        assert label["right"] < button["left"] or label["top"] > button["bottom"]
        # on phones the province fills the map's width (a fractional zoom, not the integer below it)
        span = page.evaluate("""(() => { var b = atlas.config.province, m = atlas.map;
            var a = m.latLngToContainerPoint([b[0][0], b[0][1]]), c = m.latLngToContainerPoint([b[1][0], b[1][1]]);
            return [Math.abs(c.x - a.x) / m.getSize().x, Math.abs(c.y - a.y) / m.getSize().y]; })()""")
        if size == "phone":
            assert max(span) > 0.8, span
        open_layer_list(page)
        assert page.evaluate("!!document.querySelector('.leaflet-control-layers-expanded')")
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_no_layout_shift_while_the_page_loads(browser, live_server, size):
    context, page = new_page(browser, *SIZES[size])
    try:
        open_map(page, live_server, "?industry=biomedicine")
        shifts = page.evaluate("window.__shifts")
        cls = sum(s["value"] for s in shifts)
        print(f"CLS {size}: {cls:.4f} {shifts}")
        assert cls < 0.01, shifts
    finally:
        context.close()


TARGETS = """() => Array.from(document.querySelectorAll(
    'a[href], button, input, select, summary, [role=button], [tabindex="0"]')).map(function (e) {
      // a checkbox's target is its label (the chip), as a click anywhere on it ticks the box
      return e.tagName === 'INPUT' && e.closest('label') ? e.closest('label') : e;
    }).filter(function (e, i, all) {
      if (all.indexOf(e) !== i) return false;
      var r = e.getBoundingClientRect(), s = getComputedStyle(e);
      return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'
        && r.bottom > 0 && r.top < innerHeight && e.tagName !== 'path'
        && !e.closest('.leaflet-control-attribution');
    }).map(function (e) { var r = e.getBoundingClientRect();
      return {what: e.id || e.className || e.tagName, text: (e.textContent || e.value || '').slice(0, 20),
              w: r.width, h: r.height, x: r.left + r.width / 2, y: r.top + r.height / 2}; })"""


@pytest.mark.parametrize("size", list(SIZES))
def test_touch_targets_are_24_px_and_apart(browser, live_server, size):
    """WCAG 2.2 target size (minimum): 24 × 24 CSS px, on screen as opened by a user (header menu
    and filter open on phones, a facet open)."""
    context, page = new_page(browser, *SIZES[size])
    try:
        open_map(page, live_server)
        if size == "phone":
            page.click("#atlas-menu-toggle")
            page.click("#atlas-filter-toggle")
        page.click("details[data-param=industry] summary")
        small = [t for t in page.evaluate(TARGETS) if t["w"] < 24 or t["h"] < 24]
        assert small == [], small
        if size == "phone":   # and the header's links are not crowded: centres ≥ 32 px apart
            links = [t for t in page.evaluate(TARGETS) if t["y"] < 140 and t["what"] not in ("atlas-search",)]
            for i, a in enumerate(links):
                for b in links[i + 1:]:
                    assert ((a["x"] - b["x"]) ** 2 + (a["y"] - b["y"]) ** 2) ** 0.5 >= 32, (a, b)
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_each_language_is_whole_on_the_map_page(browser, live_server, client, size):
    context, page = new_page(browser, *SIZES[size], lang="zh")
    try:
        open_map(page, live_server, "?city=沈阳,大连")
        html = page.content()
        assert "Zoom in" not in html and "（GeoPackage）" not in html and "plan text" not in html
        assert page.get_attribute(".leaflet-control-zoom-in", "title") == "放大"
        page.evaluate("atlas.goTo({layer: 'high_tech_zones', id: 'htz_shenyang', lat: 41.7, lon: 123.4})")
        page.wait_for_selector(".leaflet-popup-content")
        popup = page.inner_text(".leaflet-popup-content")
        assert "规划原文" in popup and "plan text" not in popup and "data/plan" not in popup
        assert "50 mi" not in page.inner_text(".leaflet-control-scale")
        assert "城市：沈阳市、大连市" in page.inner_text("#atlas-chips")
    finally:
        context.close()
    context, page = new_page(browser, *SIZES[size], lang="en")
    try:
        open_map(page, live_server, "?city=沈阳,大连&lang=en")
        assert "City: Shenyang, Dalian" in page.inner_text("#atlas-chips")
        assert "、" not in page.inner_text("#atlas-filter")
        # the search box's hint is not cut off
        fits = page.evaluate("""(() => { var i = document.getElementById('atlas-search'), s = getComputedStyle(i);
            var c = document.createElement('canvas').getContext('2d'); c.font = s.fontSize + ' ' + s.fontFamily;
            return c.measureText(i.placeholder).width <= i.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); })()""")
        assert fits
        assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Zoom in"
        page.evaluate("atlas.goTo({layer: 'high_tech_zones', id: 'htz_shenyang', lat: 41.7, lon: 123.4})")
        page.wait_for_selector(".leaflet-popup-content")
        popup = page.inner_text(".leaflet-popup-content")
        assert "Plan text" in popup and "规划" not in popup and "data/plan" not in popup
        assert "III.2.2" in popup    # 三（二）2 in numbers an English reader can follow
        # the chrome (not the data's own names) is English: no CJK outside names and the 中文 link
        # (parts marked as Chinese on purpose, lang="zh-CN": the atlas's Chinese name, the 中文 link, left out)
        chrome = page.evaluate("""(() => { var out = [];
            document.querySelectorAll('#atlas-bar, #atlas-filter summary, #atlas-legend, .atlas-table-head, .atlas-pager, .leaflet-control-container')
              .forEach(function (e) { var c = e.cloneNode(true); c.querySelectorAll('[lang]').forEach(function (x) { x.remove(); });
                                      document.body.appendChild(c); out.push(c.innerText); c.remove(); });
            return out.join('\\n'); })()""")
        leftovers = [line for line in chrome.splitlines() if CJK.search(line) and line.strip() not in ("中文",)]
        assert leftovers == [], leftovers
    finally:
        context.close()
