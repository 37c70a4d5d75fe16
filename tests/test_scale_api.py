"""OGC items and downloads of a layer of 6,000 synthetic places (benchmarks/synthetic.py, in a
temporary data dir) against references computed here with pandas/geopandas from the CSV file:
filter + bbox selections, paging through `next` links, and streamed whole-layer downloads read
back with geopandas. Not timed: speed is measured by benchmarks/bench_items.py."""
import gzip
import io
import json
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from benchmarks.synthetic import LAYER_ID, make_dataset
from geoapp.export.catalog import Memo
from geoapp.export.serialize import Columns, feature_texts
from geoapp.web import export as web_export

N = 6000  # more than web_export.STREAM_ROWS: whole-layer downloads are streamed
ITEMS = f"/ogc/collections/{LAYER_ID}/items"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from geoapp.web import create_app
    data_dir, layers_dir = make_dataset(tmp_path_factory.mktemp("scale-api"), N)
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATA_DIR": str(data_dir),
                      "ATLAS_LAYERS_DIR": str(layers_dir)})
    table = pd.read_csv(data_dir / "platforms" / f"{LAYER_ID}.csv", dtype=str, keep_default_na=False)
    reference = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"].astype(float),
                                                                     table["lat"].astype(float)), crs=4326)
    return app, reference


def expected(reference: gpd.GeoDataFrame, industry=None, city=None, box=None) -> list[str]:
    """Ids of the reference rows matching, in file order (the layer's order)."""
    keep = pd.Series(True, index=reference.index)
    if industry:
        keep &= reference["industries"].map(lambda cell: industry in cell.split(";"))
    if city:
        keep &= reference["city_adcode"] == city
    if box:
        keep &= reference.geometry.intersects(shapely.box(*box))
    return list(reference.loc[keep, "id"])


def all_pages(client, url: str) -> tuple[list[str], list[dict]]:
    """Every feature id reached from `url` by following `next` links, and every page."""
    ids, pages = [], []
    while url:
        page = client.get(url).get_json()
        pages.append(page)
        ids += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        assert len(pages) < 100
    return ids, pages


SELECTIONS = [
    {},
    {"industry": "biomedicine"},
    {"city": "210100"},
    {"bbox": (123.2, 41.6, 123.7, 42.0)},
    {"industry": "biomedicine", "bbox": (123.2, 41.6, 123.7, 42.0)},
    {"industry": "new_materials", "city": "210200", "bbox": (121.0, 38.7, 122.5, 39.6)},
    {"bbox": (100.0, 10.0, 101.0, 11.0)},  # nothing there
]


