"""The bundled data, checked as a planner would: what the plan names is there, where it says."""
import csv

import pytest

from geoapp import DATA_DIR
from geoapp.data import plan_text
from geoapp.geo import area_km2

NATIONAL_HTZ_CITIES = {"210100", "210200", "210300", "210500", "210700", "210800", "210900", "211000"}
PROVINCIAL_HTZ = {"210400": "抚顺", "210600": "丹东", "211200": "铁岭", "211100": "盘锦",
                  "211300": "朝阳", "211400": "葫芦岛"}


def test_boundaries_have_province_14_cities_100_districts(registry):
    b = registry.boundaries
    assert len(b["province"]) == 1
    assert len(b["city"]) == 14
    assert len(b["district"]) == 100
    assert set(b["district"]["parent_adcode"]) == set(b["city"]["adcode"])
    for frame in b.values():
        assert frame.crs.to_epsg() == 4326
        assert frame["adcode"].str.fullmatch(r"21\d{4}").all()
        assert (frame["name_en"].str.len() > 0).all() and (frame["name_zh"].str.len() > 0).all()


def test_city_areas_within_12_percent_of_official_land_areas(registry):
    with open(DATA_DIR / "boundaries" / "official_areas.csv", encoding="utf-8") as fh:
        official = {r["adcode"]: float(r["area_km2"]) for r in csv.DictReader(fh)}
    cities = registry.boundaries["city"]
    measured = dict(zip(cities["adcode"], area_km2(cities)))
    assert len(measured) == 14
    for code, km2 in measured.items():
        assert abs(km2 - official[code]) / official[code] < 0.12, (code, km2, official[code])
    # the stored area_km2 property is the equal-area measure, not degrees
    for code, stored in zip(cities["adcode"], cities["area_km2"]):
        assert stored == pytest.approx(measured[code], rel=1e-3)


def test_display_copies_keep_topology(registry):
    import shapely
    for level in ("city", "district"):
        display = registry.display[level]
        assert shapely.coverage_is_valid(display.geometry.values)
        full = registry.boundaries[level]
        # no gaps: the display cities still tile the same area within 0.5 %
        assert area_km2(display).sum() == pytest.approx(area_km2(full).sum(), rel=0.005)


def test_fifteen_high_tech_zones_8_national_7_provincial(registry):
    htz = registry.layer("high_tech_zones")
    assert len(htz) == 15
    national = htz[htz["level"] == "national"]
    provincial = htz[htz["level"] == "provincial"]
    assert set(national["city_adcode"]) == NATIONAL_HTZ_CITIES and len(national) == 8
    assert len(provincial) == 7
    assert set(PROVINCIAL_HTZ) <= set(provincial["city_adcode"])
    suizhong = provincial[provincial["id"] == "htz_suizhong"]
    assert suizhong["city_adcode"].tolist() == ["211400"]
    assert suizhong["district_adcode"].tolist() == ["211421"]


def test_every_point_inside_its_city_and_district(registry):
    cities = registry.boundaries["city"].set_index("adcode").geometry
    districts = registry.boundaries["district"].set_index("adcode").geometry
    checked = 0
    for layer_id, frame in registry.layers.items():
        points = frame[frame.geom_type == "Point"]
        for _, row in points.iterrows():
            assert cities[row["city_adcode"]].covers(row.geometry), (layer_id, row["id"])
            if row["district_adcode"]:
                assert districts[row["district_adcode"]].covers(row.geometry), (layer_id, row["id"])
            checked += 1
    assert checked >= 40


def test_every_row_has_a_source_and_an_existing_plan_section(registry):
    places = registry.places()
    assert (places["source"].str.strip().str.len() > 0).all()
    sections = registry.sections
    for refs in places["plan_refs"]:
        for ref in refs.split(";"):
            assert ref in sections, ref


def test_places_the_plan_names_are_present(registry):
    ids = set(registry.places()["id"])
    expected = {
        "cluster_biomed_benxi", "cluster_laser_anshan", "cluster_hydraulics_fuxin",
        "base_biomed_benxi", "base_biomed_shenyang", "base_biomed_dalian",
        "park_ic_equipment_shenyang", "software_cluster_shenyang", "software_cluster_dalian",
        "service_cluster_shenyang_hitech", "service_cluster_dalian_hitech",
        "coastal_changxingdao", "coastal_yingkou", "coastal_jinzhou_xihai",
        "coastal_huludao_beigang", "coastal_dandong", "coastal_huayuankou",
        "lab_materials_shenyang", "lab_clean_energy_dalian", "platform_robotics_shenyang",
        "platform_huaxin_cloud_dalian", "platform_ix_shenyang", "platform_cas_dandong",
        "innov_jinpu", "pilot_shenyang_reform", "health_diabetic_eye_shenyang",
        "health_liver_jianping", "belt_shenyang_dalian",
    }
    assert expected <= ids, expected - ids


def test_demonstration_zone_core_is_the_three_areas_the_plan_names(registry):
    core = registry.layer("demo_zone_core")
    assert sorted(core["member_id"]) == ["htz_dalian", "htz_shenyang", "innov_jinpu"]
    htz = registry.layer("high_tech_zones").set_index("id")
    shenyang = core[core["member_id"] == "htz_shenyang"].geometry.iloc[0]
    assert shenyang.equals(htz.loc["htz_shenyang"].geometry)
    assert plan_text.quote_in_section("三（二）2", "以沈阳高新区、大连高新区及金普新区创新集聚区为核心区",
                                        registry.sections)


def test_belt_corridor_joins_shenyang_and_dalian_and_stays_in_province(registry):
    belt = registry.layer("shenyang_dalian_belt")
    htz = registry.layer("high_tech_zones").set_index("id")
    shape = belt.geometry.iloc[0]
    assert shape.covers(htz.loc["htz_shenyang"].geometry) and shape.covers(htz.loc["htz_dalian"].geometry)
    province = registry.boundaries["province"].geometry.iloc[0]
    assert province.buffer(1e-6).covers(shape)
    dandong = registry.boundaries["city"].set_index("adcode").geometry["210600"]
    assert not shape.intersects(dandong.representative_point())


def test_jianping_intervention_is_the_county_polygon(registry):
    areas = registry.layer("plan_areas").set_index("id")
    jianping = registry.boundaries["district"].set_index("adcode").geometry["211322"]
    assert areas.loc["health_liver_jianping"].geometry.equals(jianping)


def test_stored_belt_is_what_the_corridor_function_gives_today(registry):
    """The plan's shenyang_dalian_belt.geojson is derived; if the HTZ points move, `make data`
    must be re-run — this fails until it is."""
    from geoapp.analysis.corridor import corridor
    spec = registry.plan.corridor  # the manifest's axis and width
    htz = registry.layer("high_tech_zones").set_index("id").geometry
    fresh = corridor(htz[spec.axis[0]], htz[spec.axis[1]], registry.boundaries["province"], spec.half_width_km)
    stored = registry.layer(spec.layer)
    assert area_km2(stored).sum() == pytest.approx(fresh["area_km2"].iloc[0], rel=1e-4)
    difference = stored.geometry.iloc[0].symmetric_difference(fresh.geometry.iloc[0])
    assert difference.area < 1e-5  # square degrees: rounding to 6 decimals only
