"""Tables for people: one CSV/XLSX writer for every download (no cell a spreadsheet would run),
/stats/<table>.csv|.xlsx in the page's language with codes in extra columns, file names that say
what and which filter, the belt's per-city table, and the belt width's errors shown in the page."""
import csv
import io
import re
import shutil
from urllib.parse import unquote

import openpyxl
import pandas as pd
import pytest

from geoapp import DATA_DIR
from geoapp.export.spreadsheet import Sheet, csv_bytes, xlsx_bytes

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
POISON = {  # (row of high_tech_zones.csv, column) -> text a spreadsheet would run
    (0, "name_zh"): '=HYPERLINK("http://evil.example","沈阳")',
    (0, "name_en"): "+cmd|' /C calc'!A0",
    (1, "name_zh"): "@SUM(1+1)大连",
    (1, "name_en"): "-2+3",
    (2, "name_zh"): "\t鞍山",
    (2, "name_en"): "\tAnshan",
}
STATS_TABLES = ["distribution", "coverage", "tasks", "targets", "belt_groups", "belt_by_city",
                "belt_cities", "belt_places"]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_cells(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def xlsx_cells(body: bytes) -> list:
    book = openpyxl.load_workbook(io.BytesIO(body))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def assert_no_formula_csv(body: bytes, where: str):
    for row in csv_cells(body):
        for cell in row:
            assert not (cell[:1] in FORMULA_START and not _is_number(cell)), (where, cell)


def assert_no_formula_xlsx(body: bytes, where: str):
    for cell in xlsx_cells(body):
        assert cell.data_type != "f", (where, cell.coordinate, cell.value)
        if isinstance(cell.value, str):
            assert cell.value[:1] not in FORMULA_START, (where, cell.coordinate, cell.value)


# --- the writer ---------------------------------------------------------------------------------

def test_writer_neutralises_text_and_keeps_numbers():
    texts = ["=1+1", "+1", "-2+3", "@SUM(1+1)", "\tx", "\rx", "plain", "沈阳"]
    sheet = Sheet("t", ["=head", "n"], [[text, -5] for text in texts] + [[None, 2.5]])
    rows = csv_cells(csv_bytes(sheet))
    assert rows[0] == ["'=head", "n"]
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+1", "'-2+3", "'@SUM(1+1)", "'\tx", "'\rx", "plain", "沈阳", ""]
    assert {r[1] for r in rows[1:-1]} == {"-5"} and rows[-1][1] == "2.5"   # numbers stay numbers
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes([sheet])))
    ws = book.active
    assert ws["A1"].value == "'=head" and ws["A1"].font.bold
    assert [ws.cell(row=i + 2, column=1).value for i in range(8)] == [
        "'=1+1", "'+1", "'-2+3", "'@SUM(1+1)", "'\tx", "'\rx", "plain", "沈阳"]
    assert ws["B2"].value == -5 and ws["B2"].data_type == "n"
    assert ws.freeze_panes == "A2"
    assert_no_formula_xlsx(xlsx_bytes([sheet]), "writer")


def test_xlsx_writer_keeps_text_with_control_characters_readable():
    body = xlsx_bytes([Sheet("t", ["a"], [["bell\x07here"]])])
    assert openpyxl.load_workbook(io.BytesIO(body)).active["A2"].value == "bell\ufffdhere"


def test_rejects_csv_neutralises_the_uploaded_header_and_cells():
    from geoapp.data.validate import Problem
    from geoapp.ingest.rows import Prepared
    from geoapp.ingest.service import rejects_csv
    table = pd.DataFrame({"=cmd": ["@SUM(1)"], "name": ["-1+1"]})
    prepared = Prepared(layer="x", file_name="x.csv", frame=None, rows=[2], table=table,
                        problems=[Problem("x.csv", 2, "name", "=bad")], bad_rows={2})
    body = rejects_csv(prepared)
    assert_no_formula_csv(body, "rejects")
    assert "'=cmd" in body.decode("utf-8-sig") and "'@SUM(1)" in body.decode("utf-8-sig")


# --- every CSV/XLSX route, with poisoned data -------------------------------------------------

