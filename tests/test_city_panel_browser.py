"""The city panel in a real browser when a city has more places than a page (issue 23, review
finding 5): it lists the first page of the city's places and says “共 M 处，显示前 N 处” /
“Showing N of M” with a link that opens the map's places list filtered to that city (and the
list's CSV/XLSX), at phone and desktop sizes, in Chinese and English. The imported layer is
synthetic (benchmarks/synthetic.py via tests/pgrows.store_frame, named 合成平台): test data in a
throwaway store, never data/."""
import re
import threading

import pytest
from werkzeug.serving import make_server

from geoapp.ingest.store import SQLiteStore
from tests.conftest import ARTIFACTS
from tests.pgrows import LAYER, store_frame

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "desktop": (1440, 900)}


@pytest.fixture(scope="module")
def crowded_server(tmp_path_factory):
    from geoapp.web import create_app
    path = tmp_path_factory.mktemp("crowded") / "atlas-store.sqlite"
    SQLiteStore(path).commit(LAYER, store_frame(1500, seed=3), who="test", file_name="synthetic 1500")
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": f"sqlite:///{path}"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app.test_client()
    server.shutdown()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES)
def test_crowded_city_panel_shows_a_page_and_links_the_list(browser, crowded_server, size, lang):
    base, client = crowded_server
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    errors, failed = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} {r.status}"))
    query = "?lang=en" if lang == "en" else ""
    try:
        page.goto(f"{base}/{query}")
        page.wait_for_function("() => window.atlas && atlas.loaded")
        page.evaluate("atlas.openCity('210100')")
        page.wait_for_selector("#atlas-city[data-adcode='210100'] .atlas-city-more")
        city = client.get(f"/map/cities/210100.json{query}").get_json()
        total = city["places_total"]
        assert total > 50 and page.locator("#atlas-city ul.places button.placebutton").count() == 50
        note = page.inner_text("#atlas-city .atlas-city-more")
        expected = f"共 {total} 处，显示前 50 处。" if lang == "zh" else f"Showing 50 of {total}."
        assert note.startswith(expected), note
        heading = page.inner_text("#atlas-city h3:nth-of-type(2)")
        assert re.search(rf"\({total + len(city['areas'])}\)$", heading), heading
        link = page.locator("#atlas-city .atlas-city-more a").first
        assert link.get_attribute("href") == city["places_list"]["page"]
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        page.locator("#atlas-city .atlas-city-more").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"city_panel_more_{size}_{lang}.png"))
        # the link opens the map's places list filtered to the city: every one of its places
        link.click()
        page.wait_for_function("() => window.atlas && atlas.loaded && "
                               "document.querySelector('#atlas-table').hasAttribute('data-total')")
        assert "city=210100" in page.url
        page.uncheck("#atlas-table-inview")
        page.wait_for_function(f"() => document.querySelector('#atlas-table').getAttribute('data-total') === '{total}'")
        assert errors == [] and failed == []
    finally:
        context.close()
