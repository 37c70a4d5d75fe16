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
kept as it is, an empty cell left out (MVT has no null). The row's own values travel as one jsonb
(ST_AsMVT writes its keys), the labels as text columns.

Map tiles (`map_tile`): the clusters (count, mean lon/lat) per CELL_PX cell of a 256 px tile and
the points alone in their cell, as geoapp.layers.tiles.PointIndex.tile finds them (same pixel
formula from lon/lat, same cells and order).

Low zooms of big layers (`CellAggregates`): a z8 tile of a million places holds ~100,000 rows, too
many to group per request in tens of milliseconds. For a layer of AGGREGATE_MIN_ROWS rows or more,
per-cell counts, coordinate sums and the first row are kept in atlas_tile_cells per data_version,
grid and zoom (vector tiles: the encoder's 128-unit cells, zooms 0..MVT_AGGREGATE_MAX_ZOOM; map:
64 px cells, zooms 0..MAP_AGGREGATE_MAX_ZOOM), grouped also by level, kind and city so that those
filters are answered from them too (an industry filter groups the tile's rows). They are built once
per data_version by the first host that serves it (an advisory lock; in a background thread when
the bundle is made; one transaction, so a reader sees every zoom or none) and kept: a switch back to
an older version finds them. Until they are there, and for a tile under the cap (its points are
sent), tiles are made from the rows. A cell counts a point by its position rounded to whole tile
units, the encoder by its exact position: a point within half a unit (1/8192 of the tile) of the
buffer's edge may be counted in the edge cell of the tile beside — the one difference.

Each statement is prepared once per connection and planned generically (a tile's SQL is the same
text for every tile of a layer and filter; planning it cost more than running it), without bitmap
scans (see fetch_all), under the tile's time budget as statement_timeout, in one round trip.
"""
from __future__ import annotations

import atexit
import json
import logging
import math
import os
import re
import sys
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from geoapp.filters import Filter
from geoapp.postgis.layer import COLUMNS, PRIMARY_RETRY_S, DatabaseUnavailable, SqlLayer, _down_until

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


# Tile statements run on connections of their own (one small pool per process, database and time
# limit) whose session settings are what a tile needs, so a statement is one round trip: prepared
# once per connection and planned once for any parameters (psycopg keeps it per query text; a
# tile's SQL is the same text for every tile of a layer and filter, and planning it cost more
# than running it); no bitmap scans (on a table just COPied into, without statistics, the planner
# ANDed the GiST scan with every row of the version in the primary key: 5 ms of a 6 ms tile); the
# tile's budget as statement_timeout. A connection idle for CHECK_IDLE_S is checked before use.
TILE_OPTIONS = ("-c plan_cache_mode=force_generic_plan -c enable_bitmapscan=off -c jit=off "
                "-c idle_in_transaction_session_timeout=60000")
CHECK_IDLE_S = 2.0
_tile_pools: dict = {}
_pools_lock = threading.Lock()


def _check_if_idle(conn) -> None:
    if time.monotonic() - getattr(conn, "_atlas_used", 0.0) > CHECK_IDLE_S:
        from psycopg_pool import ConnectionPool
        ConnectionPool.check_connection(conn)


def _tile_pool(url: str, timeout_ms: int, replica: bool):
    key = (os.getpid(), url, timeout_ms)
    found = _tile_pools.get(key)
    if found is None:
        with _pools_lock:
            found = _tile_pools.get(key)
            if found is None:
                from psycopg_pool import ConnectionPool

                from geoapp.postgis import pool as pools
                found = ConnectionPool(url, min_size=1, max_size=pools.MAX_SIZE,
                                       timeout=pools.REPLICA_WAIT_S if replica else pools.WAIT_S,
                                       check=_check_if_idle,
                                       kwargs={"connect_timeout": pools.CONNECT_TIMEOUT_S, "autocommit": True,
                                               "options": f"{TILE_OPTIONS} -c statement_timeout={timeout_ms}"},
                                       name=f"atlas-tiles-{len(_tile_pools)}", open=True)
                _tile_pools[key] = found
    return found


def close_pools() -> None:
    """Close this process's tile pools (tests, exit)."""
    with _pools_lock:
        for key, found in list(_tile_pools.items()):
            if key[0] == os.getpid():
                found.close()
                del _tile_pools[key]


atexit.register(close_pools)


def _run(url: str, replica: bool, timeout_ms: int, text, params, layer: str) -> list[tuple]:
    import psycopg
    try:
        cm = _tile_pool(url, timeout_ms, replica).connection()
        conn = cm.__enter__()
    except (psycopg.OperationalError, _pool_timeout()) as error:
        raise _Unreachable(error) from error
    try:
        rows = conn.execute(text, params, prepare=True).fetchall()
        conn._atlas_used = time.monotonic()
    except BaseException:
        if not cm.__exit__(*sys.exc_info()):
            raise
    else:
        cm.__exit__(None, None, None)
        return rows
    raise AssertionError("unreachable")


class _Unreachable(Exception):
    pass


def _pool_timeout():
    from psycopg_pool import PoolTimeout
    return PoolTimeout


def fetch_all(sql: SqlLayer, text, params, timeout_s: float | None) -> list[tuple]:
    """Every row of one statement, as fetch_one. As SqlLayer.query: a replica that fails is left
    alone and the primary asked; a primary that fails is DatabaseUnavailable (the web answers
    503); past the tile's budget TileTimeout (without one, the pools' limit: QueryCanceled)."""
    import psycopg
    from geoapp.postgis import pool as pools
    timeout_ms = pools.STATEMENT_TIMEOUT_MS if timeout_s is None else max(100, math.ceil(timeout_s * 10) * 100)
    url = sql._url()
    try:
        while True:
            if url == sql.primary and time.monotonic() < _down_until.get(url, 0):
                raise DatabaseUnavailable(sql.layer)
            try:
                return _run(url, url != sql.primary, timeout_ms, text, params, sql.layer)
            except psycopg.errors.QueryCanceled:
                raise
            except (psycopg.OperationalError, _Unreachable) as error:
                cause = error.__cause__ if isinstance(error, _Unreachable) else error
                if url == sql.primary:
                    _down_until[url] = time.monotonic() + PRIMARY_RETRY_S
                    raise DatabaseUnavailable(sql.layer, cause) from cause
                sql._replica_failed(cause)
                url = sql.primary
    except psycopg.errors.QueryCanceled:
        if timeout_s is None:
            raise
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


# Columns the store also writes as generated text columns (geoapp/ingest/store.py GENERATED):
# their labels read them instead of props.
GENERATED_TEXT = ("kind", "level", "city_adcode", "district_adcode", "location_precision")
PAIRED_CODES = 40   # a label table of at most this many codes also gets every "a;b" pair


@dataclass(frozen=True)
class PropertySql:
    """The published properties as SQL over `f` (atlas_features): `select` (a feature row's),
    `nulls` (a cluster row's: no property), `names` (the outer select list) and parameters."""
    select: str
    nulls: str
    names: str
    params: dict


_property_cache: "OrderedDict[int, tuple[list, PropertySql]]" = OrderedDict()


def _property_sql(columns: list[Column]) -> PropertySql:
    """_make_property_sql of a collection's columns, made once (its label tables are written as
    JSON text once, not per tile)."""
    with _pools_lock:
        found = _property_cache.get(id(columns))
        if found is not None and found[0] is columns:
            _property_cache.move_to_end(id(columns))
            return found[1]
    made = _make_property_sql(columns)
    with _pools_lock:
        _property_cache[id(columns)] = (columns, made)
        while len(_property_cache) > 32:
            _property_cache.popitem(last=False)
    return made


def _make_property_sql(columns: list[Column]) -> PropertySql:
    """The row's own values go to ST_AsMVT as one jsonb (props; a published column that is not
    one of the store's columns as '', as the in-memory frame is filled): ST_AsMVT writes a jsonb's
    keys as properties, far cheaper than one ->> per property per row. The label
    columns (kind_zh, city_en, industries_zh, …) are text columns looked up in the same tables the
    catalog labels with (jsonb parameters): each ';'-separated code as its label or itself, a
    cell without codes NULL (left out of the feature, as the in-memory None)."""
    plain = [c.name for c in columns if c.labels is None]
    unpublished = [c for c in COLUMNS if c not in plain]
    # props as stored (the store writes every column of the layer into it): rebuilding a jsonb per
    # row (adding defaults, removing keys) took two thirds of a tile's time
    select = ["f.props - %(unpublished)s::text[] AS props" if unpublished else "f.props AS props"]
    params: dict = {"unpublished": unpublished} if unpublished else {}
    nulls, names = ["NULL::jsonb"], ["props"]
    for column in plain:   # published columns the rows do not carry (plan_role, …): '' as in memory
        if column not in COLUMNS:
            select.append(f"''::text AS {_identifier(column)}")
            nulls.append("NULL::text")
            names.append(_identifier(column))
    for i, column in enumerate(c for c in columns if c.labels is not None):
        labels = dict(column.labels)
        if len(labels) <= PAIRED_CODES:   # lists of two codes (industries) are one lookup too
            labels.update({f"{a};{b}": f"{la};{lb}" for a, la in column.labels.items()
                           for b, lb in column.labels.items()})
        params[f"lab{i}"] = json.dumps(labels, ensure_ascii=False)   # text, cast to jsonb by the SQL
        params[f"src{i}"] = column.source
        name = _identifier(column.name)
        value = f"f.{_identifier(column.source)}" if column.source in GENERATED_TEXT \
            else f"(f.props->>%(src{i})s)"
        # a known code (most cells) is one lookup; anything else (a list, spaces, an unknown
        # code, empty) takes the general path
        select.append(
            f"coalesce(%(lab{i})s::jsonb->>{value}, CASE WHEN strpos({value}, ';') = 0 THEN "
            f"NULLIF(coalesce(%(lab{i})s::jsonb->>btrim({value}), btrim({value})), '') ELSE "
            f"(SELECT string_agg(coalesce(%(lab{i})s::jsonb->>btrim(c), btrim(c)), ';' ORDER BY o) "
            f"FROM unnest(string_to_array({value}, ';')) WITH ORDINALITY AS u(c, o) "
            f"WHERE btrim(c) <> '') END) AS {name}")
        nulls.append("NULL::text")
        names.append(name)
    return PropertySql(", ".join(select), ", ".join(nulls), ", ".join(names), params)


MVT_SQL = """
WITH pts AS MATERIALIZED (
  SELECT position, props, industries, kind, level, city_adcode, district_adcode, location_precision,
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
), features AS (
  SELECT 0 AS part, f.position::float8 AS o1, 0::float8 AS o2, f.position + 1 AS fid,
         ST_MakePoint(f.ux, %(extent)s - f.uy) AS geom, {props},
         NULL::boolean AS cluster, NULL::integer AS point_count
  FROM pts f
  WHERE (SELECT n FROM total) <= %(cap)s OR f.position IN (SELECT position FROM cells WHERE n = 1)
  UNION ALL
  SELECT 1, cx, cy, NULL, ST_MakePoint(mx, %(extent)s - my), {nulls}, true, n::integer
  FROM cells WHERE n > 1
)
SELECT ST_AsMVT(t.*, %(name)s, %(extent)s, 'geom', 'fid') FROM (
  SELECT fid, geom, {names}, cluster, point_count FROM features ORDER BY part, o1, o2) t
"""


def mvt(sql: SqlLayer, name: str, columns: list[Column], flt: Filter, frame: TileFrame, *, extent: int,
        buffer: int, max_points: int, cluster_units: int, timeout_s: float | None = None,
        zoom: int | None = None, col: int = 0, row: int = 0) -> bytes:
    """One MVT layer `name` of the layer's points in the tile (b'' when there are none); with
    `zoom`/`col`/`row`, from the layer's cell aggregates when they can answer it."""
    if zoom is not None:
        found = aggregates(sql).mvt(name, columns, flt, frame, zoom, col, row, extent=extent, buffer=buffer,
                                    max_points=max_points, cluster_units=cluster_units, timeout_s=timeout_s)
        if found is not None:
            return found
    where, params = _named(*sql.where(flt), "w")
    props = _property_sql(columns)
    x0, y0, x1, y1 = frame.box
    params.update(props.params, left=frame.left, bottom=frame.bottom, sx=frame.scale_x, sy=frame.scale_y,
                  x0=x0, y0=y0, x1=x1, y1=y1, buffer=buffer, cell=cluster_units,
                  last=(extent + 2 * buffer) // cluster_units + 1, cap=max_points, extent=extent, name=name)
    text = MVT_SQL.format(where=where, props=props.select, nulls=props.nulls, names=props.names)
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
    if cluster and shift == (0.0, 0.0):   # cells are in WGS84: a shifted basemap groups from the rows
        found = aggregates(sql).map_tile(flt, z, x, y, by=by, tile_px=tile_px, cell_px=cell_px, timeout_s=timeout_s)
        if found is not None:
            return found
    return _map_tile(fetch_all(sql, MAP_SQL.format(where=where), params, timeout_s))


def _map_tile(rows: list[tuple]) -> MapTile:
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


# --- per-cell aggregates of big layers at low zooms -------------------------------------------------

HALF = 20037508.342789244          # half the Web Mercator world width (metres)
AGGREGATE_MIN_ROWS = 50_000        # smaller layers are grouped from their rows per tile (fast enough)
MVT_AGGREGATE_MAX_ZOOM = 9         # vector tiles up to this zoom read atlas_tile_cells
MAP_AGGREGATE_MAX_ZOOM = 11        # map JSON tiles up to this zoom read atlas_tile_cells
GRID_MVT, GRID_MAP = 0, 1
RECHECK_S = 5.0                    # how often a host asks again whether the cells were built
ADVISORY = 0x61746c73              # 'atls': the advisory lock namespace of the builds
CELL_FILTERS = ("level", "kind", "city")   # the filter parts the cells are grouped by (not industry)

# Rows of one version with their Web Mercator position (metres from the world's lower left), the
# filter columns the cells are grouped by, and their position in the layer: read once per build.
BUILD_POINTS = """
CREATE TEMPORARY TABLE atlas_build_points ON COMMIT DROP AS
SELECT ST_X(geom_3857) + %(half)s AS x, ST_Y(geom_3857) + %(half)s AS y,
       (ST_X(geom) + 180.0) / 360.0 AS u,
       (1.0 - asinh(tan(radians(least(greatest(ST_Y(geom), -85.05112878), 85.05112878)))) / pi()) / 2.0 AS v,
       ST_X(geom) AS lon, ST_Y(geom) AS lat, level, kind, city_adcode, position
FROM atlas_features WHERE data_version = %(dv)s AND ST_GeometryType(geom) = 'ST_Point'
"""
# Vector tiles at zoom z: cells of `cell` tile units, offset by the buffer (a tile's local cell k
# is world cell 32·col + k), positions in whole world units (x right, y up), as the encoder rounds.
BUILD_MVT = """
INSERT INTO atlas_tile_cells (data_version, grid, z, cx, cy, level, kind, city_adcode, n, sx, sy, position)
SELECT %(dv)s, 0, %(z)s, floor((ux + %(buffer)s) / %(cell)s), floor((uy + %(buffer)s) / %(cell)s),
       level, kind, city_adcode, count(*), sum(ux), sum(uy), min(position)
FROM (SELECT round(x * %(scale)s) AS ux, round(y * %(scale)s) AS uy, level, kind, city_adcode, position
      FROM atlas_build_points) p
GROUP BY 4, 5, 6, 7, 8
"""
# The map at its deepest aggregated zoom: cells of `cell` pixels of 256 px tiles, sums of lon/lat
# (a cluster's mean position); the cells of lower zooms are unions of these (floor(px / 64) at
# zoom z - 1 is floor(cell / 2) at zoom z), so they are summed from them.
BUILD_MAP = """
INSERT INTO atlas_tile_cells (data_version, grid, z, cx, cy, level, kind, city_adcode, n, sx, sy, position)
SELECT %(dv)s, 1, %(z)s, floor(u * %(scale)s / %(cell)s), floor(v * %(scale)s / %(cell)s),
       level, kind, city_adcode, count(*), sum(lon), sum(lat), min(position)
FROM atlas_build_points GROUP BY 4, 5, 6, 7, 8
"""
BUILD_MAP_UP = """
INSERT INTO atlas_tile_cells (data_version, grid, z, cx, cy, level, kind, city_adcode, n, sx, sy, position)
SELECT data_version, 1, z - 1, floor(cx / 2), floor(cy / 2), level, kind, city_adcode,
       sum(n), sum(sx), sum(sy), min(position)
FROM atlas_tile_cells WHERE data_version = %(dv)s AND grid = 1 AND z = %(z)s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""

MVT_CELLS_SQL = """
WITH cells AS (
  SELECT cx - %(cx0)s AS cx, cy - %(cy0)s AS cy, sum(n) AS n, sum(sx) AS sx, sum(sy) AS sy,
         min(position) AS position
  FROM atlas_tile_cells
  WHERE data_version = %(dv)s AND grid = 0 AND z = %(z)s AND cx BETWEEN %(cx0)s AND %(cx0)s + %(span)s
    AND cy BETWEEN %(cy0)s AND %(cy0)s + %(span)s {cell_filter}
  GROUP BY 1, 2
), features AS (
  SELECT 0 AS part, c.position::float8 AS o1, 0::float8 AS o2, c.position + 1 AS fid,
         ST_MakePoint(round((ST_X(f.geom_3857) - %(left)s) * %(sx)s),
                      %(extent)s - round((ST_Y(f.geom_3857) - %(bottom)s) * %(sy)s)) AS geom, {props},
         NULL::boolean AS cluster, NULL::integer AS point_count
  FROM cells c JOIN atlas_features f ON f.data_version = %(dv)s AND f.position = c.position
  WHERE c.n = 1
  UNION ALL
  SELECT 1, cx, cy, NULL, ST_MakePoint(round(sx / n - %(ux0)s), %(extent)s - round(sy / n - %(uy0)s)),
         {nulls}, true, n::integer
  FROM cells WHERE n > 1
)
SELECT (SELECT coalesce(sum(n), 0) FROM cells),
       (SELECT ST_AsMVT(t.*, %(name)s, %(extent)s, 'geom', 'fid') FROM (
          SELECT fid, geom, {names}, cluster, point_count FROM features ORDER BY part, o1, o2) t
        WHERE (SELECT coalesce(sum(n), 0) FROM cells) > %(cap)s)
"""

MAP_CELLS_SQL = """
WITH cells AS (
  SELECT cx, cy, sum(n) AS n, sum(sx) AS slon, sum(sy) AS slat, min(position) AS position
  FROM atlas_tile_cells
  WHERE data_version = %(dv)s AND grid = 1 AND z = %(z)s AND cx BETWEEN %(cx0)s AND %(cx1)s
    AND cy BETWEEN %(cy0)s AND %(cy1)s {cell_filter}
  GROUP BY 1, 2
)
SELECT 1 AS part, cx, cy, n, slon / n, slat / n, NULL, NULL, NULL, NULL, NULL FROM cells WHERE n > 1
UNION ALL
SELECT 0, c.position, 0, 1, ST_X(f.geom), ST_Y(f.geom), f.fid, coalesce(f.props->>%(by)s, ''),
       coalesce(f.props->>'location_precision', ''), coalesce(f.props->>'name_zh', ''),
       coalesce(f.props->>'name_en', '')
FROM cells c JOIN atlas_features f ON f.data_version = %(dv)s AND f.position = c.position WHERE c.n = 1
ORDER BY 1 DESC, 2, 3
"""


def _cell_filter(flt: Filter) -> tuple[str, dict] | None:
    """The filter as a condition on atlas_tile_cells; None when it names an industry (the cells
    are not grouped by industry: such a tile is grouped from the rows)."""
    if flt.industry:
        return None
    parts, params = [], {}
    for name, column in (("level", "level"), ("kind", "kind"), ("city", "city_adcode")):
        values = getattr(flt, name)
        if values:
            parts.append(f"AND {column} = ANY(%(cf_{name})s)")
            params[f"cf_{name}"] = sorted(values)
    return " ".join(parts), params


class CellAggregates:
    """The per-cell counts and sums of one layer version in atlas_tile_cells (see the module's
    doc): whether they are there (asked again every RECHECK_S while not), building them once per
    data version (advisory lock, on the primary, in a background thread), reading a tile of them."""

    def __init__(self, sql: SqlLayer):
        self.sql = sql
        self._built: set[tuple[int, int]] = set()
        self._asked = -1e9
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def wanted(self) -> bool:
        return self.sql.rows >= AGGREGATE_MIN_ROWS

    def ready(self, grid: int, z: int) -> bool:
        """Whether the cells of `grid` at zoom z can be read (starting their build if not)."""
        if not self.wanted:
            return False
        if (grid, z) in self._built:
            return True
        now = time.monotonic()
        if now - self._asked < RECHECK_S:
            return False
        self._asked = now
        try:
            rows = fetch_all(self.sql, "SELECT grid, z FROM atlas_tile_cells_built WHERE data_version = %(dv)s",
                             {"dv": self.sql.data_version}, 2.0)
        except Exception as error:   # a store made before the table, a replica behind: rows serve
            log.info("tile cells of %s not readable (%s): tiles are grouped from the rows", self.sql.layer, error)
            rows = []
        self._built = {(int(g), int(zz)) for g, zz in rows}
        if (grid, z) not in self._built:
            self.start()
        return (grid, z) in self._built

    def start(self) -> None:
        """Build in a background thread (once per process and version)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._build_quietly, daemon=True,
                                            name=f"atlas-tile-cells-{self.sql.data_version}")
            self._thread.start()

    def _build_quietly(self) -> None:
        try:
            self.build()
        except Exception:   # tiles keep being grouped from the rows; the next process tries again
            log.exception("building the tile cells of %s (data version %s) failed", self.sql.layer,
                          self.sql.data_version)

    def build(self) -> bool:
        """Build the cells of this data version on the primary unless they are there or another
        host is building them (then False). One transaction: a reader sees all zooms or none."""
        import psycopg
        dv = self.sql.data_version
        with psycopg.connect(self.sql.primary, autocommit=True) as conn:
            if conn.execute("SELECT count(*) FROM atlas_tile_cells_built WHERE data_version = %s",
                            (dv,)).fetchone()[0]:
                return False
            # a table just COPied into has no statistics; ANALYZE in a statement of its own, not
            # inside the build's transaction (its lock held to the commit made every process
            # starting meanwhile wait in ensure_schema: 6.6 s measured at 1M rows)
            conn.execute("ANALYZE atlas_features")
        with psycopg.connect(self.sql.primary, autocommit=False) as conn:
            if not conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (ADVISORY, dv)).fetchone()[0]:
                return False
            if conn.execute("SELECT count(*) FROM atlas_tile_cells_built WHERE data_version = %s",
                            (dv,)).fetchone()[0]:
                return False
            started = time.monotonic()
            conn.execute(BUILD_POINTS, {"half": HALF, "dv": dv})
            for z in range(MVT_AGGREGATE_MAX_ZOOM + 1):
                conn.execute(BUILD_MVT, {"dv": dv, "z": z, "scale": 4096 * 2 ** z / (2 * HALF),
                                         "buffer": 64, "cell": 128})
            conn.execute(BUILD_MAP, {"dv": dv, "z": MAP_AGGREGATE_MAX_ZOOM,
                                     "scale": float(256 * 2 ** MAP_AGGREGATE_MAX_ZOOM), "cell": 64.0})
            for z in range(MAP_AGGREGATE_MAX_ZOOM, 0, -1):
                conn.execute(BUILD_MAP_UP, {"dv": dv, "z": z})
            conn.execute("INSERT INTO atlas_tile_cells_built (data_version, grid, z) "
                         "SELECT %s, g, z FROM (VALUES (0, %s), (1, %s)) m(g, top), generate_series(0, top) z",
                         (dv, MVT_AGGREGATE_MAX_ZOOM, MAP_AGGREGATE_MAX_ZOOM))
            conn.commit()
            log.info("tile cells of %s (data version %s, %s rows) built in %.1f s", self.sql.layer, dv,
                     self.sql.rows, time.monotonic() - started)
        self._asked = -1e9
        return True

    def mvt(self, name: str, columns: list[Column], flt: Filter, frame: TileFrame, z: int, col: int, row: int, *,
            extent: int, buffer: int, max_points: int, cluster_units: int, timeout_s: float | None) -> bytes | None:
        """The tile from the cells (as `mvt` makes it from the rows), or None when they cannot
        answer it (not built, an industry filter, or the tile under the cap: its points are sent)."""
        cells = _cell_filter(flt)
        if cells is None or z > MVT_AGGREGATE_MAX_ZOOM or extent != 4096 or not self.ready(GRID_MVT, z):
            return None
        cell_filter, params = cells
        per_tile = extent // cluster_units
        bottom_row = (1 << z) - 1 - row
        props = _property_sql(columns)
        params.update(props.params, dv=self.sql.data_version, z=z, cx0=col * per_tile, cy0=bottom_row * per_tile,
                      span=per_tile, left=frame.left, bottom=frame.bottom, sx=frame.scale_x, sy=frame.scale_y,
                      ux0=float(col * extent), uy0=float(bottom_row * extent), extent=extent, name=name,
                      cap=max_points)
        text = MVT_CELLS_SQL.format(cell_filter=cell_filter, props=props.select, nulls=props.nulls,
                                    names=props.names)
        total, data = fetch_one(self.sql, text, params, timeout_s)
        if int(total) <= max_points:
            return None
        return bytes(data) if data is not None else b""

    def map_tile(self, flt: Filter, z: int, x: int, y: int, *, by: str, tile_px: int, cell_px: int,
                 timeout_s: float | None = None) -> "MapTile | None":
        cells = _cell_filter(flt)
        if cells is None or z > MAP_AGGREGATE_MAX_ZOOM or tile_px // cell_px != 4 or not self.ready(GRID_MAP, z):
            return None
        cell_filter, params = cells
        per_tile = tile_px // cell_px
        params.update(dv=self.sql.data_version, z=z, cx0=x * per_tile, cx1=(x + 1) * per_tile - 1,
                      cy0=y * per_tile, cy1=(y + 1) * per_tile - 1, by=by)
        rows = fetch_all(self.sql, MAP_CELLS_SQL.format(cell_filter=cell_filter), params, timeout_s)
        return _map_tile(rows)


_aggregates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # SqlLayer -> CellAggregates
_guard = threading.Lock()


def aggregates(sql: SqlLayer) -> CellAggregates:
    """The layer version's CellAggregates (one per SqlLayer, kept as long as it lives)."""
    found = _aggregates.get(sql)
    if found is None:
        with _guard:
            found = _aggregates.get(sql)
            if found is None:
                found = _aggregates[sql] = CellAggregates(sql)
    return found


def prepare(sql: SqlLayer) -> None:
    """Called when a bundle starts serving the layer: a big layer's cells are looked for (and
    built in the background if missing) before the first tile asks."""
    found = aggregates(sql)
    if found.wanted:
        threading.Thread(target=lambda: found.ready(GRID_MVT, 0), daemon=True,
                         name="atlas-tile-cells-check").start()
