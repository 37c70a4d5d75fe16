"""Two plans side by side (issue 21): matching places, tasks, industries and targets, and the
per-city counts, on a second plan made from the shipped one by editing its data."""
from dataclasses import replace

import pytest

from geoapp.analysis.compare import compare, make_side, plan_place_ids, short_name
from geoapp.filters import Filter


def _side(registry, plan_id, tasks, every, flt=Filter()):
    # the shipped plan's groups of kinds and industries (its manifest), labelled by their ids
    groups = {g: ((g, g), group.kinds) for g, group in registry.plan.groups.items()}
    return make_side(plan_id, (plan_id, plan_id), tasks, every, registry.boundaries, flt, groups,
                     dict(registry.plan.industries))


@pytest.fixture(scope="module")
def plans(registry):
    """Plan a = the shipped plan; plan b = the same with the CAS Dandong centre task dropped (and
    the centre no longer referenced), and the Benxi biomedicine cluster renamed to a plan-only id
    (same name: matched by short name)."""
    every_a = registry.counted_places()
    tasks_a = registry.tasks
    every_b = every_a.copy()
    every_b.loc[every_b["id"] == "platform_cas_dandong", "plan_refs"] = ""
    every_b.loc[every_b["id"] == "cluster_biomed_benxi", "id"] = "plan_b_benxi_biomed"
    tasks_b = tuple(
        replace(t, places=tuple("plan_b_benxi_biomed" if p == "cluster_biomed_benxi" else p for p in t.places))
        for t in tasks_a if t.id != "cas_dandong_centre")
    return every_a, tasks_a, every_b, tasks_b


def test_short_names_match_long_and_short_forms():
    assert short_name("辽宁省 沈阳高新技术产业开发区") == short_name("沈阳高新区") == "沈阳高新区"
    assert short_name("本溪（生物医药）") == "本溪生物医药"


def test_a_plans_places_are_what_it_references_or_its_tasks_name(registry, plans):
    every_a, tasks_a, every_b, tasks_b = plans
    ids_a, ids_b = plan_place_ids(every_a, tasks_a), plan_place_ids(every_b, tasks_b)
    assert "platform_cas_dandong" in ids_a and "platform_cas_dandong" not in ids_b
    assert "plan_b_benxi_biomed" in ids_b and "cluster_biomed_benxi" in ids_a


def test_compare_marks_dropped_new_and_continued(registry, plans):
    every_a, tasks_a, every_b, tasks_b = plans
    c = compare(_side(registry, "a", tasks_a, every_a), _side(registry, "b", tasks_b, every_b),
                registry.boundaries["city"])
    places = c.places.set_index("id_a")
    assert places.loc["platform_cas_dandong", "status"] == "dropped"
    renamed = places.loc["cluster_biomed_benxi"]
    assert (renamed["status"], renamed["matched_by"], renamed["id_b"]) == ("continued", "name", "plan_b_benxi_biomed")
    assert (c.places["status"] == "new").sum() == 0
    assert c.summary()["places"]["dropped"] == 1
    tasks = c.tasks.set_index("id_a")
    assert tasks.loc["cas_dandong_centre", "status"] == "dropped"
    assert set(c.tasks["status"]) == {"continued", "dropped"}
    dropped_targets = c.targets[c.targets["status"] == "dropped"]
    assert dropped_targets["metric_zh"].tolist() == ["入驻中科院丹东育成中心的高技术项目"]
    # one row per city, by adcode; Dandong loses one task, one platform and one target
    assert list(c.cities["city_adcode"]) == list(registry.boundaries["city"]["adcode"])
    dandong = c.cities.set_index("city_adcode").loc["210600"]
    assert dandong["tasks_change"] == -1 and dandong["platforms_change"] == -1
    assert dandong["targets_change"] == -1 and dandong["places_dropped"] == 1
    others = c.cities[c.cities["city_adcode"] != "210600"]
    assert (others["tasks_change"] == 0).all() and (others["places_dropped"] == 0).all()
    changes = c.city_changes("210600")
    assert changes["tasks"]["dropped"]["id_a"].tolist() == ["cas_dandong_centre"]


def test_the_same_plan_twice_changes_nothing(registry, plans):
    every_a, tasks_a, _, _ = plans
    c = compare(_side(registry, "a", tasks_a, every_a), _side(registry, "a", tasks_a, every_a),
                registry.boundaries["city"])
    assert set(c.places["status"]) == set(c.tasks["status"]) == {"continued"}
    assert (c.cities[["tasks_change", "places_change", "targets_change"]] == 0).all().all()


