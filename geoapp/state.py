"""What the service serves: one immutable Bundle per (plan, data version), and the Atlas that
holds the current one and switches to the next.

A Bundle is everything built from the data — the registry (curated data + the store's imported
layers), the published catalog, the map's display positions (in the basemap's datum), the search
index — and the caches of what was derived from it (report cache, response bodies, parsed
filters, tile indexes, place tables). It is built by ONE function, `build_bundle`, at start-up and
at every switch (an import or revert in the store, a reload of the data folder). A new per-data
cache is a new Bundle field built there, so it follows every switch; nothing lists keys by hand.

A switch builds the new Bundle off the request path (a background thread) and then replaces one
reference. A request binds the Bundle once, at its start (geoapp/web/context.py), and uses it to
the end: requests in flight finish on the old data, new requests get the new data once it is
ready, and nobody waits for anybody (no gate: a revert during a slow request does not hold back
the others).

The Atlas polls the store at most once every `poll` seconds (ATLAS_STORE_POLL; 0 = on every
request) with a primary-key lookup, in a background thread; when the version moved, that thread
builds the new bundle. So a new version is served by every worker within `poll` seconds plus one
build after its commit. When the store cannot be read (stopped, frozen, read-only, disk gone) the
requests go on with the bundles in memory, /health says "degraded", and the store is asked again
after a back-off of 1 s doubling to 30 s (geoapp.ingest.failures.StoreHealth).
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from geoapp.analysis.report import ReportCache
from geoapp.data import Registry
from geoapp.export.catalog import Catalog
from geoapp.ingest.failures import StoreHealth, store_errors
from geoapp.ingest.rows import empty_frame
from geoapp.ingest.service import importable_layers
from geoapp.ingest.store import SqlRows, Store
from geoapp.layers.offsets import display_positions
from geoapp.layers.tiles import TILES_ABOVE
from geoapp.layers.search import SearchIndex
from geoapp.postgis import DatabaseUnavailable, SqlLayer
from geoapp.postgis.figures import prepare_figures
from geoapp.postgis.tiles import prepare as prepare_tiles

log = logging.getLogger(__name__)

CACHE_MAX_BYTES = 96 * 1024 * 1024


# --- response bodies ------------------------------------------------------------------------------

@dataclass
class Body:
    data: bytes
    content_type: str
    etag: str                       # opaque tag of the identity encoding, without quotes
    built_at: float = field(default_factory=time.time)
    _gzipped: bytes | None = None

    def gzipped(self) -> bytes | None:
        """gzip bytes, made once; None when compressing does not pay."""
        if self._gzipped is None:
            packed = gzip.compress(self.data, compresslevel=6, mtime=0)
            self._gzipped = packed if len(packed) < 0.9 * len(self.data) else b""
        return self._gzipped or None

    @property
    def size(self) -> int:
        return len(self.data) + len(self._gzipped or b"")


def body_tag(version: str, key: tuple) -> str:
    """The ETag of a body: from what defines it, not its bytes, so every worker process agrees
    even where bytes carry a build time (OGC timeStamp, GeoPackage metadata) — hence weak — and
    a streamed body has one before it is written."""
    return hashlib.sha256(repr((version, key)).encode()).hexdigest()[:24]


class BodyCache:
    """A thread-safe LRU of Bodies, bounded in bytes. It belongs to one Bundle (one data
    version), so entries never go stale; ETags include the catalog version.

    A body may belong to a `group` (e.g. one collection's tiles) under a `variant` (the filter's
    key): at most VARIANTS_PER_GROUP variants of a group are kept, the least recently used one
    (with all its bodies) dropped for a new one, so URLs made new by every filter combination
    cannot crowd out the rest. Concurrent requests for the same missing key wait for the one
    that builds it instead of each building it again."""

    VARIANTS_PER_GROUP = 16

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, Body] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Event] = {}
        self._variants: dict[object, OrderedDict] = {}   # group -> variant -> keys of its bodies
        self.hits = self.misses = 0

    def get(self, key: tuple, build: Callable[[], tuple[bytes, str]], version: str,
            group=None, variant=None) -> Body:
        while True:
            with self._lock:
                body = self._entries.get(key)
                if body is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    variants = self._variants.get(group)
                    if variants is not None and variant in variants:
                        variants.move_to_end(variant)
                    return body
                pending = self._building.get(key)
                if pending is None:
                    pending = self._building[key] = threading.Event()
                    break
            pending.wait()   # another request is building it: take its body (or build if it failed)
        try:
            data, content_type = build()
        finally:
            with self._lock:
                self._building.pop(key, None)
            pending.set()
        # gzip is made by the first request that accepts it (Body.gzipped), not for every body
        body = Body(data, content_type, body_tag(version, key))
        with self._lock:
            self.misses += 1
            self._entries[key] = body
            if group is not None:
                self._remember_variant(group, variant, key)
            total = sum(b.size for b in self._entries.values())
            while total > self.max_bytes and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                total -= dropped.size
        return body

    def _remember_variant(self, group, variant, key: tuple) -> None:
        variants = self._variants.setdefault(group, OrderedDict())
        variants.setdefault(variant, set()).add(key)
        variants.move_to_end(variant)
        while len(variants) > self.VARIANTS_PER_GROUP:
            _, keys = variants.popitem(last=False)
            for old in keys:
                self._entries.pop(old, None)

    def variants(self, group) -> list:
        """The variants of a group whose bodies are kept, least recently used first."""
        with self._lock:
            return list(self._variants.get(group, ()))

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._entries


class Recent:
    """A small thread-safe LRU dict for derived values (`get` / `put`), at most `size` entries."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


