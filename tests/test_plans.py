"""Plans as data (issue 18): the plan folder format, its checks, and a second plan made by copying
the shipped folder and editing data only (tests/plans_fixture.py), loaded, checked and analysed
beside the first — without a corridor, and without the Shenyang and Dalian zones at all."""
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from geoapp import LAYERS_DIR, PROJECT_ROOT
from geoapp.analysis.distribution import city_columns
from geoapp.analysis.report import build_report
from geoapp.data import DataValidationError, load_registry
from geoapp.filters import Filter
from tests.plans_fixture import SECOND_TASKS, SHIPPED, copy_data, make_second_plan, plan_dir


def problems_of(data_dir, layers_dir=LAYERS_DIR) -> list[str]:
    with pytest.raises(DataValidationError) as info:
        load_registry(data_dir, layers_dir)
    return [str(p) for p in info.value.problems]


def edit_manifest(data_dir, change, plan_id=SHIPPED) -> None:
    path = plan_dir(data_dir, plan_id) / "plan.yaml"
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture
def two_plans(tmp_path):
    data = copy_data(tmp_path)
    make_second_plan(data)
    return data


# --- the shipped plan ---------------------------------------------------------------------------

def test_shipped_plan_is_the_default_view(registry):
    plan = registry.plan
    assert plan.id == SHIPPED and plan.default and list(registry.plans) == [SHIPPED]
    assert plan.period == (2016, 2020)
    assert plan.text.name.endswith(".txt") and plan.text.parent == plan_dir(PROJECT_ROOT / "data")
    assert plan.corridor.axis == ("htz_shenyang", "htz_dalian") and plan.corridor.half_width_km == 30
    assert len(plan.industries) == 10 and plan.industries["biomedicine"] == ("生物医药", "Biomedicine")
    assert registry.for_plan(SHIPPED) is registry
    with pytest.raises(KeyError):
        registry.for_plan("no_such_plan")


def test_shared_place_files_carry_no_plan_columns():
    """What a plan says about a place (its sections and names there) is in the plan's folder."""
    for folder in ("parks", "platforms", "zones"):
        for path in sorted((PROJECT_ROOT / "data" / folder).glob("*.csv")):
            header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
            assert not {"plan_refs", "plan_names", "plan_role"} & set(header), path


def test_the_view_carries_the_plans_citations(registry):
    places = pd.read_csv(plan_dir(PROJECT_ROOT / "data") / "places.csv", dtype=str, keep_default_na=False)
    cited = dict(zip(places["id"], places["plan_refs"]))
    every = registry.places().set_index("id")
    assert every.loc["htz_benxi", "plan_refs"] == cited["htz_benxi"] == "三（二）2"
    assert every.loc["coastal_yingkou", "plan_role"] == "electronics"
    assert every.loc["demo_core_jinpu", "plan_names"] == "金普新区创新集聚区"


# --- a second plan, made by copying the folder and editing data only ----------------------------