@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    from geoapp.web import create_app
    folder = tmp_path_factory.mktemp("poisoned") / "data"
    shutil.copytree(DATA_DIR, folder)
    path = folder / "parks" / "high_tech_zones.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for (row, column), text in POISON.items():
        table.loc[row, column] = text
    table.to_csv(path, index=False, encoding="utf-8")
    store = tmp_path_factory.mktemp("store") / "s.sqlite"
    return create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATA_DIR": folder,
                       "ATLAS_DATABASE_URL": f"sqlite:///{store}"})


def download_urls(app) -> list[str]:
    """Every CSV/XLSX URL the app serves, from its URL map: a route this does not know fails the
    test (a new download must be added here, and so checked)."""
    bundle = app.extensions["atlas"].bundle()
    layers = list(bundle.catalog.ids())
    cities = list(bundle.registry.boundaries["city"]["adcode"])
    urls, unknown = [], []
    for rule in app.url_map.iter_rules():
        if not re.search(r"csv|xlsx|<fmt>|<any\([^)]*\):fmt>", rule.rule):
            continue
        if rule.endpoint == "stats.stats_table":
            urls += [f"/stats/{n}.{f}{q}" for n in STATS_TABLES for f in ("csv", "xlsx")
                     for q in ("", "?lang=en&half_width_km=20")]
        elif rule.endpoint == "export.download":
            urls += [f"/export/{layer}.csv" for layer in layers]
        elif rule.endpoint == "map_tables.places_table":
            urls += [f"/map/places.{f}{q}" for f in ("csv", "xlsx") for q in ("", "?lang=en&sort=city")]
        elif rule.endpoint == "map_tables.city_table":
            urls += [f"/map/cities/{c}.{f}{q}" for c in cities[:3] for f in ("csv", "xlsx") for q in ("", "?lang=en")]
        elif rule.endpoint == "compare.compare_table":
            urls += [f"/compare/{n}.{f}{q}" for n in ("cities", "places", "tasks", "industries", "targets")
                     for f in ("csv", "xlsx") for q in ("", "?lang=en")]
        elif rule.endpoint == "scorecard.scorecard_table":
            urls += [f"/stats/scorecard.{f}{q}" for f in ("csv", "xlsx") for q in ("", "?lang=en")]
        elif rule.endpoint == "admin.rejects":
            continue  # needs a signed-in upload: test_rejects_csv_neutralises_the_uploaded_header_and_cells
        else:
            unknown.append(rule.rule)
    assert not unknown, f"CSV/XLSX routes this test does not cover: {unknown}"
    return urls


def test_no_download_starts_a_cell_with_a_formula(poisoned):
    client = poisoned.test_client()
    urls = download_urls(poisoned)
    assert len(urls) > 30
    seen_poison = set()
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.data
        if url.split("?")[0].endswith(".xlsx"):
            assert_no_formula_xlsx(body, url)
            text = " ".join(str(c.value) for c in xlsx_cells(body) if c.value is not None)
        else:
            assert_no_formula_csv(body, url)
            text = body.decode("utf-8-sig")
        if any(p in text for p in ("=HYPERLINK", "@SUM(1+1)大连", "-2+3", "+cmd|")):
            seen_poison.add(url)
    # the poisoned names did reach the files that list places (as text)
    listing = {u for u in urls if re.search(r"belt_places|belt_by_city|high_tech_zones|/map/places|/map/cities/210[12]00\.xlsx", u)}
    assert listing and listing <= seen_poison, listing - seen_poison


# --- /stats tables in the page's language ------------------------------------------------------

@pytest.mark.parametrize("name", STATS_TABLES)
def test_every_stats_table_is_an_xlsx_in_chinese_and_english(client, name):
    zh = client.get(f"/stats/{name}.xlsx")
    assert zh.status_code == 200
    assert zh.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    header_zh = [c.value for c in next(openpyxl.load_workbook(io.BytesIO(zh.data)).active.iter_rows(max_row=1))]
    en = client.get(f"/stats/{name}.xlsx?lang=en")
    header_en = [c.value for c in next(openpyxl.load_workbook(io.BytesIO(en.data)).active.iter_rows(max_row=1))]
    assert len(header_zh) == len(header_en)
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in header_zh), header_zh
    assert not any(re.search(r"[\u4e00-\u9fff]", h) for h in header_en), header_en
    # the CSV has the same header
    assert csv_cells(client.get(f"/stats/{name}.csv").data)[0] == header_zh


