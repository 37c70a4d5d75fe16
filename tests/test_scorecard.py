"""The target scorecard (issue 21): outcomes as data (data/plans/<plan>/outcomes.yaml, checked by
`make check`), the status rules, /api/scorecard, /stats/scorecard.csv and the city panel."""
import csv
import io

import pandas as pd
import pytest

from geoapp.analysis.scorecard import build_scorecard, decisive, status_of
from geoapp.data import DataValidationError, load_registry
from geoapp.data.outcomes import Outcome, outcomes_from_dict, check_outcomes, unit_key
from geoapp.data.tasks import LayerFilter, Target, Task
from geoapp import DATA_DIR, LAYERS_DIR

OUTCOMES = "plans/liaoning_st_13th/outcomes.yaml"


def replace_in(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_of(data_dir) -> list[str]:
    with pytest.raises(DataValidationError) as info:
        load_registry(data_dir, LAYERS_DIR)
    return [str(p) for p in info.value.problems]


# --- the shipped data ------------------------------------------------------------------------

def test_shipped_outcomes_are_sound_and_sourced(registry):
    outcomes = registry.outcomes
    assert check_outcomes(outcomes, registry.tasks, (2016, 2020),
                          set(registry.boundaries["city"]["adcode"]), registry.sections) == []
    sourced = [(entry.target, o) for entry in outcomes.targets for o in entry.outcomes]
    assert len({t for t, o in sourced if not o.city}) >= 3
    for target, outcome in sourced:  # no outcome without a named source and a year
        source = outcomes.sources[outcome.source]
        assert source.title and source.publisher and source.url.startswith("http"), target
        assert 2016 <= outcome.year and outcome.reference, target


# --- what `make check` rejects, naming the file --------------------------------------------------

@pytest.mark.parametrize("old, new, message", [
    ("target: rd_gdp_share", "target: rd_gdp_shares", "target 'rd_gdp_shares': no target with this id in tasks.yaml"),
    ('{year: 2020, value: 2.19, unit_zh: "%"', '{year: 2020, value: 2.19, unit_zh: 亿元',
     "target 'rd_gdp_share', outcome 2020: unit '亿元' does not agree with the target's '%'"),
    ('{year: 2020, value: 2.19, unit_zh: "%"', '{year: 2014, value: 2.19, unit_zh: "%"',
     "target 'rd_gdp_share', outcome 2014: year 2014 is before the plan's period (2016–2020)"),
    ("source: cast_literacy_2020,", "source: nowhere,",
     "target 'science_literacy', outcome 2020: source 'nowhere' is not listed under `sources`"),
    ("source: cast_literacy_2020,", "source: '',",
     "target 'science_literacy', outcome 2020: no source (every outcome names one of `sources`)"),
    ("url: http://wyketi.com/zhengce/601.html", "url: ''", "source 'ln_14th_st_plan': url is missing"),
    ("quote: 技术合同成交额达 292 亿元", "quote: 技术合同成交额达 293 亿元",
     "target 'tech_contract_turnover', baseline 2015: quote not found in section 一（一）1"),
    ("value: 292, unit_zh: 亿元", "value: 295, unit_zh: 亿元",
     "target 'tech_contract_turnover', baseline 2015: value 295 is not written in its quote"),
    ("parts: [353, 524]", "parts: [353, 113]",
     "target 'key_labs_centres_2020', baseline 2015: value 877 is not the sum of its parts [353.0, 113.0]"),
    ('city: "210200"', 'city: "219999"', "target 'tech_contract_turnover', outcome 2019: '219999' is not a city adcode"),
])
def test_check_names_what_is_wrong_in_outcomes(data_copy, old, new, message):
    replace_in(data_copy / OUTCOMES, old, new)
    problems = problems_of(data_copy)
    assert any(OUTCOMES in p and p.endswith(message) for p in problems), problems


def test_malformed_outcomes_file_is_a_problem_not_a_traceback(data_copy):
    (data_copy / OUTCOMES).write_text("targets: [unclosed\n", encoding="utf-8")
    problems = problems_of(data_copy)
    assert any(OUTCOMES in p and "cannot be read as outcomes at line 2" in p for p in problems), problems


def test_a_plan_without_outcomes_file_has_an_empty_scorecard_of_its_targets(data_copy):
    (data_copy / OUTCOMES).unlink()
    registry = load_registry(data_copy, LAYERS_DIR)
    card = build_scorecard(registry.tasks, registry.outcomes, registry.counted_places(), (2016, 2020))
    assert len(card.rows) > 15
    assert set(card.rows.loc[card.rows["map_count"].isna(), "status"]) == {"no_data"}


def test_target_ids_must_be_unique(data_copy):
    replace_in(data_copy / "plans/liaoning_st_13th/tasks.yaml", "id: rd_personnel_fte,", "id: rd_gdp_share,")
    problems = problems_of(data_copy)
    assert any("target id 'rd_gdp_share' used twice" in p for p in problems), problems


def test_also_quote_is_checked_against_its_section(data_copy):
    replace_in(data_copy / "plans/liaoning_st_13th/tasks.yaml", "quote: 省级以上重点实验室、工程中心数量超过 1000 个",
               "quote: 省级以上重点实验室、工程中心数量超过 2000 个")
    problems = problems_of(data_copy)
    assert any("also-quote not found in section 二（三）2" in p for p in problems), problems


# --- the rules, on hand-made cases -------------------------------------------------------------

def test_units_agree_without_their_qualifiers():
    assert unit_key("家以上") == unit_key("个") == unit_key("家") == "个"
    assert unit_key("%以上") == unit_key("%") and unit_key("余万人") == "万人"
    assert unit_key("亿元") != unit_key("%")


def _o(year, value, city=""):
    return Outcome(year=year, value=value, unit_zh="个", source="s", reference="r", city=city)


def test_the_deadline_figure_decides_else_the_latest_never_a_city():
    assert decisive([_o(2021, 9), _o(2020, 5), _o(2018, 3)], 2020).value == 5
    assert decisive([_o(2018, 3), _o(2019, 4)], 2020).value == 4
    assert decisive([_o(2020, 99, city="210200")], 2020) is None


@pytest.mark.parametrize("value, target, year, deadline, basis, expected", [
    (None, 1, None, 2020, "", "no_data"),
    (645.1, 600, 2020, 2020, "source", "met"),
    (2.19, 2.5, 2020, 2020, "source", "not_met"),
    (2.19, 2.5, 2021, 2020, "source", "not_met"),
    (173, 200, 2018, 2020, "source", "partly"),   # an interim figure below the target
    (10, 10, 2018, 2020, "source", "met"),
    (3, 13, None, None, "map", "partly"),        # the map holds some of them
    (8, 8, None, None, "map", "met"),
])
def test_status_rules(value, target, year, deadline, basis, expected):
    assert status_of(value, target, year, deadline, basis) == expected


def test_scorecard_of_a_small_plan():
    counts = LayerFilter(layer="high_tech_zones", level="national")
    tasks = (
        Task("a", "甲", "A", "二（三）2", "q", targets=(
            Target("指标一", "M1", 10.0, "个", 2020, "target", "q", id="m1"),
            Target("指标二", "M2", 5.0, "%", 2020, "target", "q", id="m2"),
            Target("无数", "none", None, "", 2020, "target", "q", id="m3"))),
        Task("b", "乙", "B", "一（一）2", "q", targets=(
            Target("区", "Zones", 2.0, "个", None, "achieved", "q", counts=counts),)),
    )
    outcomes = outcomes_from_dict({
        "sources": {"s": {"title": "T", "publisher": "P", "url": "https://example.org/t"}},
        "targets": [
            {"target": "m1", "outcomes": [{"year": 2019, "value": 7, "unit_zh": "家", "source": "s", "reference": "r"},
                                          {"year": 2020, "value": 12, "unit_zh": "个", "source": "s", "reference": "r"},
                                          {"year": 2020, "value": 3, "unit_zh": "个", "source": "s", "reference": "r",
                                           "city": "210200"}]},
            {"target": "m2", "outcomes": [{"year": 2020, "value": 4.5, "unit_zh": "%", "source": "s", "reference": "r"}]},
        ]})
    places = pd.DataFrame({"id": ["z1", "z2", "z3"], "layer": ["high_tech_zones"] * 3,
                           "level": ["national", "national", "provincial"], "kind": ["htz"] * 3,
                           "city_adcode": ["210100", "210200", "210300"]})
    card = build_scorecard(tasks, outcomes, places, (2016, 2020))
    rows = card.rows.set_index("target_id")
    assert list(rows.index) == ["m1", "m2", "b#1"]          # no number, no row; headline section first
    assert (rows.loc["m1", "status"], rows.loc["m1", "outcome_value"], rows.loc["m1", "gap"]) == ("met", 12, 2)
    assert (rows.loc["m2", "status"], rows.loc["m2", "gap"]) == ("not_met", -0.5)
    assert (rows.loc["b#1", "outcome_basis"], rows.loc["b#1", "map_count"], rows.loc["b#1", "status"]) == ("map", 2, "met")
    assert rows.loc["b#1", "map_counts"] == "210100:1;210200:1"
    dalian = card.outcomes[(card.outcomes["city"] == "210200") & (card.outcomes["basis"] == "source")]
    assert dalian["value"].tolist() == [3]
    assert list(card.for_city("210200", set())["target_id"]) == ["m1", "b#1"]


# --- the web -----------------------------------------------------------------------------------

# The numbers of 二（三）2 具体目标, read off the plan text by hand: each must be a scorecard row
# quoted from (or also quoted from) that section.
GOALS_2020 = [2.5, 12.5, 150, 130, 20, 150, 98, 20, 10, 150, 100, 100, 2000, 1, 1000, 600]


def test_api_scorecard_lists_every_goal_of_the_plan(client):
    body = client.get("/api/scorecard").get_json()
    targets = body["targets"]
    headline = [t["target"]["value"] for t in targets
                if t["section"] == "二（三）2" or "二（三）2" in t["also_sections"]]
    assert sorted(headline) == sorted(GOALS_2020)
    dated = [t for t in targets if t["target"]["value"] is not None and t["target"]["year"]]
    assert len(dated) >= 15
    sourced = [t for t in targets if any(o["basis"] == "source" for o in t["outcomes"])]
    assert len(sourced) >= 3
    for t in targets:
        for o in t["outcomes"]:
            if o["basis"] == "source":
                assert o["source"]["title"] and o["source"]["url"].startswith("http") and o["year"] >= 2016
            else:
                assert o["basis"] == "map" and o["source"] is None


def test_api_scorecard_figures(client, registry):
    by_id = {t["id"]: t for t in client.get("/api/scorecard").get_json()["targets"]}
    contracts = by_id["tech_contract_turnover"]
    # 645.1 亿元 in 2020 (the 14th-plan review) against 600: met by 45.1; baseline 292 (plan text)
    assert (contracts["status"], contracts["outcome"]["value"], contracts["outcome"]["year"]) == ("met", 645.1, 2020)
    assert contracts["gap"] == pytest.approx(45.1) and contracts["baseline"]["value"] == 292
    assert [o["city"] for o in contracts["outcomes"]].count("210200") == 1
    rd = by_id["rd_gdp_share"]
    assert (rd["status"], rd["gap"]) == ("not_met", pytest.approx(-0.31))
    assert by_id["makerspaces_2020"]["status"] == "partly"      # 173 in 2018, before the 2020 deadline
    assert by_id["science_literacy"]["status"] == "not_met"     # 10.41 % against 10.8 %
    # the map's own count of national HTZs: the rows of data/parks/high_tech_zones.csv at level national
    with open(DATA_DIR / "parks" / "high_tech_zones.csv", encoding="utf-8-sig") as fh:
        national = sum(row["level"] == "national" for row in csv.DictReader(fh))
    htz = by_id["htz_national"]
    assert htz["map_count"] == national
    assert htz["outcome"]["basis"] == "map" and htz["outcome"]["value"] == national


def test_scorecard_csv_and_xlsx(client):
    response = client.get("/stats/scorecard.csv")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == len(client.get("/api/scorecard").get_json()["targets"])
    contracts = next(r for r in rows if r["target_id"] == "tech_contract_turnover")
    assert (contracts["状态"], contracts["status"]) == ("达到", "met")
    assert "2020 645.1 (ln_14th_st_plan)" in contracts["全部结果"] and "210.39 [大连市 210200]" in contracts["全部结果"]
    english = list(csv.DictReader(io.StringIO(client.get("/stats/scorecard.csv?lang=en").data.decode("utf-8-sig"))))
    assert next(r for r in english if r["target_id"] == "rd_gdp_share")["Status"] == "Not met"
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(client.get("/stats/scorecard.xlsx").data), read_only=True)
    sheet = book[book.sheetnames[0]]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[:3] == ["章节", "指标", "目标值"] and "target_id" in header


def test_stats_page_has_the_scorecard_section(client):
    html = client.get("/stats").get_data(as_text=True)
    assert 'id="scorecard"' in html and 'id="target-rd_gdp_share"' in html
    english = client.get("/stats?lang=en").get_data(as_text=True)
    assert "Target scorecard" in english and "Not met" in english


def test_city_panel_shows_the_city_own_figures(client):
    dalian = client.get("/map/cities/210200.json").get_json()["scorecard"]
    rows = {r["id"]: r for r in dalian["rows"]}
    assert rows["tech_contract_turnover"]["city_figures"][0]["text"] == "2019: 210.39 亿元"
    dandong = client.get("/map/cities/210600.json").get_json()["scorecard"]
    assert "cas_dandong_projects" in {r["id"] for r in dandong["rows"]}
    assert "cas_dandong_projects" not in rows
