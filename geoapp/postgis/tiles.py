"""Tiles of a layer that lives in PostGIS, answered by the database with the same content as the
in-memory encoders (geoapp/export/tiles.py for OGC vector tiles, geoapp/layers/tiles.py for the
map's JSON tiles): the parameters (extent, buffer, cap, cell sizes) come from those modules, this
one only says them in SQL.

Vector tiles (`mvt`): the points of the tile plus its buffer, found through the GiST index on
(data_version, geom_3857), then tested exactly against the buffered box; positions in tile units
are computed as the in-memory encoder does (round((x - left) * scale), y up from the bottom, so
clusters and cells agree), and `ST_AsMVT` writes the layer. A tile with more than `max_points`
points carries one feature per `cluster_units` cell instead: a point alone in its cell as itself,
several as {cluster: true, point_count: n} at the rounded mean of their positions — a GROUP BY.
Properties are the published columns: the values from `props` ('' where a row has none, as the
in-memory frame is filled) and the label columns (kind_zh, city_en, industries_zh, …) looked up
in the same tables the catalog labels with (passed as jsonb parameters), a code without a label
kept as it is, an empty cell left out (MVT has no null).
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from geoapp.filters import Filter
from geoapp.postgis.layer import SqlLayer
from geoapp.postgis.pool import pool

log = logging.getLogger(__name__)

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class TileTimeout(RuntimeError):
    """The database did not answer within the tile's time budget (statement_timeout)."""


@dataclass(frozen=True)
class Column:
    """One published property of the MVT layer: `source` (a key of props) itself, or, with
    `labels` (code -> label), its label: each ';'-separated code looked up, kept when unknown."""
    name: str
    source: str
    labels: dict | None = None


@dataclass(frozen=True)
class TileFrame:
    """Where a tile lies in Web Mercator metres: `left`/`bottom` and the metres -> tile units
    scales (as the in-memory encoder computes them from morecantile's bounds), and the buffered
    box (minx, miny, maxx, maxy) whose points belong to the tile."""
    left: float
    bottom: float
    scale_x: float
    scale_y: float
    box: tuple[float, float, float, float]


# --- running a statement within a budget ----------------------------------------------------------

def fetch_one(sql: SqlLayer, text, params, timeout_s: float | None):
    """The first row of one statement on the layer's connection (replica or primary), cancelled by
    the server after `timeout_s` (TileTimeout); a replica that fails is replaced by the primary."""
    rows = fetch_all(sql, text, params, timeout_s)
    return rows[0] if rows else None


def fetch_all(sql: SqlLayer, text, params, timeout_s: float | None) -> list[tuple]:
    """Every row of one statement, as fetch_one."""
    import psycopg

    def run(conn):
        if timeout_s is None:
            return conn.execute(text, params).fetchall()
        with conn.transaction():
            conn.execute("SELECT set_config('statement_timeout', %s, true)",
                         [f"{max(1, int(timeout_s * 1000))}ms"])
            return conn.execute(text, params).fetchall()

    url = sql._url()
    try:
        with sql.connection() as conn:
            return run(conn)
    except psycopg.errors.QueryCanceled:
        raise TileTimeout(f"the database took longer than {timeout_s:.2f} s") from None
    except psycopg.OperationalError as error:
        if url == sql.primary:
            raise
        sql._replica_failed(error)
        try:
            with pool(sql.primary).connection() as conn:
                return run(conn)
        except psycopg.errors.QueryCanceled:
            raise TileTimeout(f"the database took longer than {timeout_s:.2f} s") from None


# --- vector tiles -------------------------------------------------------------------------------

def _identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"property name {name!r} is not a plain column name")
    return f'"{name}"'


def _named(text: str, values: list, prefix: str) -> tuple[str, dict]:
    """SQL with %s placeholders (SqlLayer.where) -> the same with %(prefix<i>)s and their dict."""
    pieces = text.split("%s")
    if len(pieces) != len(values) + 1:
        raise ValueError("placeholders and parameters do not match")
    out = pieces[0]
    for i, piece in enumerate(pieces[1:]):
        out += f"%({prefix}{i})s" + piece
    return out, {f"{prefix}{i}": v for i, v in enumerate(values)}