@pytest.mark.parametrize("selection", SELECTIONS, ids=lambda s: "&".join(f"{k}" for k in s) or "all")
def test_filtered_bbox_pages_equal_a_geopandas_reference(big, selection):
    app, reference = big
    want = expected(reference, selection.get("industry"), selection.get("city"), selection.get("bbox"))
    query = {k: ",".join(map(str, v)) if k == "bbox" else v for k, v in selection.items()}
    url = ITEMS + "?" + "&".join(f"{k}={v}" for k, v in [*query.items(), ("limit", 700)])
    ids, pages = all_pages(app.test_client(), url)
    assert ids == want
    assert len(pages) == max(1, -(-len(want) // 700))
    for number, page in enumerate(pages):
        assert page["numberMatched"] == len(want)
        assert page["numberReturned"] == len(page["features"])
        rels = {link["rel"]: link["href"] for link in page["links"]}
        assert f"offset={number * 700}" in rels["self"]
        assert ("prev" in rels) == (number > 0)
        if number:
            assert f"offset={(number - 1) * 700}" in rels["prev"]
        carried = parse_qs(urlsplit(rels["self"]).query)  # the selection is carried over
        for key, value in selection.items():
            if key == "bbox":
                assert [float(n) for n in carried["bbox"][0].split(",")] == list(value)
            else:
                assert carried[key] == [value]


def test_the_same_filter_twice_uses_the_remembered_selection(big):
    app, reference = big
    client = app.test_client()
    collection = app.extensions["atlas"].bundle().catalog[LAYER_ID]
    first = client.get(ITEMS + "?industry=marine&limit=5").get_json()
    kept = len(collection._selections)
    again = client.get(ITEMS + "?industry=marine&limit=5&offset=5&bbox=118,38,126,44").get_json()
    assert len(collection._selections) == kept  # no new entry for bbox or paging
    assert first["numberMatched"] == again["numberMatched"] == len(expected(reference, "marine"))
    assert [f["id"] for f in again["features"]] == expected(reference, "marine")[5:10]


def test_memo_is_bounded_and_keeps_the_recently_used():
    memo = Memo(3)
    for key in "abc":
        memo.get(key, lambda key=key: key.upper())
    memo.get("a", lambda: "not called")
    memo.get("d", lambda: "D")
    assert len(memo) == 3
    assert memo.get("a", lambda: "again") == "A"
    assert memo.get("b", lambda: "rebuilt") == "rebuilt"  # b was the least recently used


def _download(client, fmt: str, query: str = "", encoding: str = "identity"):
    response = client.get(f"/export/{LAYER_ID}.{fmt}{query}", headers={"Accept-Encoding": encoding})
    assert response.status_code == 200
    return response


def _built(app, fmt: str, query: str = "") -> bytes:
    """The same download built whole (as for small selections)."""
    with app.test_request_context(f"/export/{LAYER_ID}.{fmt}{query}"):
        from geoapp.web.context import current_filter
        return web_export.build_export(LAYER_ID, current_filter(), fmt)[0]


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_streamed_text_downloads_are_the_bytes_of_the_whole_body(big, fmt):
    app, reference = big
    client = app.test_client()
    response = _download(client, fmt)
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.data == _built(app, fmt)
    packed = _download(client, fmt, encoding="gzip")
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == response.data
    assert packed.headers["ETag"] == response.headers["ETag"][:-1] + '-gz"'
    # a client (or nginx revalidating) with the body gets 304 without it being written
    again = client.get(f"/export/{LAYER_ID}.{fmt}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert not any(key[:2] == ("export", LAYER_ID) for key in app.extensions["atlas"].bundle().bodies._entries)


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "fgb", "csv"])
def test_streamed_download_read_back_with_geopandas_is_the_whole_layer(big, fmt, tmp_path):
    app, reference = big
    data = _download(app.test_client(), fmt).data
    if fmt == "csv":
        table = pd.read_csv(io.BytesIO(data), dtype=str, encoding="utf-8-sig", keep_default_na=False)
        got = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"].astype(float),
                                                                   table["lat"].astype(float)), crs=4326)
    else:
        path = tmp_path / f"download.{fmt}"
        path.write_bytes(data)
        got = gpd.read_file(path, layer=LAYER_ID if fmt == "gpkg" else None)
        if fmt == "fgb":  # FlatGeobuf stores features in the order of its spatial index
            got = got.set_index(got["id"]).loc[reference["id"]].reset_index(drop=True)
    ids = got["id"] if "id" in got else got.index
    assert list(ids) == list(reference["id"])
    assert list(got["name_zh"]) == list(reference["name_zh"])
    assert np.allclose(shapely.get_coordinates(got.geometry.values),
                       shapely.get_coordinates(reference.geometry.values), atol=1e-6, rtol=0)


def test_streamed_filtered_download_matches_the_items(big):
    app, reference = big
    client = app.test_client()
    want = expected(reference, "biomedicine")
    web_export.STREAM_ROWS, saved = 100, web_export.STREAM_ROWS  # this selection is ~1,000 rows
    try:
        response = _download(client, "geojson", "?industry=biomedicine")
    finally:
        web_export.STREAM_ROWS = saved
    assert response.is_streamed
    assert [f["id"] for f in json.loads(response.data)["features"]] == want
    assert response.data == _built(app, "geojson", "?industry=biomedicine")
    assert response.headers["Content-Disposition"].endswith('industry-biomedicine.geojson"')


def test_streamed_shapefile_zip_and_all_layers_geopackage(big, tmp_path):
    app, reference = big
    client = app.test_client()
    shp = _download(client, "shp.zip", encoding="gzip")
    assert "Content-Encoding" not in shp.headers  # a zip is not compressed twice
    (tmp_path / "download.shp.zip").write_bytes(shp.data)
    layer = gpd.read_file(tmp_path / "download.shp.zip")
    assert list(layer["id"]) == list(reference["id"])
    everything = client.get("/export/all.gpkg")
    assert everything.status_code == 200 and everything.is_streamed
    path = tmp_path / "all.gpkg"
    path.write_bytes(everything.data)
    names = [name for name, _ in pyogrio.list_layers(path)]
    assert LAYER_ID in names and "layer_styles" in names and "cities" in names
    assert list(gpd.read_file(path, layer=LAYER_ID)["id"]) == list(reference["id"])


def test_columns_write_the_same_features_as_the_frame(big):
    """Feature texts written from the numpy columns equal those written from the frame, for
    every collection (mixed dtypes, empty cells, polygons) and for rows in any order."""
    app, _ = big
    for collection in app.extensions["atlas"].bundle().catalog.collections.values():
        frame = collection.frame
        positions = np.random.default_rng(1).permutation(len(frame))[:300]
        assert Columns(frame).feature_texts(positions) == feature_texts(frame.iloc[positions]), collection.id