FILTER_MEMO_SIZE = 4096
POINT_INDEX_CACHE = 32
PLACE_FRAMES = 16


# --- the bundle -----------------------------------------------------------------------------------

class Lazy:
    """A value built on its first use, once (under a lock), then kept: the place search index is
    built by the first search, not at every switch (before the bundle it was built lazily too)."""

    def __init__(self, build: Callable[[], object]):
        self._build, self._value, self._lock = build, None, threading.Lock()

    def get(self):
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value


@dataclass(frozen=True, eq=False)
class Bundle:
    plan_id: str
    version: int                    # the store's version of the imported layers (0: none yet)
    registry: Registry
    catalog: Catalog
    lazy_search: Lazy               # -> SearchIndex, see `search`
    display_positions: dict         # layer id -> {place id: (lon, lat) as drawn on the basemap}
    reports: ReportCache = field(default_factory=ReportCache)
    bodies: BodyCache = field(default_factory=BodyCache)
    filters: Recent = field(default_factory=lambda: Recent(FILTER_MEMO_SIZE))
    point_index: Recent = field(default_factory=lambda: Recent(POINT_INDEX_CACHE))
    place_tables: Recent = field(default_factory=lambda: Recent(PLACE_FRAMES))
    # imported layers served from PostGIS (geoapp/postgis): layer id -> SqlLayer; their frames in
    # `registry` are empty (the rows stay in the database)
    sql: dict = field(default_factory=dict)

    @property
    def search(self) -> SearchIndex:
        return self.lazy_search.get()


def with_imported(base: Registry, frames: dict, source: str) -> Registry:
    """The curated registry plus the store's imported layers (an empty frame for an imported
    layer the store has no rows of yet)."""
    layers = {layer: frames.get(layer, empty_frame()) for layer in importable_layers(base.specs)}
    return base.with_layers(layers, Path(source))


def build_bundle(plan_id: str, base: Registry, version: int, frames: dict, datum: str,
                 layers_dir: Path | None, source: str = "store") -> Bundle:
    """THE recipe of what is served for one plan at one data version (start-up and every switch).
    `datum` is the basemap's (wgs84 | gcj02): display positions are drawn in it. A layer whose
    `frames` entry is SqlRows (a lazy PostGIS snapshot) stays in the database: the bundle gets a
    SqlLayer for it, and the registry an empty frame."""
    sql = {layer: SqlLayer(rows.layer, rows.data_version, rows.rows, rows.url, rows.primary, rows.digest)
           for layer, rows in frames.items() if isinstance(rows, SqlRows)}
    for layer in sql.values():   # a big layer's tile cells: looked for (built if missing) now
        prepare_tiles(layer)
        prepare_figures(layer)   # and its figures' aggregate read ahead (geoapp/postgis/figures.py)
    registry = with_imported(base, {k: v for k, v in frames.items() if k not in sql}, source)
    return Bundle(plan_id=plan_id, version=version, registry=registry, sql=sql,
                  catalog=Catalog(registry, layers_dir, sql=sql),
                  lazy_search=Lazy(lambda: SearchIndex.build(registry.specs, registry.layers,
                                                             registry.boundaries)),
                  display_positions=display_positions(registry.specs, {**registry.layers, **drawn_whole(sql)},
                                                      datum))


