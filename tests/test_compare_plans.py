"""/compare over two real plan folders (issue 21 Done-when 2): the shipped plan and a second plan
made from it by editing data only (tests/plans_fixture.make_second_plan: a subset of its tasks, no
corridor), whose places.csv also no longer names the Shenyang and Dalian high-tech zones."""
import csv
import io
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import ARTIFACTS
from tests.plans_fixture import SECOND_TASKS, SHIPPED, copy_data, make_second_plan

SECOND = "second_plan"
NO_LONGER_NAMED = ("htz_shenyang", "htz_dalian")


@pytest.fixture(scope="module")
def two_plan_app(tmp_path_factory):
    data = copy_data(tmp_path_factory.mktemp("two_plans"))
    folder = make_second_plan(data, SECOND)
    places = folder / "places.csv"
    lines = places.read_text(encoding="utf-8").splitlines(keepends=True)
    places.write_text("".join(line for line in lines if line.split(",")[0] not in NO_LONGER_NAMED),
                      encoding="utf-8")
    from geoapp.web import create_app
    store = tmp_path_factory.mktemp("store") / "s.sqlite"
    return create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATA_DIR": data,
                       "ATLAS_DATABASE_URL": f"sqlite:///{store}"})


@pytest.fixture(scope="module")
def shipped_tasks():
    from tests.plans_fixture import shipped_plan
    import yaml
    return [t["id"] for t in yaml.safe_load(shipped_plan().tasks_file.read_text(encoding="utf-8"))]


def test_api_compare_shipped_then_second(two_plan_app, registry, shipped_tasks):
    body = two_plan_app.test_client().get(f"/api/compare?a={SHIPPED}&b={SECOND}").get_json()
    assert (body["a"]["id"], body["b"]["id"]) == (SHIPPED, SECOND)
    assert [c["city_adcode"] for c in body["cities"]] == list(registry.boundaries["city"]["adcode"])
    places = {p["id_a"]: p for p in body["places"] if p["id_a"]}
    for pid in NO_LONGER_NAMED:
        assert places[pid]["status"] == "dropped"
    assert not [p for p in body["places"] if p["status"] == "new"]
    tasks = {t["id_a"]: t["status"] for t in body["tasks"]}
    assert {t for t, s in tasks.items() if s == "continued"} == set(SECOND_TASKS)
    assert {t for t, s in tasks.items() if s == "dropped"} == set(shipped_tasks) - set(SECOND_TASKS)
    shenyang = next(c for c in body["cities"] if c["city_adcode"] == "210100")
    assert shenyang["tasks_b"] < shenyang["tasks_a"] and shenyang["places_dropped"] >= 1
    assert shenyang["high_tech_zones_a"] == 1 and shenyang["high_tech_zones_b"] == 0


def test_api_compare_the_other_way_marks_new(two_plan_app):
    body = two_plan_app.test_client().get(f"/api/compare?a={SECOND}&b={SHIPPED}").get_json()
    new = {p["id_b"] for p in body["places"] if p["status"] == "new"}
    assert set(NO_LONGER_NAMED) <= new
    assert body["summary"]["tasks"]["new"] > 0 and body["summary"]["tasks"]["dropped"] == 0


def test_compare_csv_and_brief_over_two_plans(two_plan_app):
    client = two_plan_app.test_client()
    rows = list(csv.reader(io.StringIO(client.get(f"/compare/places.csv?a={SHIPPED}&b={SECOND}").data.decode("utf-8-sig"))))
    assert sum("htz_shenyang" in row for row in rows) == 1
    brief = client.get(f"/compare/cities/210100?a={SHIPPED}&b={SECOND}").get_data(as_text=True)
    assert "沈阳高新技术产业开发区" in brief and "取消" in brief
    assert client.get(f"/api/compare?a={SHIPPED}&b=nowhere").get_json()["allowed"] == [SHIPPED, SECOND]


@pytest.mark.browser
@pytest.mark.parametrize("size", {"phone": (390, 844), "desktop": (1440, 900)})
def test_compare_two_plans_in_a_browser(two_plan_app, browser, size):
    width, height = {"phone": (390, 844), "desktop": (1440, 900)}[size]
    server = make_server("127.0.0.1", 0, two_plan_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/compare?a={SHIPPED}&b={SECOND}", wait_until="networkidle")
        assert errors == []
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        assert page.locator("table.cmp-places tr.dropped").count() >= 2
        page.locator("#cmp-map").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"compare_two_plans_{size}.png"))
    finally:
        context.close()
        server.shutdown()
