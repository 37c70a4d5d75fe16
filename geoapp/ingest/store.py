"""The versioned store of imported layers: SQLite (embedded default) or PostGIS.

Tables (prefix atlas_):
    versions        one row per accepted import or revert: id, time, who, file, layer, counts
    version_layers  for each version, which import's rows each layer shows (data_version)
    features        the rows of each import (data_version, position, fid, props JSON, geometry)

A version is written in one transaction: the features, the version row and its layer map commit
together or not at all, so a process killed midway leaves the previous version current (SQLite
rolls the journal back on next open; PostgreSQL aborts the open transaction when the connection
drops). Writers are serialised (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory lock), and a write
made from a preview names the version it previewed (`expect_version`): inside the transaction, if
another write has landed since, it is refused (StoreConflict) instead of overwriting it, so of two
racing commits exactly one wins and the diff shown is the diff committed. Nothing is ever deleted:
`revert V` writes a new version whose layer map is V's; version 0 is the state before the first
import (no imported rows), so `revert 0` empties every imported layer.

The current version is max(versions.id): a primary-key lookup, cheap enough to ask per request.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoapp.ingest.rows import COLUMNS, empty_frame

BATCH = 1000
STAGED_SECONDS = 24 * 3600   # an upload checked on the web page can be committed for a day
REJECTED_PREFIX = "r."       # the token of an upload that cannot be committed (only its rejects file)
REJECTED_SECONDS = 3600      # ... kept an hour, not a day
STAGED_MAX_BYTES = 200 * 1024 * 1024   # every staged upload together: the oldest go first
ADVISORY_LOCK = 0x41746C73  # 'Atls'
# Reads from a streaming replica (ATLAS_DATABASE_REPLICA_URL): how long a snapshot waits for a
# lagging replica to reach the primary's version before it reads from the primary instead, and how
# long a replica that refused a connection is left alone before it is tried again.
REPLICA_WAIT_S = 1.0
REPLICA_RETRY_S = 5.0
REPLICA_CONNECT_TIMEOUT_S = 2

log = logging.getLogger(__name__)


class StoreError(ValueError):
    pass


class StoreConflict(StoreError):
    """Another write landed between a preview and its commit: nothing was written."""

    def __init__(self, expected: int, current: int):
        self.expected, self.current = expected, current
        super().__init__(f"数据已在预览后变化（版本 {expected} → {current}），未写入；请重新检查 / the data "
                         f"changed since the preview (version {expected} → {current}): nothing was "
                         "written; check the file again against the current version")


# Version 0: the state before the first import (listed by history(include_origin=True)).
ORIGIN = {"id": 0, "time": "", "who": "", "file": "", "layer": "", "action": "origin", "rows": 0,
          "added": 0, "changed": 0, "removed": 0, "rejected": 0, "reverted_to": None}


@dataclass
class Diff:
    added: int
    changed: int
    removed: int
    rows: int

    def as_dict(self) -> dict:
        return {"rows": self.rows, "added": self.added, "changed": self.changed, "removed": self.removed}


def _props(frame: gpd.GeoDataFrame) -> list[str]:
    columns = [c for c in COLUMNS if c in frame.columns]
    return [json.dumps(dict(zip(columns, values)), ensure_ascii=False)
            for values in frame[columns].itertuples(index=False, name=None)]


def diff(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> Diff:
    """Rows added, changed (any property or the geometry) and removed, matched by id."""
    old_rows = dict(zip(old["id"], zip(_props(old), shapely.to_wkb(old.geometry.values))))
    new_rows = dict(zip(new["id"], zip(_props(new), shapely.to_wkb(new.geometry.values))))
    added = sum(1 for k in new_rows if k not in old_rows)
    removed = sum(1 for k in old_rows if k not in new_rows)
    changed = sum(1 for k, v in new_rows.items() if k in old_rows and old_rows[k] != v)
    return Diff(added, changed, removed, len(new_rows))


def _frame(records: list[tuple[str, bytes]]) -> gpd.GeoDataFrame:
    if not records:
        return empty_frame()
    props = [json.loads(p) if isinstance(p, str) else p for p, _ in records]   # jsonb comes as dict
    table = pd.DataFrame(props, dtype=str).reindex(columns=COLUMNS, fill_value="").fillna("")
    geoms = shapely.from_wkb(np.array([bytes(g) for _, g in records], dtype=object))
    return gpd.GeoDataFrame(table, geometry=geoms, crs=4326)


@dataclass(frozen=True)
class SqlRows:
    """An imported layer's rows left in the database (PostGIS; see `Store.snapshot(lazy=True)`):
    which rows (`data_version`), how many, and the URL that holds them at that version (the
    primary, or a replica that has reached it). geoapp/postgis reads them per request."""
    layer: str
    data_version: int
    rows: int
    url: str
    primary: str          # where to read when `url` (a replica) fails
    digest: str = ""      # a hash of the rows' content, written with them ("" for older rows)


class Store:
    """Common logic; subclasses give connections, SQL dialect and bulk insert."""
    kind = "?"
    param = "?"
    # True: imports are matched, diffed and written in the database (PostGISStore.match_upload,
    # import_diff, commit_import); False: in memory against the layer's rows (service.check_file).
    sql_import = False

    def __init__(self, url: str):
        self.url = url
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- dialect hooks ---------------------------------------------------------------------
    def connect(self):
        raise NotImplementedError

    def _schema(self) -> list[str]:
        raise NotImplementedError

    def _begin_write(self, cur) -> None:
        raise NotImplementedError

    def _insert_features(self, cur, data_version: int, frame: gpd.GeoDataFrame,
                         progress: Callable[[int], None] | None) -> None:
        raise NotImplementedError

    def _geometry_select(self) -> str:
        return "geom"

    # -- helpers ---------------------------------------------------------------------------
    def sql(self, text: str) -> str:
        return text.replace("?", self.param)

    def ensure_schema(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            conn = self.connect()
            try:
                cur = conn.cursor()
                for statement in self._schema():
                    cur.execute(statement)
                conn.commit()
            finally:
                conn.close()
            self._ready = True

    def _rows(self, cur, data_version: int) -> gpd.GeoDataFrame:
        cur.execute(self.sql(f"SELECT props, {self._geometry_select()} FROM atlas_features "
                             "WHERE data_version = ? ORDER BY position"), (data_version,))
        return _frame(cur.fetchall())

    def _layer_map(self, cur, version: int) -> dict[str, int]:
        cur.execute(self.sql("SELECT layer, data_version FROM atlas_version_layers WHERE version_id = ?"),
                    (version,))
        return dict(cur.fetchall())

    def _current(self, cur) -> int:
        cur.execute("SELECT coalesce(max(id), 0) FROM atlas_versions")
        return int(cur.fetchone()[0])

    # -- public API ------------------------------------------------------------------------
    def current_version(self) -> int:
        self.ensure_schema()
        conn = self.connect()
        try:
            return self._current(conn.cursor())
        finally:
            conn.close()

    # Imported layers of at least this many rows stay in the database when a snapshot is `lazy`
    # (PostGIS only: geoapp/postgis serves them); None: every layer is read into memory.
    sql_min_rows: int | None = None

    def snapshot(self, version: int | None = None, lazy: bool = False) -> tuple[int, dict]:
        """(version, layer -> rows) as of `version` (default: the current one), read in one
        transaction so the layers agree with the version number. With `lazy` (what the served
        bundles ask for), a layer of `sql_min_rows` rows or more is not read: its entry is a
        SqlRows saying which rows to query."""
        self.ensure_schema()
        conn = self.connect()
        try:
            return self._snapshot_on(conn, version, lazy, self.url)
        finally:
            conn.close()

    def _snapshot_on(self, conn, version: int | None, lazy: bool = False,
                     url: str = "") -> tuple[int, dict]:
        cur = conn.cursor()
        self._begin_read(cur)
        current = self._current(cur)
        version = current if version is None else version
        if version and not self._exists(cur, version):
            raise StoreError(f"version {version} does not exist; see `history`")
        layers = {}
        for layer, dv in self._layer_map(cur, version).items():
            rows = self._row_count(cur, dv) if lazy and self.sql_min_rows is not None else None
            if rows is not None and rows >= self.sql_min_rows:
                layers[layer] = SqlRows(layer, int(dv), rows, url, self.url, self._layer_digest(cur, dv))
            else:
                layers[layer] = self._rows(cur, dv)
        conn.rollback()
        return version, layers

    def _layer_digest(self, cur, data_version: int) -> str:
        return ""

    def _row_count(self, cur, data_version: int) -> int:
        """Rows of an import: its version row's total (an import's `rows` is its layer's rows)."""
        cur.execute(self.sql("SELECT rows_total FROM atlas_versions WHERE id = ?"), (data_version,))
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def _begin_read(self, cur) -> None:
        pass

    def _exists(self, cur, version: int) -> bool:
        if version == 0:
            return True
        cur.execute(self.sql("SELECT 1 FROM atlas_versions WHERE id = ?"), (version,))
        return cur.fetchone() is not None

    def layer(self, layer: str) -> gpd.GeoDataFrame:
        """The rows of one layer in the current version (only that layer is read)."""
        self.ensure_schema()
        conn = self.connect()
        try:
            cur = conn.cursor()
            self._begin_read(cur)
            dv = self._layer_map(cur, self._current(cur)).get(layer)
            frame = self._rows(cur, dv) if dv is not None else empty_frame()
            conn.rollback()
            return frame
        finally:
            conn.close()

    def history(self, include_origin: bool = False) -> list[dict]:
        """The versions, newest first; with `include_origin`, version 0 (before any import) last."""
        self.ensure_schema()
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute("SELECT id, created_at, who, file_name, layer, action, rows_total, added, "
                        "changed, removed, rejected, reverted_to FROM atlas_versions ORDER BY id DESC")
            keys = ["id", "time", "who", "file", "layer", "action", "rows", "added", "changed",
                    "removed", "rejected", "reverted_to"]
            rows = [dict(zip(keys, row)) for row in cur.fetchall()]
            return rows + [dict(ORIGIN)] if include_origin else rows
        finally:
            conn.close()

    def preview(self, layer: str, frame: gpd.GeoDataFrame) -> Diff:
        """What committing `frame` as `layer` would change against the current version."""
        return diff(self.layer(layer), frame)

    def revert_preview(self, target: int) -> tuple[int, dict[str, Diff]]:
        """(current version, layer -> what `revert target` would change), for the confirmation.
        Layer by layer from the two versions' layer maps (_diff_versions: in SQL on PostGIS)."""
        self.ensure_schema()
        conn = self.connect()
        try:
            cur = conn.cursor()
            self._begin_read(cur)
            current = self._current(cur)
            if target and not self._exists(cur, target):
                raise StoreError(f"version {target} does not exist; see `history`")
            now_map, then_map = self._layer_map(cur, current), self._layer_map(cur, target)
            changes = {layer: self._diff_versions(cur, now_map.get(layer), then_map.get(layer))
                       for layer in sorted(set(now_map) | set(then_map))}
            conn.rollback()
            return current, changes
        finally:
            conn.close()

    def _diff_versions(self, cur, old_dv: int | None, new_dv: int | None) -> Diff:
        """What changes from the rows of import `old_dv` to those of `new_dv` (None: no rows)."""
        old = self._rows(cur, old_dv) if old_dv is not None else empty_frame()
        new = self._rows(cur, new_dv) if new_dv is not None else empty_frame()
        return diff(old, new)

    def _check_expected(self, cur, expect_version: int | None) -> int:
        current = self._current(cur)
        if expect_version is not None and current != expect_version:
            raise StoreConflict(expect_version, current)
        return current

    @contextlib.contextmanager
    def _writing(self):
        """One write transaction: the writers' lock taken (_begin_write), the cursor given to the
        block, committed when it ends, rolled back when it raises; the connection closed."""
        self.ensure_schema()
        conn = self.connect()
        try:
            cur = conn.cursor()
            self._begin_write(cur)
            yield cur
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def commit(self, layer: str, frame: gpd.GeoDataFrame, who: str, file_name: str,
               rejected: int = 0, progress: Callable[[int], None] | None = None,
               expect_version: int | None = None) -> tuple[int, Diff]:
        """Write `frame` as the new rows of `layer`: one new version, all or nothing. With
        `expect_version` (the version a preview was made against), refused with StoreConflict if
        the current version is another one when the write transaction holds the lock."""
        frame = frame.reset_index(drop=True)
        with self._writing() as cur:
            current = self._check_expected(cur, expect_version)
            layer_map = self._layer_map(cur, current)
            old = self._rows(cur, layer_map[layer]) if layer in layer_map else empty_frame()
            change = diff(old, frame)
            version = self._insert_version(cur, who, file_name, layer, "import", change, rejected, None)
            self._insert_features(cur, version, frame, progress)
            layer_map[layer] = version
            self._insert_layer_map(cur, version, layer_map)
        return version, change

    def revert(self, target: int, who: str, expect_version: int | None = None) -> int:
        """A new version showing exactly what version `target` showed (0: no imported rows).
        `expect_version`: the version its confirmation was shown against (see commit)."""
        with self._writing() as cur:
            if not self._exists(cur, target):
                raise StoreError(f"版本 {target} 不存在 / version {target} does not exist; see `history`")
            current = self._check_expected(cur, expect_version)
            layer_map = self._layer_map(cur, target)
            now_map = self._layer_map(cur, current)
            change = Diff(0, 0, 0, 0)
            for layer in set(layer_map) | set(now_map):
                if layer_map.get(layer) == now_map.get(layer):
                    cur.execute(self.sql("SELECT count(*) FROM atlas_features WHERE data_version = ?"),
                                (layer_map[layer],))
                    change = Diff(change.added, change.changed, change.removed,
                                  change.rows + int(cur.fetchone()[0]))
                    continue
                d = self._diff_versions(cur, now_map.get(layer), layer_map.get(layer))
                change = Diff(change.added + d.added, change.changed + d.changed,
                              change.removed + d.removed, change.rows + d.rows)
            version = self._insert_version(cur, who, "", ",".join(sorted(layer_map | now_map)), "revert",
                                           change, 0, target)
            self._insert_layer_map(cur, version, layer_map)
        return version

    # -- uploads waiting between the web page's preview and its commit -----------------------
    # Kept in the store (not on one host's disk) so any app host can commit what another checked.
    def stage(self, token: str, meta: dict, data: bytes) -> None:
        with self._writing() as cur:
            now = datetime.now(timezone.utc)
            cur.execute(self.sql("DELETE FROM atlas_uploads WHERE created_at < ? OR (token LIKE ? AND created_at < ?)"),
                        (now.timestamp() - STAGED_SECONDS, REJECTED_PREFIX + "%", now.timestamp() - REJECTED_SECONDS))
            # room for this one within STAGED_MAX_BYTES: the oldest uploads are dropped first
            cur.execute("SELECT token, length(data) FROM atlas_uploads ORDER BY created_at DESC")
            room, dropped = STAGED_MAX_BYTES - len(data), []
            for old_token, size in cur.fetchall():
                room -= int(size)
                if room < 0:
                    dropped.append((old_token,))
            if dropped:
                cur.executemany(self.sql("DELETE FROM atlas_uploads WHERE token = ?"), dropped)
            cur.execute(self.sql("INSERT INTO atlas_uploads (token, created_at, meta, data) VALUES (?, ?, ?, ?)"),
                        (token, now.timestamp(), json.dumps(meta, ensure_ascii=False), data))

    def unstage(self, token: str) -> None:
        """Forget a staged upload (it was committed)."""
        self.ensure_schema()
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(self.sql("DELETE FROM atlas_uploads WHERE token = ?"), (token,))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def staged(self, token: str) -> tuple[dict, bytes] | None:
        self.ensure_schema()
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(self.sql("SELECT meta, data FROM atlas_uploads WHERE token = ?"), (token,))
            row = cur.fetchone()
            conn.rollback()
            return (json.loads(row[0]), bytes(row[1])) if row else None
        finally:
            conn.close()

    def _insert_version(self, cur, who, file_name, layer, action, change: Diff, rejected, reverted_to) -> int:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        cur.execute(self.sql(
            "INSERT INTO atlas_versions (created_at, who, file_name, layer, action, rows_total, added, "
            "changed, removed, rejected, reverted_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"),
            (now, who, file_name, layer, action, change.rows, change.added, change.changed,
             change.removed, rejected, reverted_to))
        return int(cur.fetchone()[0])

    def _insert_layer_map(self, cur, version: int, layer_map: dict[str, int]) -> None:
        cur.executemany(self.sql("INSERT INTO atlas_version_layers (version_id, layer, data_version) "
                                 "VALUES (?, ?, ?)"),
                        [(version, layer, dv) for layer, dv in sorted(layer_map.items())])


