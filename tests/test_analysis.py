"""Analysis functions on a small hand-made world whose answers are worked out by hand, then the
real data checked as a planner would.

The hand-made world (lon/lat degrees):
    city A 210100  lon 122–123, lat 41–42   districts A1 122–122.5 | A2 strip 122.5–123 × 41.45–41.55
                                            | A3 the rest of 122.5–123
    city B 210200  lon 123–124, lat 41–42   districts B1 123–123.5 | B2 123.5–124
    city C 211300  lon 122–124, lat 42–43   district C1 = the city
Places:
    htz_a     HTZ national     A, district A1, point (122.25, 41.5)   electronics;biomedicine
    htz_b     HTZ provincial   B, city only,   point (123.5, 41.9)
    lab_a     laboratory       A, district A2, point (122.75, 41.5)   new_materials
    plat_b    platform         B, city only,   point (123.6, 41.4)    biomedicine
    base_b    industrial base  B, district B2, point (123.75, 41.5)   biomedicine
    plat_far  platform         B, coordinate,  point (123.25, 41.9)   electronics
    band      corridor, no city, box 122.9–123.1 × 41.4–41.6 (overlaps A and B)
    core_htz_a  a row of layer 'core' (counted: false) repeating htz_a (must not be counted twice)
"""
import math

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Point, box

from geoapp.analysis import belt as belt_mod
from geoapp.analysis.coverage import coverage, plan_figures, targets_vs_mapped, task_status
from geoapp.analysis.distribution import city_counts
from geoapp.analysis.places import counted_places, place_cities
from geoapp.analysis.report import build_report, city_metrics
from geoapp.analysis.view import place_view
from geoapp.data.tasks import LayerFilter, MissingPlace, Target, Task
from geoapp.filters import Filter
from tests.plans_fixture import shipped_plan

A, B, C = "210100", "210200", "211300"
# What is counted (metrics, industries, belt groups) is a plan's: the hand-made world is counted
# with the shipped plan's manifest.
PLAN = shipped_plan()
GROUPS = belt_mod.plan_groups(PLAN)


def _frame(rows):
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def _place(id, kind, level, city, district, precision, industries, geometry):
    return {"id": id, "name_zh": id, "name_en": id, "kind": kind, "level": level,
            "city_adcode": city, "district_adcode": district, "location_precision": precision,
            "industries": industries, "geometry": geometry}


@pytest.fixture
def world():
    cities = _frame([
        {"adcode": A, "name_zh": "甲市", "name_en": "A", "geometry": box(122, 41, 123, 42)},
        {"adcode": B, "name_zh": "乙市", "name_en": "B", "geometry": box(123, 41, 124, 42)},
        {"adcode": C, "name_zh": "丙市", "name_en": "C", "geometry": box(122, 42, 124, 43)},
    ])
    districts = _frame([
        {"adcode": "210101", "parent_adcode": A, "geometry": box(122, 41, 122.5, 42)},
        {"adcode": "210102", "parent_adcode": A, "geometry": box(122.5, 41.45, 123, 41.55)},
        {"adcode": "210103", "parent_adcode": A,
         "geometry": MultiPolygon([box(122.5, 41, 123, 41.45), box(122.5, 41.55, 123, 42)])},
        {"adcode": "210201", "parent_adcode": B, "geometry": box(123, 41, 123.5, 42)},
        {"adcode": "210202", "parent_adcode": B, "geometry": box(123.5, 41, 124, 42)},
        {"adcode": "211301", "parent_adcode": C, "geometry": box(122, 42, 124, 43)},
    ])
    province = _frame([{"adcode": "210000", "geometry": box(122, 41, 124, 43)}])
    layers = {
        "zones": _frame([
            _place("htz_a", "high_tech_zone", "national", A, "210101", "district",
                   "electronics;biomedicine", Point(122.25, 41.5)),
            _place("htz_b", "high_tech_zone", "provincial", B, "", "city", "", Point(123.5, 41.9)),
        ]),
        "labs": _frame([
            _place("lab_a", "laboratory", "national", A, "210102", "district", "new_materials",
                   Point(122.75, 41.5)),
            _place("plat_b", "platform", "unspecified", B, "", "city", "biomedicine",
                   Point(123.6, 41.4)),
            _place("plat_far", "platform", "unspecified", B, "210201", "source_coordinate",
                   "electronics", Point(123.25, 41.9)),
        ]),
        "parks": _frame([
            _place("base_b", "industrial_base", "unspecified", B, "210202", "district",
                   "biomedicine", Point(123.75, 41.5)),
        ]),
        "band": _frame([
            _place("band", "corridor", "provincial", "", "", "derived", "",
                   box(122.9, 41.4, 123.1, 41.6)),
        ]),
        "core": _frame([
            {**_place("core_htz_a", "high_tech_zone", "national", A, "210101", "district",
                      "electronics;biomedicine", Point(122.25, 41.5)), "member_id": "htz_a"},
        ]),
    }
    boundaries = {"province": province, "city": cities, "district": districts}
    return layers, boundaries


