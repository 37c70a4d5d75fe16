"""The OGC API HTML pages in Chromium: the items and item pages draw their features on a small
Leaflet map, with no inline script (it still works under a Content-Security-Policy of
script-src 'self'), and the /ogc/api page lists operations and parameters."""
import pytest

from tests.conftest import shot

pytestmark = pytest.mark.browser
CSP = "default-src 'self'; script-src 'self'; img-src 'self' data:; object-src 'none'"


def with_strict_csp(page):
    """Serve every atlas answer with a strict CSP, as the hardened deployment does."""
    def add_csp(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})
    page.route("**/ogc/**", add_csp)


def test_items_page_draws_the_selected_features_on_a_map(page, live_server, registry):
    with_strict_csp(page)
    page.goto(f"{live_server}/ogc/collections/high_tech_zones/items?f=html&level=national")
    page.wait_for_selector("#ogc-map[data-features]")
    htz = registry.layers["high_tech_zones"]
    national = int((htz["level"] == "national").sum())
    assert page.get_attribute("#ogc-map", "data-features") == str(national) == "8"
    assert page.locator("#ogc-map path.leaflet-interactive").count() == national
    assert page.console_errors == [] and page.failed == []
    shot(page, "ogc_items_map")


def test_item_page_map_and_tooltip_show_the_feature(page, live_server, registry):
    with_strict_csp(page)
    htz = registry.layers["high_tech_zones"]
    row = htz[htz["id"] == "htz_dalian"].iloc[0]
    page.goto(f"{live_server}/ogc/collections/high_tech_zones/items/htz_dalian?f=html")
    page.wait_for_selector("#ogc-map[data-features='1']")
    page.locator("#ogc-map path.leaflet-interactive").first.hover()
    assert page.locator(".leaflet-tooltip").inner_text() == row["name_zh"]
    assert page.console_errors == [] and page.failed == []
    shot(page, "ogc_item_map")


def test_district_polygons_are_drawn(page, live_server):
    page.goto(f"{live_server}/ogc/collections/districts/items?f=html&city=大连")
    page.wait_for_selector("#ogc-map[data-features]")
    count = int(page.get_attribute("#ogc-map", "data-features"))
    assert count > 5 and page.locator("#ogc-map path.leaflet-interactive").count() == count
    assert page.console_errors == []


def test_api_page_lists_operations_and_parameters(page, live_server):
    page.goto(f"{live_server}/ogc/api?f=html")
    rows = page.locator("tbody tr")
    assert rows.count() >= 10
    items_row = page.locator("tbody tr", has_text="/collections/{collectionId}/items").first
    text = items_row.inner_text()
    assert "Features of a collection" in text and "filter-lang" in text and "sortby" in text
