"""Import pipeline without a store: coordinates, reading files, header mapping, row checks."""
import io

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
from shapely.geometry import Point

from geoapp.ingest import coords
from geoapp.ingest.read import ReadError, read_upload
from geoapp.ingest.rows import prepare

# Published reference pairs from the eviltransform project's test suite (googollee/eviltransform,
# python/test.py): wgsLat, wgsLng, gcjLat, gcjLng — an independent implementation of GCJ-02.
GCJ_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),   # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),   # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),   # Beijing
]
# From the gcoord project's tests (hujiulong/gcoord, test/unit/crs/{GCJ02,BD09}.spec.js), another
# independent implementation: (lon, lat) in -> WGS84 (lon, lat) out, given to 8 decimals.
GCOORD_TO_WGS84 = [
    ("gcj02", (123, 45), (122.99395597, 44.99804071)),
    ("bd09", (123, 45), (122.98762210, 44.99171540)),
]


def test_gcj02_to_wgs84_matches_published_pairs():
    wgs_lat, wgs_lon, gcj_lat, gcj_lon = map(np.array, zip(*GCJ_PAIRS))
    lon, lat = coords.to_wgs84(gcj_lon, gcj_lat, "gcj02")
    assert np.abs(lon - wgs_lon).max() < 1e-7 and np.abs(lat - wgs_lat).max() < 1e-7
    # and the forward direction reproduces the published GCJ-02 values
    glon, glat = coords.from_wgs84(wgs_lon, wgs_lat, "gcj02")
    assert np.abs(glon - gcj_lon).max() < 1e-7 and np.abs(glat - gcj_lat).max() < 1e-7


@pytest.mark.parametrize("crs, given, expected", GCOORD_TO_WGS84)
def test_gcj02_and_bd09_to_wgs84_match_gcoord(crs, given, expected):
    lon, lat = coords.to_wgs84([given[0]], [given[1]], crs)
    assert abs(lon[0] - expected[0]) < 1e-6 and abs(lat[0] - expected[1]) < 1e-6
    # and back: the inverse is refined until the forward formula reproduces the input
    back_lon, back_lat = coords.from_wgs84(lon, lat, crs)
    assert abs(back_lon[0] - given[0]) < 1e-8 and abs(back_lat[0] - given[1]) < 1e-8


def test_wgs84_and_cgcs2000_unchanged_and_missing_stays_missing():
    lon, lat = coords.to_wgs84([123.4, np.nan], [41.8, np.nan], "cgcs2000")
    assert lon[0] == 123.4 and lat[0] == 41.8 and np.isnan(lon[1])
    lon, lat = coords.to_wgs84([123.4, np.nan], [41.8, np.nan], "gcj02")
    assert abs(lon[0] - 123.4) > 1e-3 and np.isnan(lat[1])


CSV_TEXT = ("名称,经度,纬度,所在市,区县,产业,级别,类型,备注\n"
            "甲单位,123.43,41.80,沈阳市,,新材料；equipment,省级,创新平台,=HYPERLINK(\"http://x\")\n"
            "乙单位,,,大连,甘井子区,生物医药,national,platform,{{ 7*7 }}<script>alert(1)</script>\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_read_the_same(encoding):
    raw = read_upload(CSV_TEXT.encode(encoding), "list.csv")
    assert list(raw.table.columns)[:3] == ["名称", "经度", "纬度"]
    assert raw.table["名称"].tolist() == ["甲单位", "乙单位"]
    assert raw.table["备注"].tolist() == ['=HYPERLINK("http://x")', "{{ 7*7 }}<script>alert(1)</script>"]
    assert raw.rows == [2, 3]


def test_xlsx_keeps_formula_text_and_spreadsheet_row_numbers():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "所在市", "备注"])
    sheet.append(["甲", "沈阳", '=HYPERLINK("http://example.org","点我")'])
    sheet.append([None, None, None])          # a blank row in the middle
    sheet.append(["乙", 210200, 12.5])
    out = io.BytesIO()
    book.save(out)
    raw = read_upload(out.getvalue(), "list.xlsx")
    assert raw.rows == [2, 4]
    assert raw.table["备注"].tolist() == ['=HYPERLINK("http://example.org","点我")', "12.5"]
    assert raw.table["所在市"].tolist() == ["沈阳", "210200"]


def test_unknown_type_and_broken_files_say_what_is_allowed():
    with pytest.raises(ReadError, match=r"allowed: .*\.csv.*\.xlsx"):
        read_upload(b"x", "list.doc")
    with pytest.raises(ReadError, match="not a readable XLSX"):
        read_upload(b"not a zip", "list.xlsx")
    with pytest.raises(ReadError, match="UTF-8 or GB18030"):
        read_upload(b"\xff\xfe\x00\x81\x30\x81\x30\xff", "list.csv")


