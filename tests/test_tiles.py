"""OGC API – Tiles: Mapbox Vector Tiles of every collection in WebMercatorQuad. Tiles are decoded
with mapbox-vector-tile and with GDAL's own MVT driver; the expected features come from the
registry, projected with pyproj and tested against tile bounds computed here from the
WebMercatorQuad definition (not from the code under test)."""
import math
import subprocess

import mapbox_vector_tile
import pytest
import shapely
from pyproj import Transformer

HALF = 20037508.342789244  # half the Web Mercator world width, metres
MVT = "application/vnd.mapbox-vector-tile"
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_box(z, x, y, buffer_units=0):
    size = 2 * HALF / 2 ** z
    pad = size * buffer_units / 4096
    left, top = -HALF + x * size, HALF - y * size
    return shapely.box(left - pad, top - size - pad, left + size + pad, top + pad)


def mercator(frame):
    return frame.geometry.to_crs(3857)


def decode(data):
    return mapbox_vector_tile.decode(data)


def test_point_tile_decodes_with_the_features_in_it(client, registry):
    htz = registry.layers["high_tech_zones"]
    dalian = htz[htz["id"] == "htz_dalian"].iloc[0]
    z = 9
    x, y = tile_of(dalian.geometry.x, dalian.geometry.y, z)
    response = client.get(f"/ogc/collections/high_tech_zones/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert response.status_code == 200 and response.mimetype == MVT
    layer = decode(response.data)["high_tech_zones"]
    inside = htz[mercator(htz).intersects(tile_box(z, x, y, buffer_units=64))]
    assert sorted(f["properties"]["id"] for f in layer["features"]) == sorted(inside["id"]) and len(inside) >= 1
    feature = next(f for f in layer["features"] if f["properties"]["id"] == "htz_dalian")
    assert feature["properties"]["name_zh"] == dalian["name_zh"] and feature["properties"]["level_en"] == "National"
    # position in tile units (y up, as decoded): within one unit of the projected point
    mx, my = TO_MERCATOR.transform(dalian.geometry.x, dalian.geometry.y)
    left, bottom, right, top = tile_box(z, x, y).bounds
    assert feature["geometry"]["coordinates"] == pytest.approx(
        [(mx - left) / (right - left) * 4096, (my - bottom) / (top - bottom) * 4096], abs=1)


def test_polygon_tile_holds_the_districts_it_touches(client, registry):
    districts = registry.boundaries["district"]
    z, (x, y) = 8, tile_of(123.43, 41.80, 8)  # Shenyang
    layer = decode(client.get(f"/ogc/collections/districts/tiles/WebMercatorQuad/{z}/{y}/{x}").data)["districts"]
    got = {f["properties"]["adcode"] for f in layer["features"]}
    projected = mercator(districts)
    core = set(districts[projected.intersects(tile_box(z, x, y))]["adcode"])
    buffered = set(districts[projected.intersects(tile_box(z, x, y, buffer_units=64))]["adcode"])
    assert core <= got <= buffered and len(core) > 5
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in layer["features"])


