"""OGC API – Features and downloads of a layer served from PostGIS (geoapp.export.sqlquery) answer
what the in-memory path answers for the same rows: two apps on one store (tests/pgrows.py
`two_apps`), one reading the layer with SQL, one holding it in memory (the reference, independent
code: pandas/pygeofilter over the frame). Bodies are compared byte for byte (the items' timeStamp
aside), errors by status and message, downloads by reading them back (geopandas, ogrinfo).

Rows are synthetic (benchmarks/synthetic.py: points inside real districts, named 合成平台):
test data, never data/."""
import io
import json
import re
import shutil
import subprocess
import zipfile

import geopandas as gpd
import pandas as pd
import pytest

from geoapp.ingest.store import PostGISStore
from geoapp.postgis.pool import close_all
from tests.pgrows import LAYER, fresh_database, store_frame, two_apps

ROWS = 1500
ITEMS = f"/ogc/collections/{LAYER}/items"


@pytest.fixture(scope="module")
def apps(postgis_url):
    url = fresh_database(postgis_url)
    store = PostGISStore(url)
    frame = store_frame(ROWS, seed=11)
    # a few rows with text that tests the edges: an address, empty cells, '%' and '_' in text
    frame.loc[3, "address"] = "沈阳市浑南区 100%_路"
    frame.loc[4, "note_en"] = "Upper and lower CASE"
    frame.loc[5, "district_adcode"] = ""
    store.commit(LAYER, frame, who="test", file_name="synthetic")
    sql_app, memory_app = two_apps(url)
    assert sql_app.extensions["atlas"].bundle().sql, "the SQL app must serve the layer from PostGIS"
    assert not memory_app.extensions["atlas"].bundle().sql
    yield sql_app.test_client(), memory_app.test_client(), frame
    close_all()


TIMESTAMP = re.compile(rb'"timeStamp":"[^"]*"')


def same(apps, path: str, **headers):
    """Both apps' answers to `path`: same status, type and body (the timeStamp aside)."""
    sql, memory, _ = apps
    got, expected = sql.get(path, headers=headers), memory.get(path, headers=headers)
    assert got.status_code == expected.status_code, (path, got.get_data(as_text=True)[:300])
    assert got.headers.get("Content-Type") == expected.headers.get("Content-Type")
    assert got.headers.get("Content-Crs") == expected.headers.get("Content-Crs")
    assert TIMESTAMP.sub(b"", got.data) == TIMESTAMP.sub(b"", expected.data), path
    return got


PAGES = ["", "?limit=10", "?limit=25&offset=40", "?limit=1000", "?limit=7&offset=1495", "?offset=5000",
         "?bbox=122.5,40.5,123.8,42.0", "?bbox=122.5,40.5,123.8,42.0&limit=5&offset=10",
         "?bbox=40.5,122.5,42.0,123.8&bbox-crs=EPSG:4326", "?bbox=100,10,101,11",
         "?level=national", "?city=210100", "?city=沈阳&level=provincial", "?industry=marine",
         "?industry=electronics,biomedicine&kind=platform&limit=50", "?crs=EPSG:4326&limit=5",
         "?properties=name_zh,level&limit=5", "?properties=city_zh,industries_en&limit=5&offset=3"]


@pytest.mark.parametrize("query", PAGES)
def test_pages_bbox_and_filters(apps, query):
    got = same(apps, ITEMS + query)
    assert got.status_code == 200
    doc = got.get_json()
    assert doc["numberReturned"] == len(doc["features"])


def test_pages_walk_the_whole_layer_in_order(apps):
    _, _, frame = apps
    got, url = [], ITEMS + "?limit=400"
    while url:
        doc = same(apps, url.replace("http://localhost", "")).get_json()
        got += [f["id"] for f in doc["features"]]
        url = next((link["href"] for link in doc["links"] if link["rel"] == "next"), None)
    assert got == frame["id"].tolist()


