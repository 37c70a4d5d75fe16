"""Figures, search and the places tables with an imported layer in PostGIS (geoapp/postgis:
figures.py, the SQL aggregate; places.py, pages and search) against the same rows in memory.

Two apps on the same store rows (tests/pgrows.py): one serves the layer from SQL, one reads it
into memory as before — the reference. Every answer below must be the same bytes (or the same
document) from both, with no filter and with several filters. Rows are synthetic
(benchmarks/synthetic.py: points inside real districts, named 合成平台): test data, never data/."""
import json

import pandas as pd

import pytest

from geoapp.postgis.pool import close_all
from geoapp.ingest.store import PostGISStore
from tests.pgrows import LAYER, fresh_database, store_frame, two_apps

FILTERS = ["", "?level=national", "?city=210100,210200", "?industry=biomedicine,new_materials",
           "?industry=equipment&level=provincial&city=210100", "?kind=platform", "?kind=high_tech_zone",
           "?city=211400&level=national"]


@pytest.fixture(scope="module")
def apps(postgis_url):
    url = fresh_database(postgis_url)
    store = PostGISStore(url)
    frame = store_frame(3000, seed=11)
    # a few rows of other kinds and precisions, so the metrics by kind/precision see them
    frame.loc[frame.index[:40], "kind"] = "key_laboratory"
    frame.loc[frame.index[40:60], "location_precision"] = "district"
    frame.loc[frame.index[60:70], "industries"] = ""
    store.commit(LAYER, frame, who="test", file_name="synthetic 3000")
    sql_app, memory_app = two_apps(url)
    assert sql_app.extensions["atlas"].bundle().sql, "the SQL app must serve the layer from PostGIS"
    assert not memory_app.extensions["atlas"].bundle().sql
    yield sql_app.test_client(), memory_app.test_client(), frame
    close_all()


def both(apps, path):
    sql, memory, _ = apps
    a, b = sql.get(path), memory.get(path)
    assert a.status_code == b.status_code == 200, (path, a.status_code, a.get_data(as_text=True)[:300])
    return a, b


def without_belt(document: dict) -> dict:
    """/api/coverage without its belt's per-place list (the database rows are counted in the belt's
    groups and cities, not listed place by place: test_belt_figures_count_the_database_places)."""
    return {k: ({**v, "places": None, "places_not_listed": None} if k == "belt" and v else v)
            for k, v in document.items()}


@pytest.mark.parametrize("query", FILTERS)
def test_distribution_is_the_same(apps, query):
    a, b = both(apps, "/api/distribution" + query)
    assert a.json == b.json
    assert sum(c["places"] for c in a.json["cities"]) >= (3000 if not query else 0)


@pytest.mark.parametrize("query", FILTERS)
def test_coverage_is_the_same(apps, query):
    a, b = both(apps, "/api/coverage" + query)
    assert without_belt(a.json) == without_belt(b.json)


@pytest.mark.parametrize("table", ["distribution", "coverage", "tasks", "targets"])
@pytest.mark.parametrize("query", ["", "?industry=biomedicine", "?city=210200&lang=en"])
def test_stats_tables_are_the_same_bytes(apps, table, query):
    a, b = both(apps, f"/stats/{table}.csv{query}")
    assert a.data == b.data


@pytest.mark.parametrize("query", FILTERS)
def test_choropleth_and_cities_collection_are_the_same(apps, query):
    a, b = both(apps, "/map/layers/cities.geojson" + query)
    assert a.json == b.json
    a, b = both(apps, "/ogc/collections/cities/items" + (query or "?") + "&limit=20")
    assert [f["properties"] for f in a.json["features"]] == [f["properties"] for f in b.json["features"]]


def page_config(response) -> dict:
    text = response.get_data(as_text=True)
    start = text.index('id="atlas-config"')
    start = text.index(">", start) + 1
    return json.loads(text[start:text.index("</script>", start)])


@pytest.mark.parametrize("query", FILTERS)
def test_map_counts_facets_and_legend_are_the_same(apps, query):
    a, b = both(apps, "/" + query)
    ca, cb = page_config(a), page_config(b)
    assert ca["counts"][LAYER] == cb["counts"][LAYER] > 0 or "kind=high_tech_zone" in query
    ca.pop("map"), cb.pop("map")   # folium's random name of the map variable
    assert ca == cb   # counts per layer, what matched, each layer's legend and mode
    chips = [line for line in a.get_data(as_text=True).splitlines() if 'class="chip' in line]
    assert chips and chips == [line for line in b.get_data(as_text=True).splitlines() if 'class="chip' in line]