NATIONAL = LayerFilter(layer="zones", level="national")
TASKS = (
    Task("t_named", "甲", "named", "三（二）2", "q", places=("htz_a", "lab_a")),
    Task("t_partly", "乙", "partly", "三（三）2", "q", places=("plat_b",),
         missing_places=(MissingPlace("某中心", "Some centre", "no source"),)),
    Task("t_absent", "丙", "absent", "三（三）2", "q", places=("nowhere",)),
    Task("t_layer", "丁", "layer", "一（一）2", "q", layers=(NATIONAL,),
         targets=(Target("国家级高新区", "national HTZs", 1, "个", None, "achieved", "q",
                         counts=NATIONAL),)),
    Task("t_cities", "戊", "cities", "四（四）3", "q", cities=(B,)),
    Task("t_count", "己", "count", "三（二）1", "q", industries=("biomedicine",),
         targets=(Target("平台", "platforms", 5, "个", 2020, "target", "q"),)),
)


def places_of(layers):
    return counted_places(layers, uncounted={"core"})


def view_of(world, flt=Filter()):
    layers, boundaries = world
    return place_view(places_of(layers), boundaries, flt)


def per_city_of(world, flt=Filter()):
    view = view_of(world, flt)
    return city_counts(view, coverage(view, TASKS), PLAN)


def coverage_of(world, flt=Filter()):
    return coverage(view_of(world, flt), TASKS)


# --- places -------------------------------------------------------------------------------------

def test_uncounted_layer_rows_are_not_counted_twice(world):
    layers, _ = world
    ids = list(places_of(layers)["id"])
    assert sorted(ids) == ["band", "base_b", "htz_a", "htz_b", "lab_a", "plat_b", "plat_far"]
    # the registry marks `counted: false` layers on their frames; that is the default
    layers["core"].attrs["counted"] = False
    assert sorted(counted_places(layers)["id"]) == sorted(ids)
    assert "core_htz_a" in set(counted_places(layers, uncounted=())["id"])


def test_the_view_applies_the_filter_once_and_links_places_to_cities(world):
    view = view_of(world, Filter(industry=frozenset({"biomedicine"})))
    assert sorted(view.places["id"]) == ["base_b", "htz_a", "plat_b"]
    assert view.ids == {"base_b", "htz_a", "plat_b"}
    assert sorted(view.every["id"]) == ["band", "base_b", "htz_a", "htz_b", "lab_a", "plat_b", "plat_far"]
    assert sorted(map(tuple, view.links.values.tolist())) == [("base_b", B), ("htz_a", A), ("plat_b", B)]
    only_b = view_of(world, Filter(city=frozenset({B})))
    # the band (no city) passes a city filter by overlapping B, and is linked to B only
    assert only_b.links[only_b.links["id"] == "band"]["city_adcode"].tolist() == [B]


def test_a_place_without_a_city_belongs_to_every_city_it_overlaps(world):
    layers, boundaries = world
    links = place_cities(places_of(layers), boundaries["city"])
    assert sorted(links[links["id"] == "band"]["city_adcode"]) == [A, B]
    assert links[links["id"] == "plat_b"]["city_adcode"].tolist() == [B]


# --- per-city distribution -----------------------------------------------------------------------

