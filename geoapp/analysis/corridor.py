"""A belt a plan names but does not draw (e.g. the 13th plan's 沈大高新技术产业带) as a derived
corridor: the straight axis between two places of the plan's choosing (its manifest's
`corridor.axis`), buffered by `half_width_km` on each side in an equal-area projection, and
clipped to the province. Change the width and every figure follows. A plan without a corridor
has none of this (analysis.report gives no belt).
"""
from __future__ import annotations

import geopandas as gpd
from shapely.geometry import LineString

from geoapp.geo import EQUAL_AREA, make_valid, project

DEFAULT_HALF_WIDTH_KM = 30.0  # the belt width /stats uses when the request names none


def corridor(start, end, province: gpd.GeoDataFrame,
             half_width_km: float = DEFAULT_HALF_WIDTH_KM) -> gpd.GeoDataFrame:
    """Corridor polygon (EPSG:4326) around the segment start→end (shapely points, lon/lat)."""
    if half_width_km <= 0:
        raise ValueError("half_width_km must be positive")
    axis = gpd.GeoSeries([LineString([start, end])], crs=4326).to_crs(EQUAL_AREA)
    band = project(axis.buffer(half_width_km * 1000, cap_style="round", quad_segs=32), 4326)
    # clip in lon/lat so the corridor never strays outside the province outline by a rounding
    shape = band.intersection(make_valid(province.geometry.union_all())).map(make_valid)
    return gpd.GeoDataFrame({
        "axis_length_km": [round(axis.length.iloc[0] / 1000, 1)],
        "half_width_km": [half_width_km],
        "area_km2": [round(project(shape).area.iloc[0] / 1e6, 1)],
    }, geometry=shape, crs=4326)