def _property_sql(columns: list[Column]) -> tuple[str, dict]:
    """SQL expressions (over `f.props`) of the published properties, and their parameters."""
    from psycopg.types.json import Jsonb
    parts, params = [], {}
    for i, column in enumerate(columns):
        params[f"src{i}"] = column.source
        if column.labels is None:
            parts.append(f"coalesce(f.props->>%(src{i})s, '') AS {_identifier(column.name)}")
            continue
        # a cell's codes (';'-separated, trimmed, empty ones dropped) each as its label or itself,
        # joined with ';'; no code: NULL (left out of the feature, as the in-memory None)
        params[f"lab{i}"] = Jsonb(column.labels)
        parts.append(f"(SELECT string_agg(coalesce(%(lab{i})s::jsonb->>btrim(c), btrim(c)), ';' ORDER BY o) "
                     f"FROM unnest(string_to_array(f.props->>%(src{i})s, ';')) WITH ORDINALITY AS u(c, o) "
                     f"WHERE btrim(c) <> '') AS {_identifier(column.name)}")
    return ", ".join(parts), params


MVT_SQL = """
WITH pts AS MATERIALIZED (
  SELECT position,
         round((ST_X(geom_3857) - %(left)s) * %(sx)s) AS ux,
         round((ST_Y(geom_3857) - %(bottom)s) * %(sy)s) AS uy
  FROM atlas_features
  WHERE {where}
    AND geom_3857 && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 3857)
    AND ST_X(geom_3857) BETWEEN %(x0)s AND %(x1)s AND ST_Y(geom_3857) BETWEEN %(y0)s AND %(y1)s
), total AS (SELECT count(*) AS n FROM pts),
cells AS (
  SELECT least(greatest(floor((ux + %(buffer)s) / %(cell)s), 0), %(last)s) AS cx,
         least(greatest(floor((uy + %(buffer)s) / %(cell)s), 0), %(last)s) AS cy,
         count(*) AS n, round(avg(ux)) AS mx, round(avg(uy)) AS my, min(position) AS position
  FROM pts WHERE (SELECT n FROM total) > %(cap)s GROUP BY 1, 2
), singles AS (
  SELECT position, ux, uy FROM pts WHERE (SELECT n FROM total) <= %(cap)s
  UNION ALL
  SELECT c.position, p.ux, p.uy FROM cells c JOIN pts p USING (position) WHERE c.n = 1
), features AS (
  SELECT 0 AS part, s.position::float8 AS o1, 0::float8 AS o2, s.position + 1 AS fid,
         ST_MakePoint(s.ux, %(extent)s - s.uy) AS geom, {props},
         NULL::boolean AS cluster, NULL::integer AS point_count
  FROM singles s JOIN atlas_features f ON f.data_version = %(dv)s AND f.position = s.position
  UNION ALL
  SELECT 1, cx, cy, NULL, ST_MakePoint(mx, %(extent)s - my), {nulls}, true, n::integer
  FROM cells WHERE n > 1
)
SELECT ST_AsMVT(t.*, %(name)s, %(extent)s, 'geom', 'fid') FROM (
  SELECT fid, geom, {names}, cluster, point_count FROM features ORDER BY part, o1, o2) t
"""


def mvt(sql: SqlLayer, name: str, columns: list[Column], flt: Filter, frame: TileFrame, *, extent: int,
        buffer: int, max_points: int, cluster_units: int, timeout_s: float | None = None) -> bytes:
    """One MVT layer `name` of the layer's points in the tile (b'' when there are none)."""
    where, params = _named(*sql.where(flt), "w")
    props, prop_params = _property_sql(columns)
    x0, y0, x1, y1 = frame.box
    params.update(prop_params, left=frame.left, bottom=frame.bottom, sx=frame.scale_x, sy=frame.scale_y,
                  x0=x0, y0=y0, x1=x1, y1=y1, buffer=buffer, cell=cluster_units,
                  last=(extent + 2 * buffer) // cluster_units + 1, cap=max_points, extent=extent,
                  dv=sql.data_version, name=name)
    text = MVT_SQL.format(where=where, props=props, nulls=", ".join("NULL::text" for _ in columns),
                          names=", ".join(_identifier(c.name) for c in columns))
    found = fetch_one(sql, text, params, timeout_s)
    return bytes(found[0]) if found and found[0] is not None else b""


# --- the map's JSON tiles -------------------------------------------------------------------------