def test_per_city_counts_by_hand(world):
    table = per_city_of(world)
    assert list(table.index) == [A, B, C]
    expected = {
        #     nat prov total clus labs plat desig places citypts tasks inds
        A: (1, 0, 1, 0, 1, 0, 0, 2, 0, 2, 3),   # the band (no city) is not a city's place
        B: (0, 1, 1, 1, 0, 2, 0, 4, 2, 2, 2),
        C: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    }
    columns = ["htz_national", "htz_provincial", "htz_total", "clusters_bases", "laboratories",
               "platforms", "designations", "places", "city_precision_places", "tasks",
               "industries_present"]
    for code, values in expected.items():
        assert tuple(table.loc[code, columns]) == values, code
    assert table.loc[B, "industry_biomedicine"] == 2 and table.loc[A, "industry_biomedicine"] == 1
    assert table.loc[B, "industry_electronics"] == 1
    assert all(pd.api.types.is_integer_dtype(t) for t in table.dtypes)


def test_per_city_follows_the_filter(world):
    bio = per_city_of(world, Filter(industry=frozenset({"biomedicine"})))
    assert bio.loc[A, "places"] == 1 and bio.loc[A, "laboratories"] == 0
    assert bio.loc[B, "places"] == 2 and bio.loc[B, "htz_total"] == 0
    # tasks kept by the industry filter: A t_named, t_layer; B t_partly (t_cities has no industry)
    assert bio.loc[A, "tasks"] == 2 and bio.loc[B, "tasks"] == 1
    national = per_city_of(world, Filter(level=frozenset({"national"})))
    assert national["places"].tolist() == [2, 0, 0]
    only_b = per_city_of(world, Filter(city=frozenset({B})))
    assert only_b.loc[A].sum() == 0 and only_b.loc[B, "places"] == 4
    assert len(only_b) == 3  # every city keeps its row


# --- coverage ------------------------------------------------------------------------------------

def test_task_status_by_hand(world):
    layers, _ = world
    places = places_of(layers)
    status = {t.id: task_status(t, places) for t in TASKS}
    assert status == {"t_named": "located", "t_partly": "partly_located",
                      "t_absent": "not_located", "t_layer": "located",
                      "t_cities": "city_level", "t_count": "counted_only"}


def test_coverage_matrix_by_hand(world):
    result = coverage_of(world)
    assert result.counts.loc["t_named"].tolist() == [2, 0, 0]
    assert result.counts.loc["t_partly"].tolist() == [0, 1, 0]
    assert result.counts.loc["t_layer"].tolist() == [1, 0, 0]
    assert result.counts.loc["t_cities"].tolist() == [0, 0, 0]
    assert result.named.loc["t_cities"].tolist() == [False, True, False]
    assert result.touches.sum(axis=1).to_dict() == {
        "t_named": 1, "t_partly": 1, "t_absent": 0, "t_layer": 1, "t_cities": 1, "t_count": 0}
    rows = result.tasks.set_index("id")
    assert rows.loc["t_partly", "missing"] == "某中心"
    assert rows.loc["t_absent", "missing"] == "nowhere"
    assert rows.loc["t_named", "precision"] == "district"
    assert rows.loc["t_partly", "precision"] == "city"
    assert rows.loc["t_partly", "places_named"] == 2 and rows.loc["t_partly", "places_mapped"] == 1


def test_coverage_with_filters(world):
    bio = coverage_of(world, Filter(industry=frozenset({"biomedicine"})))
    assert list(bio.counts.index) == ["t_named", "t_partly", "t_layer", "t_count"]
    assert bio.counts.loc["t_named"].tolist() == [1, 0, 0]  # lab_a is not biomedicine
    only_b = coverage_of(world, Filter(city=frozenset({B})))
    assert list(only_b.counts.index) == ["t_partly", "t_cities"]


def test_plan_figures_by_hand(world):
    figures = plan_figures(coverage_of(world))
    assert figures["tasks"] == 6
    assert figures["by_status"] == {"located": 2, "partly_located": 1, "not_located": 1,
                                    "city_level": 1, "counted_only": 1}
    assert figures["cities_touched"] == [A, B] and figures["cities_not_touched"] == [C]
    assert figures["targets"] == 2