def test_distribution_xlsx_headers_labels_and_codes(client):
    rows = list(openpyxl.load_workbook(io.BytesIO(client.get("/stats/distribution.xlsx").data)).active.values)
    header = list(rows[0])
    assert header[:3] == ["城市", "国家级高新区", "省级高新区"] and header[-1] == "城市代码"
    shenyang = next(r for r in rows if r and r[0] == "沈阳市")
    assert shenyang[-1] == "210100" and isinstance(shenyang[1], int)
    assert sum(r[1] for r in rows[1:15]) == 8  # 8 national HTZs, as numbers


def test_download_names_say_what_which_filter_and_day(client):
    response = client.get("/stats/distribution.xlsx?industry=biomedicine")
    disposition = response.headers["Content-Disposition"]
    name = unquote(re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1))
    assert re.fullmatch(r"各市分布_生物医药_\d{4}-\d{2}-\d{2}\.xlsx", name), name
    assert re.search(r'filename="distribution_industry-biomedicine_\d{4}-\d{2}-\d{2}\.xlsx"', disposition)
    english = client.get("/stats/belt_places.csv?lang=en&city=沈阳&half_width_km=20").headers["Content-Disposition"]
    name = unquote(re.search(r"filename\*=UTF-8''(\S+)", english).group(1))
    assert name.startswith("Belt places_Shenyang_half-width 20 km_") and name.endswith(".csv")


def test_belt_by_city_counts_match_the_places_of_the_belt(client, registry):
    belt = client.get("/api/coverage?half_width_km=20").get_json()["belt"]
    want = pd.crosstab(pd.Series([p["city_adcode"] for p in belt["places"]]),
                       pd.Series([p["relation"] for p in belt["places"]]))
    table = pd.read_csv(io.BytesIO(client.get("/stats/belt_by_city.csv?half_width_km=20").data),
                        encoding="utf-8-sig", dtype={"城市代码": str}, keep_default_na=False).set_index("城市代码")
    assert len(table) == 14
    for code in table.index:
        for relation, column in (("inside", "完全在带内"), ("partly", "跨带边界"), ("outside", "带外")):
            expected = int(want.loc[code, relation]) if code in want.index and relation in want.columns else 0
            assert table.loc[code, column] == expected, (code, relation)
    # the names are there: every place in Shenyang that straddles the edge is listed by name
    names = {p["name_zh"] for p in belt["places"] if p["city_adcode"] == "210100" and p["relation"] == "partly"}
    listed = set(table.loc["210100", "地点：跨带边界"].split("；"))
    assert names and listed == names


def test_stats_page_shows_the_per_city_belt_table_and_no_ids(client):
    page = client.get("/stats").get_data(as_text=True)
    assert 'id="table-belt-by-city"' in page and "各市地点与产业带" in page
    svg = page[page.index('id="belt-map"'):].split("</svg>")[0]
    assert "htz_shenyang" not in svg and "沈阳高新技术产业开发区：" in svg
    assert "data/plan" not in page and ".txt" not in page and ".yaml" not in page


