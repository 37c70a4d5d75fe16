"""/stats in a real browser: the table and the charts render, nothing fails to load, no console error."""
import pytest

from tests.conftest import shot

pytestmark = pytest.mark.browser


def _open(page, url):
    page.goto(url, wait_until="networkidle")
    assert page.failed == [], page.failed
    assert page.console_errors == [], page.console_errors


def test_stats_page_renders_table_and_charts(page, live_server):
    _open(page, f"{live_server}/stats")
    rows = page.locator("table.cities tbody tr")
    assert rows.count() == 14
    assert "沈阳市" in rows.first.inner_text()
    # charts are drawn: one bar row per city, heat-map cells, the belt sketch with its corridor
    assert page.locator("#bar-chart .bar-row").count() == 14 and page.locator("#bar-chart .bar-track i").count() >= 14
    assert page.locator("#heat-map tbody td").count() > 14 * 20
    assert page.locator("#belt-map path").count() == 15  # 14 cities + the corridor
    box = page.locator("#bar-chart").bounding_box()
    assert box["width"] > 300 and box["height"] > 300
    # every task is listed, the supercomputing centre shown as not on the map
    assert page.locator("table.tasks tbody tr").count() == 40
    assert "东北区域超算中心" in page.locator("table.tasks").inner_text()
    shot(page, "stats_page")
    page.locator("#bar-chart").scroll_into_view_if_needed()
    shot(page, "stats_bar_chart")
    page.locator("#coverage").scroll_into_view_if_needed()
    shot(page, "stats_heat_map")
    page.locator("#belt").scroll_into_view_if_needed()
    shot(page, "stats_belt")


def test_stats_page_in_english_with_a_filter(page, live_server):
    _open(page, f"{live_server}/stats?lang=en&industry=biomedicine")
    assert page.locator("h1").inner_text().startswith("Liaoning 13th FYP")
    assert page.locator("table.cities tbody tr").count() == 14
    assert page.locator("input[name=industry]:checked").evaluate_all("els => els.map(e => e.value)") == ["biomedicine"]
    assert page.inner_text("details[data-param=industry] summary") == "Industry\nBiomedicine"
    shot(page, "stats_page_en_biomedicine")


SIZES = {"phone": (390, 844), "desktop": (1440, 900)}


def _sized(browser, size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.failed, page.console_errors = [], []
    page.on("response", lambda r: r.status >= 400 and page.failed.append(f"{r.url} {r.status}"))
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    return context, page


CLIPPED = """() => {
    // text cut off: an element whose content is wider than its box (and hidden or scrolled)
    var cut = [];
    document.querySelectorAll('section, td, th, .figure span, .bar-name, h1, h2, h3, summary span').forEach(function (e) {
      if (e.closest('.heat-scroll') && e.matches('section')) return;
      if (e.scrollWidth > e.clientWidth + 1) cut.push((e.id || e.className || e.tagName) + ': ' + e.textContent.trim().slice(0, 40) + ' ' + e.scrollWidth + '>' + e.clientWidth);
    });
    // a city name in the heat map's header sticking out of its cell
    document.querySelectorAll('#heat-map th.city').forEach(function (th) {
      var a = th.getBoundingClientRect(), b = th.firstElementChild.getBoundingClientRect();
      if (b.top < a.top - 1 || b.bottom > a.bottom + 1) cut.push('city header ' + th.textContent);
    });
    return cut; }"""


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", list(SIZES))
def test_stats_fits_the_screen_with_nothing_cut_off(browser, live_server, size, lang):
    """English task titles and column names are whole, at phone and desktop width: the page
    never scrolls sideways; only the task × city matrix does, on a phone, under its task column."""
    context, page = _sized(browser, size)
    try:
        page.goto(f"{live_server}/stats?city=大连,沈阳&industry=biomedicine,marine" + ("&lang=en" if lang == "en" else ""))
        width = SIZES[size][0]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        assert page.evaluate(CLIPPED) == []
        # every task title of the heat map whole (no "…"), as in the data
        titles = page.eval_on_selector_all("#heat-map tbody th.task", "els => els.map(e => e.textContent)")
        assert titles and not any(t.endswith("…") for t in titles)
        if lang == "en":
            assert "Create the Shenyang–Dalian National Independent Innovation Demonstration Zone" in titles
        scroller = page.locator(".heat-scroll")
        overflows = scroller.evaluate("e => e.scrollWidth > e.clientWidth")
        if size == "desktop":
            assert not overflows
        else:   # the matrix scrolls sideways and the task titles stay put at the left
            assert overflows and page.is_visible("p.swipe")
            first = page.locator("#heat-map tbody th.task").first
            left = first.bounding_box()["x"]
            scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
            page.wait_for_function("() => document.querySelector('.heat-scroll').scrollLeft > 0")
            assert abs(first.bounding_box()["x"] - left) <= 2          # (2 px: the cell spacing)
            # tables are cards: each value next to its column's name
            card = page.locator("table.cities tbody tr").nth(1)
            assert card.bounding_box()["width"] <= width
            assert page.locator("table.cities td[data-label]").first.evaluate("e => getComputedStyle(e, '::before').content") != "none"
        page.locator("#coverage").scroll_into_view_if_needed()
        shot(page, f"stats_fits_{lang}_{size}")
        assert page.failed == [] and page.console_errors == []
    finally:
        context.close()


def test_stats_form_keeps_several_values_of_a_shared_link(page, live_server):
    """/stats?city=大连,沈阳: both cities are ticked, and Apply keeps both (the old single
    selects kept one)."""
    _open(page, f"{live_server}/stats?city=大连,沈阳&industry=biomedicine")
    checked = page.eval_on_selector_all("form.filter input:checked", "els => els.map(e => e.value)")
    assert sorted(checked) == ["210100", "210200", "biomedicine"]
    assert "大连市" in page.inner_text("#scope") and "沈阳市" in page.inner_text("#scope")
    before = page.inner_text("#figures .figures")
    page.click("details[data-param=city] summary")
    page.click("details[data-param=level] summary")     # one dropdown open at a time (no script)
    assert page.eval_on_selector_all("details[open]", "els => els.map(e => e.dataset.param)") == ["level"]
    page.click("label.chip:has(input[name=level][value=national])")
    page.click("form.filter button[type=submit]")
    page.wait_for_url("**level=national**")
    checked = page.eval_on_selector_all("form.filter input:checked", "els => els.map(e => e.value)")
    assert sorted(checked) == ["210100", "210200", "biomedicine", "national"]
    assert "级别：国家级" in page.inner_text("#scope")
    page.click("details[data-param=level] summary")
    page.click("label.chip:has(input[name=level][value=national])")
    page.click("form.filter button[type=submit]")
    page.wait_for_function("() => location.search.indexOf('level') < 0")
    assert page.inner_text("#figures .figures") == before
