"""Chinese map coordinates to WGS84.

Amap/Tencent pick GCJ-02, Baidu picks BD-09; everything the atlas stores is WGS84. The
conversion is `prcoords` (CC0), the library data/boundaries/seats.csv was built with (one library
for the project): its `*_bored` inverses iterate the forward formulas to ~0.1 mm, instead of the
usual one-step inverse that is off by up to ~2 m. CGCS2000 (EPSG:4490) differs from WGS84 by
centimetres, below the precision of any list the atlas imports, so it is taken as is.
"""
from __future__ import annotations

import numpy as np
import prcoords

CRS_CHOICES = ("wgs84", "gcj02", "bd09", "cgcs2000")
CRS_LABELS = {"wgs84": "WGS84 (GPS 设备 / GPS receivers, EPSG:4326)",
              "gcj02": "GCJ-02 (高德、腾讯地图拾取 / Amap, Tencent)",
              "bd09": "BD-09 (百度地图拾取 / Baidu)",
              "cgcs2000": "CGCS2000 (天地图、国家测绘成果 / Tianditu, national surveys, EPSG:4490)"}
_TO_WGS84 = {"gcj02": prcoords.gcj_wgs_bored, "bd09": prcoords.bd_wgs_bored}
_FROM_WGS84 = {"gcj02": prcoords.wgs_gcj, "bd09": prcoords.wgs_bd}


def _apply(function, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out_lon, out_lat = lon.copy(), lat.copy()
    for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist())):
        # NaN stays NaN; outside China the offsets are not defined: the point is kept as given
        # (and then reported as outside Liaoning), without prcoords' warning.
        if x != x or y != y or not prcoords.sanity_in_china_p(prcoords.Coords(y, x)):
            continue
        point = function(prcoords.Coords(y, x), False)
        out_lon[i], out_lat[i] = point.lon, point.lat
    return out_lon, out_lat


def _check(crs: str) -> None:
    if crs not in CRS_CHOICES:
        raise ValueError(f"unknown coordinate system {crs!r}; allowed: {', '.join(CRS_CHOICES)}")


def to_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of lon/lat in `crs` (one of CRS_CHOICES) as WGS84 lon/lat arrays."""
    _check(crs)
    if crs in _TO_WGS84:
        return _apply(_TO_WGS84[crs], lon, lat)
    return np.array(lon, dtype=float), np.array(lat, dtype=float)


def from_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 to `crs` (used to write test/bench files as a Chinese map app would give them)."""
    _check(crs)
    if crs in _FROM_WGS84:
        return _apply(_FROM_WGS84[crs], lon, lat)
    return np.array(lon, dtype=float), np.array(lat, dtype=float)
