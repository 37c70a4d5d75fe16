"""`python -m geoapp.data check` and app start-up over the whole data folder and the layer specs
(issue 8 item 3, issue 14 item 7): every kind of breakage fails with the file named (and the row
and field where there is one), never with a traceback."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geoapp import LAYERS_DIR, PROJECT_ROOT
from geoapp.data import DataValidationError, load_registry
from tests.plans_fixture import plan_dir

HTZ = "parks/high_tech_zones.csv"


@pytest.fixture
def layers_copy(tmp_path) -> Path:
    target = tmp_path / "layers"
    shutil.copytree(LAYERS_DIR, target)
    return target


def problems_of(data_dir, layers_dir=LAYERS_DIR) -> list[str]:
    with pytest.raises(DataValidationError) as info:
        load_registry(data_dir, layers_dir)
    return [str(p) for p in info.value.problems]


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def check(data_dir, layers_dir=LAYERS_DIR) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geoapp.data", "check", "--data-dir", str(data_dir),
                           "--layers-dir", str(layers_dir)], capture_output=True, text=True,
                          cwd=PROJECT_ROOT)


# --- each breakage, as load_registry reports it (the check and start-up both call it) -----------

def test_malformed_layer_spec_names_the_file(data_copy, layers_copy):
    (layers_copy / "60_high_tech_zones.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    problems = problems_of(data_copy, layers_copy)
    assert any(p.endswith("layers/60_high_tech_zones.yaml: not valid YAML at line 2, column 1: "
                          "expected ',' or ']', but got '<stream end>'") for p in problems), problems


def test_layer_spec_with_a_wrong_type_names_the_file(data_copy, layers_copy):
    replace_in(layers_copy / "80_platforms_labs.yaml", "show: ", "show: 'yes' #")
    problems = problems_of(data_copy, layers_copy)
    assert any(p.endswith("layers/80_platforms_labs.yaml: show must be true or false, got 'yes'")
               for p in problems), problems


def test_missing_derived_geometry_names_the_spec_and_the_file(data_copy):
    (plan_dir(data_copy) / "shenyang_dalian_belt.geojson").unlink()
    problems = problems_of(data_copy)
    assert any("plans/liaoning_st_13th/plan.yaml, field 'corridor.layer'" in p
               and "shenyang_dalian_belt.geojson does not exist in " in p
               for p in problems), problems


def test_task_citing_a_missing_section_names_the_tasks_file(data_copy):
    replace_in(plan_dir(data_copy) / "tasks.yaml", "section: 三（二）2", "section: 九（九）9")
    problems = problems_of(data_copy)
    assert any("plans/liaoning_st_13th/tasks.yaml, field 'task " in p and "section '九（九）9' does not exist" in p
               for p in problems), problems


def test_unquoted_comma_in_a_target_mapping_is_refused_not_cut(data_copy):
    """YAML ends an unquoted value at a comma inside {…}: 'per 10,000 people' became 'per 10' plus a
    key '000 people'. The task list refuses unknown target fields instead of serving the cut text."""
    tasks = plan_dir(data_copy) / "tasks.yaml"
    replace_in(tasks, 'metric_en: "Invention patents held per 10,000 people"',
               "metric_en: Invention patents held per 10,000 people")
    problems = problems_of(data_copy)
    assert any("tasks.yaml" in p and "unknown field '000 people'" in p and "needs quotes" in p
               for p in problems), problems


@pytest.mark.parametrize("payload", ["{{7*7}}", "{% if 1 %}x{% endif %}", "{# note #}"])
def test_template_syntax_in_a_csv_cell_names_file_row_and_field(data_copy, payload):
    replace_in(data_copy / HTZ, "沈阳高新技术产业开发区", f"沈阳高新技术产业开发区{payload}")
    problems = problems_of(data_copy)
    assert any(f"{HTZ}, row 1, field 'name_zh': contains template syntax '{payload[:2]}'" in p
               for p in problems), problems


def test_template_syntax_in_geojson_tasks_and_specs(data_copy, layers_copy):
    belt = plan_dir(data_copy) / "shenyang_dalian_belt.geojson"
    doc = json.loads(belt.read_text(encoding="utf-8"))
    doc["features"][0]["properties"]["note_en"] = "a {{ cycler.__init__.__globals__.os.getpid() }}"
    belt.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    replace_in(plan_dir(data_copy) / "tasks.yaml", "title_en: ", "title_en: '{% raw %}' #")
    replace_in(layers_copy / "60_high_tech_zones.yaml", "en: High-tech zones}", "en: \"{{x}} zones\"}")
    problems = problems_of(data_copy, layers_copy)
    assert any("liaoning_st_13th/shenyang_dalian_belt.geojson, row 1, field 'note_en'" in p for p in problems), problems
    assert any("plans/liaoning_st_13th/tasks.yaml, field '[1].title_en'" in p and "'{%'" in p for p in problems), problems
    assert any("60_high_tech_zones.yaml, field 'title.en'" in p and "'{{'" in p for p in problems), problems


def test_csv_row_with_too_many_cells_names_file_and_row(data_copy):
    path = data_copy / HTZ
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] += ",an extra cell"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = problems_of(data_copy)
    assert any(f"{HTZ}, row 3" in p and "cells, the header has" in p for p in problems), problems


def test_gbk_encoded_csv_names_file_and_row(data_copy):
    path = data_copy / HTZ
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode("gbk", errors="replace"))
    problems = problems_of(data_copy)
    assert any(f"{HTZ}, row 1" in p and "not UTF-8" in p and "GBK" in p for p in problems), problems


def test_empty_csv_names_the_file(data_copy):
    (data_copy / "platforms" / "platforms_labs.csv").write_text("", encoding="utf-8")
    problems = problems_of(data_copy)
    assert any("platforms/platforms_labs.csv: empty file" in p for p in problems), problems


@pytest.mark.parametrize("damage", ["truncated", "not json", "missing"])
def test_broken_boundary_file_names_the_file(data_copy, damage):
    path = data_copy / "boundaries" / "liaoning_city.geojson"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "not json":
        path.write_text("city,adcode\n沈阳,210100\n", encoding="utf-8")
    else:
        path.unlink()
    problems = problems_of(data_copy)
    assert any("boundaries/liaoning_city.geojson" in p for p in problems), problems


def test_boundary_without_adcode_names_file_and_field(data_copy):
    path = data_copy / "boundaries" / "liaoning_district.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for feature in doc["features"]:
        feature["properties"].pop("adcode")
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    problems = problems_of(data_copy)
    assert any("liaoning_district.geojson, field 'adcode': required property is missing" in p
               for p in problems), problems


# --- the command and start-up say the same, without a traceback ----------------------------------

def test_check_command_fails_naming_files_for_each_breakage(data_copy, layers_copy):
    (layers_copy / "60_high_tech_zones.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    replace_in(plan_dir(data_copy) / "tasks.yaml", "section: 三（二）2", "section: 九（九）9")
    replace_in(data_copy / HTZ, "沈阳高新技术产业开发区", "沈阳高新技术产业开发区{{7*7}}")
    result = check(data_copy, layers_copy)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for text in ("60_high_tech_zones.yaml", "plans/liaoning_st_13th/tasks.yaml", f"{HTZ}, row 1, field 'name_zh'"):
        assert text in result.stderr, (text, result.stderr)


def test_check_command_on_a_gbk_file_is_a_message_not_a_traceback(data_copy):
    path = data_copy / HTZ
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk", errors="replace"))
    result = check(data_copy)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{HTZ}, row 1" in result.stderr and "not UTF-8" in result.stderr


def test_start_up_refuses_broken_data_with_the_same_messages(data_copy):
    (plan_dir(data_copy) / "shenyang_dalian_belt.geojson").unlink()
    from geoapp.web import create_app
    with pytest.raises(DataValidationError) as info:
        create_app({"ATLAS_DATA_DIR": str(data_copy), "ATLAS_TILES": "none"})
    assert any("corridor.layer" in str(p) for p in info.value.problems)
    # the WSGI entry point (what gunicorn loads) exits with the messages, no traceback
    env = {"PATH": "/usr/bin:/bin", "ATLAS_DATA_DIR": str(data_copy), "ATLAS_TILES": "none"}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], capture_output=True, text=True,
                            cwd=PROJECT_ROOT, env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "corridor.layer" in result.stderr, result.stderr


def test_check_names_the_data_dir_it_read(data_copy):
    result = check(data_copy)
    assert result.returncode == 0, result.stderr
    specs = len(list((PROJECT_ROOT / "layers").glob("*.yaml")))   # 11 with the imported-list template
    assert f"{specs} layer specs" in result.stdout and " tasks, " in result.stdout


def test_template_syntax_written_with_json_escapes_is_found(data_copy):
    belt = plan_dir(data_copy) / "shenyang_dalian_belt.geojson"
    text = belt.read_text(encoding="utf-8")
    doc = json.loads(text)
    doc["features"][0]["properties"]["name_en"] = "{{7*7}}"
    escaped = json.dumps(doc, ensure_ascii=False).replace("{{7*7}}", "\\u007b\\u007b7*7}}")
    belt.write_text(escaped, encoding="utf-8")
    assert "{{" not in belt.read_text(encoding="utf-8")
    problems = problems_of(data_copy)
    assert any("shenyang_dalian_belt.geojson, row 1, field 'name_en'" in p for p in problems), problems


def test_missing_or_broken_seats_file_is_named_not_a_traceback(data_copy):
    seats = data_copy / "boundaries" / "seats.csv"
    text = seats.read_text(encoding="utf-8")
    seats.unlink()
    problems = problems_of(data_copy)
    assert any(p.endswith("data/boundaries/seats.csv: missing; rebuild it with scripts/build_seats.py "
                          "(make data)") for p in problems), problems
    lines = text.splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("lon")] = "east"
    seats.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    problems = problems_of(data_copy)
    assert any("data/boundaries/seats.csv, row 1, field 'lon/lat': 'east'" in p for p in problems), problems
    seats.write_bytes(text.replace("adcode", "代码").encode("gbk"))
    problems = problems_of(data_copy)
    assert any("data/boundaries/seats.csv" in p and "not UTF-8" in p for p in problems), problems