def test_targets_vs_mapped_by_hand(world):
    view = view_of(world)
    table = targets_vs_mapped(view, coverage(view, TASKS), TASKS).set_index("task_id")
    assert table.loc["t_layer", "value"] == 1 and table.loc["t_layer", "mapped"] == 1
    assert pd.isna(table.loc["t_count", "mapped"]) and table.loc["t_count", "year"] == 2020
    view = view_of(world, Filter(industry=frozenset({"electronics"})))
    electronics = targets_vs_mapped(view, coverage(view, TASKS), TASKS)
    assert electronics["task_id"].tolist() == ["t_layer"]


# --- the belt -----------------------------------------------------------------------------------

KM_PER_DEG_LAT = 111.2
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(41.5))  # ≈ 83.4 km at the axis


def test_belt_figures_by_hand(world):
    result = belt_mod.belt(view_of(world), half_width_km=10, axis_ends=("htz_a", "base_b"), groups=GROUPS)
    axis = 1.5 * KM_PER_DEG_LON                             # ≈ 125 km along lat 41.5
    assert result.axis_length_km == pytest.approx(axis, rel=0.01)
    assert result.area_km2 == pytest.approx(axis * 20 + math.pi * 10 ** 2, rel=0.01)
    half = 0.75 * KM_PER_DEG_LON * 20 + math.pi * 10 ** 2 / 2   # each city holds half the band
    assert result.cities.loc[A, "area_in_belt_km2"] == pytest.approx(half, rel=0.01)
    assert result.cities.loc[B, "area_in_belt_km2"] == pytest.approx(half, rel=0.01)
    assert result.cities["in_belt"].to_dict() == {A: True, B: True, C: False}
    assert result.province_share == pytest.approx(
        result.area_km2 / (2 * KM_PER_DEG_LON * 2 * KM_PER_DEG_LAT), rel=0.02)


def test_belt_counts_imprecise_places_by_their_extent(world):
    result = belt_mod.belt(view_of(world), half_width_km=10, axis_ends=("htz_a", "base_b"), groups=GROUPS)
    places = result.places.set_index("id")
    assert "band" not in places.index  # the corridor itself is not a place in the belt
    assert places["relation"].to_dict() == {
        "htz_a": "partly",     # district A1 straddles the band
        "htz_b": "partly",     # city B straddles it
        "lab_a": "inside",     # district A2 (±5.6 km strip) lies wholly in the ±10 km band
        "plat_b": "partly",    # city B
        "plat_far": "outside",  # a coordinate 44 km off the axis
        "base_b": "partly",    # district B2
    }
    # the map's points: plat_b's point is 11 km off the axis, outside a 10 km half-width
    assert places["point_inside"].to_dict() == {
        "htz_a": True, "htz_b": False, "lab_a": True, "plat_b": False, "plat_far": False,
        "base_b": True}
    groups = result.groups
    assert groups.loc["high_tech_zones", ["total", "inside", "partly", "outside", "by_point"]
                      ].tolist() == [2, 0, 2, 0, 1]
    assert groups.loc["high_tech_zones", "share_min"] == 0 and groups.loc["high_tech_zones", "share_max"] == 1
    assert groups.loc["laboratories", ["total", "inside"]].tolist() == [1, 1]
    assert groups.loc["platforms", ["total", "inside", "partly", "outside", "share_max"]
                      ].tolist() == [2, 0, 1, 1, 0.5]
    assert groups.loc["all", ["total", "inside", "partly", "outside", "by_point"]
                      ].tolist() == [6, 1, 4, 1, 3]


def test_belt_width_is_a_parameter(world):
    wide = belt_mod.belt(view_of(world), half_width_km=60, axis_ends=("htz_a", "base_b"), groups=GROUPS)
    # 60 km north of lat 41.5 reaches lat ~42.04: city C now touches the belt, plat_far is in
    assert wide.cities.loc[C, "in_belt"]
    assert wide.places.set_index("id").loc["plat_far", "relation"] == "inside"
    with pytest.raises(ValueError):
        belt_mod.belt(view_of(world), half_width_km=0, axis_ends=("htz_a", "base_b"), groups=GROUPS)


def test_belt_follows_the_filter(world):
    result = belt_mod.belt(view_of(world, Filter(kind=frozenset({"platform"}))),
                           half_width_km=10, axis_ends=("htz_a", "base_b"), groups=GROUPS)
    assert sorted(result.places["id"]) == ["plat_b", "plat_far"]
    # the axis still runs between the two named ends, whatever the filter
    assert result.axis_length_km == pytest.approx(1.5 * KM_PER_DEG_LON, rel=0.01)


