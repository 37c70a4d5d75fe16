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
    # the timeout was the transaction's: the pooled connection has none afterwards
    assert sql_tiles.fetch_one(sql, "SHOW statement_timeout", [], timeout_s=None) == ("0",)
