"""Coordinate systems. Store and serve EPSG:4326; measure in an equal-area projection.

Reprojecting moves every vertex on its own, so a polygon that is valid in one CRS can
self-intersect in another (two edges a few centimetres apart cross; GEOS then raises
TopologyException in intersection/overlay). Reproject polygons with `project`, which repairs
what the reprojection broke, never with a bare `to_crs`.
"""
from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

WGS84 = CRS.from_epsg(4326)
# Liaoning-centred Albers equal-area on GRS80 (the CGCS2000 ellipsoid): areas in m² are true to
# the ellipsoid; distances along the corridor axis are within ~0.5% across the province.
EQUAL_AREA = CRS.from_proj4("+proj=aea +lat_0=0 +lon_0=123 +lat_1=39 +lat_2=43 +ellps=GRS80 "
                            "+units=m +no_defs")


def make_valid(geometry):
    """One geometry, repaired if invalid, keeping its polygonal structure: the 'structure'
    method unions rings instead of splitting them into lines, so a polygon stays a
    (Multi)Polygon and its area changes by the sliver only."""
    if geometry is None or geometry.is_valid:
        return geometry
    return shapely.make_valid(geometry, method="structure", keep_collapsed=False)


def project(data: gpd.GeoDataFrame | gpd.GeoSeries, crs=EQUAL_AREA):
    """`data.to_crs(crs)` with every geometry valid afterwards (see the module docstring)."""
    moved = data.to_crs(crs)
    series = moved.geometry
    invalid = ~series.is_valid
    if invalid.any():
        repaired = series.copy()
        repaired[invalid] = shapely.make_valid(series[invalid].values, method="structure",
                                               keep_collapsed=False)
        if isinstance(moved, gpd.GeoSeries):
            return repaired
        moved = moved.set_geometry(repaired)
    return moved


def area_km2(frame: gpd.GeoDataFrame | gpd.GeoSeries):
    return project(frame).area / 1e6


@lru_cache(maxsize=8)
def _transformer(crs) -> Transformer:
    return Transformer.from_crs(WGS84, crs, always_xy=True)


def project_xy(lon, lat, crs=EQUAL_AREA) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat arrays (EPSG:4326) as x/y arrays in `crs`: what `to_crs` does to points (the same
    pyproj transformation), without building geometries. Points need no repair."""
    x, y = _transformer(crs).transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
