"""Issue 18 Done-when 2: a second plan made by copying the shipped plan's folder and editing data
only (tests/plans_fixture.py: new id and titles, no corridor, tasks that do not name the Shenyang
or Dalian zones) is served beside the first under /plans/<id>/, and the unprefixed routes still
serve the default plan. In a temporary copy of data/."""
import re

import pytest

from tests.plans_fixture import SECOND_TASKS, SHIPPED, copy_data, make_second_plan

SECOND = "second_plan"
PAGES = ["/", "/stats", "/api/distribution", "/api/coverage", "/ogc/collections",
         "/export/high_tech_zones.geojson", "/map/search?q=shenyang", "/about",
         "/map/cities/210100.json", "/api/layers"]


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    from geoapp.web import create_app
    folder = tmp_path_factory.mktemp("two_plans")
    data = copy_data(folder)
    make_second_plan(data, SECOND)
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATA_DIR": data,
                      "ATLAS_DATABASE_URL": f"sqlite:///{folder / 'store.sqlite'}"})
    return app


@pytest.fixture
def web(two):
    return two.test_client()


def test_api_plans_lists_both(web):
    plans = web.get("/api/plans").get_json()["plans"]
    assert [p["id"] for p in plans] == [SHIPPED, SECOND]
    assert [p["default"] for p in plans] == [True, False]
    assert plans[1]["title"] == {"zh": "第二个规划（测试用副本）", "en": "Second plan (a test copy)"}
    assert plans[1]["url"].endswith(f"/plans/{SECOND}/") and plans[0]["url"].endswith("/")


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("plan", [SHIPPED, SECOND])
def test_every_page_answers_for_both_plans(web, plan, page):
    response = web.get(f"/plans/{plan}{page}")
    assert response.status_code == 200, (plan, page, response.data[:300])


def test_coverage_lists_exactly_each_plans_tasks(web):
    second = web.get(f"/plans/{SECOND}/api/coverage").get_json()
    assert sorted(t["id"] for t in second["tasks"]) == sorted(SECOND_TASKS)
    assert second["belt"] is None  # no corridor in the second plan
    shipped = web.get("/api/coverage").get_json()
    assert set(SECOND_TASKS) < {t["id"] for t in shipped["tasks"]}
    assert shipped["belt"] is not None
    assert web.get(f"/plans/{SHIPPED}/api/coverage").get_json()["tasks"] == shipped["tasks"]


def test_unprefixed_routes_serve_the_default_plan(web):
    for page in ("/", "/stats", "/ogc/collections?f=json", "/api/distribution"):
        plain = web.get(page)
        prefixed = web.get(f"/plans/{SHIPPED}{page}")
        assert plain.status_code == prefixed.status_code == 200
        if page.startswith("/api"):
            assert plain.get_json() == prefixed.get_json()
    stats = web.get("/stats").get_data(as_text=True)
    assert "第二个规划：空间任务" not in stats
    assert "第二个规划：空间任务" in web.get(f"/plans/{SECOND}/stats").get_data(as_text=True)


def test_ogc_collection_ids_are_unique_on_each_plans_landing(web):
    for prefix in ("", f"/plans/{SECOND}"):
        body = web.get(f"{prefix}/ogc/collections?f=json").get_json()
        ids = [c["id"] for c in body["collections"]]
        assert ids and len(ids) == len(set(ids)), prefix
        for collection in body["collections"]:
            assert all(f"{prefix}/ogc/collections/" in link["href"] or "/export/" in link["href"]
                       for link in collection["links"]), collection["id"]


@pytest.mark.parametrize("page", ["/", "/stats"])
def test_the_plan_switcher_links_the_same_page_of_each_plan(web, page):
    html = web.get(f"/plans/{SECOND}{page}?lang=en").get_data(as_text=True)
    switcher = re.search(r'<details class="plan-switch">(.*?)</details>', html, re.S).group(1)
    hrefs = re.findall(r'href="([^"]+)"', switcher)
    assert hrefs == [page + "?lang=en", f"/plans/{SECOND}{page}?lang=en"]
    assert "Second plan" in switcher and 'aria-current="page"' in switcher
    for href in hrefs:
        assert web.get(href).status_code == 200