CQL2_TEXT = [
    "level = 'national'",
    "level <> 'national' AND kind = 'platform'",
    "city_adcode = '210100' OR city_adcode = '210200'",
    "NOT (level = 'national')",
    "name_en LIKE 'Synthetic platform 0001%'",
    "name_en NOT LIKE '%9'",
    "address LIKE '%100\\%\\_%'",
    "industries LIKE '%new_energy%'",
    "city_adcode IN ('210100', '210300', '211400')",
    "level NOT IN ('national')",
    "name_en BETWEEN 'Synthetic platform 000100' AND 'Synthetic platform 000150'",
    "district_adcode > '2110' AND district_adcode <= '211200'",
    "district_adcode = ''",
    "address IS NULL",
    "address IS NOT NULL AND level = 'national'",
    "CASEI(note_en) = casei('upper AND LOWER case')",
    "UPPER(name_en) LIKE 'SYNTHETIC PLATFORM 00002%'",
    "S_INTERSECTS(geometry, POLYGON((122.5 40.5, 123.8 40.5, 123.8 42, 122.5 42, 122.5 40.5)))",
    "S_WITHIN(geometry, POLYGON((122.5 40.5, 123.8 40.5, 123.8 42, 122.5 40.5))) AND level = 'provincial'",
    "name_en LIKE 'Synthetic_platform 00001.'",
    "S_DISJOINT(geometry, POLYGON((122.5 40.5, 123.8 40.5, 123.8 42, 122.5 42, 122.5 40.5)))",
    "BBOX(geometry, 120, 40, 122, 41.5)",
    # label columns (SQL over the code columns; a missing cell is None in memory, NULL in SQL)
    "city_zh = '沈阳市'",
    "level_en = 'National' AND industries_zh LIKE '%生物%'",
    "district_zh IS NULL",
    "district_en IS NOT NULL AND kind_en <> 'Innovation platform'",
    "district_zh <> '和平区'",
    "NOT district_en IN ('Heping District', 'Shenhe District')",
    "district_zh NOT LIKE '%区'",
    "district_en NOT BETWEEN 'A' AND 'M'",
    "district_en < 'D'",
    "LOWER(industries_en) LIKE '%marine%'",
    "location_precision_en = city_en",
    # answered by the in-memory evaluator over streamed rows (numbers vs text)
    "level = 3",
]


@pytest.mark.parametrize("cql", CQL2_TEXT)
def test_cql2_text(apps, cql):
    from urllib.parse import quote
    got = same(apps, f"{ITEMS}?limit=40&filter={quote(cql)}")
    assert got.status_code == 200, got.get_data(as_text=True)
    same(apps, f"{ITEMS}?limit=15&offset=20&filter={quote(cql)}&level=provincial")


def test_cql2_text_selects_rows(apps):
    """Not only the same answer: a real selection (neither none nor all of the rows)."""
    from urllib.parse import quote
    for cql in ("level = 'national'", "city_zh = '沈阳市'",
                "S_INTERSECTS(geometry, POLYGON((122.5 40.5, 123.8 40.5, 123.8 42, 122.5 42, 122.5 40.5)))"):
        matched = same(apps, f"{ITEMS}?limit=1&filter={quote(cql)}").get_json()["numberMatched"]
        assert 0 < matched < ROWS, cql


def test_cql2_json_and_filter_crs(apps):
    from urllib.parse import quote
    doc = {"op": "and", "args": [{"op": "=", "args": [{"property": "level"}, "national"]},
                                 {"op": "s_intersects", "args": [{"property": "geometry"},
                                  {"type": "Polygon", "coordinates": [[[40.5, 122.5], [40.5, 123.8], [42, 123.8],
                                                                       [42, 122.5], [40.5, 122.5]]]}]}]}
    got = same(apps, f"{ITEMS}?filter-lang=cql2-json&filter-crs=EPSG:4326&filter={quote(json.dumps(doc))}")
    assert got.get_json()["numberMatched"] > 0