# --- the real data, as a planner would check it --------------------------------------------------

def test_national_htzs_per_city_sum_to_8(registry):
    table = build_report(registry).cities
    assert len(table) == 14
    assert table["htz_national"].sum() == 8
    assert table["htz_provincial"].sum() == 7
    assert (table["htz_total"] >= 1).all()  # 全省各市均有1个高新区
    assert table.loc["211400", "htz_total"] == 2  # Huludao and Suizhong
    # the map's per-city values are the same numbers, however they are asked for
    metrics = city_metrics(registry, Filter())  # what the map's choropleth shades by
    assert metrics["htz_national"].to_dict() == table["htz_national"].to_dict()
    assert metrics["places"].sum() == table["places"].sum()  # demo-zone core rows not counted again


def test_real_belt_holds_shenyang_and_dalian_not_chaoyang_or_dandong(registry):
    result = build_report(registry).belt
    cities = result.cities
    assert cities.loc["210100", "in_belt"] and cities.loc["210200", "in_belt"]
    assert not cities.loc["211300", "in_belt"] and not cities.loc["210600", "in_belt"]
    assert result.half_width_km == 30
    # the derived corridor file was built with the same default width: same area
    stored = registry.layer("shenyang_dalian_belt")
    assert result.area_km2 == pytest.approx(float(stored["area_km2"].iloc[0]), rel=0.001)
    places = result.places.set_index("id")
    # the axis ends at 浑南区's government seat; the zone is known only to 浑南区, whose eastern part
    # lies more than 30 km from the axis, so its known extent is partly in the belt
    assert places.loc["htz_shenyang", "relation"] == "partly"
    assert places.loc["htz_dalian", "relation"] == "inside"
    assert places.loc["platform_cas_dandong", "relation"] == "outside"


def test_real_targets_vs_mapped_national_htzs_8_of_8(registry):
    table = build_report(registry).targets
    row = table[table["metric_zh"] == "国家级高新区"].iloc[0]
    assert (row["value"], row["mapped"]) == (8, 8)
    clusters = table[table["metric_zh"] == "科技特色产业集群"].iloc[0]
    assert (clusters["value"], clusters["mapped"]) == (13, 3)  # the plan names 3 of its 13


def test_real_which_tasks_touch_fuxin(registry):
    result = build_report(registry, Filter(city=frozenset({"210900"}))).coverage
    assert set(result.tasks["id"]) == {"htz_tier2_national", "htz_national_total",
                                       "htz_every_city", "clusters_named"}


def test_per_city_with_a_filter_matching_nothing_is_all_zero(registry):
    table = build_report(registry, Filter(city=frozenset({"211300"}), industry=frozenset({"marine"}))).cities
    table = table.drop(columns=["name_zh", "name_en", "industry_names"])
    assert len(table) == 14
    assert table.drop(columns="tasks").to_numpy().sum() == 0


def test_belt_from_kept_corridor_figures_equals_a_fresh_belt(world):
    every = places_of(world[0])
    figures = belt_mod.corridor_figures(every, world[1], 10, ("htz_a", "base_b"), GROUPS)
    for flt in (Filter(), Filter(kind=frozenset({"platform"})), Filter(city=frozenset({B}))):
        view = view_of(world, flt)
        fresh = belt_mod.belt(view, half_width_km=10, axis_ends=("htz_a", "base_b"), groups=GROUPS)
        kept = belt_mod.belt(view, half_width_km=10, axis_ends=("htz_a", "base_b"), groups=GROUPS, figures=figures)
        pd.testing.assert_frame_equal(fresh.places, kept.places)
        pd.testing.assert_frame_equal(fresh.cities, kept.cities)
        pd.testing.assert_frame_equal(fresh.groups, kept.groups)
    only_b = belt_mod.belt(view_of(world, Filter(city=frozenset({B}))), 10, ("htz_a", "base_b"), GROUPS, figures)
    assert list(only_b.cities.index) == [B] and "plat_far" in set(only_b.places["id"])