def drawn_whole(sql: dict) -> dict:
    """The rows (ids and points) of the database layers small enough to be drawn whole on the map
    (TILES_ABOVE rows at most): their places sharing a stored point are moved apart on the map as
    those of the layers in memory (display_positions). Bigger layers are drawn as tiles. A layer
    the database does not give now is left as it is stored (its shared points drawn stacked)
    rather than failing the bundle."""
    import psycopg
    frames = {}
    for layer_id, layer in sql.items():
        if layer.rows <= TILES_ABOVE:
            try:
                frames[layer_id] = layer.frame()
            except (psycopg.Error, DatabaseUnavailable) as error:
                log.warning("display positions of %s left out: %s", layer_id, error)
    return frames


# --- the atlas: current bundles and switches ------------------------------------------------------

class UnknownPlan(LookupError):
    def __init__(self, plan_id: str, known: list[str]):
        super().__init__(f"no plan '{plan_id}'; plans: {', '.join(known)}")
        self.plan_id, self.known = plan_id, known


DEFAULT_PLAN = "default"   # the plan id of a data folder without plans (data/plans/<id>/)


def plan_ids(root: Registry) -> tuple[list[str], str]:
    """The plan ids a registry holds (default first) and the default one."""
    plans = getattr(root, "plans", None)
    if plans:
        return list(plans), root.plan.id
    return [DEFAULT_PLAN], DEFAULT_PLAN


