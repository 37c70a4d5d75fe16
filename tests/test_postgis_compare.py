"""/compare with an imported layer in PostGIS (the layer's places come as the figures' groups,
geoapp/postgis/figures.py) against the same rows in memory (tests/pgrows.py two_apps), over two
real plan folders: the shipped plan and a second plan made from it (tests/plans_fixture.
make_second_plan) whose one extra task selects the imported layer's national places by a layer
filter. Both plans' views keep the imported rows' plan references (synthetic rows cite 专栏1; some
are made blank here).

Every count must be the same from both apps; the places table lists the database places one by
one only in memory, so it is compared without them (and the SQL answer says how many it leaves
out). Rows are synthetic (benchmarks/synthetic.py): test data, never data/."""
import csv
import io

import pytest
import yaml

from geoapp.ingest.store import PostGISStore
from geoapp.postgis.pool import close_all
from tests.pgrows import LAYER, fresh_database, store_frame, two_apps
from tests.plans_fixture import SHIPPED, copy_data, make_second_plan

SECOND = "second_plan"
QUERIES = ["", "&level=national", "&city=210100,210200", "&industry=biomedicine", "&kind=platform",
           "&city=211400&level=provincial"]
PAIRS = [f"a={SHIPPED}&b={SECOND}", f"a={SECOND}&b={SHIPPED}"]


@pytest.fixture(scope="module")
def apps(postgis_url, tmp_path_factory):
    data = copy_data(tmp_path_factory.mktemp("pg_compare"))
    folder = make_second_plan(data, SECOND)
    tasks_path = folder / "tasks.yaml"
    tasks = yaml.safe_load(tasks_path.read_text(encoding="utf-8"))
    extra = dict(tasks[0], id="synthetic_national_platforms", layers=[{"layer": LAYER, "level": "national"}])
    extra.pop("targets", None)
    extra.pop("places", None)
    tasks_path.write_text(yaml.safe_dump(tasks + [extra], allow_unicode=True, sort_keys=False), encoding="utf-8")
    url = fresh_database(postgis_url)
    frame = store_frame(3000, seed=5)
    frame.loc[frame.index[:30], "kind"] = "key_laboratory"
    frame.loc[frame.index[30:50], "plan_refs"] = "  "   # blank: not cited
    frame.loc[frame.index[50:400], "plan_refs"] = ""
    PostGISStore(url).commit(LAYER, frame, who="test", file_name="synthetic 3000")
    sql_app, memory_app = two_apps(url, ATLAS_DATA_DIR=data)
    assert sql_app.extensions["atlas"].bundle().sql and not memory_app.extensions["atlas"].bundle().sql
    yield sql_app.test_client(), memory_app.test_client(), frame
    close_all()


def both(apps, path):
    sql, memory, _ = apps
    a, b = sql.get(path), memory.get(path)
    assert a.status_code == b.status_code == 200, (path, a.status_code, a.get_data(as_text=True)[:300])
    return a, b


def database_ids(frame) -> set[str]:
    return set(frame["id"])


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize("query", QUERIES)
def test_compare_document_counts_the_database_places(apps, pair, query):
    a, b = both(apps, f"/api/compare?{pair}{query}")
    sql, memory = a.json, b.json
    ids = database_ids(apps[2])
    listed = [p for p in memory["places"] if (p["id_a"] or p["id_b"]) not in ids]
    assert sql["places"] == listed
    for key in ("summary", "cities", "tasks", "industries", "targets", "groups"):
        assert sql[key] == memory[key], key
    left_out = {s: sum((p["id_a"] or p["id_b"]) in ids and p["status"] == s for p in memory["places"])
                for s in ("continued", "dropped", "new")}
    assert sql["places_not_listed"] == left_out
    assert memory["places_not_listed"] == {"continued": 0, "dropped": 0, "new": 0}


def test_the_database_places_really_count(apps):
    """The figures above are not all zero for the imported layer: both plans name the rows with a
    plan reference, and the second plan's layer filter adds the national rows without one."""
    frame = apps[2]
    cited = frame["plan_refs"].str.strip() != ""
    added = int(((frame["level"] == "national") & ~cited).sum())
    assert added > 0 and cited.sum() > 0
    a, _ = both(apps, f"/api/compare?a={SHIPPED}&b={SECOND}")
    assert a.json["places_not_listed"] == {"continued": int(cited.sum()), "dropped": 0, "new": added}
    a, _ = both(apps, f"/api/compare?a={SECOND}&b={SHIPPED}")
    assert a.json["places_not_listed"] == {"continued": int(cited.sum()), "dropped": added, "new": 0}
    shenyang = a.json["cities"][0]
    assert shenyang["city_adcode"] == "210100"
    in_city = frame["city_adcode"] == "210100"
    assert shenyang["places_dropped"] >= int((in_city & (frame["level"] == "national") & ~cited).sum()) > 0


@pytest.mark.parametrize("table", ["cities", "tasks", "industries", "targets"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_compare_tables_are_the_same_bytes(apps, table, fmt):
    a, b = both(apps, f"/compare/{table}.{fmt}?a={SHIPPED}&b={SECOND}&lang=en")
    if fmt == "csv":
        assert a.data == b.data
    else:
        from openpyxl import load_workbook
        cells = [[c.value for c in row] for row in load_workbook(io.BytesIO(a.data)).active.iter_rows()]
        assert cells == [[c.value for c in row] for row in load_workbook(io.BytesIO(b.data)).active.iter_rows()]


def test_places_csv_leaves_out_only_the_database_rows(apps):
    a, b = both(apps, f"/compare/places.csv?a={SHIPPED}&b={SECOND}")
    ids = database_ids(apps[2])
    sql_rows = list(csv.reader(io.StringIO(a.data.decode("utf-8-sig"))))
    memory_rows = list(csv.reader(io.StringIO(b.data.decode("utf-8-sig"))))
    header = next(r for r in memory_rows if "matched_by" in r)
    id_a, id_b = [n for n, h in enumerate(header) if h.startswith("id (")]   # id (plan a), id (plan b)
    kept = [r for r in memory_rows if not r or len(r) <= id_b or (r[id_a] or r[id_b]) not in ids]
    assert sql_rows == kept


@pytest.mark.parametrize("adcode", ["210100", "210200", "211400"])
def test_city_brief_and_page_are_answered(apps, adcode):
    a, b = both(apps, f"/compare/cities/{adcode}?a={SHIPPED}&b={SECOND}")
    a, b = both(apps, f"/compare?a={SHIPPED}&b={SECOND}&lang=en")
    sql_page, memory_page = a.get_data(as_text=True), b.get_data(as_text=True)
    assert 'id="places-not-listed"' in sql_page and 'id="places-not-listed"' not in memory_page
    summary = both(apps, f"/api/compare?a={SHIPPED}&b={SECOND}")[0].json["places_not_listed"]
    assert f"{sum(summary.values())} more places of layers kept in the database" in sql_page
