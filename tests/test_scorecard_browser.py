"""The scorecard section of /stats in a real browser, at phone and desktop sizes: it renders, its
charts are drawn, nothing needs sideways scrolling."""
import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "desktop": (1440, 900)}


@pytest.mark.parametrize("size", SIZES)
def test_scorecard_section_fits_the_screen(browser, live_server, size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{live_server}/stats", wait_until="networkidle")
        assert errors == []
        section = page.locator("#scorecard")
        assert section.count() == 1
        # one row per numeric target; the R&D share row shows 2.19 % (2020) as not met
        rows = section.locator("tbody tr")
        assert rows.count() >= 15
        rd = section.locator("#target-rd_gdp_share")
        assert "2.19" in rd.inner_text() and "未达到" in rd.inner_text()
        assert rd.locator("svg.target-chart circle").count() == 2   # 2020 and 2021
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        wide = page.evaluate(f"""() => [...document.querySelectorAll('#scorecard *')]
            .filter(e => e.getBoundingClientRect().right > {width} + 1).map(e => e.tagName + '.' + e.className)""")
        assert wide == [], wide
        rd.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"scorecard_{size}.png"))
    finally:
        context.close()


def test_city_panel_lists_the_citys_scorecard_rows(browser, live_server):
    """Dalian's panel on the map: the targets touching it, with Dalian's own 2019 figure."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{live_server}/", wait_until="networkidle")
        page.evaluate("atlas.openCity('210200')")
        page.wait_for_selector("#atlas-city[data-adcode='210200'] ul.scorecard li")
        text = page.inner_text("#atlas-city ul.scorecard")
        assert "技术市场合同成交额" in text and "2019: 210.39 亿元" in text
        assert errors == []
        page.locator("#atlas-city ul.scorecard").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "scorecard_city_panel.png"))
    finally:
        context.close()
