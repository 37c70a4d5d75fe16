"""Reading an uploaded list is bounded and says what it could not use (issue 19 item 4 and the Low
list): XLSX dimension and zip bombs, row/column/cell caps (TooLarge, 413), points that are not two
finite numbers, GeoPackages with several layers, coordinate systems without an EPSG code.
Files are written here (benchmarks/xlsx_bombs.py); rows are synthetic (合成), not places. Time and
memory of the bombs are measured by benchmarks/bench_import_limits.py, not here."""
import io
import json

import geopandas as gpd
import openpyxl
import pytest
import shapely
from pyproj import Transformer

from benchmarks import xlsx_bombs
from geoapp.ingest import read
from geoapp.ingest import rows as rows_mod
from geoapp.ingest.read import ReadError, TooLarge, read_upload


def xlsx(rows, dimension=None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    if dimension is None:
        return out.getvalue()
    return xlsx_bombs._book([xlsx_bombs._row(i + 1, [str(c) for c in r]) for i, r in enumerate(rows)], dimension)


def test_a_sheet_declaring_the_whole_grid_is_refused_before_it_is_read():
    with pytest.raises(TooLarge, match=r"declares A1:XFD1048576 .*17,179,869,184 cells") as refused:
        read_upload(xlsx_bombs.dimension_bomb(), "bomb.xlsx")
    assert refused.value.status == 413


def test_a_sheet_declaring_too_small_a_range_is_still_read_whole():
    rows = [["名称", "所在市"]] + [[f"合成单位{i}", "沈阳市"] for i in range(5)]
    raw = read_upload(xlsx(rows, dimension="A1:B2"), "small.xlsx")
    assert raw.table["名称"].tolist() == [f"合成单位{i}" for i in range(5)] and raw.rows == [2, 3, 4, 5, 6]


def test_rows_beyond_the_cap_stop_the_read_with_413(monkeypatch):
    monkeypatch.setattr(read, "MAX_ROWS", 50)
    rows = [["名称", "所在市"]] + [[f"合成单位{i}", "沈阳市"] for i in range(51)]
    # the declaration says 2 rows: the cap holds while streaming, not only against the declaration
    with pytest.raises(TooLarge, match=r"more than 50 data rows.*split it"):
        read_upload(xlsx(rows, dimension="A1:B2"), "long.xlsx")
    with pytest.raises(TooLarge, match=r"declares A1:B52"):
        read_upload(xlsx(rows), "declared.xlsx")
    csv = "\n".join(",".join(r) for r in rows).encode()
    with pytest.raises(TooLarge, match="more than 50 data rows"):
        read_upload(csv, "long.csv")
    exactly = read_upload("\n".join(",".join(r) for r in rows[:51]).encode(), "ok.csv")
    assert len(exactly.table) == 50


def test_blank_rows_do_not_count_against_the_cap(monkeypatch):
    monkeypatch.setattr(read, "MAX_ROWS", 3)
    sheet = [xlsx_bombs._row(1, ["名称"]), xlsx_bombs._row(2, ["合成单位1"]), xlsx_bombs._row(900, ["合成单位2"])]
    raw = read_upload(xlsx_bombs._book(sheet, "A1:A3"), "gaps.xlsx")
    assert raw.table["名称"].tolist() == ["合成单位1", "合成单位2"] and raw.rows == [2, 900]


def test_rows_times_columns_are_capped(monkeypatch):
    monkeypatch.setattr(read, "MAX_CELLS", 100)
    rows = [[f"c{j}" for j in range(10)]] + [[f"合成{i}-{j}" for j in range(10)] for i in range(11)]
    with pytest.raises(TooLarge, match=r"more than 10 data rows; .*100 cells \(rows × 10 columns\)"):
        read_upload("\n".join(",".join(r) for r in rows).encode(), "wide.csv")
    with pytest.raises(TooLarge, match=r"declares A1:J12 \(12 rows × 10 columns = 120 cells\)"):
        read_upload(xlsx(rows), "wide.xlsx")


def test_too_many_columns_are_refused():
    header = [f"列{j}" for j in range(read.MAX_COLUMNS + 1)]
    with pytest.raises(TooLarge, match=rf"{read.MAX_COLUMNS + 1} cells; a list may have at most {read.MAX_COLUMNS} columns"):
        read_upload(",".join(header).encode(), "wide.csv")


def test_a_shared_strings_bomb_is_refused_before_it_is_unpacked(monkeypatch):
    monkeypatch.setattr(read, "MAX_SHARED_STRINGS", 1024 * 1024)
    data = xlsx_bombs.shared_strings_bomb(megabytes=2)
    assert len(data) < 100_000
    with pytest.raises(TooLarge, match=r"unpacks to 2 MB \(2 MB of text\)"):
        read_upload(data, "strings.xlsx")


def feature_collection(*coordinates) -> bytes:
    features = [{"type": "Feature", "properties": {"名称": f"合成单位{i}", "所在市": "沈阳市"},
                 "geometry": {"type": "Point", "coordinates": c}} for i, c in enumerate(coordinates)]
    return json.dumps({"type": "FeatureCollection", "features": features}, allow_nan=True).encode()


@pytest.mark.parametrize("bad", [[123.4], [float("nan"), 41.8], ["x", 41.8], [float("inf"), 41.8]])
def test_a_point_that_is_not_two_finite_numbers_is_a_problem_not_a_seat(registry, bad):
    raw = read_upload(feature_collection([123.43, 41.80], bad), "points.geojson")
    assert [row for row, _ in raw.cell_problems] == [2]
    assert "[lon, lat]" in raw.cell_problems[0][1]
    prepared = rows_mod.prepare(raw, "enterprises_platforms", registry.boundaries, "wgs84",
                                {"kind": "platform", "level": "provincial"}, "synthetic test row {row}")
    assert 2 in prepared.bad_rows and 1 not in prepared.bad_rows
    assert any(p.row == 2 and "[lon, lat]" in p.message for p in prepared.problems)


def test_a_geopackage_with_two_layers_is_refused_naming_them(tmp_path):
    path = tmp_path / "two.gpkg"
    frame = gpd.GeoDataFrame({"名称": ["合成单位1"]}, geometry=[shapely.Point(123.43, 41.80)], crs=4326)
    frame.to_file(path, layer="platforms", engine="pyogrio")
    frame.to_file(path, layer="labs", engine="pyogrio")
    with pytest.raises(ReadError, match=r"2 layers \(platforms, labs\).*one layer") as refused:
        read_upload(path.read_bytes(), "two.gpkg")
    assert refused.value.status == 400


def test_a_crs_without_an_epsg_code_is_converted_by_its_definition(tmp_path):
    custom = "+proj=tmerc +lat_0=0 +lon_0=123 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    x, y = Transformer.from_crs(4326, custom, always_xy=True).transform(123.43, 41.80)
    path = tmp_path / "local.gpkg"
    gpd.GeoDataFrame({"名称": ["合成单位1"]}, geometry=[shapely.Point(x, y)], crs=custom).to_file(path, engine="pyogrio")
    assert gpd.read_file(path).crs.to_epsg() is None
    raw = read_upload(path.read_bytes(), "local.gpkg")
    point = raw.geometry.iloc[0]
    assert raw.crs_epsg == 4326 and point.x == pytest.approx(123.43, abs=1e-7) and point.y == pytest.approx(41.80, abs=1e-7)
    assert any("no EPSG code" in note for note in raw.notes)