@pytest.mark.parametrize("adcode", ["210100", "211400"])
@pytest.mark.parametrize("query", ["", "?level=national", "?industry=biomedicine&lang=en"])
def test_city_panel_figures_are_the_same(apps, adcode, query):
    a, b = both(apps, f"/map/cities/{adcode}.json{query}")
    for key in ("numbers", "industries", "tasks", "scorecard", "areas", "crossing"):
        assert a.json[key] == b.json[key], key
    a, b = both(apps, f"/map/cities/{adcode}.csv{query}")
    assert a.data == b.data



SORTS = [("name", "asc"), ("name", "desc"), ("city", "asc"), ("city", "desc"), ("kind", "asc"),
         ("level", "desc"), ("layer", "asc"), ("layer", "desc")]


@pytest.mark.parametrize("sort,order", SORTS)
@pytest.mark.parametrize("query", ["", "level=national&", "city=210200&industry=biomedicine&", "lang=en&"])
def test_places_pages_are_the_same(apps, sort, order, query):
    total = None
    for page, per_page in ((1, 50), (2, 50), (7, 13), (30, 100), (1, 500)):
        a, b = both(apps, f"/map/places.json?{query}sort={sort}&order={order}&page={page}&per_page={per_page}")
        assert a.json == b.json, (page, per_page)
        total = a.json["total"]
    assert total > 0


@pytest.mark.parametrize("query", ["", "&sort=city&order=desc", "&lang=en&sort=kind"])
def test_places_pages_in_a_map_view_are_the_same(apps, query):
    for box in ("121.0,38.7,122.3,39.6", "123.0,41.5,124.0,42.2", "119,40,125.8,43.5"):
        for page in (1, 3):
            a, b = both(apps, f"/map/places.json?bbox={box}&page={page}&per_page=40{query}")
            assert a.json == b.json


@pytest.mark.parametrize("query", ["", "?sort=city&order=desc&level=national", "?lang=en&sort=layer",
                                   "?bbox=121.0,38.7,122.3,39.6&sort=kind"])
def test_places_files_are_the_same_bytes(apps, query):
    a, b = both(apps, "/map/places.csv" + query)
    assert a.data == b.data and a.data.count(b"\r\n") > 20
    assert a.headers["Content-Disposition"] == b.headers["Content-Disposition"]