MAP_SQL = """
WITH pts AS MATERIALIZED (
  SELECT position, fid, lon, lat, px, py, style_by, precision, name_zh, name_en FROM (
    SELECT position, fid, ST_X(geom) AS lon, ST_Y(geom) AS lat,
           (ST_X(geom) + %(dlon)s + 180.0) / 360.0 * %(scale)s AS px,
           (1.0 - asinh(tan(radians(least(greatest(ST_Y(geom) + %(dlat)s, -85.05112878), 85.05112878))))
            / pi()) / 2.0 * %(scale)s AS py,
           coalesce(props->>%(by)s, '') AS style_by, coalesce(props->>'location_precision', '') AS precision,
           coalesce(props->>'name_zh', '') AS name_zh, coalesce(props->>'name_en', '') AS name_en
    FROM atlas_features
    WHERE {where} AND geom && ST_MakeEnvelope(%(lon0)s, %(lat0)s, %(lon1)s, %(lat1)s, 4326)) s
  WHERE px >= %(x0)s AND px < %(x1)s AND py >= %(y0)s AND py < %(y1)s
), cells AS (
  SELECT floor(px / %(cell)s) AS cx, floor(py / %(cell)s) AS cy, count(*) AS n,
         avg(lon) AS lon, avg(lat) AS lat, min(position) AS position
  FROM pts WHERE %(clustered)s GROUP BY 1, 2
)
SELECT 1 AS part, cx, cy, n, lon, lat, NULL, NULL, NULL, NULL, NULL FROM cells WHERE n > 1
UNION ALL
SELECT 0, p.position, 0, 1, p.lon, p.lat, p.fid, p.style_by, p.precision, p.name_zh, p.name_en
FROM pts p WHERE NOT %(clustered)s OR p.position IN (SELECT position FROM cells WHERE n = 1)
ORDER BY 1 DESC, 2, 3
"""


@dataclass(frozen=True)
class MapTile:
    """A map tile's content from the database: clusters [(lon, lat, n)] in cell order and the
    points alone in their cell [(id, lon, lat, style value, location precision, name_zh, name_en)]
    in layer order, lon/lat as stored (the caller shifts them to the basemap's datum)."""
    clusters: list
    points: list


def map_tile(sql: SqlLayer, flt: Filter, z: int, x: int, y: int, *, by: str, tile_px: int, cell_px: int,
             cluster: bool, shift: tuple[float, float] = (0.0, 0.0), timeout_s: float | None = None) -> MapTile:
    """Clusters (points sharing a `cell_px` cell, at zoom z) and lone points of tile z/x/y, as
    geoapp.layers.tiles.PointIndex.tile finds them: pixel positions from lon/lat (+ `shift`, the
    basemap datum's offset near this tile) with the same formula, cells by floor(px / cell_px)."""
    n = 1 << z
    scale = n * tile_px
    dlon, dlat = shift
    lon0, lon1 = x / n * 360.0 - 180.0, (x + 1) / n * 360.0 - 180.0
    lat1 = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    lat0 = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    margin = 1e-6   # the exact pixel test follows; the box only has to hold the tile's points
    where, params = _named(*sql.where(flt), "w")
    params.update(dlon=dlon, dlat=dlat, scale=float(scale), by=by, cell=float(cell_px), clustered=cluster,
                  lon0=lon0 - dlon - margin, lon1=lon1 - dlon + margin,
                  lat0=max(lat0, -85.05112878) - dlat - margin, lat1=min(lat1, 85.05112878) - dlat + margin,
                  x0=float(x * tile_px), x1=float((x + 1) * tile_px), y0=float(y * tile_px),
                  y1=float((y + 1) * tile_px))
    rows = fetch_all(sql, MAP_SQL.format(where=where), params, timeout_s)
    clusters = [(float(r[4]), float(r[5]), int(r[3])) for r in rows if r[0] == 1]
    points = [(r[6], float(r[4]), float(r[5]), r[7], r[8], r[9], r[10]) for r in rows if r[0] == 0]
    return MapTile(clusters, points)


def first_styles(sql: SqlLayer, flt: Filter, by: str) -> list[tuple[str, str]]:
    """The (style value, location precision) pairs of the rows the filter keeps, in the order of
    their first row (the order PointIndex numbers its styles in)."""
    where, params = _named(*sql.where(flt), "w")
    params["by"] = by
    rows = fetch_all(sql, f"SELECT coalesce(props->>%(by)s, ''), coalesce(props->>'location_precision', ''), "
                          f"min(position) FROM atlas_features WHERE {where} GROUP BY 1, 2 ORDER BY 3", params, None)
    return [(r[0], r[1]) for r in rows]
