"""SqlLayer: one imported layer at one data version, read with SQL per request.

Every query names `data_version = %s` first, so it uses the store's indexes on (data_version, …):
pages in layer order (primary key), ids, the filter's columns, boxes (GiST on geom) and tiles
(GiST on geom_3857). Values always travel as query parameters, never in the SQL text.

A page or a stream comes back as a GeoDataFrame with the imported layer's columns
(geoapp.ingest.rows.COLUMNS) and the geometry, index = feature id: the same shape the in-memory
layers have, so the existing writers (labels, GeoJSON, CSV, …) serialise it unchanged.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoapp.filters import Filter
from geoapp.postgis.pool import pool

log = logging.getLogger(__name__)

# The imported layer's columns (kept equal to geoapp.ingest.rows.COLUMNS by tests/test_postgis.py;
# this package sits below ingest and cannot import it).
COLUMNS = ["id", "name_zh", "name_en", "kind", "level", "city_adcode", "district_adcode",
           "industries", "location_precision", "address", "plan_refs", "source", "note_zh", "note_en"]
# A replica that failed a read is left alone this long (reads go to the primary meanwhile).
REPLICA_RETRY_S = 5.0
STREAM_CHUNK = 5000

# After the primary failed to give a connection, requests fail at once (a 503) for this long
# instead of each waiting for the pool: a database outage must not tie up every worker thread,
# pages served from memory included.
PRIMARY_RETRY_S = 2.0

_down_until: dict[str, float] = {}


class DatabaseUnavailable(RuntimeError):
    """The database that holds a layer's rows cannot be reached now (the web answers 503)."""

    def __init__(self, layer: str, error: BaseException | None = None):
        self.layer = layer
        detail = f": {type(error).__name__}" if error is not None else " (retrying shortly)"
        super().__init__(f"数据库暂时无法访问，请稍后再试 / the database holding layer '{layer}' cannot be "
                         f"reached{detail}; try again in a few seconds")


def filter_sql(flt: Filter) -> tuple[str, list]:
    """The shared filter (industry, city, level, kind: values OR-ed, parameters AND-ed) as a SQL
    condition over the generated columns, with its parameters; "TRUE" for no filter. Imported rows
    always have a city, so the city part is a code comparison (no geometry test)."""
    parts, params = [], []
    if flt.industry:
        parts.append("industries && %s::text[]")
        params.append(sorted(flt.industry))
    for column, values in (("level", flt.level), ("kind", flt.kind), ("city_adcode", flt.city)):
        if len(values) == 1:   # `= value`: the (data_version, column, position) index gives rows in order
            parts.append(f"{column} = %s")
            params.append(next(iter(values)))
        elif values:
            parts.append(f"{column} = ANY(%s)")
            params.append(sorted(values))
    return (" AND ".join(parts) or "TRUE"), params


