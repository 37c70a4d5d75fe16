"""Coordinate systems. Store and serve EPSG:4326; measure in an equal-area projection."""
from __future__ import annotations

import geopandas as gpd
from pyproj import CRS

WGS84 = CRS.from_epsg(4326)
# Liaoning-centred Albers equal-area on GRS80 (the CGCS2000 ellipsoid): areas in m² are true to
# the ellipsoid; distances along the corridor axis are within ~0.5% across the province.
EQUAL_AREA = CRS.from_proj4("+proj=aea +lat_0=0 +lon_0=123 +lat_1=39 +lat_2=43 +ellps=GRS80 "
                            "+units=m +no_defs")


def area_km2(frame: gpd.GeoDataFrame | gpd.GeoSeries):
    return frame.to_crs(EQUAL_AREA).area / 1e6
