"""The filter object: parsing as people write it, and applying it to a frame."""
import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from geoapp import DATA_DIR
from geoapp.data.plans import load_plans
from geoapp.filters import Filter, FilterError

INDUSTRIES = next(p for p in load_plans(DATA_DIR)[0].values() if p.default).industries


def parse_filter(args, cities):
    """geoapp.filters.parse_filter with the shipped plan's industry vocabulary."""
    from geoapp.filters import parse_filter as parse
    return parse(args, cities, INDUSTRIES)

CITIES = gpd.GeoDataFrame(
    {"adcode": ["210100", "210200"], "name_zh": ["沈阳市", "大连市"], "name_en": ["Shenyang", "Dalian"]},
    geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)


@pytest.mark.parametrize("raw", ["沈阳,大连", "沈阳，大连", "沈阳、大连", "210100, Dalian", "shenyang,DALIAN"])
def test_city_lists_as_people_type_them(raw):
    assert parse_filter({"city": raw}, CITIES).city == {"210100", "210200"}


def test_codes_are_case_insensitive_and_unknown_ones_list_the_allowed():
    assert parse_filter({"industry": "Biomedicine", "level": "NATIONAL"}, CITIES) == \
        Filter(industry=frozenset({"biomedicine"}), level=frozenset({"national"}))
    with pytest.raises(FilterError) as info:
        parse_filter({"industry": "pharma"}, CITIES)
    assert "biomedicine" in info.value.allowed and "pharma" in str(info.value)


def test_key_is_canonical():
    a = parse_filter({"industry": "new_materials,biomedicine", "city": "大连,沈阳"}, CITIES)
    b = parse_filter({"city": "210100,210200", "industry": "biomedicine,new_materials"}, CITIES)
    assert a.key() == b.key() == "industry=biomedicine,new_materials&city=210100,210200"


def test_apply_ors_values_ands_parameters_and_places_cityless_rows_by_geometry():
    frame = gpd.GeoDataFrame({
        "id": ["a", "b", "c", "belt"],
        "industries": ["biomedicine", "marine;new_materials", "biomedicine", "electronics"],
        "level": ["national", "provincial", "provincial", ""],
        "kind": ["high_tech_zone"] * 3 + ["corridor"],
        "city_adcode": ["210100", "210200", "210200", ""],
    }, geometry=[Point(0.5, 0.5), Point(1.5, 0.5), Point(1.6, 0.5), box(1.2, 0.2, 1.8, 0.8)], crs=4326)
    pick = lambda **kw: list(Filter(**{k: frozenset(v) for k, v in kw.items()}).apply(frame, CITIES)["id"])
    assert pick(industry={"biomedicine", "marine"}) == ["a", "b", "c"]
    assert pick(industry={"biomedicine"}, city={"210200"}) == ["c"]
    assert pick(city={"210200"}) == ["b", "c", "belt"]       # the corridor lies in Dalian's box
    assert pick(city={"210100"}) == ["a"]
    assert pick(level={"provincial"}, kind={"high_tech_zone"}) == ["b", "c"]
