"""Tiles of an imported layer served from PostGIS (geoapp/postgis/tiles.py) against the same rows
held in memory (the reference): OGC vector tiles decoded with mapbox-vector-tile — the same
features, properties and ids, positions within one tile unit — for clustered, plain, filtered and
empty tiles and the all-collections tile; the caps (clusters, budget) hold.

Rows are synthetic (benchmarks/synthetic.py: points inside real districts, named 合成平台):
test data, never data/."""
import math

import mapbox_vector_tile
import numpy as np
import pytest
from pyproj import Transformer

from geoapp.export import tiles
from geoapp.filters import Filter
from geoapp.ingest.store import PostGISStore
from geoapp.postgis import tiles as sql_tiles
from geoapp.postgis.pool import close_all
from tests.pgrows import LAYER, fresh_database, store_frame, two_apps

ROWS = 3000
HALF = 20037508.342789244
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
SHENYANG = (123.4, 41.8)


def tile_of(lon, lat, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


@pytest.fixture(scope="module")
def loaded(postgis_url):
    url = fresh_database(postgis_url)
    store = PostGISStore(url)
    frame = store_frame(ROWS, seed=11)
    store.commit(LAYER, frame, who="test", file_name=f"synthetic {ROWS}")
    sql_app, memory_app = two_apps(url)
    assert LAYER in sql_app.extensions["atlas"].bundle().sql
    assert LAYER not in memory_app.extensions["atlas"].bundle().sql
    yield sql_app, memory_app, frame
    close_all()


def features(data: bytes, layer: str = LAYER) -> list[dict]:
    decoded = mapbox_vector_tile.decode(data)
    return decoded[layer]["features"] if layer in decoded else []


def assert_same_features(got: list[dict], expected: list[dict]) -> None:
    """The same features (ids and properties equal), positions within one tile unit."""
    def key(f):
        return (f["properties"].get("id", ""), f["properties"].get("point_count", 0), f["geometry"]["coordinates"])
    got, expected = sorted(got, key=key), sorted(expected, key=key)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a["properties"] == b["properties"]
        assert a.get("id") == b.get("id")
        assert a["geometry"]["type"] == b["geometry"]["type"] == "Point"
        assert np.allclose(a["geometry"]["coordinates"], b["geometry"]["coordinates"], atol=1)


def both(loaded, path):
    sql_app, memory_app, _ = loaded
    got, expected = sql_app.test_client().get(path), memory_app.test_client().get(path)
    assert got.status_code == expected.status_code == 200, got.get_data(as_text=True)[:300]
    assert got.mimetype == expected.mimetype == tiles.MVT
    return got.data, expected.data


def in_buffered_tile(frame, z, x, y) -> int:
    """Points of the frame in tile z/x/y plus its 64-unit buffer (pyproj, not the code under test)."""
    mx, my = TO_MERCATOR.transform(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    size = 2 * HALF / 2 ** z
    pad = size * tiles.BUFFER / tiles.EXTENT
    left, top = -HALF + x * size, HALF - y * size
    return int(((mx >= left - pad) & (mx <= left + size + pad) & (my >= top - size - pad) & (my <= top + pad)).sum())


CASES = [(5, SHENYANG, ""), (7, SHENYANG, ""), (7, (121.6, 38.9), ""), (8, SHENYANG, ""), (9, SHENYANG, ""),
         (10, SHENYANG, ""), (12, SHENYANG, ""), (7, SHENYANG, "?level=national"),
         (6, SHENYANG, "?industry=biomedicine,marine"), (7, SHENYANG, "?city=210100,210200&level=provincial"),
         (8, (121.6, 38.9), "?kind=platform"), (6, (100.0, 30.0), ""), (9, SHENYANG, "?kind=enterprise")]


@pytest.mark.parametrize("z, where, query", CASES)
def test_a_vector_tile_from_sql_is_the_tile_from_memory(loaded, z, where, query):
    x, y = tile_of(*where, z)
    got, expected = both(loaded, f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}{query}")
    assert_same_features(features(got), features(expected))


def test_the_cases_cover_clustered_plain_and_empty_tiles(loaded):
    _, memory_app, frame = loaded
    kinds = set()
    for z, where, query in CASES:
        x, y = tile_of(*where, z)
        found = features(memory_app.test_client().get(
            f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}{query}").data)
        kinds.add("empty" if not found else "clustered" if any(f["properties"].get("cluster") for f in found)
                  else "plain")
    assert kinds == {"empty", "clustered", "plain"}


def test_a_crowded_sql_tile_carries_clusters_that_account_for_every_point(loaded, monkeypatch):
    sql_app, _, frame = loaded
    monkeypatch.setattr(tiles, "MAX_TILE_POINTS", 200)   # the cap, lowered: the rows make a crowded tile
    z = 7
    x, y = tile_of(*SHENYANG, z)
    found = features(sql_app.test_client().get(f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}?level=provincial").data)
    expected = in_buffered_tile(frame[frame["level"] == "provincial"], z, x, y)
    clusters = [f for f in found if f["properties"].get("cluster")]
    singles = [f for f in found if not f["properties"].get("cluster")]
    assert expected > 200 and clusters
    assert sum(f["properties"]["point_count"] for f in clusters) + len(singles) == expected
    assert all(f["properties"]["point_count"] >= 2 for f in clusters)
    assert all(f["properties"]["name_zh"].startswith("合成") for f in singles)
    per_side = (tiles.EXTENT + 2 * tiles.BUFFER) // tiles.CLUSTER_UNITS + 2
    assert len(found) <= per_side ** 2


def test_the_all_collections_tile_combines_the_sql_layer_with_the_others(loaded):
    z, (x, y) = 7, tile_of(*SHENYANG, 7)
    got, expected = both(loaded, f"/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}")
    got_layers, expected_layers = mapbox_vector_tile.decode(got), mapbox_vector_tile.decode(expected)
    assert list(got_layers) == list(expected_layers) and LAYER in got_layers
    assert_same_features(got_layers[LAYER]["features"], expected_layers[LAYER]["features"])
    for name in set(got_layers) - {LAYER, "cities"}:   # the cities' figures count the rows: /stats' part
        assert got_layers[name] == expected_layers[name]


def test_an_empty_sql_tile_is_an_empty_body_with_an_etag(loaded):
    sql_app, _, _ = loaded
    client = sql_app.test_client()
    response = client.get(f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/6/10/10")
    assert response.status_code == 200 and response.data == b"" and response.headers["ETag"]
    again = client.get(f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/6/10/10",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_an_sql_tile_over_its_budget_answers_503_and_is_not_kept(loaded, monkeypatch):
    sql_app, _, _ = loaded
    client = sql_app.test_client()
    url = f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/8/{tile_of(*SHENYANG, 8)[1]}/{tile_of(*SHENYANG, 8)[0]}?level=national"
    monkeypatch.setitem(sql_app.config, "ATLAS_TILE_BUDGET_S", 0.0)
    response = client.get(url)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "budget" in response.get_json()["description"]
    monkeypatch.setitem(sql_app.config, "ATLAS_TILE_BUDGET_S", 1.5)
    assert client.get(url).status_code == 200


def test_the_database_cancels_a_statement_past_the_budget(loaded):
    sql_app, _, _ = loaded
    sql = sql_app.extensions["atlas"].bundle().sql[LAYER]
    with pytest.raises(sql_tiles.TileTimeout):
        sql_tiles.fetch_one(sql, "SELECT pg_sleep(2)", [], timeout_s=0.05)
    assert sql_tiles.fetch_one(sql, "SELECT 1", [], timeout_s=0.05) == (1,)
    # a tile statement's limit is its budget (to 0.1 s); planned once for any tile, no bitmap scans
    assert sql_tiles.fetch_one(sql, "SHOW statement_timeout", [], timeout_s=1.23) == ("1300ms",)
    assert sql_tiles.fetch_all(sql, "SELECT current_setting('plan_cache_mode'), current_setting('enable_bitmapscan')",
                               [], timeout_s=None) == [("force_generic_plan", "off")]


# --- the map's own tiles and layer files ------------------------------------------------------------

MAP_TILES = [(7, SHENYANG, ""), (9, SHENYANG, "?lang=en"), (11, SHENYANG, "?level=national"),
             (8, (121.6, 38.9), "?industry=biomedicine&city=210200"), (15, SHENYANG, ""), (16, SHENYANG, "?lang=en"),
             (6, (100.0, 30.0), ""), (5, SHENYANG, "?kind=enterprise")]


@pytest.mark.parametrize("z, where, query", MAP_TILES)
def test_a_map_tile_from_sql_is_the_map_tile_from_memory(loaded, z, where, query):
    sql_app, memory_app, _ = loaded
    x, y = tile_of(*where, z)
    path = f"/map/layers/{LAYER}/tiles/{z}/{x}/{y}.json{query}"
    got, expected = sql_app.test_client().get(path), memory_app.test_client().get(path)
    assert got.status_code == expected.status_code == 200
    assert got.get_json() == expected.get_json()


def test_the_map_tiles_cover_clusters_points_and_empty_tiles(loaded):
    _, memory_app, _ = loaded
    seen = set()
    for z, where, query in MAP_TILES:
        x, y = tile_of(*where, z)
        body = memory_app.test_client().get(f"/map/layers/{LAYER}/tiles/{z}/{x}/{y}.json{query}").get_json()
        seen.update({"clusters"} if body["clusters"] else set())
        seen.update({"points"} if body["points"] else set())
        seen.update({"empty"} if not body["clusters"] and not body["points"] else set())
    assert seen == {"clusters", "points", "empty"}


@pytest.mark.parametrize("path", [f"/map/layers/{LAYER}.geojson?level=national&city=210100",
                                  f"/map/layers/{LAYER}.geojson?lang=en&industry=marine",
                                  f"/map/layers/{LAYER}/synthetic_000007/popup?lang=en",
                                  f"/map/layers/{LAYER}/synthetic_002999/popup"])
def test_the_map_layer_file_and_popups_from_sql_are_those_from_memory(loaded, path):
    sql_app, memory_app, _ = loaded
    got, expected = sql_app.test_client().get(path), memory_app.test_client().get(path)
    assert got.status_code == expected.status_code == 200
    assert got.get_json() == expected.get_json()


def test_a_missing_place_and_bad_tiles_answer_as_in_memory(loaded):
    sql_app, memory_app, _ = loaded
    for path in (f"/map/layers/{LAYER}/no_such_place/popup", f"/map/layers/{LAYER}/tiles/3/9/1.json",
                 f"/map/layers/{LAYER}/tiles/19/0/0.json"):
        got, expected = sql_app.test_client().get(path), memory_app.test_client().get(path)
        assert got.status_code == expected.status_code and got.status_code in (400, 404)
        assert got.get_json() == expected.get_json()


def test_a_whole_sql_layer_too_big_for_one_file_is_refused_with_the_way_out(loaded, monkeypatch):
    from geoapp.web import map_page
    sql_app, _, frame = loaded
    monkeypatch.setattr(map_page, "SQL_GEOJSON_MAX", 100)
    response = sql_app.test_client().get(f"/map/layers/{LAYER}.geojson?city=210100")
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert f"{int((frame['city_adcode'] == '210100').sum())} places" in message
    assert "tiles/{z}/{x}/{y}.json?city=210100" in message and "narrow the filter" in message


@pytest.fixture(scope="module")
def gcj02_apps(loaded):
    sql_app, _, _ = loaded
    return two_apps(sql_app.config["ATLAS_DATABASE_URL"], ATLAS_TILES="amap")


@pytest.mark.parametrize("z, where, query", [(7, SHENYANG, ""), (10, SHENYANG, ""), (16, "row 7", "?lang=en")])
def test_on_a_gcj02_basemap_sql_tiles_draw_where_memory_draws(gcj02_apps, loaded, z, where, query):
    """The datum's shift. The SQL path places rows in cells at their position plus the shift at the
    tile's centre (the in-memory path shifts every row first), then shifts what it returns exactly:
    a row within metres of a cell edge may fall in the neighbouring cell, so counts agree to a few
    rows, cluster means within a quarter of a pixel, and the points of unclustered zooms exactly."""
    sql_app, memory_app = gcj02_apps
    if where == "row 7":   # the tile where the 7th row is drawn on the GCJ-02 basemap
        from geoapp.layers.build import display_shift
        row = loaded[2].geometry.iloc[7]
        where = [float(v[0]) for v in display_shift("gcj02")([row.x], [row.y])]
    x, y = tile_of(*where, z)
    path = f"/map/layers/{LAYER}/tiles/{z}/{x}/{y}.json{query}"
    got, expected = sql_app.test_client().get(path).get_json(), memory_app.test_client().get(path).get_json()
    assert got["styles"] == expected["styles"]
    if z >= 15:
        assert got == expected and got["points"]
    else:
        total = sum(c[2] for c in got["clusters"]) + len(got["points"])
        assert total == pytest.approx(sum(c[2] for c in expected["clusters"]) + len(expected["points"]), rel=0.01)
        pixel = 360 / (256 * 2 ** z)
        near = {(round(c[0] / pixel), round(c[1] / pixel)): c for c in expected["clusters"]}
        same = [c for c in got["clusters"] if any(
            abs(c[0] - e[0]) < pixel / 4 and abs(c[1] - e[1]) < pixel / 4 and c[2] == e[2] for e in near.values())]
        assert len(same) >= 0.8 * len(expected["clusters"]) > 0
    plain = loaded[0].test_client().get(path).get_json()   # the same rows on a WGS84 basemap
    assert plain["points"] != got["points"] or plain["clusters"] != got["clusters"]


# --- low zooms of big layers: per-cell aggregates kept in the database ----------------------------

@pytest.fixture
def cells(loaded, monkeypatch):
    """The module's layer treated as big (AGGREGATE_MIN_ROWS lowered), its cells built, and a fresh
    pair of apps (empty body caches) on it."""
    monkeypatch.setattr(sql_tiles, "AGGREGATE_MIN_ROWS", 0)
    sql_app, _, frame = loaded
    url = sql_app.config["ATLAS_DATABASE_URL"]
    sql = sql_app.extensions["atlas"].bundle().sql[LAYER]
    sql_tiles.aggregates(sql).build()
    fresh_sql, fresh_memory = two_apps(url)
    yield fresh_sql, fresh_memory, frame


def test_cells_are_built_once_per_data_version(cells, loaded):
    sql = cells[0].extensions["atlas"].bundle().sql[LAYER]
    assert sql_tiles.aggregates(sql).build() is False           # there already: not built again
    built = sql_tiles.fetch_all(sql, "SELECT grid, z FROM atlas_tile_cells_built WHERE data_version = %(dv)s",
                                {"dv": sql.data_version}, None)
    assert sorted(built) == sorted([(0, z) for z in range(sql_tiles.MVT_AGGREGATE_MAX_ZOOM + 1)]
                                   + [(1, z) for z in range(sql_tiles.MAP_AGGREGATE_MAX_ZOOM + 1)])
    # every row is in one cell of each grid and zoom
    counts = sql_tiles.fetch_all(sql, "SELECT grid, z, sum(n) FROM atlas_tile_cells WHERE data_version = %(dv)s "
                                      "GROUP BY 1, 2", {"dv": sql.data_version}, None)
    assert {int(n) for _, _, n in counts} == {ROWS}


@pytest.mark.parametrize("z, where, query", [(7, SHENYANG, ""), (7, SHENYANG, "?lang=en&level=national"),
                                             (9, SHENYANG, "?city=210100"), (11, SHENYANG, ""),
                                             (5, SHENYANG, "?kind=platform&city=210100,210200"),
                                             (8, (121.6, 38.9), "?industry=marine")])
def test_map_tiles_from_cells_are_the_map_tiles_from_memory(cells, z, where, query):
    sql_app, memory_app, _ = cells
    x, y = tile_of(*where, z)
    path = f"/map/layers/{LAYER}/tiles/{z}/{x}/{y}.json{query}"
    got, expected = sql_app.test_client().get(path).get_json(), memory_app.test_client().get(path).get_json()
    assert got == expected and (got["clusters"] or got["points"])


def test_a_map_tile_is_read_from_the_cells(cells):
    sql_app, _, _ = cells
    sql = sql_app.extensions["atlas"].bundle().sql[LAYER]
    x, y = tile_of(*SHENYANG, 7)
    found = sql_tiles.aggregates(sql).map_tile(Filter(), 7, x, y, by="kind", tile_px=256, cell_px=64)
    assert found is not None and sum(n for _, _, n in found.clusters) + len(found.points) > 0
    assert sql_tiles.aggregates(sql).map_tile(Filter(industry=frozenset({"marine"})), 7, x, y, by="kind",
                                              tile_px=256, cell_px=64) is None   # industries: from the rows


def near_edge(feature) -> bool:
    """In a cell on the buffer's edge: the cells count a point by its position rounded to whole tile
    units, the encoder by its exact one, so a point within half a unit of the buffer's edge differs."""
    x, y = feature["geometry"]["coordinates"]
    low, high = tiles.CLUSTER_UNITS - tiles.BUFFER, tiles.EXTENT + tiles.BUFFER - tiles.CLUSTER_UNITS
    return not (low <= x < high and low <= y < high)


@pytest.mark.parametrize("z, where, query", [(5, SHENYANG, ""), (6, SHENYANG, ""), (7, SHENYANG, ""),
                                             (6, SHENYANG, "?level=provincial&city=210100,210200,210300,211200")])
def test_vector_tiles_from_cells_are_the_tiles_from_memory_but_at_the_buffer_edge(cells, z, where, query,
                                                                                   monkeypatch):
    monkeypatch.setattr(tiles, "MAX_TILE_POINTS", 300)   # the cap, lowered: these rows make crowded tiles
    sql_app, memory_app, _ = cells
    x, y = tile_of(*where, z)
    path = f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}{query}"
    got, expected = features(sql_app.test_client().get(path).data), features(memory_app.test_client().get(path).data)
    assert any(f["properties"].get("cluster") for f in expected)
    assert_same_features([f for f in got if not near_edge(f)], [f for f in expected if not near_edge(f)])

    def points(found):
        return sum(f["properties"].get("point_count", 1) for f in found)
    assert points(got) == pytest.approx(points(expected), rel=0.01)


def test_a_vector_tile_is_read_from_the_cells_when_over_the_cap(cells):
    sql_app, _, _ = cells
    sql = sql_app.extensions["atlas"].bundle().sql[LAYER]
    columns = sql_app.extensions["atlas"].bundle().catalog[LAYER].sql_columns
    agg = sql_tiles.aggregates(sql)

    def read(z, flt=Filter()):
        x, y = tile_of(*SHENYANG, z)
        return agg.mvt(LAYER, columns, flt, tiles.tile_frame(z, y, x), z, x, y, extent=tiles.EXTENT,
                       buffer=tiles.BUFFER, max_points=tiles.MAX_TILE_POINTS, cluster_units=tiles.CLUSTER_UNITS,
                       timeout_s=None)
    assert read(6)                                             # crowded: clusters from the cells
    assert read(9) is None                                     # under the cap: its points, from the rows
    assert read(6, Filter(industry=frozenset({"marine"}))) is None   # industries: from the rows


def test_places_sharing_a_point_in_a_small_sql_layer_are_drawn_apart_as_in_memory(postgis_url):
    """A small imported layer (drawn whole, not as tiles) whose places share a stored point (known
    only to a district seat, say): the map moves them onto a small circle around it
    (geoapp/layers/offsets.py); the SQL path must draw them where the in-memory path does."""
    url = fresh_database(postgis_url)
    frame = store_frame(60, seed=21)
    shared = frame.geometry.iloc[0]
    frame.loc[frame.index[:4], "geometry"] = [shared] * 4      # four places at one point
    PostGISStore(url).commit(LAYER, frame, who="test", file_name="synthetic 60")
    sql_app, memory_app = two_apps(url)
    assert LAYER in sql_app.extensions["atlas"].bundle().sql
    path = f"/map/layers/{LAYER}.geojson"
    got, expected = sql_app.test_client().get(path).get_json(), memory_app.test_client().get(path).get_json()
    assert got == expected
    drawn = {f["properties"]["id"] if "id" in f["properties"] else f.get("id"): tuple(f["geometry"]["coordinates"])
             for f in got["features"]}
    assert len({drawn[i] for i in frame["id"].iloc[:4]}) == 4   # apart, not stacked
