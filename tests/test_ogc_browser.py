"""The OGC API HTML pages in Chromium: the items and item pages draw their features on a small
Leaflet map, with no inline script (it works under the atlas's Content-Security-Policy of
script-src 'self'), and the /ogc/api page lists operations and parameters."""
import pytest

from tests.conftest import shot

pytestmark = pytest.mark.browser


def with_strict_csp(page):
    """Check that the atlas's own Content-Security-Policy (security headers on every route) is
    on the OGC pages and allows no inline script: the map must work under it."""
    def check(response):
        if "/ogc/" in response.url and response.request.resource_type == "document":
            csp = response.headers.get("content-security-policy", "")
            page.csp_seen.append(csp)
    page.csp_seen = []
    page.on("response", check)


def assert_strict_csp(page):
    assert page.csp_seen and all("script-src 'self'" in csp and "unsafe-inline" not in
                                 csp.split("script-src", 1)[1].split(";")[0] for csp in page.csp_seen), page.csp_seen


def test_items_page_draws_the_selected_features_on_a_map(page, live_server, registry):
    with_strict_csp(page)
    page.goto(f"{live_server}/ogc/collections/high_tech_zones/items?f=html&level=national")
    page.wait_for_selector("#ogc-map[data-features]")
    htz = registry.layers["high_tech_zones"]
    national = int((htz["level"] == "national").sum())
    assert page.get_attribute("#ogc-map", "data-features") == str(national) == "8"
    assert_strict_csp(page)
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
    assert_strict_csp(page)
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