def test_check_passes_with_a_second_plan(two_plans):
    result = subprocess.run([sys.executable, "-m", "geoapp.data", "check", "--data-dir", str(two_plans)],
                            capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    assert "2 plan(s) in data/plans/" in result.stdout
    assert f"{SHIPPED} (default)" in result.stdout
    assert "second_plan: Second plan (a test copy), 2016–2020; 5 tasks" in result.stdout
    assert "no corridor" in result.stdout


def test_second_plan_view_has_its_tasks_and_no_corridor(two_plans):
    shipped = load_registry(two_plans)
    assert shipped.plan.id == SHIPPED and list(shipped.plans) == [SHIPPED, "second_plan"]
    second = shipped.for_plan("second_plan")
    assert second.plan.corridor is None and not second.plan.default
    assert [t.id for t in second.tasks] == [t for t in
                                            [t.id for t in shipped.tasks] if t in SECOND_TASKS]
    # its own layers: the plan areas it copied, no corridor; the corridor's spec is not shown
    assert "shenyang_dalian_belt" not in second.layers and "shenyang_dalian_belt" in shipped.layers
    assert "shenyang_dalian_belt" not in [s.id for s in second.specs]
    assert "plan_areas" in [s.id for s in second.specs]
    # the shared places are the same frames' rows; the tasks name none of the two zones
    assert set(second.places()["id"]) == set(shipped.places()["id"]) - {"belt_shenyang_dalian"}
    named = {pid for task in second.tasks for pid in task.places}
    assert not named & {"htz_shenyang", "htz_dalian", "belt_shenyang_dalian"}
    assert second.for_plan(SHIPPED).plan.id == SHIPPED


def test_analysis_of_the_second_plan_without_a_corridor(two_plans):
    second = load_registry(two_plans).for_plan("second_plan")
    report = build_report(second, Filter(), half_width_km=12.5)  # a width without a belt: ignored
    assert report.belt is None and report.plan.id == "second_plan"
    assert report.coverage.tasks["id"].tolist() == [t.id for t in second.tasks]
    cities = report.cities
    assert list(cities.columns[2:-1]) == city_columns(second.plan)
    assert cities["htz_total"].sum() == 15 and cities["htz_national"].sum() == 8
    # tasks per city: only the second plan's tasks are counted
    touching = report.coverage.touches.sum(axis=0)
    assert cities["tasks"].to_dict() == touching.reindex(cities.index, fill_value=0).to_dict()
    biomed = build_report(second, Filter(industry=frozenset({"biomedicine"})))
    assert biomed.cities["places"].sum() < cities["places"].sum()


def test_a_plan_without_the_shenyang_and_dalian_zones_serves_every_page(tmp_path):
    """The corridor is optional: with neither zone in the data (and a plan without a corridor
    as the only one), /stats, the APIs and the city panel answer; nothing raises KeyError."""
    data = copy_data(tmp_path)
    make_second_plan(data, default=True)
    import shutil
    shutil.rmtree(plan_dir(data))
    htz = data / "parks" / "high_tech_zones.csv"
    table = pd.read_csv(htz, dtype=str, keep_default_na=False)
    table[~table["id"].isin(["htz_shenyang", "htz_dalian"])].to_csv(htz, index=False, lineterminator="\n")
    (data / "zones" / "demo_zone_core.csv").unlink()  # its members are the two zones
    places = plan_dir(data, "second_plan") / "places.csv"
    cited = pd.read_csv(places, dtype=str, keep_default_na=False)
    cited[~cited["id"].isin(["htz_shenyang", "htz_dalian"]) & ~cited["id"].str.startswith("demo_core_")
          ].to_csv(places, index=False, lineterminator="\n")
    edit_manifest(data, lambda m: m.update(layers=["province", "cities", "districts", "plan_areas",
                                                   "high_tech_zones", "clusters_bases", "coastal_parks",
                                                   "platforms_labs"]), "second_plan")
    from geoapp.web import create_app
    app = create_app({"ATLAS_DATA_DIR": str(data), "ATLAS_TILES": "none", "TESTING": True})
    client = app.test_client()
    for url in ("/", "/stats", "/stats?lang=en", "/api/distribution", "/api/coverage", "/map/cities/210100.json",
                "/map/cities/210200.json?lang=en", "/about", "/ogc/collections", "/stats/distribution.csv",
                "/export/high_tech_zones.geojson", "/map/search?q=%E9%9E%8D%E5%B1%B1"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])
    coverage = client.get("/api/coverage").get_json()
    assert coverage["belt"] is None
    assert [t["id"] for t in coverage["tasks"]] == list(SECOND_TASKS[:2]) + ["it_coastal_parks", "national_labs",
                                                                          "cas_dandong_centre"]
    page = client.get("/stats").get_data(as_text=True)
    assert "第二个规划：空间任务" in page and 'id="belt"' not in page and "产业带" not in page
    english = client.get("/stats?lang=en").get_data(as_text=True)
    assert "Second plan: spatial tasks" in english and "coverage and belt" not in english
    assert "half-width" not in english and "Corridor" not in english
    assert "Second plan atlas" in client.get("/?lang=en").get_data(as_text=True)
    missing = client.get("/stats/belt_places.csv")
    assert missing.status_code == 404 and "no belt" in missing.get_data(as_text=True)


# --- the manifest's checks: one message per wrong key, naming the file and the key ----------------

@pytest.mark.parametrize("change, field, words", [
    (lambda m: m.pop("titles"), None, "'titles'"),
    (lambda m: m["titles"].pop("atlas"), "titles.atlas", "missing"),
    (lambda m: m["titles"]["short"].pop("en"), "titles.short", "a Chinese and an English text"),
    (lambda m: m.update(period={"start": 2021, "end": 2020}), "period", "start 2021 is after end 2020"),
    (lambda m: m.update(text="nowhere.txt"), "text", "'nowhere.txt' does not exist"),
    (lambda m: m.update(text="../../boundaries/seats.csv"), "text", "inside the plan folder"),
    (lambda m: m.update(id="another_id"), "id", "differs from its folder name"),
    (lambda m: m.update(colour="red"), "colour", "unknown key; allowed:"),
    (lambda m: m["corridor"].update(axis=["htz_shenyang"]), "corridor.axis", "two different place ids"),
    (lambda m: m["corridor"].update(axis=["htz_shenyang", "htz_atlantis"]), "corridor.axis",
     "'htz_atlantis' is not the id of any place"),
    (lambda m: m["corridor"].update(half_width_km=0), "corridor.half_width_km", "from 1 to 100"),
    (lambda m: m.update(kinds=["high_tech_zone", "castle"]), "kinds", "unknown code 'castle'"),
    (lambda m: m["metrics"]["htz_total"].update(levels=["galactic"]), "metrics.htz_total.levels",
     "unknown code 'galactic'"),
    (lambda m: m["metrics"]["tasks"].update(kinds=["platform"]), "metrics.tasks", "is computed"),
    (lambda m: m.update(map_metrics=["places", "castles"]), "map_metrics", "unknown code 'castles'"),
    (lambda m: m["bars"][0].update(colour="red"), "bars[1].colour", "'#rrggbb'"),
    (lambda m: m.update(layers=["province", "dragons"]), "layers", "unknown layer 'dragons'"),
    (lambda m: m["industries"].update(Bad_Code={"zh": "坏", "en": "bad"}), "industries.Bad_Code", "slug"),
])
def test_manifest_problems_name_the_file_and_the_key(data_copy, change, field, words):
    edit_manifest(data_copy, change)
    where = f"plans/{SHIPPED}/plan.yaml" + (f", field '{field}'" if field else "")
    found = [p for p in problems_of(data_copy) if where in p and words in p]
    assert found, problems_of(data_copy)