class Atlas:
    """The app's state: the store, the basemap's datum, the curated registry (every plan; one
    view per plan) and the current Bundle of each plan in use. `bundle(plan_id)` is what a request
    binds; `refresh()` (before each request) starts a background switch when the store moved;
    `switch()` builds and swaps."""

    def __init__(self, root: Registry, load: Callable[[], Registry], store: Store, datum: str,
                 layers_dir: Path | None, poll: float = 1.0, build: Callable[..., Bundle] = build_bundle):
        """`root`: the curated registry as loaded and checked at start-up (the default plan's
        view; other plans' views come from `root.for_plan(id)`); `load()` reads it again (a
        reload: the data folder edited, a plan published)."""
        self._root = root
        self._plans, self.default_plan = plan_ids(root)
        self._load = load
        self._bases: dict[str, Registry] = {self.default_plan: root}
        self.store = store
        self.datum = datum
        self.layers_dir = layers_dir
        self.poll = poll
        self._build = build
        self._bundles: dict[str, Bundle] = {}
        self._lock = threading.Lock()          # guards _bundles and _bases
        self._plan_locks: dict[str, threading.Lock] = {}
        self._switching = threading.Lock()     # one switch at a time
        self._switch_thread: threading.Thread | None = None
        self.checked_at = 0.0
        self.switches = 0
        self.health = StoreHealth()             # reachable, or failing since when (back-off)
        self.version = 0                        # the store version the current bundles show
        self.map_frame = None                   # the basemap frame (geoapp.layers.build.MapFrame)

    # -- reading --
    @property
    def plan_ids(self) -> list[str]:
        return list(self._plans)

    def plans(self) -> list:
        """The Plan objects (geoapp.data), default first; [] for a data folder without plans."""
        plans = getattr(self._root, "plans", None)
        return list(plans.values()) if plans else []

    def base(self, plan_id: str) -> Registry:
        """The plan's curated registry (the default plan's view, or another plan's view of the
        same shared places, made on first use)."""
        if plan_id not in self._plans:
            raise UnknownPlan(plan_id, self.plan_ids)
        base = self._bases.get(plan_id)
        if base is None:
            with self._lock:
                base = self._bases.get(plan_id)
                if base is None:
                    base = self._bases[plan_id] = self._root.for_plan(plan_id)
        return base

    def bundle(self, plan_id: str | None = None) -> Bundle:
        """The current Bundle of the plan (the default plan when None); a plan not used yet is
        built now, once (start-up memory stays that of the default plan)."""
        plan_id = plan_id or self.default_plan
        bundle = self._bundles.get(plan_id)
        if bundle is not None:
            return bundle
        if plan_id not in self._plans:
            raise UnknownPlan(plan_id, self.plan_ids)
        with self._plan_lock(plan_id):
            while True:
                bundle = self._bundles.get(plan_id)
                if bundle is not None:
                    return bundle
                version = self.version
                _, frames = self.store.snapshot(version, lazy=True) if version else (0, {})
                bundle = self._make(plan_id, version, frames)
                with self._lock:
                    if self.version == version:   # else a switch landed meanwhile: build again
                        return self._bundles.setdefault(plan_id, bundle)

    def _plan_lock(self, plan_id: str) -> threading.Lock:
        with self._lock:
            return self._plan_locks.setdefault(plan_id, threading.Lock())

    def _make(self, plan_id: str, version: int, frames: dict) -> Bundle:
        return self._build(plan_id, self.base(plan_id), version, frames, self.datum, self.layers_dir,
                           source=f"store:{self.store.kind}")

    # -- switching --
    def start(self) -> "Atlas":
        """Start-up: the default plan's bundle at the store's current version (errors stop
        start-up: a store that cannot be read is a configuration problem then)."""
        version, frames = self.store.snapshot(lazy=True)
        self.version = version
        self._bundles[self.default_plan] = self._make(self.default_plan, version, frames)
        return self

    def switch(self, reload: bool = False, plans: list[str] | None = None) -> bool:
        """Build the bundles of every plan in use at the store's current version — with `reload`,
        from a fresh read of the curated data (the data folder edited, a plan published or
        removed; the plans are those the data now holds, so `plans` is not needed) — then replace
        the references. A read that fails raises and leaves everything served as it was. Runs on
        the calling thread; False when another switch is under way."""
        if not self._switching.acquire(blocking=False):
            return False
        try:
            version, frames = self.store.snapshot(lazy=True)
            root, plans, default = self._root, self._plans, self.default_plan
            if reload:
                root = self._load()
                plans, default = plan_ids(root)
            in_use = [p for p in self._bundles if p in plans]
            if default not in in_use:
                in_use.insert(0, default)
            bases = {p: (root if p == default else root.for_plan(p)) for p in in_use} if reload else {}
            built = {}
            for plan_id in in_use:
                base = bases[plan_id] if reload else self.base(plan_id)
                built[plan_id] = self._build(plan_id, base, version, frames, self.datum, self.layers_dir,
                                             source=f"store:{self.store.kind}")
            with self._lock:
                if reload:
                    self._root, self._plans, self.default_plan = root, plans, default
                    self._bases = bases
                    self._bundles = built       # plans no longer in the data are gone
                else:   # one reference per plan, replaced; a plan built meanwhile at the old
                    # version is dropped (built again, at this version, on its next request)
                    self._bundles = {**{p: b for p, b in self._bundles.items() if b.version == version},
                                     **built}
                self.version = version
                self.switches += 1
            return True
        finally:
            self._switching.release()

    def check_soon(self) -> None:
        """Look for a new version on the next request (after this process wrote one)."""
        self.checked_at = 0.0

    @property
    def store_error(self) -> str | None:
        """The last error reading the store (None: it answers)."""
        return self.health.error

    def refresh(self, force: bool = False) -> bool:
        """Before a request: at most once every `poll` seconds — while the store fails, only when
        its back-off allows (StoreHealth) — start one background check of the store's version,
        which switches when it moved. Returns at once, True when a check started: no request
        waits for the store, so a stopped or frozen database delays nobody and reads keep being
        answered from the current bundles (/health says degraded meanwhile)."""
        now = time.monotonic()
        if not force and (now - self.checked_at < self.poll or not self.health.due()):
            return False
        self.checked_at = now
        if self.switching:
            return False
        thread = threading.Thread(target=self._check_in_background, name="atlas-check", daemon=True)
        with self._lock:
            if self.switching:
                return False
            self._switch_thread = thread
            thread.start()
        return True

    @property
    def switching(self) -> bool:
        """A background check or switch is under way."""
        thread = self._switch_thread
        return thread is not None and thread.is_alive()

    def _check_in_background(self) -> None:
        try:
            current = self.store.current_version()
        except Exception as error:  # noqa: BLE001 - keep serving what is in memory; retry after a back-off
            self._store_failed(error)
            return
        self.health.succeeded()
        if current == self.version:
            return
        try:
            self.switch()
        except store_errors() as error:   # the store went away between the two reads
            self._store_failed(error)
        except Exception:  # noqa: BLE001 - the old bundles stay served; next poll tries again
            log.exception("switching to the store's new version failed; the current data stays served")

    def _store_failed(self, error: BaseException) -> None:
        wait = self.health.failed(error)
        log.warning("store unreachable, serving version %s (next try in %.0f s): %s",
                    self.version, wait, self.health.error)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background switch under way (tests, the CLI); True when none is left."""
        thread = self._switch_thread
        if thread is not None:
            thread.join(timeout)
        return not self.switching

    def serve_current(self, timeout: float = 120) -> None:
        """Switch now if the store moved, and wait for it (tests and scripts that just wrote)."""
        self.refresh(force=True)
        self.wait(timeout)
