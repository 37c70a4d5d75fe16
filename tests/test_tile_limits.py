"""Vector tiles stay bounded whatever the layer's size (issue 19 item 1): a cap on the features of
a tile (clusters beyond it), a time budget answered by an honest 503, a limit on the filter
variants whose tiles are kept, and one build for concurrent requests of the same tile.

The large layers here are synthetic points drawn at random in a box around Shenyang (test input,
not data); the expected counts are computed here with pyproj and the tile bounds of the
WebMercatorQuad definition, not by the code under test. Speed is measured in
benchmarks/bench_tiles_guard.py, not here."""
import math
import threading
import time

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from geoapp.export import tiles
from geoapp.web.serving import BodyCache

HALF = 20037508.342789244
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
MAX_CELLS = ((4096 + 2 * 64) // 128 + 2) ** 2   # cluster cells a tile can have (with its buffer)


def tile_of(lon, lat, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def in_buffered_tile(lon, lat, z, x, y):
    size = 2 * HALF / 2 ** z
    pad = size * 64 / 4096
    left, top = -HALF + x * size, HALF - y * size
    mx, my = TO_MERCATOR.transform(lon, lat)
    return (mx >= left - pad) & (mx <= left + size + pad) & (my >= top - size - pad) & (my <= top + pad)


def synthetic_source(n, seed=1):
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(123.0, 123.8, n), rng.uniform(41.6, 42.0, n)
    frame = gpd.GeoDataFrame({"name_zh": [f"合成 {i}" for i in range(n)]},
                             geometry=gpd.points_from_xy(lon, lat), crs=4326,
                             index=[f"s{i}" for i in range(n)])
    mercator = frame.geometry.to_crs(3857)
    return tiles.Source("synthetic", frame, mercator, np.arange(n), tiles.point_xy(mercator)), lon, lat


def decoded(data):
    return mapbox_vector_tile.decode(data)["synthetic"]["features"] if data else []


def test_a_crowded_tile_carries_clusters_that_account_for_every_point():
    source, lon, lat = synthetic_source(20_000)
    z = 8
    x, y = tile_of(123.4, 41.8, z)
    features = decoded(tiles.encode_layers([source], z, y, x))
    expected = int(in_buffered_tile(lon, lat, z, x, y).sum())
    clusters = [f for f in features if f["properties"].get("cluster")]
    singles = [f for f in features if not f["properties"].get("cluster")]
    assert expected > tiles.MAX_TILE_POINTS and clusters
    assert len(features) <= MAX_CELLS
    assert sum(f["properties"]["point_count"] for f in clusters) + len(singles) == expected
    assert all(f["properties"]["point_count"] >= 2 for f in clusters)
    assert all(f["properties"]["name_zh"].startswith("合成") for f in singles)


def test_a_tile_under_the_cap_carries_every_point_itself():
    source, lon, lat = synthetic_source(20_000)
    z = 13
    x, y = tile_of(123.4, 41.8, z)
    inside = in_buffered_tile(lon, lat, z, x, y)
    features = decoded(tiles.encode_layers([source], z, y, x))
    assert 0 < inside.sum() <= tiles.MAX_TILE_POINTS
    assert sorted(f["properties"]["id"] for f in features) == sorted(f"s{i}" for i in np.flatnonzero(inside))


def test_tile_size_does_not_grow_with_the_layer():
    z = 8
    x, y = tile_of(123.4, 41.8, z)
    sizes = {}
    for n in (20_000, 200_000):
        source, _, _ = synthetic_source(n)
        data = tiles.encode_layers([source], z, y, x)
        assert len(decoded(data)) <= MAX_CELLS
        sizes[n] = len(data)
    # ten times the points, about the same bytes (the counts get a digit longer)
    assert sizes[200_000] < 1.2 * sizes[20_000] < 100_000, sizes


def test_the_time_budget_raises_an_error_that_says_what_to_do():
    source, _, _ = synthetic_source(2_000)
    with pytest.raises(tiles.TileBudgetExceeded, match=r"budget.*zoom in or narrow the filter"):
        tiles.encode_layers([source], 8, *reversed(tile_of(123.4, 41.8, 8)), budget=tiles.Budget(0.0))


def test_a_tile_over_budget_answers_503_with_a_message_and_is_not_kept(app, client, monkeypatch):
    url = "/ogc/collections/high_tech_zones/tiles/WebMercatorQuad/7/47/107?city=210100&level=national"
    monkeypatch.setitem(app.config, "ATLAS_TILE_BUDGET_S", 0.0)
    response = client.get(url)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "budget" in response.get_json()["description"] and response.get_json()["code"] == "ServiceUnavailable"
    monkeypatch.setitem(app.config, "ATLAS_TILE_BUDGET_S", 1.5)
    again = client.get(url)
    assert again.status_code == 200 and again.mimetype == "application/vnd.mapbox-vector-tile"


def test_only_so_many_filter_variants_of_a_collection_keep_their_tiles(app, client):
    cities = [f"21{n:02d}00" for n in range(1, 15)]
    urls = [f"/ogc/collections/districts/tiles/WebMercatorQuad/6/23/53?city={c}" for c in cities] + \
           [f"/ogc/collections/districts/tiles/WebMercatorQuad/6/23/53?city={a},{b}"
            for a, b in zip(cities, cities[1:])]
    for url in urls:
        assert client.get(url).status_code == 200
    cache = app.extensions["atlas"].bundle().bodies
    kept = cache.variants(("tile", "districts"))
    assert len(urls) > BodyCache.VARIANTS_PER_GROUP == len(kept)
    assert kept[-1] == f"city={cities[-2]},{cities[-1]}"      # the newest is kept, the oldest dropped
    assert "city=210100" not in kept


def test_body_cache_drops_the_bodies_of_the_least_recently_used_variant():
    cache = BodyCache()
    for v in range(BodyCache.VARIANTS_PER_GROUP + 1):
        cache.get(("t", v, 1), lambda: (b"x", "a/b"), "v1", group="g", variant=v)
    assert ("t", 0, 1) not in cache and ("t", 1, 1) in cache
    cache.get(("t", 1, 1), lambda: (b"x", "a/b"), "v1", group="g", variant=1)   # used again: kept
    cache.get(("t", 99, 1), lambda: (b"x", "a/b"), "v1", group="g", variant=99)
    assert ("t", 1, 1) in cache and ("t", 2, 1) not in cache


def test_concurrent_requests_for_one_missing_body_build_it_once():
    cache = BodyCache()
    calls = []

    def build():
        calls.append(1)
        time.sleep(0.2)
        return b"tile", "a/b"

    bodies = []
    threads = [threading.Thread(target=lambda: bodies.append(cache.get(("k",), build, "v"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(bodies) == 8 and all(b.data == b"tile" for b in bodies)


def test_a_failed_build_is_not_kept_and_the_next_request_builds_again():
    cache = BodyCache()

    def fail():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get(("k",), fail, "v")
    assert cache.get(("k",), lambda: (b"ok", "a/b"), "v").data == b"ok"


def test_polygon_tiles_still_hold_their_features(registry):
    districts = registry.boundaries["district"].set_index("adcode")
    mercator = districts.geometry.to_crs(3857)
    source = tiles.Source("districts", districts.drop(columns=[]), mercator, np.arange(len(districts)),
                          tiles.point_xy(mercator))
    z = 8
    x, y = tile_of(123.43, 41.80, z)
    size = 2 * HALF / 2 ** z
    box = shapely.box(-HALF + x * size, HALF - (y + 1) * size, -HALF + (x + 1) * size, HALF - y * size)
    layer = mapbox_vector_tile.decode(tiles.encode_layers([source], z, y, x))["districts"]
    got = {f["properties"]["id"] for f in layer["features"]}
    assert source.points is None and set(districts.index[mercator.intersects(box)]) <= got
