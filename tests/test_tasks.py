"""The default plan's tasks.yaml (data/plans/<plan>/) against the plan text (the source of truth) and the registry."""
import re

import pytest

from geoapp.analysis.coverage import task_status
from geoapp.analysis.report import build_report
from geoapp import DATA_DIR
from geoapp.data import plan_text
from geoapp.data.plans import load_plans
from geoapp.data.tasks import Task, check_tasks, load_tasks

PLAN = next(p for p in load_plans(DATA_DIR)[0].values() if p.default)
TASKS = load_tasks(PLAN.tasks_file)
SECTIONS = plan_text.sections(PLAN.text)


def test_tasks_file_is_sound(registry):
    places = registry.counted_places()
    problems = check_tasks(TASKS, set(places["id"]), set(registry.layers),
                           set(registry.boundaries["city"]["adcode"]), SECTIONS, PLAN.industries)
    assert problems == []
    assert len({t.id for t in TASKS}) == len(TASKS)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_task_quotes_a_section_that_exists(task: Task):
    assert task.section in SECTIONS
    assert plan_text.quote_in_section(task.section, task.quote, SECTIONS)
    for target in task.targets:
        assert plan_text.quote_in_section(task.section, target.quote, SECTIONS), target.metric_zh
        if target.value is not None:
            # the number as a whole token: 1 must not pass on a quote that only says 12
            number = re.escape(f"{target.value:g}")
            assert re.search(rf"(?<![0-9.]){number}(?![0-9])", target.quote.replace(" ", "")), \
                target.metric_zh
        if target.year is not None:  # the year is in the quote or heads the section
            heading = SECTIONS[task.section].heading
            assert str(target.year) in (target.quote + heading).replace(" ", ""), target.metric_zh


def test_check_tasks_reports_what_is_wrong():
    bad = (
        Task("no_section", "x", "x", "九（九）9", "任意"),
        Task("bad_quote", "x", "x", "三（二）2", "这句话不在规划里"),
        Task("bad_place", "x", "x", "三（二）2", "着力打造“沈大高新技术产业带”", places=("htz_atlantis",)),
    )
    problems = check_tasks(bad, {"htz_shenyang"}, {"high_tech_zones"}, {"210100"}, SECTIONS)
    assert any("no_section" in p and "does not exist" in p for p in problems)
    assert any("bad_quote" in p and "quote not found" in p for p in problems)
    assert any("htz_atlantis" in p for p in problems)


def test_htz_tiers_are_the_cities_the_plan_lists(registry):
    """Parse the three tiers from the text itself and compare with the tasks' places."""
    text = re.sub(r"\s+", "", SECTIONS["三（二）2"].text)
    names = {zh.removesuffix("市"): code for code, zh in
             zip(registry.boundaries["city"]["adcode"], registry.boundaries["city"]["name_zh"])}
    htz = registry.layer("high_tech_zones").set_index("id")
    tiers = {
        "htz_tier1_shenyang_dalian": re.search(r"力争到2020年，(.+?)国家高新区率先", text).group(1),
        "htz_tier2_national": re.search(r"；([^；]+?)国家高新区成为省创新体系", text).group(1),
        "htz_tier3_provincial": re.search(r"；([^；]+?)等省级高新区", text).group(1),
    }
    by_id = {t.id: t for t in TASKS}
    for task_id, listed in tiers.items():
        listed = listed.split("、")
        places = by_id[task_id].places
        assert len(places) == len(listed), task_id
        # Suizhong is a county of Huludao: match it through the zone's name
        for name, pid in zip(listed, places):
            zone = htz.loc[pid]
            assert name in zone["name_zh"] or names.get(name) == zone["city_adcode"], (name, pid)
    assert len(by_id["htz_tier1_shenyang_dalian"].places) + len(by_id["htz_tier2_national"].places) == 8
    assert len(by_id["htz_tier3_provincial"].places) == 7


def test_box1_platforms_match_the_text_and_sum_to_151_not_150():
    """专栏1 counted independently from the text: 15 common + 126 specialised + 10 service."""
    box = SECTIONS["专栏1"].text
    common = sum(int(n) for n in re.findall(r"(\d+)\s*个产业共性技术创新平台", box))
    special = sum(int(n) for n in re.findall(r"(\d+)\s*个产业专业技术创新平台", box))
    service = sum(int(n) for n in re.findall(r"(\d+)\s*个产业技术创新综合服务平台", box))
    assert (common, special, service) == (15, 126, 10)
    targets = next(t for t in TASKS if t.id == "platforms_by_industry").targets
    by_metric = {}
    for target in targets:
        by_metric[target.metric_zh] = by_metric.get(target.metric_zh, 0) + target.value
    assert by_metric == {"产业共性技术创新平台": common, "产业专业技术创新平台": special,
                         "产业技术创新综合服务平台": service}
    assert len({t.industry for t in targets}) == 9
    headline = next(t for t in TASKS if t.id == "platforms_150").targets[0]
    assert headline.value == 150 and headline.year == 2020
    assert sum(by_metric.values()) == 151  # the box sums to one more than the headline


def test_cas_dandong_centre_covers_dandong_only(registry):
    result = build_report(registry).coverage
    touched = result.touches.loc["cas_dandong_centre"]
    assert touched[touched].index.tolist() == ["210600"]
    target = next(t for t in TASKS if t.id == "cas_dandong_centre").targets[0]
    assert (target.value, target.year) == (20, 2020)


def test_supercomputing_centre_is_named_but_not_on_the_map(registry):
    places = registry.counted_places()
    task = next(t for t in TASKS if t.id == "it_data_centres")
    assert [m.name_zh for m in task.missing_places] == ["东北区域超算中心"]
    assert not places["name_zh"].str.contains("超算").any()
    assert task_status(task, places) == "partly_located"  # the Huaxin cloud centre is mapped


def test_what_the_brief_lists_is_recorded():
    ids = {t.id for t in TASKS}
    assert {"demo_zone", "htz_tier1_shenyang_dalian", "htz_tier2_national", "htz_tier3_provincial",
            "pilot_shenyang_reform", "belt_shenyang_dalian", "biomedicine_bases", "ic_equipment_park",
            "it_clusters_shenyang_dalian", "it_coastal_parks", "it_data_centres",
            "internet_backbone_shenyang", "national_labs", "robotics_institute",
            "cas_dandong_centre", "st_service_clusters", "software_clusters", "clusters_named",
            "regional_disease_interventions", "platforms_150", "platforms_by_industry",
            "makerspaces_200", "science_parks_transfer_centres"} <= ids