def bbox_sql(boxes: list[tuple[float, float, float, float]] | None) -> tuple[str, list]:
    """Rows whose geometry intersects any of the boxes (lon/lat, WGS84), via the GiST index."""
    if not boxes:
        return "TRUE", []
    parts, params = [], []
    for box in boxes:
        parts.append("ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
        params.extend(float(v) for v in box)
    return "(" + " OR ".join(parts) + ")", params


@dataclass(eq=False)
class SqlLayer:
    """`layer` as the store wrote it in `data_version` (`rows` rows), read from `url` (the primary
    or a replica that has reached that version); `primary` serves when the replica fails."""
    layer: str
    data_version: int
    rows: int
    url: str
    primary: str
    digest: str = ""      # a hash of the rows' content (the store writes it with them)
    _bounds: tuple | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def key(self) -> tuple:
        """What identifies the rows (ETags, caches): the layer and its content digest, so the
        same rows imported again keep their ETags (the data version for rows without one)."""
        return (self.layer, self.digest) if self.digest else (self.layer, self.data_version)

    # -- connections -------------------------------------------------------------------------
    def _url(self) -> str:
        if self.url != self.primary and time.monotonic() < _down_until.get(self.url, 0):
            return self.primary
        return self.url

    @contextlib.contextmanager
    def connection(self):
        """A pooled connection (autocommit) to the replica that holds this version, or to the
        primary when there is none or the replica cannot be reached (it is then left alone for
        REPLICA_RETRY_S)."""
        url = self._url()
        try:
            cm, conn = self._checkout(url)
        except DatabaseUnavailable:
            if url == self.primary:
                raise
            self._replica_failed(None)
            cm, conn = self._checkout(self.primary)
        try:
            yield conn
        except BaseException:
            if not cm.__exit__(*sys.exc_info()):
                raise
        else:
            cm.__exit__(None, None, None)

    def _checkout(self, url: str):
        """(context, connection) from `url`'s pool, or DatabaseUnavailable — at once while the
        primary is known to be down (PRIMARY_RETRY_S)."""
        import psycopg
        if url == self.primary and time.monotonic() < _down_until.get(url, 0):
            raise DatabaseUnavailable(self.layer)
        cm = pool(url, replica=url != self.primary).connection()
        try:
            conn = cm.__enter__()
        except psycopg.errors.QueryCanceled:
            raise
        except (psycopg.OperationalError, _pool_timeout()) as error:
            if url == self.primary:
                _down_until[url] = time.monotonic() + PRIMARY_RETRY_S
                log.warning("database of layer %s unreachable: %s", self.layer, error)
            raise DatabaseUnavailable(self.layer, error) from error
        return cm, conn

    def _replica_failed(self, error: BaseException | None) -> None:
        _down_until[self.url] = time.monotonic() + REPLICA_RETRY_S
        log.warning("replica read failed, reading %s from the primary: %s", self.layer, error)

    def query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        """All rows of one statement; a replica that fails mid-read is replaced by the primary."""
        import psycopg
        url = self._url()
        try:
            with self.connection() as conn:
                return conn.execute(sql, params).fetchall()
        except psycopg.errors.QueryCanceled:   # over the time limit: the database is fine
            raise
        except psycopg.OperationalError as error:
            if url == self.primary:
                _down_until[url] = time.monotonic() + PRIMARY_RETRY_S
                raise DatabaseUnavailable(self.layer, error) from error
            self._replica_failed(error)
            with self.connection() as conn:     # the replica is left alone now: the primary
                return conn.execute(sql, params).fetchall()

    # -- reading -----------------------------------------------------------------------------
    def where(self, flt: Filter = Filter(), boxes=None, extra: tuple[str, list] | None = None) -> tuple[str, list]:
        """`data_version = this` AND the filter AND the boxes AND an extra (sql, params)."""
        parts, params = ["data_version = %s"], [self.data_version]
        for sql, values in (filter_sql(flt), bbox_sql(boxes), extra or ("TRUE", [])):
            if sql != "TRUE":
                parts.append(f"({sql})")
                params.extend(values)
        return " AND ".join(parts), params

    def count(self, flt: Filter = Filter(), boxes=None, extra=None) -> int:
        if flt.empty and not boxes and extra is None:
            return self.rows
        sql, params = self.where(flt, boxes, extra)
        return int(self.query(f"SELECT count(*) FROM atlas_features WHERE {sql}", params)[0][0])

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(minx, miny, maxx, maxy) of every row (lon/lat); None for no rows. Asked once."""
        with self._lock:
            if self._bounds is None:
                row = self.query("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                 "(SELECT ST_Extent(geom) AS e FROM atlas_features WHERE data_version = %s) s",
                                 [self.data_version])[0]
                self._bounds = tuple(float(v) for v in row) if row[0] is not None else ()
            return self._bounds or None

    def frame(self, where: tuple[str, list] | None = None, order: str = "position",
              limit: int | None = None, offset: int = 0) -> gpd.GeoDataFrame:
        """The rows matching `where` (default: all of this version) in `order` (SQL over the
        columns; default the layer's own order), a page of them with `limit`/`offset`."""
        sql, params = where or self.where()
        text = (f"SELECT fid, props, ST_AsBinary(geom) FROM atlas_features WHERE {sql} "
                f"ORDER BY {order}")
        if limit is not None:
            text += " LIMIT %s OFFSET %s"
            params = [*params, int(limit), int(offset)]
        return to_frame(self.query(text, params))

    def stream(self, where: tuple[str, list] | None = None, order: str = "position",
               chunk: int = STREAM_CHUNK) -> Iterator[gpd.GeoDataFrame]:
        """The rows matching `where` as frames of at most `chunk` rows, from a server-side cursor
        (a whole-layer download never holds the layer)."""
        sql, params = where or self.where()
        with self.connection() as conn:
            with conn.transaction():
                with conn.cursor(name=f"atlas_stream_{id(self)}_{threading.get_ident()}") as cur:
                    cur.itersize = chunk
                    cur.execute(f"SELECT fid, props, ST_AsBinary(geom) FROM atlas_features WHERE {sql} "
                                f"ORDER BY {order}", params)
                    while True:
                        records = cur.fetchmany(chunk)
                        if not records:
                            return
                        yield to_frame(records)

    def feature(self, fid: str) -> gpd.GeoDataFrame:
        """The row of one feature id (an empty frame when there is none)."""
        return self.frame(self.where(extra=("fid = %s", [str(fid)])))


def to_frame(records: list[tuple]) -> gpd.GeoDataFrame:
    """(fid, props dict, WKB) records -> the layer's columns + geometry, index = fid (str)."""
    if not records:
        frame = gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in COLUMNS},
                                 geometry=gpd.GeoSeries([], crs=4326), crs=4326)
        frame.index = pd.Index([], name="fid", dtype=object)
        return frame
    table = pd.DataFrame([r[1] for r in records], dtype=object).reindex(columns=COLUMNS, fill_value="").fillna("")
    geoms = shapely.from_wkb(np.array([bytes(r[2]) for r in records], dtype=object))
    frame = gpd.GeoDataFrame(table, geometry=geoms, crs=4326)
    frame.index = pd.Index([str(r[0]) for r in records], name="fid")
    return frame


def _pool_timeout():
    from psycopg_pool import PoolTimeout
    return PoolTimeout