def test_gdal_reads_a_tile_with_its_mvt_driver(client, registry, tmp_path):
    htz = registry.layers["high_tech_zones"]
    z = 6
    x, y = tile_of(123.4, 41.8, z)
    path = tmp_path / f"{y}.pbf"
    path.write_bytes(client.get(f"/ogc/collections/high_tech_zones/tiles/WebMercatorQuad/{z}/{y}/{x}").data)
    result = subprocess.run(["ogrinfo", "-ro", "-al", "-q", "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}", "-oo", "CLIP=NO",
                             f"MVT:{path}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    names = {line.split(" = ", 1)[1] for line in result.stdout.splitlines() if line.startswith("  name_zh (String)")}
    inside = htz[mercator(htz).intersects(tile_box(z, x, y, buffer_units=64))]
    assert names == set(inside["name_zh"]) and names


def test_tiles_honour_the_atlas_filter(client, registry):
    htz = registry.layers["high_tech_zones"]
    z, (x, y) = 5, tile_of(122.5, 41, 5)
    everything = decode(client.get(f"/ogc/collections/high_tech_zones/tiles/WebMercatorQuad/{z}/{y}/{x}").data)
    national = decode(client.get(f"/ogc/collections/high_tech_zones/tiles/WebMercatorQuad/{z}/{y}/{x}"
                                 "?level=national").data)
    in_tile = htz[mercator(htz).intersects(tile_box(z, x, y, buffer_units=64))]
    assert len(everything["high_tech_zones"]["features"]) == len(in_tile)
    assert sorted(f["properties"]["id"] for f in national["high_tech_zones"]["features"]) == \
        sorted(in_tile[in_tile["level"] == "national"]["id"])


def test_tile_outside_the_data_is_empty_and_bad_addresses_are_refused(client):
    empty = client.get("/ogc/collections/high_tech_zones/tiles/WebMercatorQuad/6/20/10")  # the Atlantic
    assert empty.status_code == 200 and decode(empty.data) == {}
    for url, status in [("WebMercatorQuad/19/0/0", 404), ("WebMercatorQuad/3/8/0", 404),
                        ("WorldCRS84Quad/3/1/1", 404), ("WebMercatorQuad/a/1/1", 400)]:
        response = client.get(f"/ogc/collections/districts/tiles/{url}")
        assert response.status_code == status and response.get_json()["description"], url


def test_tileset_metadata_describes_the_tiles(client, registry):
    listing = client.get("/ogc/collections/high_tech_zones/tiles").get_json()
    (entry,) = listing["tilesets"]
    assert entry["dataType"] == "vector" and entry["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    self_link = next(link["href"] for link in entry["links"] if link["rel"] == "self")
    tileset = client.get(self_link.removeprefix("http://localhost")).get_json()
    item = next(link for link in tileset["links"] if link["rel"] == "item")
    assert item["type"] == MVT and item["templated"]
    assert item["href"].endswith("/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    htz = registry.layers["high_tech_zones"]
    west, south, east, north = htz.total_bounds
    limits = {entry["tileMatrix"]: entry for entry in tileset["tileMatrixSetLimits"]}
    x0, y0 = tile_of(west, north, 7)
    x1, y1 = tile_of(east, south, 7)
    assert (limits["7"]["minTileCol"], limits["7"]["minTileRow"], limits["7"]["maxTileCol"],
            limits["7"]["maxTileRow"]) == (x0, y0, x1, y1)
    assert tileset["layers"][0]["id"] == "high_tech_zones" and tileset["layers"][0]["geometryDimension"] == 0
    tms_link = next(link["href"] for link in tileset["links"] if link["rel"].endswith("tiling-scheme"))
    tms = client.get(tms_link.removeprefix("http://localhost")).get_json()
    assert tms["id"] == "WebMercatorQuad" and tms["crs"].endswith("EPSG/0/3857")
    assert tms["tileMatrices"][0]["pointOfOrigin"] == pytest.approx([-HALF, HALF])
    collection = client.get("/ogc/collections/districts").get_json()
    assert any(link["rel"].endswith("tilesets-vector") for link in collection["links"])
    conforms = client.get("/ogc/conformance").get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conforms


def test_dataset_tile_has_a_layer_per_collection_in_it(client, registry):
    z, (x, y) = 7, tile_of(121.6, 38.95, 7)  # Dalian
    response = client.get(f"/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert response.status_code == 200 and response.mimetype == MVT
    layers = decode(response.data)
    box = tile_box(z, x, y, buffer_units=64)
    for name, frame in [("high_tech_zones", registry.layers["high_tech_zones"]),
                        ("clusters_bases", registry.layers["clusters_bases"]),
                        ("cities", registry.boundaries["city"])]:
        key = "adcode" if name == "cities" else "id"
        expected = set(frame[mercator(frame).intersects(box)][key])
        assert {f["properties"][key] for f in layers.get(name, {"features": []})["features"]} == expected, name
    assert "high_tech_zones" in layers and "province" in layers
    tileset = client.get("/ogc/tiles/WebMercatorQuad").get_json()
    assert {layer["id"] for layer in tileset["layers"]} >= {"high_tech_zones", "districts", "cities"}
    item = next(link for link in tileset["links"] if link["rel"] == "item")
    assert item["href"].endswith("/ogc/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    listing = client.get("/ogc/tiles").get_json()
    assert listing["tilesets"][0]["dataType"] == "vector"
