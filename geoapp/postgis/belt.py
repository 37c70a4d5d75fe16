"""Where the places of a database layer lie against a plan's belt corridor, in one SQL aggregate
per (layer, data version, corridor).

The in-memory belt (geoapp.analysis.belt) measures each place through its known extent: a point
that stands for its district or city is judged by that boundary's polygon (the same for every
place of the boundary: the analysis does it once per boundary), any other point by itself, and
`point_inside` says whether the map's point lies in the corridor. So a layer in PostGIS is
summarised by

    SELECT city_adcode, kind, level, location_precision, industries,
           district_adcode (for district/subdistrict precision only),
           the point in the corridor (ST_Intersects in the equal-area CRS), count(*)
    FROM atlas_features WHERE data_version = %s GROUP BY 1, 2, 3, 4, 5, 6, 7

with the corridor passed as WKB (see GROUP_SQL: tested in degrees, the points by its edge in
Python exactly as the analysis tests them); a box in degrees around the corridor skips the test
for points far from it. The analysis
(analysis.belt.group_relations) turns the groups into relations and adds them wherever the belt
counts places. Kept per SqlLayer (one bundle, one data version) and corridor key (the width).
"""
from __future__ import annotations

import threading
import weakref

import numpy as np
import pandas as pd
import shapely

from geoapp.geo import EQUAL_AREA, project_xy
from geoapp.postgis.layer import SqlLayer

BELT_COLUMNS = ["layer", "city_adcode", "kind", "level", "location_precision", "industries",
                "district_adcode", "point_inside", "n"]

_kept: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # SqlLayer -> {key: frame}
_guard = threading.Lock()

# PostGIS builds a PROJ transformation per call for a proj string (no SRID to cache it by):
# ~1 ms a row. So the points are tested in degrees against the corridor brought back to
# EPSG:4326 after densifying it in the projection (SEGMENT_M: the back-projected edges then bend
# by far less than EDGE_DEG): a point in the corridor shrunk by EDGE_DEG is inside, one out of
# the corridor grown by EDGE_DEG is outside (two prepared point-in-polygon tests), and the few
# points between (within ~1 m of its edge) are fetched and tested as the analysis tests them
# (geo.project_xy + shapely.intersects_xy on the projected corridor): memory's answer, point by
# point.
SEGMENT_M = 200.0
# Above this many rows in the counted database layers the belt does not query them (the
# statement reads every row's point: ~270–390 ms per 20,000 rows on the shared 2-core machine,
# so ~15 s at 1M) and /stats says how many places the belt leaves out. See
# /work/notes/sqlstats2.md for the per-cell plan that would scale.
BELT_MAX_ROWS = 50_000
EDGE_DEG = 1e-5   # ~1 m

_NEAR = ("geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326) "
         "AND ST_Intersects(geom, ST_GeomFromWKB(%(outer)s, 4326))")
_GROUP = ("city_adcode, kind, level, location_precision, industries, "
          "CASE WHEN location_precision IN ('district', 'subdistrict') THEN coalesce(district_adcode, '') "
          "ELSE '' END")
GROUP_SQL = (
    f"SELECT {_GROUP}, coalesce({_NEAR}, false), count(*) FROM atlas_features "
    "WHERE data_version = %(version)s "
    f"AND NOT coalesce({_NEAR} AND NOT ST_Intersects(geom, ST_GeomFromWKB(%(inner)s, 4326)), false) "
    "GROUP BY 1, 2, 3, 4, 5, 6, 7")
EDGE_SQL = (
    f"SELECT {_GROUP}, ST_X(geom), ST_Y(geom) FROM atlas_features WHERE data_version = %(version)s "
    f"AND {_NEAR} AND NOT ST_Intersects(geom, ST_GeomFromWKB(%(inner)s, 4326))")


def degrees_band(band):
    """The projected corridor densified (SEGMENT_M) and brought back to EPSG:4326."""
    import geopandas as gpd
    dense = shapely.segmentize(band, SEGMENT_M)
    return gpd.GeoSeries([dense], crs=EQUAL_AREA).to_crs(4326).iloc[0]


def empty_belt_groups() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n" else bool if c == "point_inside" else object)
                         for c in BELT_COLUMNS})


def layer_belt_groups(layer: SqlLayer, key, band, box: tuple[float, float, float, float]) -> pd.DataFrame:
    """The layer's rows grouped by what the belt reads (BELT_COLUMNS) for one corridor: `band`
    its polygon in EQUAL_AREA (shapely), `box` (west, south, east, north) degrees holding it (with
    a margin), `key` what identifies it (the width). Kept as long as the SqlLayer lives."""
    with _guard:
        per_layer = _kept.setdefault(layer, {})
        found = per_layer.get(key)
    if found is not None:
        return found
    degrees = degrees_band(band)
    params = {"w": box[0], "s": box[1], "e": box[2], "n": box[3], "version": layer.data_version,
              "outer": shapely.to_wkb(degrees.buffer(EDGE_DEG)), "inner": shapely.to_wkb(degrees.buffer(-EDGE_DEG))}
    records = [tuple(r) for r in layer.query(GROUP_SQL, params)]
    near = layer.query(EDGE_SQL, params)
    if near:   # the points by the edge, tested as the analysis tests them
        x, y = project_xy([r[6] for r in near], [r[7] for r in near])
        shapely.prepare(band)
        inside = shapely.intersects_xy(band, x, y)
        records += [(*r[:6], bool(hit), 1) for r, hit in zip(near, inside)]
    if not records:
        frame = empty_belt_groups()
    else:
        frame = pd.DataFrame([(layer.layer, city or "", kind or "", level or "", precision or "",
                               ";".join(industries) if industries else "", district or "", bool(inside), n)
                              for city, kind, level, precision, industries, district, inside, n in records],
                             columns=BELT_COLUMNS)
        frame = frame.groupby(BELT_COLUMNS[:-1], as_index=False, sort=True)["n"].sum()
        frame["n"] = frame["n"].astype(np.int64)
    with _guard:
        per_layer[key] = frame
        while len(per_layer) > 16:   # as many widths as the report cache keeps corridors
            per_layer.pop(next(iter(per_layer)))
    return frame


def belt_groups(layers, key, band, box) -> pd.DataFrame | None:
    """layer_belt_groups of several SqlLayers in one table (None for no layers)."""
    layers = list(layers)
    if not layers:
        return None
    parts = [layer_belt_groups(layer, key, band, box) for layer in layers]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
