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
    assert page.locator("#bar-chart rect").count() >= 14
    assert page.locator("#heat-map rect").count() > 14 * 20
    assert page.locator("#belt-map path").count() == 15  # 14 cities + the corridor
    box = page.locator("#bar-chart").bounding_box()
    assert box["width"] > 300 and box["height"] > 300
    # every task is listed, the supercomputing centre shown as not on the map
    assert page.locator("table.tasks tbody tr").count() == 37
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
    assert page.locator("#industry option[selected], select[name=industry] option[selected]").first.inner_text() == "Biomedicine"
    shot(page, "stats_page_en_biomedicine")
