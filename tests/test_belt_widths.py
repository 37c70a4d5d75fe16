"""Issue 14 item 3: every belt width works. The corridor is valid in lon/lat but, for half-widths
around 6.7–7.7 km, self-intersected once reprojected to the equal-area CRS and GEOS raised in
analysis/belt.py (/stats?half_width_km=7 answered 500). geoapp.geo.project repairs what a
reprojection breaks; these tests look for any width that still fails."""
from __future__ import annotations

import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

import geopandas as gpd
import pytest

from geoapp.analysis import belt as belt_mod
from geoapp.analysis.corridor import corridor
from geoapp.analysis.view import place_view
from geoapp.geo import EQUAL_AREA, project

# Widths as people type them: km with up to two decimals, over the range /stats accepts.
WIDTHS = st.integers(min_value=100, max_value=10_000).map(lambda n: n / 100)
FAILED_BEFORE = [6.7, 7.0, 7.2, 7.7]  # from the issue's sweep (21 of 1,981 widths, 6.70–7.70)


@pytest.fixture(scope="module")
def axis_ends(registry):
    ends = registry.counted_places().set_index("id").geometry
    first, second = registry.plan.corridor.axis  # the plan's corridor (its manifest)
    return ends[first], ends[second]


def test_the_issue_width_does_break_a_bare_reprojection(registry, axis_ends):
    """The regression case still exercises the repair: without project() it is invalid.
    (7 km broke with the axis between the districts' representative points; since the ends are the
    districts' government seats (issue 13) the band that breaks is 4.8-5.7 km.)"""
    shape = corridor(*axis_ends, registry.boundaries["province"], 5.0)
    assert not shape.to_crs(EQUAL_AREA).geometry.iloc[0].is_valid
    assert project(shape).geometry.iloc[0].is_valid


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=WIDTHS)
@example(width=4.8)
@example(width=5.0)
@example(width=5.7)
@example(width=7.0)
def test_corridor_is_valid_in_both_crs_for_every_width(registry, axis_ends, width):
    shape = corridor(*axis_ends, registry.boundaries["province"], width)
    lonlat = shape.geometry.iloc[0]
    projected = project(shape).geometry.iloc[0]
    assert lonlat.is_valid and projected.is_valid
    assert lonlat.geom_type in ("Polygon", "MultiPolygon")
    assert projected.geom_type in ("Polygon", "MultiPolygon")
    # the repair removes slivers, not area: the projected corridor keeps the stored area
    assert projected.area / 1e6 == pytest.approx(shape["area_km2"].iloc[0], abs=0.1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=WIDTHS)
@example(width=6.7)
@example(width=7.0)
def test_belt_analysis_runs_for_every_width(registry, width):
    result = belt_mod.belt(place_view(registry.counted_places(), registry.boundaries), half_width_km=width,
                           axis_ends=registry.plan.corridor.axis, groups=belt_mod.plan_groups(registry.plan))
    assert result.half_width_km == width and result.area_km2 > 0
    assert set(result.places["relation"]) <= set(belt_mod.RELATIONS)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=WIDTHS)
@example(width=7.0)
def test_no_width_answers_500(client, width):
    for url in (f"/api/coverage?half_width_km={width:g}", f"/stats/belt_cities.csv?half_width_km={width:g}"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)


@pytest.mark.parametrize("width", FAILED_BEFORE)
def test_stats_page_for_the_widths_that_failed(client, width):
    response = client.get(f"/stats?half_width_km={width:g}")
    assert response.status_code == 200
    assert f"{width:g}" in response.get_data(as_text=True)


def test_project_repairs_an_invalid_polygon_keeping_its_area():
    bowtie_ring = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # self-intersecting: two triangles
    frame = gpd.GeoDataFrame({"id": ["a"]}, geometry=[bowtie_ring], crs=EQUAL_AREA)
    repaired = project(frame, EQUAL_AREA)
    geom = repaired.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(2.0)
    assert list(repaired["id"]) == ["a"] and shapely.get_num_geometries(geom) == 2