@pytest.mark.parametrize("sortby", ["name_en", "-name_en", "-level,+name_zh", "city_adcode,-district_adcode",
                                    "city_zh,-name_en", "-kind_en", "district_zh", "-district_zh,name_en"])
def test_sortby(apps, sortby):
    same(apps, f"{ITEMS}?limit=30&offset=10&sortby={sortby}")
    same(apps, f"{ITEMS}?limit=30&sortby={sortby}&filter=level%3D%27national%27")


BAD = ["?filter=level%20%3D", "?filter=nosuch%20%3D%201", "?filter=level%20%3C%203",
       "?filter=T_AFTER(level,%20TIMESTAMP('2020-01-01T00:00:00Z'))", "?filter=foo(level)%20%3D%201",
       "?filter-lang=cql2-json&filter=%7Bnot%20json", "?filter-lang=xml&filter=a", "?filter-lang=cql2-text",
       "?sortby=nosuch", "?properties=nosuch", "?bbox=1,2,3", "?bbox=a,b,c,d", "?limit=0", "?offset=-1",
       "?level=nosuch", "?city=nowhere", "?crs=EPSG:3857", "?unknown=1"]


@pytest.mark.parametrize("query", BAD)
def test_errors_are_the_same(apps, query):
    got = same(apps, ITEMS + query)
    assert 400 <= got.status_code < 500


def test_single_features_collection_and_queryables(apps):
    _, _, frame = apps
    for fid in (frame["id"].iloc[0], frame["id"].iloc[3], frame["id"].iloc[-1]):
        got = same(apps, f"{ITEMS}/{fid}")
        assert got.get_json()["id"] == fid
        same(apps, f"{ITEMS}/{fid}?f=html")
    assert same(apps, f"{ITEMS}/no-such-place").status_code == 404
    same(apps, f"{ITEMS}/no-such-place?f=html")
    assert same(apps, f"/ogc/collections/{LAYER}").get_json()["description"].count(str(ROWS))
    same(apps, f"/ogc/collections/{LAYER}/queryables")
    same(apps, "/ogc/collections")
    same(apps, f"{ITEMS}?f=html&limit=5&offset=3&sortby=-name_en")


def test_popup_reads_the_place(apps):
    _, _, frame = apps
    for lang in ("", "?lang=en"):
        got = same(apps, f"/map/layers/{LAYER}/{frame['id'].iloc[3]}/popup{lang}")
        assert frame["name_zh"].iloc[3] in got.get_json()["popup"]
    assert same(apps, f"/map/layers/{LAYER}/no-such-place/popup").status_code == 404


@pytest.mark.parametrize("query", ["", "?level=national", "?city=210100&industry=equipment"])
@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_text_downloads_are_the_same_bytes(apps, fmt, query):
    got = same(apps, f"/export/{LAYER}.{fmt}{query}")
    assert got.status_code == 200
    sql, memory, _ = apps
    assert sql.get(f"/export/{LAYER}.{fmt}{query}").headers["Content-Disposition"] == \
        memory.get(f"/export/{LAYER}.{fmt}{query}").headers["Content-Disposition"]


def _read(body: bytes, fmt: str, tmp_path, layer=None) -> gpd.GeoDataFrame:
    path = tmp_path / f"download.{fmt}"
    path.write_bytes(body)
    if fmt == "shp.zip":
        return gpd.read_file(f"zip://{path}")
    return gpd.read_file(path, layer=layer or (LAYER if fmt == "gpkg" else None))


