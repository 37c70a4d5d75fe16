"""/compare in a real browser at phone and desktop sizes: the map draws both plans' places over
the 14 city outlines, clicking a city opens what changed there, nothing scrolls sideways."""
import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "desktop": (1440, 900)}


@pytest.mark.parametrize("size", SIZES)
def test_compare_page_fits_and_draws(browser, live_server, size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    errors, failed = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} {r.status}"))
    try:
        page.goto(f"{live_server}/compare", wait_until="networkidle")
        assert errors == [] and failed == []
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        wide = page.evaluate(f"""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > {width} + 1 && !e.closest('.leaflet-container'))
            .map(e => e.tagName + '.' + e.className)""")
        assert wide == [], wide
        outlines = page.locator("#cmp-map path.leaflet-interactive")
        assert outlines.count() >= 14 + 1     # 14 cities and at least one place marker
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"compare_{size}.png"))
        assert page.locator("table.cmp-cities tbody tr").count() == 14
        # a click on Dandong's outline (Kuandian, away from the place markers) opens its entry
        page.locator("#cmp-map").scroll_into_view_if_needed()
        x, y = page.evaluate("""() => { var m = atlasCompare.map, p = m.latLngToContainerPoint([40.75, 124.85]),
            r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""")
        assert page.locator("#city-210600").get_attribute("open") is None
        page.mouse.click(x, y)
        page.wait_for_function("document.getElementById('city-210600').open")
        page.goto(f"{live_server}/compare/cities/210600", wait_until="networkidle")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        page.screenshot(path=str(ARTIFACTS / f"compare_brief_{size}.png"), full_page=True)
    finally:
        context.close()