def _batches(frame: gpd.GeoDataFrame) -> Iterator[tuple[int, list[str], list[str], np.ndarray]]:
    props = _props(frame)
    ids = frame["id"].tolist()
    for start in range(0, len(frame), BATCH):
        stop = min(start + BATCH, len(frame))
        yield start, ids[start:stop], props[start:stop], frame.geometry.values[start:stop]


class SQLiteStore(Store):
    """A single SQLite file (WAL mode: readers never wait for an import)."""
    kind = "sqlite"
    param = "?"

    def __init__(self, path: Path):
        super().__init__(f"sqlite:///{path}")
        self.path = Path(path)

    def connect(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 60000")
        return _SQLiteConn(conn)

    def _schema(self) -> list[str]:
        return [
            "PRAGMA journal_mode = WAL",
            "CREATE TABLE IF NOT EXISTS atlas_versions (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "created_at TEXT NOT NULL, who TEXT NOT NULL, file_name TEXT NOT NULL, layer TEXT NOT NULL, "
            "action TEXT NOT NULL, rows_total INTEGER NOT NULL, added INTEGER NOT NULL, "
            "changed INTEGER NOT NULL, removed INTEGER NOT NULL, rejected INTEGER NOT NULL, "
            "reverted_to INTEGER)",
            "CREATE TABLE IF NOT EXISTS atlas_version_layers (version_id INTEGER NOT NULL, "
            "layer TEXT NOT NULL, data_version INTEGER NOT NULL, PRIMARY KEY (version_id, layer))",
            "CREATE TABLE IF NOT EXISTS atlas_features (data_version INTEGER NOT NULL, "
            "position INTEGER NOT NULL, fid TEXT NOT NULL, props TEXT NOT NULL, geom BLOB NOT NULL, "
            "PRIMARY KEY (data_version, position))",
            "CREATE TABLE IF NOT EXISTS atlas_uploads (token TEXT PRIMARY KEY, created_at REAL NOT NULL, "
            "meta TEXT NOT NULL, data BLOB NOT NULL)",
        ]

    def _begin_write(self, cur) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _begin_read(self, cur) -> None:
        cur.execute("BEGIN")

    def _insert_features(self, cur, data_version, frame, progress) -> None:
        for start, ids, props, geoms in _batches(frame):
            cur.executemany(
                "INSERT INTO atlas_features (data_version, position, fid, props, geom) VALUES (?, ?, ?, ?, ?)",
                [(data_version, start + k, fid, p, g) for k, (fid, p, g)
                 in enumerate(zip(ids, props, shapely.to_wkb(geoms)))])
            if progress:
                progress(start + len(ids))


class _SQLiteConn:
    """sqlite3 in autocommit mode with explicit BEGIN, behind the commit/rollback/cursor API."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def cursor(self):
        return self.conn.cursor()

    def commit(self):
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def rollback(self):
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self):
        self.conn.close()


# What the SQL read path (geoapp/postgis) reads besides props and geom: the filterable properties
# as columns computed from props on write (generated, so COPY and every writer fill them), the
# geometry in Web Mercator (vector tiles), and indexes for a layer version's pages, ids, filters,
# boxes and tiles. A store made before them (props as text) is migrated in place, once.
GENERATED = {
    "name_zh": "text GENERATED ALWAYS AS (props->>'name_zh') STORED",
    "kind": "text GENERATED ALWAYS AS (props->>'kind') STORED",
    "level": "text GENERATED ALWAYS AS (props->>'level') STORED",
    "city_adcode": "text GENERATED ALWAYS AS (props->>'city_adcode') STORED",
    "district_adcode": "text GENERATED ALWAYS AS (props->>'district_adcode') STORED",
    "location_precision": "text GENERATED ALWAYS AS (props->>'location_precision') STORED",
    "industries": "text[] GENERATED ALWAYS AS "
                  "(array_remove(string_to_array(replace(props->>'industries', ' ', ''), ';'), '')) STORED",
    "geom_3857": "geometry(Geometry, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED",
}
SQL_READ_SCHEMA = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # a store of an earlier release kept props as text
    "DO $$ BEGIN IF (SELECT data_type FROM information_schema.columns WHERE table_name = "
    "'atlas_features' AND column_name = 'props' AND table_schema = current_schema()) = 'text' THEN "
    "ALTER TABLE atlas_features ALTER COLUMN props TYPE jsonb USING props::jsonb; END IF; END $$",
    *(f"ALTER TABLE atlas_features ADD COLUMN IF NOT EXISTS {name} {definition}"
      for name, definition in GENERATED.items()),
    # a hash of each import's rows (props text + WKB, in order), written with them: served bytes
    # and ETags of a database layer follow its content, so the same rows imported again keep them
    "CREATE TABLE IF NOT EXISTS atlas_layer_digests (data_version bigint PRIMARY KEY, digest text NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS atlas_features_fid ON atlas_features (data_version, fid)",
    "CREATE INDEX IF NOT EXISTS atlas_features_geom_version ON atlas_features USING gist (data_version, geom)",
    "CREATE INDEX IF NOT EXISTS atlas_features_mercator ON atlas_features USING gist (data_version, geom_3857)",
    "CREATE INDEX IF NOT EXISTS atlas_features_city ON atlas_features (data_version, city_adcode, position)",
    "CREATE INDEX IF NOT EXISTS atlas_features_level ON atlas_features (data_version, level, position)",
    "CREATE INDEX IF NOT EXISTS atlas_features_kind ON atlas_features (data_version, kind, position)",
    "CREATE INDEX IF NOT EXISTS atlas_features_industries ON atlas_features USING gin (industries)",
    "CREATE INDEX IF NOT EXISTS atlas_features_name ON atlas_features USING gin (name_zh gin_trgm_ops)",
    # the figures' aggregate (geoapp/postgis/figures.py): GROUP BY these columns as an index-only scan
    "CREATE INDEX IF NOT EXISTS atlas_features_figures ON atlas_features "
    "(data_version, city_adcode, kind, level, location_precision, industries)",
    # place search (geoapp/postgis/search.py NAME_NORM and LATIN, the same text): names without
    # white space, English words and id, as trigrams
    "CREATE INDEX IF NOT EXISTS atlas_features_name_norm ON atlas_features USING gin "
    "((lower(regexp_replace(name_zh, '[\\s\\u001c-\\u001f\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028"
    "\\u2029\\u202f\\u205f\\u3000]+', '', 'g'))) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS atlas_features_latin ON atlas_features USING gin "
    "(((' ' || trim(regexp_replace(lower(coalesce(props->>'name_en', '')), '[^0-9a-z]+', ' ', 'g')) || ' ' "
    "|| trim(regexp_replace(lower(fid), '[^0-9a-z]+', ' ', 'g')) || ' ')) gin_trgm_ops)",
    # the map's list of places sorted by name (its default), in code point order (geoapp/postgis/places.py)
    "CREATE INDEX IF NOT EXISTS atlas_features_name_order ON atlas_features "
    "(data_version, name_zh COLLATE \"C\", fid COLLATE \"C\")",
    # vector and map tiles of big layers at low zooms (geoapp/postgis/tiles.py): per-cell counts and
    # sums per data version and zoom, built once per version by the first host serving it
    "CREATE TABLE IF NOT EXISTS atlas_tile_cells (data_version bigint NOT NULL, grid smallint NOT NULL, "
    "z smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL, level text, kind text, city_adcode text, "
    "n integer NOT NULL, sx double precision NOT NULL, sy double precision NOT NULL, position integer NOT NULL)",
    "CREATE INDEX IF NOT EXISTS atlas_tile_cells_at ON atlas_tile_cells (data_version, grid, z, cx, cy)",
    "CREATE TABLE IF NOT EXISTS atlas_tile_cells_built (data_version bigint NOT NULL, grid smallint NOT NULL, "
    "z smallint NOT NULL, PRIMARY KEY (data_version, grid, z))",
]


class PostGISStore(Store):
    """PostgreSQL + PostGIS via psycopg 3: geometry(Geometry, 4326) with a GiST index, COPY for
    bulk rows, one transaction per version. Several app hosts can share it (and read replicas
    can serve the reads: the version check and snapshot are plain SELECTs)."""
    kind = "postgis"
    param = "%s"

    def __init__(self, url: str, replicas: list[str] | tuple[str, ...] = (), sql_min_rows: int | None = None):
        super().__init__(url)
        self.replicas = list(replicas)
        self.sql_min_rows = sql_min_rows
        self._down_until: dict[str, float] = {}   # replica URL -> monotonic time to try it again
        self.last_read = "primary"                # where the last snapshot came from (logs, tests)

    def connect(self):
        import psycopg
        return psycopg.connect(self.url, connect_timeout=10)

    def read_source(self) -> str:
        """Where the last snapshot was read, without URLs: "primary" or "replica N" (1-based, in
        the order of ATLAS_DATABASE_REPLICA_URL)."""
        if self.last_read in self.replicas:
            return f"replica {self.replicas.index(self.last_read) + 1}"
        return "primary"

    def snapshot(self, version: int | None = None, lazy: bool = False) -> tuple[int, dict]:
        """As Store.snapshot, read from a streaming replica when there is one: the version to
        read is fixed on the PRIMARY first (its current one unless given), and a replica serves
        it only once its own current version has reached it (waiting up to REPLICA_WAIT_S);
        otherwise — lagging, down, not yet holding the schema — the next replica or the primary
        serves it. So a host never serves a version a replica has not reached, and a replica
        that is down costs no error, only the primary's load."""
        if not self.replicas:
            self.last_read = "primary"
            return super().snapshot(version, lazy)
        target = self.current_version() if version is None else version
        for url in self.replicas:
            read = self._replica_snapshot(url, target, lazy)
            if read is not None:
                self.last_read = url
                return read
        self.last_read = "primary"
        return super().snapshot(target, lazy)

    def _replica_snapshot(self, url: str, target: int, lazy: bool = False):
        import psycopg
        if time.monotonic() < self._down_until.get(url, 0):
            return None
        try:
            conn = psycopg.connect(url, connect_timeout=REPLICA_CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as error:
            self._down_until[url] = time.monotonic() + REPLICA_RETRY_S
            log.warning("replica %s unreachable, reading from the primary: %s", _safe(url), error)
            return None
        try:
            deadline = time.monotonic() + REPLICA_WAIT_S
            while True:
                reached = self._current(conn.cursor())
                conn.rollback()
                if reached >= target:
                    return self._snapshot_on(conn, target, lazy, url)
                if time.monotonic() > deadline:
                    log.info("replica %s at version %s, primary at %s: reading from the primary",
                             _safe(url), reached, target)
                    return None
                time.sleep(0.05)
        except psycopg.Error as error:  # e.g. the schema not replayed yet, or the replica stopped
            log.warning("replica %s failed a read, reading from the primary: %s", _safe(url), error)
            if isinstance(error, psycopg.OperationalError):
                self._down_until[url] = time.monotonic() + REPLICA_RETRY_S
            return None
        finally:
            conn.close()

    def _schema(self) -> list[str]:
        return [
            # workers starting together on a fresh database: one creates, the others wait (two
            # concurrent CREATE EXTENSION IF NOT EXISTS collide on pg_extension's unique index)
            f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})",
            "CREATE EXTENSION IF NOT EXISTS postgis",
            "CREATE TABLE IF NOT EXISTS atlas_versions (id bigserial PRIMARY KEY, "
            "created_at text NOT NULL, who text NOT NULL, file_name text NOT NULL, layer text NOT NULL, "
            "action text NOT NULL, rows_total integer NOT NULL, added integer NOT NULL, "
            "changed integer NOT NULL, removed integer NOT NULL, rejected integer NOT NULL, "
            "reverted_to bigint)",
            "CREATE TABLE IF NOT EXISTS atlas_version_layers (version_id bigint NOT NULL, "
            "layer text NOT NULL, data_version bigint NOT NULL, PRIMARY KEY (version_id, layer))",
            "CREATE TABLE IF NOT EXISTS atlas_features (data_version bigint NOT NULL, "
            "position integer NOT NULL, fid text NOT NULL, props jsonb NOT NULL, "
            "geom geometry(Geometry, 4326) NOT NULL, PRIMARY KEY (data_version, position))",
            "CREATE INDEX IF NOT EXISTS atlas_features_geom ON atlas_features USING gist (geom)",
            *SQL_READ_SCHEMA,
            "CREATE TABLE IF NOT EXISTS atlas_uploads (token text PRIMARY KEY, "
            "created_at double precision NOT NULL, meta text NOT NULL, data bytea NOT NULL)",
        ]

    def ensure_schema(self) -> None:
        """As Store.ensure_schema, but the DDL runs only when the database's schema is not this
        release's (atlas_schema_state holds a hash of the statements): `CREATE INDEX IF NOT
        EXISTS` takes a SHARE lock even when the index exists, so running it at every worker's
        start made starting workers wait for any long transaction on atlas_features."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            key = hashlib.sha256("\n".join(self._schema()).encode()).hexdigest()[:24]
            conn = self.connect()
            try:
                cur = conn.cursor()
                cur.execute("SELECT to_regclass('atlas_schema_state') IS NOT NULL")
                current = False
                if cur.fetchone()[0]:
                    cur.execute("SELECT key FROM atlas_schema_state")
                    current = [row[0] for row in cur.fetchall()] == [key]
                conn.rollback()
                if not current:
                    for statement in self._schema():   # the first takes the schema's advisory lock
                        cur.execute(statement)
                    cur.execute("CREATE TABLE IF NOT EXISTS atlas_schema_state (key text NOT NULL)")
                    cur.execute("DELETE FROM atlas_schema_state")
                    cur.execute("INSERT INTO atlas_schema_state (key) VALUES (%s)", (key,))
                    conn.commit()
            finally:
                conn.close()
            self._ready = True

    def _begin_write(self, cur) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))

    def _begin_read(self, cur) -> None:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def _geometry_select(self) -> str:
        return "ST_AsBinary(geom)"

    def _insert_features(self, cur, data_version, frame, progress) -> None:
        with cur.copy("COPY atlas_features (data_version, position, fid, props, geom) FROM STDIN") as copy:
            for start, ids, props, geoms in _batches(frame):
                ewkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
                for k, (fid, p, g) in enumerate(zip(ids, props, ewkb)):
                    copy.write_row((data_version, start + k, fid, p, g))
                if progress:
                    progress(start + len(ids))
        self._insert_digest(cur, data_version)

    def _insert_digest(self, cur, data_version: int) -> None:
        """The content digest of an import's rows, computed where they are (every writer, COPY or
        INSERT … SELECT, gives the same digest for the same rows): sha256 over each row's md5 of
        fid, props (jsonb's canonical text) and EWKB hex, in position order."""
        cur.execute(DIGEST_SQL, (data_version, data_version))

    # -- imports matched and diffed in the database (service.check_file / service.commit) ------
    # The upload's rows go into a TEMP table of the connection (COPY); the stored layer is only
    # JOINed against, never read into the worker: memory follows the upload, not the layer.
    sql_import = True

    def _copy_upload(self, cur, frame: gpd.GeoDataFrame, matches=None, id_given=None) -> None:
        cur.execute("CREATE TEMP TABLE atlas_upload (pos integer PRIMARY KEY, fid text NOT NULL, "
                    "given boolean NOT NULL, name_zh text NOT NULL, place text NOT NULL, match integer, "
                    "props jsonb, geom geometry) ON COMMIT DROP")
        frame = frame.reset_index(drop=True)
        given = id_given if id_given is not None else [False] * len(frame)
        places = [str(d or c) for d, c in zip(frame["district_adcode"], frame["city_adcode"])]
        names = frame["name_zh"].astype(str).tolist()
        matches = matches if matches is not None else [None] * len(frame)
        with_rows = id_given is None      # the rows themselves (diff, write), or only their keys (match)
        with cur.copy("COPY atlas_upload (pos, fid, given, name_zh, place, match, props, geom) FROM STDIN") as copy:
            for start, ids, props, geoms in _batches(frame):
                ewkb = (shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
                        if with_rows else [None] * len(ids))
                for k, (fid, p, g) in enumerate(zip(ids, props, ewkb)):
                    i = start + k
                    m = matches[i]
                    copy.write_row((i, fid, bool(given[i]), names[i], places[i],
                                    None if m is None or m < 0 else int(m),
                                    p if with_rows else None, g))
        cur.execute("ANALYZE atlas_upload")

    def _import_base(self, cur, layer: str, version: int | None) -> tuple[int, int | None]:
        current = self._current(cur) if version is None else version
        return current, self._layer_map(cur, current).get(layer)

    def match_upload(self, layer: str, frame: gpd.GeoDataFrame, id_given: list[bool]
                     ) -> tuple[int, list[int | None], dict[int, tuple[str, str]]]:
        """service.match_rows in SQL against the current version: (that version, for each row
        of `frame` the stored position it is or None or -1 (AMBIGUOUS), position -> (stored id,
        stored name) of the matched rows)."""
        self.ensure_schema()
        conn = self.connect()
        try:
            cur = conn.cursor()
            self._begin_read(cur)
            version, dv = self._import_base(cur, layer, None)
            matches: list[int | None] = [None] * len(frame)
            found: dict[int, tuple[str, str]] = {}
            if dv is None or not len(frame):
                conn.rollback()
                return version, matches, found
            self._copy_upload(cur, frame, id_given=list(id_given) or [False] * len(frame))
            cur.execute("SELECT u.pos, f.position, f.fid, f.name_zh FROM atlas_upload u JOIN atlas_features f "
                        "ON f.data_version = %s AND f.fid = u.fid", (dv,))
            for pos, position, fid, name in cur.fetchall():
                matches[pos] = position
                found[position] = (fid, name or "")
            cur.execute(
                "SELECT u.pos, count(*), (array_agg(f.position ORDER BY f.position))[1], "
                "(array_agg(f.fid ORDER BY f.position))[1], min(f.name_zh) FROM atlas_upload u "
                "JOIN atlas_features f ON f.data_version = %s AND f.name_zh = u.name_zh "
                "AND coalesce(nullif(f.district_adcode, ''), f.city_adcode, '') = u.place "
                "WHERE NOT u.given AND NOT EXISTS (SELECT 1 FROM atlas_features g "
                "WHERE g.data_version = %s AND g.fid = u.fid) GROUP BY u.pos", (dv, dv))
            for pos, count, position, fid, name in cur.fetchall():
                if count == 1:
                    matches[pos] = position
                    found[position] = (fid, name or "")
                else:
                    matches[pos] = -1
            conn.rollback()
            return version, matches, found
        finally:
            conn.close()

    def _upload_diff(self, cur, dv: int | None, mode: str) -> Diff:
        """What writing the upload (atlas_upload) in `mode` changes in the layer's rows `dv`."""
        old = -1 if dv is None else dv
        if mode == "replace":
            cur.execute(
                "SELECT count(*) FILTER (WHERE s.fid IS NULL), count(*) FILTER (WHERE u.fid IS NULL), "
                f"count(*) FILTER (WHERE s.fid IS NOT NULL AND u.fid IS NOT NULL AND {DIFFERS}), "
                "count(DISTINCT u.fid) FROM (SELECT fid, props, geom FROM atlas_features WHERE data_version = %s) s "
                "FULL JOIN atlas_upload u ON s.fid = u.fid", (old,))
            added, removed, changed, rows = cur.fetchone()
            return Diff(int(added), int(changed), int(removed), int(rows))
        cur.execute("SELECT count(*) FROM atlas_upload WHERE match IS NULL")
        added = int(cur.fetchone()[0])
        changed = 0
        if mode == "update":
            cur.execute(f"SELECT count(*) FROM ({REPLACING}) u JOIN atlas_features s ON s.data_version = %s "
                        f"AND s.position = u.match WHERE {DIFFERS_KEEPING_ID}", (old,))
            changed = int(cur.fetchone()[0])
        stored = self._row_count(cur, dv) if dv is not None else 0
        return Diff(added, changed, 0, stored + added)

    def _upload_samples(self, cur, dv: int | None, mode: str, new: gpd.GeoDataFrame, n: int) -> dict:
        """Up to `n` rows of each kind of change, for the preview page: added and changed rows of
        the upload (records of `new`; a changed one with the stored record and geometry it
        replaces), removed stored rows (replace)."""
        old = -1 if dv is None else dv
        records = new.drop(columns="geometry").to_dict("records")
        out: dict = {"added": [], "removed": [], "changed": []}
        if not n:
            return out
        if mode == "replace":
            cur.execute("SELECT u.pos FROM atlas_upload u WHERE NOT EXISTS (SELECT 1 FROM atlas_features s "
                        "WHERE s.data_version = %s AND s.fid = u.fid) ORDER BY u.pos LIMIT %s", (old, n))
            out["added"] = [records[pos] for (pos,) in cur.fetchall()]
            cur.execute("SELECT s.props, ST_AsBinary(s.geom) FROM atlas_features s WHERE s.data_version = %s "
                        "AND NOT EXISTS (SELECT 1 FROM atlas_upload u WHERE u.fid = s.fid) "
                        "ORDER BY s.position LIMIT %s", (old, n))
            out["removed"] = _records(cur.fetchall())
            cur.execute("SELECT u.pos, s.props, ST_AsBinary(s.geom) FROM atlas_upload u JOIN atlas_features s "
                        f"ON s.data_version = %s AND s.fid = u.fid WHERE {DIFFERS} ORDER BY u.pos LIMIT %s", (old, n))
            rows = cur.fetchall()
            olds = _records([(p, g) for _, p, g in rows])
            out["changed"] = [(records[pos], o, new.geometry.iat[pos], shapely.from_wkb(bytes(g)))
                              for (pos, _, g), o in zip(rows, olds)]
            return out
        cur.execute("SELECT pos FROM atlas_upload WHERE match IS NULL ORDER BY pos LIMIT %s", (n,))
        out["added"] = [records[pos] for (pos,) in cur.fetchall()]
        if mode == "update":
            cur.execute(f"SELECT u.pos, s.fid, s.props, ST_AsBinary(s.geom) FROM ({REPLACING}) u "
                        "JOIN atlas_features s ON s.data_version = %s AND s.position = u.match "
                        f"WHERE {DIFFERS_KEEPING_ID} ORDER BY s.position LIMIT %s", (old, n))
            rows = cur.fetchall()
            olds = _records([(p, g) for _, _, p, g in rows])
            out["changed"] = [({**records[pos], "id": fid}, o, new.geometry.iat[pos], shapely.from_wkb(bytes(g)))
                              for (pos, fid, _, g), o in zip(rows, olds)]
        return out

    def import_diff(self, layer: str, version: int, new: gpd.GeoDataFrame, matches: list[int | None],
                    mode: str, samples: int = 0) -> tuple[Diff, dict]:
        """(the Diff of writing `new` in `mode` against `version`, up to `samples` rows of each
        kind of change), computed in the database."""
        self.ensure_schema()
        conn = self.connect()
        try:
            cur = conn.cursor()
            self._begin_read(cur)
            _, dv = self._import_base(cur, layer, version)
            self._copy_upload(cur, new, matches)
            change = self._upload_diff(cur, dv, mode)
            shown = self._upload_samples(cur, dv, mode, new.reset_index(drop=True), samples)
            conn.rollback()
            return change, shown
        finally:
            conn.close()

    def commit_import(self, layer: str, new: gpd.GeoDataFrame, matches: list[int | None], mode: str,
                      who: str, file_name: str, rejected: int = 0,
                      progress: Callable[[int], None] | None = None,
                      expect_version: int | None = None) -> tuple[int, Diff]:
        """Write `new` (the upload's rows to write, `matches` from match_upload) into `layer` in
        `mode`, in one transaction as Store.commit (lock, expect_version, all or nothing): the
        new version's rows are copied from the stored ones in the database (INSERT … SELECT),
        with the matched rows replaced (update, keeping the stored id) and the others appended."""
        if mode == "replace":
            return self.commit(layer, new, who, file_name, rejected, progress, expect_version)
        with self._writing() as cur:
            current = self._check_expected(cur, expect_version)
            layer_map = self._layer_map(cur, current)
            dv = layer_map.get(layer)
            self._copy_upload(cur, new, matches)
            change = self._upload_diff(cur, dv, mode)
            version = self._insert_version(cur, who, file_name, layer, "import", change, rejected, None)
            stored = change.rows - change.added
            if dv is not None:
                if mode == "update":
                    cur.execute("INSERT INTO atlas_features (data_version, position, fid, props, geom) "
                                "SELECT %s, s.position, s.fid, coalesce(u.props || jsonb_build_object('id', s.fid), "
                                f"s.props), coalesce(u.geom, s.geom) FROM atlas_features s LEFT JOIN ({REPLACING}) u "
                                "ON u.match = s.position WHERE s.data_version = %s ORDER BY s.position", (version, dv))
                else:
                    cur.execute("INSERT INTO atlas_features (data_version, position, fid, props, geom) "
                                "SELECT %s, position, fid, props, geom FROM atlas_features "
                                "WHERE data_version = %s ORDER BY position", (version, dv))
                if progress:
                    progress(stored)
            cur.execute("INSERT INTO atlas_features (data_version, position, fid, props, geom) "
                        "SELECT %s, %s + row_number() OVER (ORDER BY pos) - 1, fid, props, geom "
                        "FROM atlas_upload WHERE match IS NULL ORDER BY pos", (version, stored))
            if progress:
                progress(change.rows)
            self._insert_digest(cur, version)
            layer_map[layer] = version
            self._insert_layer_map(cur, version, layer_map)
        self._analyze()
        return version, change

    def commit(self, layer: str, frame: gpd.GeoDataFrame, who: str, file_name: str,
               rejected: int = 0, progress: Callable[[int], None] | None = None,
               expect_version: int | None = None) -> tuple[int, Diff]:
        """As Store.commit; the diff against the stored rows is computed in the database after
        the new rows are copied in (the old rows are not read into the worker)."""
        frame = frame.reset_index(drop=True)
        with self._writing() as cur:
            current = self._check_expected(cur, expect_version)
            layer_map = self._layer_map(cur, current)
            version = self._insert_version(cur, who, file_name, layer, "import", Diff(0, 0, 0, 0), rejected, None)
            self._insert_features(cur, version, frame, progress)
            change = self._diff_versions(cur, layer_map.get(layer), version)
            cur.execute("UPDATE atlas_versions SET rows_total = %s, added = %s, changed = %s, removed = %s "
                        "WHERE id = %s", (change.rows, change.added, change.changed, change.removed, version))
            layer_map[layer] = version
            self._insert_layer_map(cur, version, layer_map)
        self._analyze()
        return version, change

    def _analyze(self) -> None:
        """Statistics for the rows just written, at once (autovacuum would take up to a minute,
        and until then the planner thinks the new version has no rows: a tile read the whole
        version's primary key). Its own statement after the commit: the version is written
        whatever happens here."""
        try:
            import psycopg
            with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                conn.execute("ANALYZE atlas_features")
        except Exception as error:  # noqa: BLE001 - autovacuum will analyse it later
            log.warning("ANALYZE after the import failed (autovacuum will do it): %s", error)

    def _diff_versions(self, cur, old_dv: int | None, new_dv: int | None) -> Diff:
        """The diff of two imports' rows by a join on (data_version, fid) in the database."""
        cur.execute(
            "SELECT count(*) FILTER (WHERE s.fid IS NULL), count(*) FILTER (WHERE u.fid IS NULL), "
            f"count(*) FILTER (WHERE s.fid IS NOT NULL AND u.fid IS NOT NULL AND {DIFFERS}), count(u.fid) "
            "FROM (SELECT fid, props, geom FROM atlas_features WHERE data_version = %s) s "
            "FULL JOIN (SELECT fid, props, geom FROM atlas_features WHERE data_version = %s) u ON s.fid = u.fid",
            (-1 if old_dv is None else old_dv, -1 if new_dv is None else new_dv))
        added, removed, changed, rows = cur.fetchone()
        return Diff(int(added), int(changed), int(removed), int(rows))

    def _layer_digest(self, cur, data_version: int) -> str:
        cur.execute("SELECT digest FROM atlas_layer_digests WHERE data_version = %s", (data_version,))
        row = cur.fetchone()
        return row[0] if row else ""


# A stored row `s` and an upload row `u` differ (props as jsonb, geometry as WKB: what diff() compares).
DIFFERS = "(s.props <> u.props OR ST_AsBinary(s.geom) <> ST_AsBinary(u.geom))"
# ... when the upload row replaces the stored one under the stored id (update matched by name)
DIFFERS_KEEPING_ID = ("(s.props <> (u.props || jsonb_build_object('id', s.fid)) "
                      "OR ST_AsBinary(s.geom) <> ST_AsBinary(u.geom))")
# The upload rows that replace a stored row (update): the last of the file's rows matching it
# (service.merge: a later row overwrites an earlier one's place).
REPLACING = ("SELECT DISTINCT ON (match) match, pos, props, geom FROM atlas_upload WHERE match IS NOT NULL "
             "ORDER BY match, pos DESC")
DIGEST_SQL = ("INSERT INTO atlas_layer_digests (data_version, digest) SELECT %s, left(encode(sha256(convert_to("
              "coalesce(string_agg(md5(fid || chr(31) || props::text || chr(31) || encode(ST_AsEWKB(geom), 'hex')), "
              "'' ORDER BY position), ''), 'UTF8')), 'hex'), 24) FROM atlas_features WHERE data_version = %s")


def _records(rows) -> list[dict]:
    """(props, WKB) rows as records of the layer's COLUMNS (what _frame reads)."""
    if not rows:
        return []
    return _frame(rows).drop(columns="geometry").to_dict("records")


def _safe(url: str) -> str:
    """A database URL without its password, for logs and messages."""
    from urllib.parse import urlsplit
    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@") if password else url


def replica_urls(value: str | None) -> list[str]:
    """ATLAS_DATABASE_REPLICA_URL: one postgresql:// URL or a comma-separated list."""
    urls = [part.strip() for part in (value or "").split(",") if part.strip()]
    for url in urls:
        if not url.startswith(("postgresql://", "postgres://")):
            raise StoreError(f"ATLAS_DATABASE_REPLICA_URL entry '{_safe(url)}' is not postgresql://…; "
                             "give one URL or a comma-separated list of postgresql:// URLs")
    return urls


def open_store(url: str | None = None, instance_path: str | Path | None = None,
               replicas: str | None = None, sql_min_rows: int | None = None) -> Store:
    """The store named by `url` (ATLAS_DATABASE_URL): postgresql://... or sqlite:///path; without
    one, the SQLite file atlas-store.sqlite in the instance folder. `replicas`
    (ATLAS_DATABASE_REPLICA_URL, one URL or a comma-separated list): streaming replicas of a
    PostGIS primary that serve the snapshot reads; writes always go to the primary.
    `sql_min_rows` (ATLAS_SQL_LAYER_ROWS, PostGIS only): an imported layer of that many rows or
    more is served from the database (geoapp/postgis) instead of being read into every worker."""
    url = url or os.environ.get("ATLAS_DATABASE_URL") or ""
    replica_list = replica_urls(replicas if replicas is not None else os.environ.get("ATLAS_DATABASE_REPLICA_URL"))
    if replica_list and not url.startswith(("postgresql://", "postgres://")):
        raise StoreError("ATLAS_DATABASE_REPLICA_URL needs a PostGIS primary in ATLAS_DATABASE_URL "
                         "(postgresql://…); replicas of a SQLite store do not exist")
    if url.startswith(("postgresql://", "postgres://")):
        return PostGISStore(url, replica_list, sql_min_rows)
    if url.startswith("sqlite:///"):
        return SQLiteStore(Path(url.removeprefix("sqlite:///")))
    if url:
        raise StoreError(f"ATLAS_DATABASE_URL '{url}' is not postgresql://… or sqlite:///path")
    if instance_path is None:
        from geoapp import PROJECT_ROOT
        instance_path = PROJECT_ROOT / "instance"
    return SQLiteStore(Path(instance_path) / "atlas-store.sqlite")
