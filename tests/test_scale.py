"""A few thousand synthetic places (benchmarks/synthetic.py, in a temporary data dir): the map page
stays a frame, the big layer is drawn from server-side clusters per tile, search and the filter
reach every row. Not timed: speed is measured by `make bench-scale`."""
import threading

import pytest
from werkzeug.serving import make_server

from benchmarks.synthetic import LAYER_ID, make_dataset, synthetic_rows
from tests.test_map import page_config

N = 3000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from geoapp.web import create_app
    data_dir, layers_dir = make_dataset(tmp_path_factory.mktemp("scale"), N)
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATA_DIR": str(data_dir),
                      "ATLAS_LAYERS_DIR": str(layers_dir)})
    return app, synthetic_rows(N)


def test_synthetic_rows_lie_in_their_districts_and_use_valid_codes(big):
    app, rows = big
    frame = app.extensions["atlas"].bundle().registry.layers[LAYER_ID]  # loaded = validated
    assert len(frame) == N and frame["id"].is_unique


def test_page_carries_no_coordinates_of_the_big_layer(big):
    app, rows = big
    html = app.test_client().get("/").get_data(as_text=True)
    for lon, lat, name in rows[["lon", "lat", "name_zh"]].head(200).itertuples(index=False):
        assert f"{lon:.4f}" not in html and f"{lat:.4f}" not in html and name not in html
    layer = next(entry for entry in page_config(html)["layers"] if entry["id"] == LAYER_ID)
    assert layer["mode"] == "tiles" and layer["count"] == N
    assert "{z}/{x}/{y}" in layer["url"]


def _tiles_covering_liaoning(z):
    import math
    def tile(lon, lat):
        n = 2 ** z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        return x, y
    (x0, y0), (x1, y1) = tile(118.5, 43.6), tile(125.9, 38.6)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


@pytest.mark.parametrize("z", [5, 7, 9])
def test_tiles_account_for_every_row_once(big, z):
    app, rows = big
    client = app.test_client()
    total, ids = 0, set()
    for x, y in _tiles_covering_liaoning(z):
        body = client.get(f"/map/layers/{LAYER_ID}/tiles/{z}/{x}/{y}.json").get_json()
        total += sum(c[2] for c in body["clusters"]) + len(body["points"])
        ids |= {p[0] for p in body["points"]}
    assert total == N
    assert ids <= set(rows["id"])


def test_tile_points_and_filter(big):
    app, rows = big
    client = app.test_client()
    z = 15  # every point itself from CLUSTER_MAX_ZOOM on
    row = rows.iloc[7]
    import math
    n = 2 ** z
    x = int((row.lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(row.lat))) / math.pi) / 2 * n)
    body = client.get(f"/map/layers/{LAYER_ID}/tiles/{z}/{x}/{y}.json").get_json()
    assert body["clusters"] == []
    assert row.id in [p[0] for p in body["points"]]
    # the filter reaches the tiles: another industry's rows are not there
    other = next(code for code in ("marine", "chemicals", "agriculture") if code not in row.industries)
    filtered = client.get(f"/map/layers/{LAYER_ID}/tiles/{z}/{x}/{y}.json?industry={other}").get_json()
    assert row.id not in [p[0] for p in filtered["points"]]
    assert client.get(f"/map/layers/{LAYER_ID}/tiles/3/99/0.json").status_code == 400
    assert client.get(f"/map/layers/{LAYER_ID}/tiles/30/0/0.json").status_code == 400


def test_filter_agrees_across_map_stats_and_exports(big):
    app, rows = big
    client = app.test_client()
    expected = rows[rows["industries"].str.split(";").map(lambda c: "marine" in c)
                    & (rows["city_adcode"] == "210200")]
    page = client.get("/?industry=marine&city=210200").get_data(as_text=True)
    assert page_config(page)["counts"][LAYER_ID] == len(expected)
    export = client.get(f"/export/{LAYER_ID}.geojson?industry=marine&city=210200").get_json()
    assert sorted(f["properties"]["id"] for f in export["features"]) == sorted(expected["id"])
    stats = client.get("/api/distribution?industry=marine").get_json()["cities"]
    dalian = next(c for c in stats if c["city_adcode"] == "210200")
    assert dalian["platforms"] >= len(expected)


def test_search_finds_a_synthetic_place(big):
    app, rows = big
    hits = app.test_client().get("/map/search?q=合成平台 002999").get_json()["hits"]
    assert [h["id"] for h in hits] == ["synthetic_002999"]


@pytest.mark.browser
def test_browser_draws_the_big_layer_and_search_opens_a_synthetic_place(big, page):
    from tests.conftest import shot
    app, rows = big
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        page.wait_for_function("() => window.atlas && atlas.loaded")
        page.wait_for_selector(f".atlas-cluster.atlas-{LAYER_ID}")
        counts = page.evaluate(f"""Array.from(document.querySelectorAll('.atlas-cluster.atlas-{LAYER_ID} span'))
                                   .map(function (s) {{ return +s.textContent; }})""")
        singles = page.evaluate(f"document.querySelectorAll('.leaflet-marker-icon.atlas-marker.atlas-{LAYER_ID}').length")
        assert sum(counts) + singles == N
        shot(page, "map_scale_3000")
        page.fill("#atlas-search", "合成平台 000123")
        page.wait_for_selector('#atlas-search-results[data-query="合成平台 000123"] li')
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.querySelector('.leaflet-popup-content') && "
                               "document.querySelector('.leaflet-popup-content').innerText.indexOf('000123') >= 0")
        assert page.console_errors == [] and page.failed == []
    finally:
        server.shutdown()