@pytest.mark.parametrize("fmt", ["gpkg", "fgb", "shp.zip"])
def test_gis_downloads_read_back_the_same(apps, fmt, tmp_path):
    sql, memory, _ = apps
    for query in ("", "?level=national&city=210100"):
        got = sql.get(f"/export/{LAYER}.{fmt}{query}")
        expected = memory.get(f"/export/{LAYER}.{fmt}{query}")
        assert got.status_code == expected.status_code == 200
        assert got.headers["Content-Disposition"] == expected.headers["Content-Disposition"]
        ours, theirs = _read(got.data, fmt, tmp_path), _read(expected.data, fmt, tmp_path)
        assert len(ours) > 0
        pd.testing.assert_frame_equal(pd.DataFrame(ours), pd.DataFrame(theirs))
        if fmt == "gpkg" and shutil.which("ogrinfo"):
            (tmp_path / "a.gpkg").write_bytes(got.data)
            (tmp_path / "b.gpkg").write_bytes(expected.data)
            info = [subprocess.run(["ogrinfo", "-so", "-al", str(tmp_path / n)], capture_output=True, text=True,
                                   check=True).stdout for n in ("a.gpkg", "b.gpkg")]
            strip = [re.sub(r"INFO: Open of .*\n", "", text) for text in info]
            assert strip[0] == strip[1]


def test_all_layers_geopackage(apps, tmp_path):
    import pyogrio
    sql, memory, _ = apps
    got, expected = sql.get("/export/all.gpkg?level=national"), memory.get("/export/all.gpkg?level=national")
    assert got.status_code == expected.status_code == 200
    (tmp_path / "a.gpkg").write_bytes(got.data)
    (tmp_path / "b.gpkg").write_bytes(expected.data)
    layers = [list(pyogrio.list_layers(tmp_path / n)[:, 0]) for n in ("a.gpkg", "b.gpkg")]
    assert layers[0] == layers[1] and LAYER in layers[0]
    for layer in layers[0]:
        if layer == "layer_styles":
            continue
        ours = gpd.read_file(tmp_path / "a.gpkg", layer=layer)
        theirs = gpd.read_file(tmp_path / "b.gpkg", layer=layer)
        assert len(ours) > 0 or layer != LAYER
        pd.testing.assert_frame_equal(pd.DataFrame(ours), pd.DataFrame(theirs))


def test_layer_index_counts(apps):
    same(apps, "/api/layers")
    same(apps, "/api/layers?level=national")


def test_csv_round_trip(apps):
    """The CSV is a real table of the rows (not only equal to the reference)."""
    sql, _, frame = apps
    table = pd.read_csv(io.BytesIO(sql.get(f"/export/{LAYER}.csv").data), encoding="utf-8-sig", dtype=str,
                        keep_default_na=False)
    assert table["id"].tolist() == frame["id"].tolist()
    assert zipfile  # (imported for the Shapefile read-back)


def test_which_filters_are_answered_in_sql(apps):
    """The translatable filters become SQL with every value a parameter (the fallback — the
    in-memory evaluator over streamed rows — is kept for the rest); text never enters the SQL."""
    from geoapp.export import sqlquery
    from geoapp.export.query import parse_filter
    in_memory = {"level = 3", "address LIKE '%100\\%\\_%'"}
    sql_app = apps[0].application
    with sql_app.app_context():
        catalog = sql_app.extensions["atlas"].bundle().catalog
        labels = sqlquery.writer(catalog, catalog[LAYER]).labels
    assert {"city_zh", "district_en", "industries_zh", "level_en"} <= set(labels)
    for cql in CQL2_TEXT:
        expression = parse_filter(cql, "cql2-text")
        if cql in in_memory:
            with pytest.raises(sqlquery.Unsupported):
                sqlquery.cql2_sql(expression, labels=labels)
            continue
        text, params = sqlquery.cql2_sql(expression, labels=labels)
        for value in params:
            if isinstance(value, str) and value:
                assert f"'{value}'" not in text   # never a literal in the SQL text
    evil = json.dumps({"op": "=", "args": [{"property": "name_zh"}, "x'); DROP TABLE atlas_features; --"]})
    text, params = sqlquery.cql2_sql(parse_filter(evil, "cql2-json"))
    assert "DROP" not in text and "x'); DROP TABLE atlas_features; --" in params
    assert sqlquery.like_pattern("a%b.c_d", "%", ".") == "a%b_c\\_d"
