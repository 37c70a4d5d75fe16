"""Group terms (data/boundaries/group_terms.yaml): the drafter expands a term a text writes
(“五点一线”…) into its members, each in its own district; `make check` validates the file.

The texts are hand-written test inputs in the plans' style. Expected cities and districts are the
sourced facts of the registry rows data/parks/coastal_parks.csv (written out here), the points
the seats of data/boundaries/seats.csv: never values the drafter produced.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geoapp import DATA_DIR, PROJECT_ROOT
from geoapp.data import DataValidationError, load_registry
from geoapp.data.groups import GROUPS_FILE, read_group_terms
from geoapp.data.registry import read_boundaries
from geoapp.data.validate import read_seats
from geoapp.ingest.drafts import load_gazetteer
from geoapp.ingest.drafts.extract import draft

# name -> (city, district) of the six “五点一线” parks, from data/parks/coastal_parks.csv
FIVE_POINTS = {
    "大连长兴岛临港工业区": ("210200", "210281"),
    "辽宁（营口）沿海产业基地": ("210800", "210803"),
    "锦州西海工业区": ("210700", "210781"),
    "葫芦岛北港工业区": ("211400", "211403"),
    "辽宁丹东产业园区": ("210600", "210681"),
    "大连庄河花园口工业园区": ("210200", "210283"),
}
REGISTRY_IDS = {"coastal_changxingdao", "coastal_yingkou", "coastal_jinzhou_xihai",
                "coastal_huludao_beigang", "coastal_dandong", "coastal_huayuankou"}


@pytest.fixture(scope="module")
def province():
    return load_gazetteer(province_only=True)


@pytest.mark.parametrize("wording", ["“五点一线”沿海经济带相关产业园", "五点一线沿海经济带", "“五点一线”"])
def test_a_group_term_is_its_members_each_in_its_district(province, wording):
    text = (f"一、布局\n（一）沿海\n1.园区。以{wording}为依托，发展电子信息产业。"
            "建设浑南科技城。\n")
    result = draft(text, province, province_only=True)
    members = {p.name_zh: p for p in result.places if p.group}
    assert set(members) == set(FIVE_POINTS)
    seats, _ = read_seats(DATA_DIR / "boundaries")
    direct = next(p for p in result.places if p.name_zh == "浑南科技城")
    start = text.index(wording.strip("“”")[:4])
    for name, (city, district) in FIVE_POINTS.items():
        place = members[name]
        assert (place.city_adcode, place.district_adcode, place.location_precision) == (city, district, "district")
        assert (place.lon, place.lat) == pytest.approx(seats[district], abs=1e-6)
        assert place.kind == "coastal_park" and place.status == "proposed"
        assert place.section == "一（一）1"
        assert "五点一线" in place.sentence and place.sentence.startswith("1.园区。") is False
        assert place.mentions[0].start <= start < place.mentions[0].end   # the term is the mention
        assert place.how.startswith("member of group term 五点一线 (gazetteer ")
        assert "group_terms.yaml" in place.how and "11hunli.com" in place.source  # the list's source
        assert place.confidence < direct.confidence and place.confidence < 0.75  # not "accept these"
    (task,) = [t for t in result.tasks if "五点一线" in t.quote]
    assert {members[n].id for n in FIVE_POINTS} <= set(task.places)


def test_a_member_the_text_also_writes_is_proposed_once(province):
    text = ("一、布局\n（一）沿海\n1.园区。推进大连长兴岛临港工业区建设。\n"
            "2.电子。以“五点一线”沿海经济带相关产业园为依托。\n")
    result = draft(text, province, province_only=True)
    changxing = [p for p in result.places if p.district_adcode == "210281"]
    assert len(changxing) == 1, [p.name_zh for p in changxing]
    (place,) = changxing
    assert [m.section for m in place.mentions] == ["一（一）1", "一（一）2"]
    assert place.name_zh == "大连长兴岛临港工业区" and place.city_adcode == "210200"
    # written with its city: the group gives the district; the written name keeps its confidence
    assert place.location_precision == "district" and place.group == "五点一线"
    others = [p for p in result.places if p is not place]
    assert len(others) == 5 and all(p.group == "五点一线" for p in others)
    assert place.confidence > max(p.confidence for p in others)


def test_with_the_registry_the_members_are_its_rows():
    registry = load_registry()
    text = "一、布局\n（一）沿海\n1.园区。以“五点一线”沿海经济带相关产业园为依托。\n"
    result = draft(text, load_gazetteer(registry=registry), province_only=False)
    assert {p.registry_id for p in result.places} == REGISTRY_IDS
    assert all(p.id == p.registry_id for p in result.places)
    assert all("member of group term 五点一线" in p.how for p in result.places)


def test_the_drafted_folder_cites_the_group_terms_source(tmp_path):
    from geoapp.data.__main__ import main
    source = tmp_path / "plan.txt"
    source.write_text("某市科技创新规划\n一、布局\n（一）沿海\n1.园区。以“五点一线”沿海经济带相关产业园为依托。\n",
                      encoding="utf-8")
    out = tmp_path / "plans" / "coast"
    assert main(["draft", str(source), "--plan", "coast", "--out", str(out), "--province-only"]) == 0
    rows = [line for line in (out / "plan_places.csv").read_text(encoding="utf-8").splitlines()
            if "group_terms.yaml" in line]
    assert len(rows) == 6 and all("11hunli.com" in row for row in rows)
    assert all("“五点一线”沿海经济带相关产业园" in row for row in rows)   # plan_names: as written


# --- validation of the file (python -m geoapp.data check) ------------------------------------

def _boundaries_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "boundaries"
    folder.mkdir()
    (folder / GROUPS_FILE).write_text(text, encoding="utf-8")
    return folder


MEMBER = ('      - {{name_zh: 甲园, name_en: A park, city_adcode: "{city}", district_adcode: "{district}", '
          'source: "{source}"}}\n')


def _file(*members: tuple[str, str, str]) -> str:
    return ("terms:\n  - id: test_term\n    name_zh: 测试组\n    name_en: Test group\n"
            "    wordings: [测试组]\n    member_kind: coastal_park\n    source: a source\n    members:\n"
            + "".join(MEMBER.format(city=c, district=d, source=s) for c, d, s in members))


@pytest.fixture(scope="module")
def boundaries():
    found, problems = read_boundaries(DATA_DIR)
    assert problems == []
    return found


@pytest.mark.parametrize("members, field, message", [
    ((("210299", "", "s"), ("210200", "210281", "s")), "terms[0].members[0].city_adcode",
     "'210299' is not one of the 14 cities' adcodes"),
    ((("210200", "210803", "s"), ("210200", "210281", "s")), "terms[0].members[0].district_adcode",
     "district 210803 lies in city 210800, not in city_adcode 210200"),
    ((("210200", "210281", "s"), ("210200", "219999", "s")), "terms[0].members[1].district_adcode",
     "'219999' is not a district/county adcode"),
    ((("210200", "210281", ""), ("210200", "210281", "s")), "terms[0].members[0].source",
     "required and empty or missing"),
    ((("210200", "210281", "s"),), "terms[0].members", "at least two members"),
])
def test_a_wrong_member_is_named_by_file_and_field(tmp_path, boundaries, members, field, message):
    folder = _boundaries_with(tmp_path, _file(*members))
    terms, problems = read_group_terms(folder, boundaries)
    assert terms == []  # a term with a problem is not used
    texts = [str(p) for p in problems]
    assert any(GROUPS_FILE in t and f"field '{field}'" in t and message in t for t in texts), texts


def test_a_sound_file_gives_its_terms(tmp_path, boundaries):
    folder = _boundaries_with(tmp_path, _file(("210200", "210281", "s"), ("210800", "", "s")))
    terms, problems = read_group_terms(folder, boundaries)
    assert problems == []
    (term,) = terms
    assert [(m.city_adcode, m.district_adcode) for m in term.members] == [("210200", "210281"), ("210800", "")]


def test_the_check_command_names_a_wrong_adcode_in_the_shipped_file(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "boundaries" / GROUPS_FILE
    text = path.read_text(encoding="utf-8")
    assert 'district_adcode: "210803"' in text
    path.write_text(text.replace('district_adcode: "210803"', 'district_adcode: "210381"', 1), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "geoapp.data", "check", "--data-dir", str(data)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.returncode == 1
    assert "group_terms.yaml, field 'terms[0].members[1].district_adcode': district 210381 lies in city " \
           "210300, not in city_adcode 210800" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(DataValidationError):   # the drafter does not run on a broken file either
        load_gazetteer(data, province_only=True)


def test_a_member_copied_from_a_registry_row_must_agree_with_it(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "boundaries" / GROUPS_FILE
    text = path.read_text(encoding="utf-8")
    # the Dandong member moved to another district of Dandong: valid adcodes, but not its row's
    path.write_text(text.replace('district_adcode: "210681"', 'district_adcode: "210682"', 1), encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        load_registry(data)
    texts = [str(p) for p in info.value.problems]
    assert any("terms[0].members[4].district_adcode" in t and "coastal_dandong" in t for t in texts), texts
