"""A broken data file stops the check with a message a planner can act on."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from geoapp.data import DataValidationError, load_registry
from tests.plans_fixture import plan_dir

HTZ = "parks/high_tech_zones.csv"


def edit_csv(data_dir, name, row_id, **changes):
    path = data_dir / name
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column, value in changes.items():
        table.loc[table["id"] == row_id, column] = value
    table.to_csv(path, index=False)


def problems_of(data_dir):
    with pytest.raises(DataValidationError) as info:
        load_registry(data_dir)
    return [str(p) for p in info.value.problems]


def test_bundled_data_is_valid(registry):
    assert len(registry.layers) >= 6


def test_point_outside_its_district_names_file_row_and_field(data_copy):
    # Shenyang HTZ declared in 浑南区 but moved to Dalian's 中山区 (121.64, 38.92)
    edit_csv(data_copy, HTZ, "htz_shenyang", lon="121.64", lat="38.92")
    problems = problems_of(data_copy)
    assert any("data/parks/high_tech_zones.csv, row 1, field 'lon/lat'" in p
               and "outside its declared city 210100" in p for p in problems), problems
    assert any("outside its declared district 210112 (浑南区)" in p for p in problems), problems


def test_point_in_right_city_wrong_district(data_copy):
    # 沈河区 representative area, while the row says 浑南区
    edit_csv(data_copy, HTZ, "htz_shenyang", lon="123.45", lat="41.80")
    problems = problems_of(data_copy)
    assert any("outside its declared district 210112" in p for p in problems), problems
    assert not any("declared city" in p for p in problems)


def test_unknown_industry_code_lists_allowed_codes(data_copy):
    edit_csv(data_copy, HTZ, "htz_benxi", industries="biomedicine;pharma")
    problems = problems_of(data_copy)
    message = next(p for p in problems if "industries" in p)
    assert "row 4" in message and "unknown industry code 'pharma'" in message
    assert "biomedicine" in message and "new_energy" in message


def test_swapped_lon_lat_is_reported_outside_liaoning(data_copy):
    edit_csv(data_copy, HTZ, "htz_dalian", lon="38.9", lat="121.5")
    problems = problems_of(data_copy)
    assert any("row 2, field 'lon/lat'" in p for p in problems), problems


def test_bad_crs_in_a_geojson_layer(data_copy):
    path = plan_dir(data_copy) / "shenyang_dalian_belt.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    problems = problems_of(data_copy)
    assert any("shenyang_dalian_belt.geojson, field 'crs'" in p and "EPSG:4326" in p
               for p in problems), problems


def test_duplicate_id_empty_source_unknown_section(data_copy):
    edit_csv(data_copy, HTZ, "htz_anshan", id="htz_shenyang")
    edit_csv(data_copy, HTZ, "htz_jinzhou", source="")
    edit_csv(data_copy, "plans/liaoning_st_13th/places.csv", "htz_jinzhou", plan_refs="九（九）9")
    problems = problems_of(data_copy)
    assert any("'htz_shenyang' is already used" in p for p in problems)
    assert any("field 'source'" in p and "row 5" in p for p in problems)
    assert any("section '九（九）9' does not exist" in p for p in problems)


def test_district_of_another_city(data_copy):
    edit_csv(data_copy, HTZ, "htz_fushun", district_adcode="210112")
    problems = problems_of(data_copy)
    assert any("district 210112 (浑南区) is not in city 210400" in p for p in problems), problems


def test_check_command_exit_codes(data_copy):
    ok = subprocess.run([sys.executable, "-m", "geoapp.data", "check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "high_tech_zones" in ok.stdout and "15" in ok.stdout
    edit_csv(data_copy, HTZ, "htz_benxi", industries="pharma")
    bad = subprocess.run([sys.executable, "-m", "geoapp.data", "check", "--data-dir", str(data_copy)],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert "unknown industry code 'pharma'" in bad.stderr


def test_bad_rows_among_thousands_of_synthetic_rows_are_named_by_file_row_and_field(tmp_path):
    """The vectorised checks at scale give the same file/row/field messages, in row order, and
    only for the broken rows (3,000 synthetic rows, benchmarks/synthetic.py)."""
    from benchmarks.synthetic import LAYER_ID, make_dataset
    from geoapp import vocab
    from geoapp.data.validate import relative
    data_dir, layers_dir = make_dataset(tmp_path, 3000)
    path = data_dir / "platforms" / f"{LAYER_ID}.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    other_city = table.index[table["city_adcode"] != table.at[1999, "city_adcode"]][0]
    table.loc[1199, "kind"] = "lab"                                          # row 1200
    table.loc[1999, ["lon", "lat"]] = table.loc[other_city, ["lon", "lat"]].to_numpy()  # row 2000
    table.loc[2499, "city_adcode"] = "219999"                                # row 2500
    table.loc[2799, "plan_names"] = "不存在 之名;不存在的名称"                    # row 2800
    table.loc[2800, "plan_names"] = "不存在的名称; 产业技术 创新平台"            # row 2801: named (spaces aside)
    table.loc[2999, "plan_refs"] = "九（九）9"                                 # row 3000
    table.to_csv(path, index=False)
    with pytest.raises(DataValidationError) as info:
        load_registry(data_dir, layers_dir)
    name, row2000 = relative(path), table.loc[1999]
    boundaries = load_registry().boundaries
    cities, districts = (boundaries[level].set_index("adcode")["name_zh"] for level in ("city", "district"))
    assert [str(p) for p in info.value.problems] == [
        f"{name}, row 1200, field 'kind': unknown code 'lab'; allowed: {', '.join(vocab.KINDS)}",
        f"{name}, row 2000, field 'lon/lat': point lies outside its declared city {row2000['city_adcode']} "
        f"({cities[row2000['city_adcode']]})",
        f"{name}, row 2000, field 'lon/lat': point lies outside its declared district "
        f"{row2000['district_adcode']} ({districts[row2000['district_adcode']]})",
        f"{name}, row 2500, field 'city_adcode': '219999' is not one of Liaoning's 14 city adcodes "
        f"({', '.join(cities.index)})",
        f"{name}, row 2800, field 'plan_refs': section '{table.at[2799, 'plan_refs']}' does not mention "
        f"this place under any of its names ({table.at[2799, 'name_zh']} / 不存在 之名 / 不存在的名称); "
        "cite a section that names it, or add the name the plan uses there to plan_names",
        f"{name}, row 3000, field 'plan_refs': section '九（九）9' does not exist in the plan text",
    ]
