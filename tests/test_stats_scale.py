"""/stats and the map's choropleth with a few thousand synthetic places (benchmarks/synthetic.py, in
a temporary data dir), checked against an independent geopandas computation from the files: a
spatial join of the synthetic points with the city polygons, the points against the stored belt
corridor, plain pandas counts. The numbers /stats shows for the synthetic rows are the difference
between the big data dir and today's data (the session `client`), so today's places need no
second computation here.

The temporary data dir also carries one synthetic plan task (clearly named so, never under data/)
whose places are synthetic rows, so coverage and targets are checked at scale too. Not timed:
speed is measured by `make bench-stats` and benchmarks/bench_scale.py.
"""
import io
import re

import geopandas as gpd
import pandas as pd
import pytest
import yaml

from benchmarks.synthetic import LAYER_ID, make_dataset, synthetic_rows
from geoapp.geo import EQUAL_AREA
from geoapp.web.charts import BELT_POINTS_MAX
from tests.test_map import page_config
from tests.plans_fixture import plan_dir

N = 3000
TASK = "synthetic_test_task"
NAMED = ["synthetic_000001", "synthetic_000002", "synthetic_000003"]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from geoapp.web import create_app
    data_dir, layers_dir = make_dataset(tmp_path_factory.mktemp("stats-scale"), N)
    tasks_file = plan_dir(data_dir) / "tasks.yaml"
    tasks = yaml.safe_load(tasks_file.read_text(encoding="utf-8"))
    anchor = tasks[0]  # a section and a quote that exist in the plan text
    tasks.append({
        "id": TASK, "title_zh": "合成测试任务（不是规划内容）", "title_en": "Synthetic test task (not in the plan)",
        "section": anchor["section"], "quote": anchor["quote"],
        "places": NAMED, "layers": [{"layer": LAYER_ID, "level": "national"}],
        "targets": [{"metric_zh": "合成测试计数", "metric_en": "Synthetic test count", "value": None,
                     "unit_zh": "个", "year": None, "stated_as": "target", "quote": anchor["quote"],
                     "counts": {"layer": LAYER_ID, "level": "national"}}],
    })
    tasks_file.write_text(yaml.safe_dump(tasks, allow_unicode=True, sort_keys=False), encoding="utf-8")
    store = tmp_path_factory.mktemp("stats-scale-store") / "atlas-store.sqlite"  # empty, own
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATA_DIR": str(data_dir),
                      "ATLAS_LAYERS_DIR": str(layers_dir), "ATLAS_DATABASE_URL": f"sqlite:///{store}"})
    return app, expected_rows(data_dir)


def expected_rows(data_dir) -> gpd.GeoDataFrame:
    """The synthetic rows as written, each with the city its point falls in (spatial join) and
    whether the point lies in the stored belt corridor (equal-area projection)."""
    rows = synthetic_rows(N)
    points = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(rows["lon"], rows["lat"]), crs=4326)
    cities = gpd.read_file(data_dir / "boundaries" / "liaoning_city.geojson")[["adcode", "geometry"]]
    cities["adcode"] = cities["adcode"].astype(str)
    joined = gpd.sjoin(points, cities, how="left", predicate="within")
    assert joined.index.is_unique  # the cities do not overlap
    points["city_by_join"] = joined["adcode"]
    corridor = gpd.read_file(plan_dir(data_dir) / "shenyang_dalian_belt.geojson").to_crs(EQUAL_AREA)
    points["in_belt"] = points.to_crs(EQUAL_AREA).intersects(corridor.geometry.iloc[0]).to_numpy()
    return points


def has(industry: str):
    return lambda cell: industry in cell.split(";")


def distribution(client, query: str = "") -> pd.DataFrame:
    rows = client.get(f"/api/distribution{query}").get_json()["cities"]
    return pd.DataFrame(rows).set_index("city_adcode")


def test_synthetic_points_lie_in_the_city_they_declare(big):
    _, rows = big
    assert (rows["city_by_join"] == rows["city_adcode"]).all()