def _prepare(text, registry, crs="wgs84", name="list.csv", **kw):
    kw.setdefault("sections", registry.sections)  # the plan text imported plan_refs cite
    return prepare(read_upload(text.encode("utf-8"), name), "enterprises_platforms",
                   registry.boundaries, crs, {"kind": "platform", "level": "unspecified"},
                   "list 第{row}行", **kw)


def test_rows_map_chinese_headers_names_codes_and_labels(registry):
    p = _prepare(CSV_TEXT.replace("{{ 7*7 }}", "{ {7*7} }"), registry)   # braces apart: literal text
    assert p.ok, p.problems
    a, b = p.frame.iloc[0], p.frame.iloc[1]
    assert (a["city_adcode"], a["district_adcode"]) == ("210100", "210103")   # found from the point
    assert a["industries"] == "new_materials;equipment" and a["level"] == "provincial"
    assert a["location_precision"] == "source_coordinate" and a["kind"] == "platform"
    assert a["note_zh"] == '=HYPERLINK("http://x")' and a["source"] == "list 第2行"
    assert (b["city_adcode"], b["district_adcode"], b["location_precision"]) == ("210200", "210211", "district")
    districts = registry.boundaries["district"].set_index("adcode")
    assert districts.loc["210211"].geometry.contains(b.geometry)   # placed inside its district
    assert b["note_zh"] == "{ {7*7} }<script>alert(1)</script>"


def test_english_headers_adcodes_and_city_only_rows(registry):
    text = ("name,lon,lat,city,district,industries,level,kind\n"
            "A,,,210300,,Chemicals,Municipal,enterprise\n"
            "B,,,,210106,,,\n")
    p = _prepare(text, registry)
    assert p.ok, p.problems
    assert p.frame["location_precision"].tolist() == ["city", "district"]
    assert p.frame["city_adcode"].tolist() == ["210300", "210100"]
    assert p.frame["industries"].tolist() == ["chemicals", ""]
    assert p.frame["kind"].tolist() == ["enterprise", "platform"]     # default from the layer spec


def test_every_problem_of_every_row_is_reported(registry):
    text = ("名称,经度,纬度,所在市,区县,产业,级别,类型\n"
            "好单位,,,沈阳市,和平区,新材料,省级,创新平台\n"              # row 2: fine
            ",123.4,,本溪,铁西区,航天,部级,工厂\n"                      # row 3: six problems
            "错城市,,,北京市,,,,\n"                                       # row 4
            "调换,41.8,123.4,,,,,\n"                                      # row 5: lat/lon swapped
            "界外,116.39,39.9,,,,,\n"                                     # row 6: Beijing
            "错区,123.43,41.80,,甘井子区,,,\n"                            # row 7: point not in 甘井子区
            "歧义,,,,铁西区,,,\n"                                         # row 8: two 铁西区
            "好单位,,,沈阳市,和平区,,,\n")                                # row 9: same as row 2
    p = _prepare(text, registry)
    found = {(pr.row, pr.field) for pr in p.problems}
    assert {(3, "名称/name"), (3, "经度/纬度"), (3, "区县/district"), (3, "产业/industries"),
            (3, "级别/level"), (3, "类型/kind")} <= found
    assert {(4, "所在市/city"), (5, "经度/纬度"), (6, "经度/纬度"), (7, "经度/纬度"),
            (8, "区县/district"), (9, "名称/name")} <= found
    assert not any(pr.row == 2 for pr in p.problems)
    assert p.bad_rows == {3, 4, 5, 6, 7, 8, 9}
    messages = {(pr.row, pr.field): pr.message for pr in p.problems}
    assert "allowed" in messages[(3, "级别/level")] and "national (国家级)" in messages[(3, "级别/level")]
    assert "looks swapped" in messages[(5, "经度/纬度")]
    assert "outside Liaoning" in messages[(6, "经度/纬度")]
    assert "沈阳市" in messages[(8, "区县/district")] and "鞍山市" in messages[(8, "区县/district")]
    assert all(pr.file == "list.csv" for pr in p.problems)
    assert len(p.good()) == 1


def test_gcj02_rows_are_converted_and_checked_after_conversion(registry):
    # The WGS84 point of the 沈阳材料科学国家（联合）实验室 row in data/platforms, given in GCJ-02.
    glon, glat = coords.from_wgs84([123.5352], [41.79737], "gcj02")
    text = f"名称,经度,纬度\n甲,{glon[0]:.7f},{glat[0]:.7f}\n"
    p = _prepare(text, registry, crs="gcj02")
    assert p.ok, p.problems
    assert p.frame.geometry.iloc[0].distance(Point(123.5352, 41.79737)) < 1e-6
    assert p.frame["district_adcode"].iloc[0] == "210103"
    # Read as WGS84 the same numbers are ~500 m off: a different district-check outcome is possible,
    # but the point must differ from the converted one.
    q = _prepare(text, registry, crs="wgs84")
    assert q.frame.geometry.iloc[0].distance(Point(123.5352, 41.79737)) > 3e-3