def test_places_xlsx_opens_with_the_same_rows(apps):
    import io

    import openpyxl
    a, b = both(apps, "/map/places.xlsx?industry=biomedicine")

    def cells(data):
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        return [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells(a.data) == cells(b.data)


@pytest.mark.parametrize("adcode", ["210100", "211400"])
@pytest.mark.parametrize("query", ["", "?level=national", "?industry=biomedicine&lang=en"])
def test_city_panel_places_are_the_same(apps, adcode, query):
    a, b = both(apps, f"/map/cities/{adcode}.json{query}")
    for key in ("places", "places_total", "places_shown", "places_list"):
        assert a.json[key] == b.json[key], key
    assert len(a.json["places"]) > 0
    a, b = both(apps, f"/map/cities/{adcode}.xlsx{query}")
    import io

    import openpyxl
    def cells(data):
        return [[[c.value for c in row] for row in sheet.iter_rows()] for sheet in openpyxl.load_workbook(io.BytesIO(data))]
    assert cells(a.data) == cells(b.data)



@pytest.mark.parametrize("adcode", ["210100", "211400"])
@pytest.mark.parametrize("query", ["", "?kind=platform&lang=en"])
def test_city_panel_sends_a_page_the_total_and_the_list(apps, adcode, query):
    """A city with more places than a page: the panel sends the first page of the places list
    filtered to the city (by layer, then name), how many there are, and the links to the whole
    list (paged JSON, CSV, XLSX, the map page's list): never every place of the city."""
    from urllib.parse import parse_qs, urlsplit
    frame = apps[2]
    for client in apps[:2]:
        city = client.get(f"/map/cities/{adcode}.json{query}").json
        synthetic = frame[(frame["city_adcode"] == adcode) & ((frame["kind"] == "platform") if query else True)]
        assert city["places_total"] >= len(synthetic) > 50 == city["places_shown"] == len(city["places"])
        listing = city["places_list"]
        args = parse_qs(urlsplit(listing["json"]).query)
        assert args["city"] == [adcode] and args["sort"] == ["layer"]
        assert ("kind" in args) == bool(query)
        page = client.get(listing["json"]).json
        assert page["total"] == city["places_total"] and page["page"] == 1
        assert page["rows"] == city["places"]
        last = client.get(listing["json"] + f"&page={page['pages']}").json["rows"]
        assert len(last) == city["places_total"] - 50 * (page["pages"] - 1)
        csv_rows = client.get(listing["csv"]).data.decode("utf-8-sig").strip().splitlines()
        assert len(csv_rows) - 1 >= city["places_total"]
        assert urlsplit(listing["page"]).fragment == "atlas-list-title" and f"city={adcode}" in listing["page"]


def test_city_xlsx_is_refused_beyond_a_worksheet(apps, monkeypatch):
    """The city's XLSX holds its places: above XLSX_MAX_ROWS it is a 413 naming the CSVs (as
    /map/places.xlsx), from the database path (the in-memory one holds the rows anyway)."""
    import geoapp.web.map_tables as map_tables
    total = apps[0].get("/map/cities/210100.json").json["places_total"]
    monkeypatch.setattr(map_tables, "XLSX_MAX_ROWS", total - 1)
    response = apps[0].get("/map/cities/210100.xlsx?lang=en")
    assert response.status_code == 413 and response.json["rows"] == total
    assert "/map/places.csv?city=210100" in response.json["message"]
    monkeypatch.setattr(map_tables, "XLSX_MAX_ROWS", total)
    assert apps[0].get("/map/cities/210100.xlsx?lang=en").status_code == 200


def test_city_panel_of_a_city_the_filter_leaves_out_lists_nothing(apps):
    for client in apps[:2]:
        city = client.get("/map/cities/211400.json?city=210100").json
        assert city["places"] == [] and city["places_total"] == 0


SEARCHES = ["合成平台", "合成平台 000123", "合成平台000123", "平台 0001", "台0002", "沈阳", "沈阳市", "大连高新区",
            "合平0012", "合成00019", "Synthetic", "synthetic platform 0001", "platform 00021", "synthetic 000300",
            "Shenyang", "dalian", "SYNTHETIC PLATFORM", "zz不存在", "%", "_", "合成%"]


@pytest.mark.parametrize("query", ["", "&level=national", "&city=210200,211400&industry=biomedicine"])
def test_search_is_the_same(apps, query):
    from urllib.parse import quote
    found = 0
    for q in SEARCHES:
        a, b = both(apps, f"/map/search?q={quote(q)}{query}")
        assert a.json == b.json, q
        found += sum(h["layer"] == LAYER for h in a.json["hits"])
    assert found > 20


def test_search_index_expressions_are_the_stores():
    """The trigram indexes of the store are on the very expressions search queries (else the
    planner cannot use them)."""
    from geoapp.ingest.store import SQL_READ_SCHEMA
    from geoapp.postgis.search import LATIN, NAME_NORM
    for expression in (NAME_NORM, LATIN):
        assert any(f"gin (({expression}) gin_trgm_ops)" in statement for statement in SQL_READ_SCHEMA)


# --- the analysis with groups, where tasks name the imported layer (no database needed) ---------

def frame_groups(frame) -> pd.DataFrame:
    """What geoapp.postgis.figures' GROUP BY gives for these rows, written with pandas here."""
    keys = ["city_adcode", "kind", "level", "location_precision", "industries"]
    table = frame[keys].fillna("").astype(str).groupby(keys).size().rename("n").reset_index()
    table.insert(0, "layer", LAYER)
    return table


@pytest.fixture(scope="module")
def registries(registry):
    """(the registry with the rows in memory, the registry without them, their groups), with
    two extra tasks that reach the imported layer only through layer filters and targets."""
    from dataclasses import replace
    from pathlib import Path

    from geoapp.data.tasks import LayerFilter, Target, Task

    frame = store_frame(800, seed=3)
    frame.loc[frame.index[:25], "kind"] = "incubator"
    frame.loc[frame.index[25:45], "location_precision"] = "city"
    frame.loc[frame.index[45:50], "location_precision"] = "district"
    target = Target("合成平台", "Synthetic platforms", 10, "个", None, "planned", "合成", counts=LayerFilter(layer=LAYER, level="national"))
    tasks = (Task("synthetic_national", "合成国家级", "Synthetic national", "专栏1", "合成",
                  layers=(LayerFilter(layer=LAYER, level="national"),), targets=(target,)),
             Task("synthetic_incubators", "合成孵化器", "Synthetic incubators", "专栏1", "合成",
                  places=("htz_shenyang",), layers=(LayerFilter(kind="incubator"), LayerFilter(layer=LAYER, kind="enterprise")),
                  targets=(Target("孵化器", "Incubators", 5, "个", None, "planned", "合成", counts=LayerFilter(kind="incubator")),)))
    memory = replace(registry.with_layers({LAYER: frame}, Path("store")), _counted=None)
    memory = replace(memory, tasks=registry.tasks + tasks)
    summarised = replace(registry.with_layers({LAYER: frame.iloc[:0]}, Path("store")), tasks=registry.tasks + tasks)
    return memory, summarised, frame_groups(frame)


@pytest.mark.parametrize("query", FILTERS)
def test_groups_count_as_their_rows_in_every_figure(registries, query):
    from urllib.parse import parse_qs

    from geoapp.analysis.facets import facet_counts
    from geoapp.analysis.report import build_report
    from geoapp.filters import parse_filter

    memory, summarised, groups = registries
    flt = parse_filter({k: v[0] for k, v in parse_qs(query.lstrip("?")).items()},
                       memory.boundaries["city"], memory.plan.industries)
    a = build_report(memory, flt)
    b = build_report(summarised, flt, groups=groups)
    pd.testing.assert_frame_equal(a.coverage.tasks, b.coverage.tasks)
    pd.testing.assert_frame_equal(a.coverage.counts, b.coverage.counts)
    pd.testing.assert_frame_equal(a.targets, b.targets)
    pd.testing.assert_frame_equal(a.cities, b.cities)
    assert a.figures == b.figures
    kept = a.coverage.tasks.set_index("id")
    if flt.empty:   # the extra tasks are located through the layer alone
        assert kept.loc["synthetic_national", "status"] == "located"
        assert kept.loc["synthetic_national", "places_mapped"] == (memory.layers[LAYER]["level"] == "national").sum()
        assert "[layer=enterprises_platforms, kind=enterprise]" in kept.loc["synthetic_incubators", "missing"]
    every = memory.counted_places()
    assert facet_counts(every, memory.boundaries["city"], flt, memory.plan.industries) == \
        facet_counts(summarised.counted_places(), summarised.boundaries["city"], flt, summarised.plan.industries, groups)


def test_scorecard_counts_groups_as_their_rows(registries):
    from geoapp.analysis.scorecard import build_scorecard
    memory, summarised, groups = registries
    a = build_scorecard(memory.tasks, memory.outcomes, memory.counted_places(), memory.plan.period)
    b = build_scorecard(summarised.tasks, summarised.outcomes, summarised.counted_places(),
                        summarised.plan.period, groups=groups)
    pd.testing.assert_frame_equal(a.rows, b.rows)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    counts = a.rows.set_index("metric_en")["map_count"]
    assert counts["Synthetic platforms"] == (memory.layers[LAYER]["level"] == "national").sum() > 0


@pytest.mark.parametrize("path", ["/api/scorecard", "/stats/scorecard.csv", "/about", "/about?lang=en"])
def test_scorecard_and_about_are_the_same(apps, path):
    a, b = both(apps, path)
    if path == "/api/scorecard":
        assert a.json == b.json
    elif path.startswith("/about"):   # the number of places and their precision (the SQL app lists
        import re                     # only the places in memory row by row)
        numbers = re.compile(r"(\d+) (?:处|places)|<td[^>]*>(\d+)</td>")
        assert numbers.findall(a.get_data(as_text=True)) == numbers.findall(b.get_data(as_text=True))
    else:
        assert a.data == b.data


def test_stats_page_says_the_belt_map_leaves_the_database_layer_out(apps):
    a, b = both(apps, "/stats?level=national")
    page = a.get_data(as_text=True)
    national = int((apps[2]["level"] == "national").sum())
    assert f"其中 {national} 处导入清单中的地点" in page and 'id="belt-database-note"' in page
    assert 'id="belt-database-note"' not in b.get_data(as_text=True)
    assert f"{national} places of imported lists" in both(apps, "/stats?level=national&lang=en")[0].get_data(as_text=True)


def test_stats_page_says_the_belt_leaves_out_a_database_layer_above_its_limit(apps, monkeypatch):
    import geoapp.postgis.belt as sql_belt
    monkeypatch.setattr(sql_belt, "BELT_MAX_ROWS", 2999)
    a, _ = both(apps, "/stats?level=national&half_width_km=31")   # a width not yet computed
    national = int((apps[2]["level"] == "national").sum())
    assert f"另有 {national} 处导入清单中的地点" in a.get_data(as_text=True)
    assert "places_not_listed" not in both(apps, "/api/coverage?half_width_km=31")[0].json["belt"]


@pytest.mark.parametrize("width", ["", "half_width_km=12.5&", "half_width_km=80&"])
@pytest.mark.parametrize("query", FILTERS[:5])
def test_belt_figures_count_the_database_places(apps, width, query):
    """The belt (geoapp/postgis/belt.py: the layer grouped against the corridor in SQL) gives the
    same groups and cities as the same rows measured one by one in memory; only the per-place
    list leaves the database rows out (and says how many)."""
    sep = "&" if query else "?"
    path = "/api/coverage" + (query or "?") + ("" if not query else "&") + width
    a, b = both(apps, path.replace("?&", "?"))
    sql, memory = a.json["belt"], b.json["belt"]
    assert sql["groups"] == memory["groups"] and sql["cities"] == memory["cities"]
    ids = set(apps[2]["id"])
    assert sql["places"] == [p for p in memory["places"] if p["id"] not in ids]
    assert sql["places_not_listed"] == len(memory["places"]) - len(sql["places"])
    if not query:
        assert sql["places_not_listed"] == 3000
    inside = next(g for g in sql["groups"] if g["group"] == "all")
    assert inside["inside"] > 0 and inside["outside"] > 0 and inside["partly"] >= 0
    del sep


@pytest.mark.parametrize("query", ["", "?industry=biomedicine", "?city=210200&lang=en"])
def test_belt_table_counts_are_the_same(apps, query):
    """The belt tables' counts per city and group are those of memory (the names of the places in
    each relation list only the places in memory)."""
    import csv
    import io
    for table in ("belt_groups", "belt_cities", "belt_by_city"):
        a, b = both(apps, f"/stats/{table}.csv{query}")
        if table != "belt_by_city":
            assert a.data == b.data, table
            continue
        rows_a = list(csv.reader(io.StringIO(a.data.decode("utf-8-sig"))))
        rows_b = list(csv.reader(io.StringIO(b.data.decode("utf-8-sig"))))
        assert len(rows_a) == len(rows_b)
        for ra, rb in zip(rows_a, rows_b):   # the counts; the name columns list memory's places only
            assert [c for c in ra if c.isdigit()] == [c for c in rb if c.isdigit()], (table, ra, rb)
        assert rows_a != rows_b


def test_a_new_bundle_reads_its_figures_ahead(apps):
    """A bundle's aggregate is read in the background when the bundle is built, before any
    request asks for a figure (the first /stats then finds it)."""
    import time

    from geoapp.postgis import figures
    url = apps[0].application.extensions["atlas"].bundle().sql[LAYER].url
    fresh = two_apps(url)[0]
    layer = fresh.extensions["atlas"].bundle().sql[LAYER]
    deadline = time.monotonic() + 60
    while figures._groups.get(layer) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    groups = figures._groups.get(layer)
    assert groups is not None and int(groups["n"].sum()) == len(apps[2])


def test_belt_points_by_the_corridor_edge_are_tested_as_in_memory(apps, monkeypatch):
    """The points near the corridor's edge (here: within 0.05°, hundreds of them) are fetched and
    tested in Python exactly as the analysis tests them; the figures stay those of memory."""
    import geoapp.postgis.belt as sql_belt
    monkeypatch.setattr(sql_belt, "EDGE_DEG", 0.05)
    fetched = []
    query = sql_belt.SqlLayer.query

    def counting(layer, sql, params=()):
        rows = query(layer, sql, params)
        if sql == sql_belt.EDGE_SQL:
            fetched.append(len(rows))
        return rows
    monkeypatch.setattr(sql_belt.SqlLayer, "query", counting)
    a, b = both(apps, "/api/coverage?half_width_km=45")
    assert fetched and fetched[0] > 100
    assert a.json["belt"]["groups"] == b.json["belt"]["groups"]
    assert a.json["belt"]["cities"] == b.json["belt"]["cities"]
