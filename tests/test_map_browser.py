"""The map page in headless Chromium, as a person sees it. Screenshots go to artifacts/."""
import pytest

from tests.conftest import shot

pytestmark = pytest.mark.browser


def open_map(page, base, query=""):
    page.goto(f"{base}/{query}")
    page.wait_for_function("() => window.atlas && atlas.loaded")
    return page


def loaded_ids(page):
    """Ids of every point drawn or clustered on the map, over the searchable layers."""
    return page.evaluate("""Object.keys(atlas.markers).filter(function (id) {
        return atlas.config.layers.some(function (l) { return l.id === id && l.searchable; });
      }).reduce(function (all, id) { return all.concat(Object.keys(atlas.markers[id])); }, [])""")


def open_layer_list(page):
    """The layer list is a button until asked (issue 22 item 7): open it as a user would."""
    box = page.locator(".leaflet-control-layers-toggle").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)   # Leaflet opens it on hover
    page.wait_for_selector(".leaflet-control-layers-expanded")


def count(page, css):
    return page.evaluate(f"document.querySelectorAll({css!r}).length")


def assert_clean(page):
    assert page.failed == [], page.failed
    assert page.console_errors == [], page.console_errors


def test_default_view_shows_cities_and_all_15_zones(page, live_server):
    open_map(page, live_server)
    # 14 city polygons: each city feature is one interactive path in the choropleth layer
    cities = page.evaluate("""Object.keys(atlas.markers.cities).length""")
    assert cities == 14
    assert count(page, ".leaflet-marker-icon.atlas-high_tech_zones") == 15
    # Chinese labels rendered: title, legend, layer control
    assert "辽宁" in page.inner_text("header h1")
    assert "国家级高新区" in page.inner_text("#atlas-legend")
    open_layer_list(page)
    assert "高新技术产业开发区" in page.inner_text(".leaflet-control-layers")
    shot(page, "map_default")
    assert_clean(page)


def test_industry_filter_biomedicine_shows_benxi_hides_unrelated(page, live_server):
    open_map(page, live_server, "?industry=biomedicine")
    names = loaded_ids(page)
    assert "htz_benxi" in names and "cluster_biomed_benxi" in names and "base_biomed_benxi" in names
    assert "htz_fushun" not in names          # chemicals only
    assert "cluster_laser_anshan" not in names
    assert count(page, ".leaflet-marker-icon.atlas-high_tech_zones") == page.evaluate("atlas.counts.high_tech_zones")
    assert page.evaluate("atlas.counts.high_tech_zones") < 15
    assert page.locator("#atlas-filter input[name=industry][value=biomedicine]").is_checked()
    shot(page, "map_industry_biomedicine")
    assert_clean(page)


def test_city_filter_narrows_to_benxi(page, live_server):
    open_map(page, live_server, "?city=210500")
    ids = set(loaded_ids(page))
    assert ids and all("benxi" in i for i in ids), ids
    assert count(page, ".leaflet-marker-icon.atlas-high_tech_zones") == 1
    shot(page, "map_city_benxi")
    assert_clean(page)


def test_switching_a_layer_off_hides_it(page, live_server):
    open_map(page, live_server)
    assert count(page, ".leaflet-marker-icon.atlas-high_tech_zones") == 15
    open_layer_list(page)
    page.get_by_label("高新技术产业开发区", exact=True).uncheck()
    assert count(page, ".leaflet-marker-icon.atlas-high_tech_zones") == 0
    # and its legend section goes with it
    assert "国家级高新区" not in page.inner_text("#atlas-legend")
    shot(page, "map_layer_off")
    assert_clean(page)


def test_search_finds_dalian_htz_and_opens_its_popup(page, live_server):
    open_map(page, live_server)
    page.fill("#atlas-search", "大连高新区")  # the plan's short name of 大连高新技术产业园区
    page.wait_for_selector('#atlas-search-results[data-query="大连高新区"] li')
    page.keyboard.press("Enter")
    popup = page.wait_for_selector(".leaflet-popup-content")
    text = popup.inner_text()
    assert "大连高新技术产业园区" in text and "Dalian" in text and "甘井子区" in text
    shot(page, "map_search_dalian")
    # English name works too, and the CAS short form
    page.fill("#atlas-search", "中科院丹东育成中心")  # as the plan writes it
    page.wait_for_selector('#atlas-search-results[data-query="中科院丹东育成中心"] li')
    assert "丹东产业技术创新与育成中心" in page.inner_text("#atlas-search-results")
    page.fill("#atlas-search", "clean energy")
    page.wait_for_selector('#atlas-search-results[data-query="clean energy"] li')
    assert "大连洁净能源国家实验室" in page.inner_text("#atlas-search-results")
    assert_clean(page)


def test_english_page(page, live_server):
    open_map(page, live_server, "?lang=en")
    assert "Atlas" in page.inner_text("header h1")
    assert "National high-tech zone" in page.inner_text("#atlas-legend")
    open_layer_list(page)
    assert "High-tech zones" in page.inner_text(".leaflet-control-layers")
    shot(page, "map_english")
    assert_clean(page)


def test_filter_matching_nothing_shows_message(page, live_server):
    open_map(page, live_server, "?city=211300&industry=marine")
    assert page.is_visible("#atlas-empty")
    assert count(page, ".leaflet-marker-icon.atlas-marker") == 0
    shot(page, "map_empty")
    assert_clean(page)


def test_filter_form_changes_the_url(page, live_server):
    open_map(page, live_server)
    page.click("details[data-param=city] summary")
    page.check("#atlas-filter input[name=city][value='210200']")
    page.click("#atlas-filter button[type=submit]")
    page.wait_for_url("**city=210200**")
    page.wait_for_function("() => window.atlas && atlas.loaded")
    assert count(page, ".leaflet-marker-icon.atlas-high_tech_zones") == 1
    assert_clean(page)