@pytest.mark.parametrize("query, keep", [
    ("", lambda r: r.index == r.index),
    ("?industry=biomedicine", lambda r: r["industries"].map(has("biomedicine"))),
    ("?level=national", lambda r: r["level"] == "national"),
    ("?industry=marine,chemicals&city=210200", lambda r: (r["industries"].map(has("marine"))
                                                          | r["industries"].map(has("chemicals")))
                                                         & (r["city_adcode"] == "210200")),
])
def test_distribution_adds_exactly_the_synthetic_rows_per_city(big, client, query, keep):
    app, rows = big
    chosen = rows[keep(rows)]
    per_city = chosen.groupby("city_by_join").size()
    got, today = distribution(app.test_client(), query), distribution(client, query)
    added = (got[["platforms", "places"]] - today[["platforms", "places"]])
    assert added["platforms"].to_dict() == per_city.reindex(got.index, fill_value=0).to_dict()
    assert added["places"].to_dict() == per_city.reindex(got.index, fill_value=0).to_dict()
    for code in ("biomedicine", "marine", "electronics"):
        column = f"industry_{code}"
        want = chosen[chosen["industries"].map(has(code))].groupby("city_by_join").size()
        assert (got[column] - today[column]).to_dict() == want.reindex(got.index, fill_value=0).to_dict()
    for column in ("htz_national", "htz_total", "laboratories", "clusters_bases", "designations"):
        assert got[column].to_dict() == today[column].to_dict(), column


def test_choropleth_is_the_distribution_whether_or_not_the_report_was_built(big):
    from geoapp.web import create_app
    app, _ = big
    fresh = create_app({"TESTING": True, "ATLAS_TILES": "none", **{k: app.config[k] for k in
                        ("ATLAS_DATA_DIR", "ATLAS_LAYERS_DIR", "ATLAS_DATABASE_URL")}})
    for client, first in ((fresh.test_client(), "map"), (app.test_client(), "stats")):
        for metric in ("places", "platforms", "tasks"):
            query = f"?industry=biomedicine&metric={metric}"
            if first == "stats":
                table = distribution(client, "?industry=biomedicine")
            page = client.get("/" + query).get_data(as_text=True)
            url = next(layer["url"] for layer in page_config(page)["layers"] if layer["id"] == "cities")
            values = {f["properties"]["id"]: f["properties"]["value"] for f in client.get(url).get_json()["features"]}
            if first == "map":
                table = distribution(client, "?industry=biomedicine")
            assert values == {code: int(v) for code, v in table[metric].items()}, (first, metric)


def coverage_row(client, query=""):
    body = client.get(f"/api/coverage{query}").get_json()
    task = next((t for t in body["tasks"] if t["id"] == TASK), None)
    target = next((t for t in body["targets"] if t["task_id"] == TASK), None)
    return task, target


@pytest.mark.parametrize("query, keep", [
    ("", lambda r: r.index == r.index),
    ("?city=210200", lambda r: r["city_adcode"] == "210200"),
    ("?industry=biomedicine", lambda r: r["industries"].map(has("biomedicine"))),
])
def test_coverage_of_a_task_over_synthetic_rows(big, query, keep):
    app, rows = big
    members = rows[(rows["level"] == "national") | rows["id"].isin(NAMED)]
    shown = members[keep(members)]
    task, target = coverage_row(app.test_client(), query)
    assert task is not None or shown.empty
    want = shown.groupby("city_by_join").size()
    assert {c: n for c, n in task["cells"].items() if n} == want.to_dict()
    assert task["places_mapped"] == len(members)
    assert task["places_in_view"] == len(shown)
    assert task["places_named"] == len(NAMED) + int((~members["id"].isin(NAMED)).sum())
    assert task["status"] == "located" and task["precision"] == "source_coordinate"
    assert task["cities"] == ";".join(c for c in task["cells"] if task["cells"][c])
    national = rows[(rows["level"] == "national") & keep(rows)]
    assert target["mapped"] == len(national)


def test_belt_relations_of_the_synthetic_points(big):
    app, rows = big
    body = app.test_client().get("/stats/belt_places.csv").data.decode("utf-8-sig")
    table = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    synthetic = table[table["编号"].str.startswith("synthetic_")].set_index("编号")
    assert len(synthetic) == N  # every row, whatever the page draws
    want = rows.set_index("id")["in_belt"].map({True: "inside", False: "outside"})
    assert synthetic["关系代码"].to_dict() == want.to_dict()
    assert (synthetic["地图点在带内"] == "是").to_dict() == rows.set_index("id")["in_belt"].to_dict()


def belt_svg(html: str) -> str:
    return html[html.index('id="belt-map"'):].split("</svg>")[0]


def test_belt_map_counts_every_point_in_grid_cells(big, client):
    app, rows = big
    assert N > BELT_POINTS_MAX
    html = app.test_client().get("/stats").get_data(as_text=True)
    svg = belt_svg(html)
    assert "<circle" not in svg and "synthetic_" not in html  # no mark and no id per place
    titles = re.findall(r'<rect class="cell"[^>]*><title>(\d+) 处: ([^<]*)</title>', svg)
    total = sum(int(n) for n, _ in titles)
    inside = sum(int(m) for _, text in titles for m in re.findall(r"完全在带内 (\d+)", text))
    # today's page draws a circle per point place, red when wholly inside
    today = belt_svg(client.get("/stats").get_data(as_text=True))
    assert total == today.count("<circle") + N
    assert inside == today.count('<circle') - today.count('fill="#555555"') - today.count('fill="#d6a100"') \
        + int(rows["in_belt"].sum())