@pytest.mark.parametrize("width", ["abc", "0", "7.255"])
def test_a_bad_half_width_is_shown_in_the_page(client, width):
    response = client.get(f"/stats?half_width_km={width}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'id="width-error"' in page and f"产业带半宽“{width}”无效" in page
    assert 'id="table-distribution"' in page  # the rest of the page is there
    english = client.get(f"/stats?half_width_km={width}&lang=en").get_data(as_text=True)
    assert f'Belt half-width "{width}" is not valid' in english.replace("&#34;", '"')


def test_every_stats_table_has_headers_for_its_cells(client):
    """`th` with `scope` for every column header, and a row header (`th scope=row`) in every row."""
    page = client.get("/stats").get_data(as_text=True)
    tables = re.findall(r"<table\b.*?</table>", page, re.S)
    assert len(tables) >= 7
    for table in tables:
        head = re.search(r"<thead>.*?</thead>", table, re.S).group(0)
        ths = re.findall(r"<th\b[^>]*>", head)
        assert ths and all('scope="col"' in th for th in ths), table[:80]
        for row in re.findall(r"<tr>.*?</tr>", re.search(r"<tbody>.*?</tbody>", table, re.S).group(0), re.S):
            assert re.search(r'<th\b[^>]*scope="row"', row), row[:120]


# --- the map page's tables ------------------------------------------------------------------------

def test_places_list_downloads_every_row_sorted_as_the_list_with_wgs84(client, registry):
    listed = client.get("/map/places.json?sort=city&per_page=500").get_json()
    rows = list(openpyxl.load_workbook(io.BytesIO(client.get("/map/places.xlsx?sort=city").data)).active.values)
    header, body = rows[0], [r for r in rows[1:listed["total"] + 1]]
    assert header[:5] == ("名称", "图层", "类型", "级别", "城市") and "经度（WGS84）" in header
    assert [r[0] for r in body] == [r["name"] for r in listed["rows"]]   # same rows, same order
    places = registry.counted_places().set_index("id")
    lon, lat, ids = header.index("经度（WGS84）"), header.index("纬度（WGS84）"), header.index("编号")
    for r in body:
        point = places.geometry[r[ids]]
        assert r[lon] == pytest.approx(point.x, abs=1e-6) and r[lat] == pytest.approx(point.y, abs=1e-6)
    # a second line in the other language is a column of its own, not part of the name
    assert header[6] == "英文名称" and all(r[0] != r[6] for r in body if r[6])
    english = csv_cells(client.get("/map/places.csv?lang=en&industry=biomedicine").data)
    assert english[0][:2] == ["Name", "Layer"]
    assert len(english) - 1 == client.get("/map/places.json?industry=biomedicine").get_json()["total"]


def test_places_list_download_honours_the_view(client):
    box = "122.5,40.5,124.5,42.5"
    total = client.get(f"/map/places.json?bbox={box}").get_json()["total"]
    response = client.get(f"/map/places.csv?bbox={box}")
    assert len(csv_cells(response.data)) - 1 == total < client.get("/map/places.json").get_json()["total"]
    assert "%E5%9C%B0%E5%9B%BE%E8%A7%86%E9%87%8E%E5%86%85" in response.headers["Content-Disposition"]  # 地图视野内
    assert client.get("/map/places.csv?sort=height").status_code == 400


def test_city_panel_downloads_that_city_only(client):
    links = client.get("/map/cities/210600.json?industry=biomedicine").get_json()["links"]
    assert links["csv"] == "/map/cities/210600.csv?industry=biomedicine"
    assert links["xlsx"] == "/map/cities/210600.xlsx?industry=biomedicine"
    rows = csv_cells(client.get("/map/cities/210600.csv").data)
    assert rows[0] == ["指标", "数值", "指标代码"]
    figures = {r[2]: int(r[1]) for r in rows[1:]}
    distribution = client.get("/api/distribution").get_json()["cities"]
    dandong = next(c for c in distribution if c["city_adcode"] == "210600")
    assert figures["places"] == dandong["places"] and figures["htz_national"] == dandong["htz_national"]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/map/cities/210600.xlsx").data))
    assert [ws.title for ws in book.worksheets] == ["丹东市统计", "丹东市地点"]
    places = list(book.worksheets[1].values)[1:]
    assert len(places) == client.get("/map/cities/210600.json").get_json()["places"].__len__()
    assert client.get("/map/cities/999999.csv").status_code == 404


def test_english_stats_has_english_sections_units_periods_and_separators(client):
    page = client.get("/stats?lang=en").get_data(as_text=True)
    targets = page[page.index('id="table-targets"'):].split("</table>")[0]
    tasks = page[page.index('id="table-tasks"'):].split("</table>")[0]
    sections = re.findall(r'<td data-label="Section">([^<]*)</td>', targets + tasks)
    assert sections and "III.2.2" in sections and "Box 3" in sections
    assert not any(re.search(r"[\u4e00-\u9fff]", s) for s in sections), sections
    units = re.findall(r'<td data-label="Unit">([^<]*)</td>', targets)
    assert "per year" in units and not any(u in ("个", "家以上", "余万人") for u in units)
    periods = re.findall(r'<td data-label="Year / period">([^<]*)</td>', targets)
    assert "12th FYP period (2011–2015)" in periods and "“十二五”期间" not in periods
    cities = re.findall(r'<td class="wide" data-label="Cities">([^<]*)</td>', tasks)
    assert "Shenyang, Dalian" in cities and not any("、" in c for c in cities)
    # the Chinese page keeps the plan's own wording
    zh = client.get("/stats").get_data(as_text=True)
    assert '<td data-label="章节">三（二）2</td>' in zh and "“十二五”期间" in zh