def test_exactly_one_plan_is_the_default(two_plans):
    edit_manifest(two_plans, lambda m: m.update(default=True), "second_plan")
    assert any("exactly one plan must say `default: true`; found 2" in p for p in problems_of(two_plans))
    edit_manifest(two_plans, lambda m: m.update(default=False), "second_plan")
    edit_manifest(two_plans, lambda m: m.update(default=False))
    assert any("found 0" in p for p in problems_of(two_plans))


def test_places_csv_rows_are_checked_against_the_registry_and_the_plans_text(data_copy):
    path = plan_dir(data_copy) / "places.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[0, "id"] = "htz_atlantis"
    table.loc[1, "plan_refs"] = "九（九）9"
    table.loc[2, "plan_names"] = ""          # cluster_hydraulics_fuxin: 阜新液压 is how the plan names it
    table.loc[3, "plan_role"] = "castles"
    table.to_csv(path, index=False, lineterminator="\n")
    problems = problems_of(data_copy)
    name = f"plans/{SHIPPED}/places.csv"
    assert any(f"{name}, row 1, field 'id': 'htz_atlantis' is not the id of a place" in p for p in problems)
    assert any(f"{name}, row 2, field 'plan_refs': section '九（九）9' does not exist" in p for p in problems)
    assert any(f"{name}, row 3, field 'plan_refs': section '一（一）2' does not mention this place" in p
               for p in problems), problems
    assert any(f"{name}, row 4, field 'plan_role': unknown industry code 'castles'" in p for p in problems)


def test_task_industries_are_the_plans_vocabulary(two_plans):
    """A task's industries are codes of ITS plan's vocabulary (the shipped plan has marine)."""
    edit_manifest(two_plans, lambda m: m["industries"].pop("marine"), "second_plan")
    path = plan_dir(two_plans, "second_plan") / "tasks.yaml"
    tasks = yaml.safe_load(path.read_text(encoding="utf-8"))
    tasks[0]["industries"] = ["marine"]
    path.write_text(yaml.safe_dump(tasks, allow_unicode=True, sort_keys=False), encoding="utf-8")
    problems = problems_of(two_plans)
    assert any("second_plan/tasks.yaml, field 'task htz_tier2_national': unknown industry 'marine'; allowed: "
               "equipment, electronics" in p for p in problems), problems
    assert len(problems) == 1, problems


def test_plan_only_point_places_are_checked_against_that_plan(two_plans):
    folder = plan_dir(two_plans, "second_plan")
    seats = pd.read_csv(two_plans / "boundaries" / "seats.csv", dtype=str).set_index("adcode")
    lon, lat = seats.loc["210302", ["lon", "lat"]]  # a row known to its district sits at the seat
    row = (f"plan_point_anshan,鞍山某中心（测试行）,Test row in Anshan,platform,provincial,210300,210302,"
           f"equipment,,{lon},{lat},district,三（二）2,,test row (not a place),,\n")
    header = ("id,name_zh,name_en,kind,level,city_adcode,district_adcode,industries,plan_role,lon,lat,"
              "location_precision,plan_refs,plan_names,source,note_zh,note_en\n")
    (folder / "plan_places.csv").write_text(header + row, encoding="utf-8")
    edit_manifest(two_plans, lambda m: m.update(points=["plan_places.csv"]), "second_plan")
    problems = problems_of(two_plans)
    # 三（二）2 does not name it: checked against the plan's text like any place row
    assert any("second_plan/plan_places.csv, row 1, field 'plan_refs': section '三（二）2' does not mention"
               in p for p in problems), problems
    (folder / "plan_places.csv").write_text(header + row.replace(",,test row", ",鞍山,test row"),
                                            encoding="utf-8")
    registry = load_registry(two_plans)
    second = registry.for_plan("second_plan")
    assert "plan_places" in second.layers and "plan_places" not in registry.layers