def test_grid_cells_by_hand():
    import numpy as np

    from geoapp.web.charts import grid_cells
    sx = np.array([1.0, 2.0, 3.0, 9.0, -1.0])
    sy = np.array([1.0, 7.5, 2.0, 1.0, 1.0])
    relation = np.array(["inside", "outside", "inside", "partly", "outside"], dtype=object)
    cells = {(c["x"], c["y"]): c for c in grid_cells(sx, sy, relation, 8)}
    assert set(cells) == {(0, 0), (8, 0), (-8, 0)}  # a point left of the box keeps its own cell
    assert cells[(0, 0)]["n"] == 3 and cells[(0, 0)]["counts"] == [("inside", 2), ("outside", 1)]
    assert cells[(0, 0)]["colour"] == "#b2182b"  # most of its places are wholly inside
    assert cells[(8, 0)]["counts"] == [("partly", 1)] and cells[(8, 0)]["colour"] == "#d6a100"
    assert cells[(0, 0)]["opacity"] > cells[(8, 0)]["opacity"]


def old_coverage_body(app, query: str) -> bytes:
    """/api/coverage as it was built before the belt places were turned into JSON from their
    columns: every table through to_json → json.loads, then the app's json.dumps."""
    import json

    from geoapp.analysis.coverage import STATUSES
    from geoapp.web import stats
    from geoapp.web.context import current_filter

    def records(frame):
        return json.loads(frame.to_json(orient="records", force_ascii=False))

    with app.test_request_context(f"/api/coverage{query}"):
        flt, width = current_filter(), stats.half_width()
        data = stats.report(flt, width)
        tasks = data.coverage.tasks.copy()
        tasks["cells"] = [data.coverage.counts.loc[i].to_dict() for i in tasks["id"]]
        tasks["cities_named"] = [data.coverage.named.columns[data.coverage.named.loc[i]].tolist()
                                 for i in tasks["id"]]
        belt = data.belt
        document = {
            "filter": flt.query_items(),
            "statuses": {k: {"zh": v[0], "en": v[1]} for k, v in STATUSES.items()},
            "figures": data.figures, "tasks": records(tasks), "targets": records(data.targets),
            "belt": {**belt.summary(), "cities": records(belt.cities.reset_index()),
                     "groups": records(belt.groups.reset_index()), "places": records(belt.places)},
        }
        return (app.json.dumps(document) + "\n").encode("utf-8")


COVERAGE_QUERIES = ["", "?city=210200", "?industry=biomedicine", "?half_width_km=12.5", "?lang=en"]


@pytest.mark.parametrize("query", COVERAGE_QUERIES)
def test_coverage_json_is_the_old_document_on_synthetic_rows(big, query):
    app, _ = big
    response = app.test_client().get(f"/api/coverage{query}")
    assert response.status_code == 200
    assert len(response.get_json()["belt"]["places"]) >= (N if query in ("", "?lang=en", "?half_width_km=12.5") else 1)
    assert response.data == old_coverage_body(app, query)


@pytest.mark.parametrize("query", COVERAGE_QUERIES + ["?city=阜新"])
def test_coverage_json_is_the_old_document_on_todays_data(app, client, query):
    response = client.get(f"/api/coverage{query}")
    assert response.status_code == 200
    assert response.data == old_coverage_body(app, query)


def test_rows_are_the_records_of_to_json():
    """Missing text (None, NaN, pd.NA in object and str columns), non-ASCII and escapes, bools,
    ints; a float column takes the to_json way (pandas writes floats at 10 digits)."""
    import json

    from geoapp.web.stats import _rows
    frame = pd.DataFrame({
        "id": ["a", "b/c", "d\"e\n", "沈阳"], "name": pd.array(["x", None, "é", "z"], dtype="str"),
        "obj": pd.Series(["p", None, float("nan"), pd.NA], dtype=object),
        "flag": [True, False, True, False], "n": [1, -2, 3, 2**40],
    })
    want = json.loads(frame.to_json(orient="records", force_ascii=False))
    assert _rows(frame) == want
    assert json.dumps(_rows(frame)) == json.dumps(want)
    floats = frame.assign(share=[0.1, 1 / 3, float("nan"), 2.0])
    assert _rows(floats) == json.loads(floats.to_json(orient="records", force_ascii=False))