def test_the_filter_applies_to_both_plans(registry, plans):
    every_a, tasks_a, every_b, tasks_b = plans
    dalian = Filter(city=frozenset({"210200"}))
    c = compare(_side(registry, "a", tasks_a, every_a, dalian), _side(registry, "b", tasks_b, every_b, dalian),
                registry.boundaries["city"])
    # Dalian's places, and areas without a city that cross it (the belt corridor)
    assert set(c.places["city_adcode"]) == {"210200", ""}
    assert set(c.places.loc[c.places["city_adcode"] == "", "id_a"]) == {"belt_shenyang_dalian"}
    assert "platform_cas_dandong" not in set(c.places["id_a"])   # a Dandong place


# --- the web (the shipped data has one plan: it is compared with itself; two plan folders:
# tests/test_compare_plans.py) ------------------------------------------------------------------

def test_api_compare_answers_with_every_city(client, registry):
    body = client.get("/api/compare").get_json()
    assert [c["city_adcode"] for c in body["cities"]] == list(registry.boundaries["city"]["adcode"])
    assert body["a"]["id"] and body["summary"]["places"]["continued"] == len(body["places"])
    assert {"tasks_a", "tasks_b", "tasks_change", "high_tech_zones_a", "high_tech_zones_b",
            "targets_a", "targets_b"} <= set(body["cities"][0])


@pytest.mark.parametrize("url", ["/api/compare?a=nowhere", "/api/compare?b=nowhere"])
def test_unknown_plan_is_a_400_naming_the_plans(client, url):
    response = client.get(url)
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] in ("a", "b") and body["value"] == "nowhere" and body["allowed"]


def test_compare_page_brief_and_downloads(client):
    assert client.get("/compare").status_code == 200
    page = client.get("/compare?lang=en").get_data(as_text=True)
    assert "Two plans side by side" in page and 'id="cmp-map"' in page and page.count('id="city-21') == 14
    brief = client.get("/compare/cities/210600")
    assert brief.status_code == 200 and "丹东市" in brief.get_data(as_text=True)
    assert client.get("/compare/cities/999999").status_code == 404
    csv = client.get("/compare/cities.csv")
    assert csv.status_code == 200 and csv.data.startswith(b"\xef\xbb\xbf")
    assert len(csv.data.decode("utf-8-sig").strip().splitlines()) == 15   # header + 14 cities
    assert client.get("/compare/places.xlsx").status_code == 200


def test_api_compare_over_two_plans(client, registry, monkeypatch):
    """Two plans through the web, the second one the shipped plan's data edited in memory (the CAS
    Dandong task dropped, the centre no longer referenced); tests/test_compare_plans.py does the
    same with a second plan FOLDER (tests/plans_fixture.make_second_plan)."""
    from geoapp.web import compare as web_compare
    every = registry.counted_places().copy()
    every.loc[every["id"] == "platform_cas_dandong", "plan_refs"] = ""
    second = replace(registry, tasks=tuple(t for t in registry.tasks if t.id != "cas_dandong_centre"),
                     _counted=every)
    views = {"first": registry, "second": second}
    monkeypatch.setattr(web_compare, "plan_ids", lambda: list(views))
    monkeypatch.setattr(web_compare, "plan_view", lambda pid: views[pid])
    body = client.get("/api/compare?a=first&b=second").get_json()
    assert len(body["cities"]) == 14
    assert [p["id_a"] for p in body["places"] if p["status"] == "dropped"] == ["platform_cas_dandong"]
    assert [t["id_a"] for t in body["tasks"] if t["status"] == "dropped"] == ["cas_dandong_centre"]
    back = client.get("/api/compare?a=second&b=first").get_json()
    assert [p["id_b"] for p in back["places"] if p["status"] == "new"] == ["platform_cas_dandong"]
    assert [t["id_b"] for t in back["tasks"] if t["status"] == "new"] == ["cas_dandong_centre"]
    dandong = next(c for c in back["cities"] if c["city_adcode"] == "210600")
    assert (dandong["tasks_change"], dandong["places_new"]) == (1, 1)
    page = client.get("/compare?a=first&b=second").get_data(as_text=True)
    assert page.count('class="dropped"') == 1
    assert client.get("/api/compare?a=first&b=third").get_json()["allowed"] == ["first", "second"]