def test_geojson_and_geopackage_files(registry, tmp_path):
    frame = gpd.GeoDataFrame({"名称": ["甲", "乙"], "级别": ["国家级", "省级"]},
                             geometry=[Point(123.5352, 41.79737), Point(121.56451, 38.89663)], crs=4326)
    for suffix, driver in ((".geojson", "GeoJSON"), (".gpkg", "GPKG")):
        path = tmp_path / f"list{suffix}"
        frame.to_file(path, driver=driver)
        p = prepare(read_upload(path.read_bytes(), path.name), "enterprises_platforms",
                    registry.boundaries, "wgs84", {"kind": "platform"}, "x")
        assert p.ok, p.problems
        assert p.frame["district_adcode"].tolist() == ["210103", "210204"]
        assert p.frame["level"].tolist() == ["national", "provincial"]
    # A projected GeoPackage is reprojected to WGS84 before the checks.
    path = tmp_path / "projected.gpkg"
    frame.to_crs(3857).to_file(path, driver="GPKG")
    p = prepare(read_upload(path.read_bytes(), path.name), "enterprises_platforms",
                registry.boundaries, "wgs84", {"kind": "platform"}, "x")
    assert p.ok and p.frame.geometry.iloc[0].distance(Point(123.5352, 41.79737)) < 1e-7


def test_csv_row_with_too_many_cells_is_reported_not_shifted(registry):
    p = _prepare('名称,所在市,备注\n甲,沈阳市,=HYPERLINK("a","b")\n乙,大连市,好\n', registry)
    assert [(pr.row, pr.field) for pr in p.problems] == [(2, None)]
    assert "double quotes" in p.problems[0].message
    assert p.frame["name_zh"].tolist() == ["甲", "乙"] and p.bad_rows == {2}


def _curated_messages(data_dir) -> list[str]:
    from geoapp.data import DataValidationError, load_registry
    with pytest.raises(DataValidationError) as info:
        load_registry(data_dir)
    return [p.message for p in info.value.problems]


def test_imported_rows_get_the_curated_checks_with_the_same_messages(registry, data_copy):
    """Issue 18 Done-when 6: template syntax in a name and a plan section that does not exist
    are refused in an import with the message a curated file gets."""
    import csv
    # The curated side: the first row of a place file that has plan_refs, broken both ways.
    path = next(p for p in sorted(data_copy.rglob("*.csv"))
                if {"plan_refs", "name_zh"} <= set(p.read_text(encoding="utf-8-sig").splitlines()[0].split(",")))
    with path.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f))
    fields = list(table[0])
    table[0]["plan_refs"] = "九（九）9"
    if "name_zh" in fields:
        table[0]["name_zh"] += "{{7*7}}"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(table)
    curated = _curated_messages(data_copy)
    section = "section '九（九）9' does not exist in the plan text"
    template = ("contains template syntax '{{': data text is shown literally; write braces apart "
                "(e.g. '{ {') or remove them")
    assert section in curated and template in curated
    # The imported side: the same two faults in a list, plus a row without them.
    p = _prepare("名称,所在市,区县,规划条目\n"
                 "甲{{7*7}},沈阳市,和平区,\n"
                 "乙,沈阳市,和平区,九（九）9\n"
                 "丙,沈阳市,和平区,\n", registry)
    found = {(pr.row, pr.field): pr.message for pr in p.problems}
    assert found == {(2, "名称"): template, (3, "规划条目/plan_refs"): section}
    assert p.bad_rows == {2, 3} and len(p.good()) == 1
    # {% is refused the same way, in any column (here a note)
    q = _prepare("名称,所在市,备注\n丁,沈阳市,{% if 1 %}x{% endif %}\n", registry)
    assert [(pr.row, pr.field, pr.message) for pr in q.problems] == [
        (2, "备注", template.replace("'{{'", "'{%'"))]


def test_imported_rows_citing_a_section_that_does_not_name_them_are_refused(registry):
    """A section that exists but does not mention the place: the curated rule and message."""
    sections = registry.sections
    ref = next(iter(sections))
    p = _prepare(f"名称,所在市,规划条目\n合成测试单位00001,沈阳市,{ref}\n", registry)
    assert [(pr.row, pr.field) for pr in p.problems] == [(2, "规划条目/plan_refs")]
    assert p.problems[0].message.startswith(f"section '{ref}' does not mention this place")
