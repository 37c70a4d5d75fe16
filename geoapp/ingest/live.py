"""The web app serves the store's current version; every worker switches without a restart.

At start-up the curated registry (data/, loaded once) is extended with the imported layers of the
store's current version. Before a request, at most once every ATLAS_STORE_POLL seconds (default
1; 0 = every request), a worker asks the store for its current version (SELECT max(id): a
primary-key lookup, ~20 µs on SQLite, one round trip on PostgreSQL). When it changed, that worker
reads the new version, builds the new registry and catalog, and swaps them in with the data caches
emptied (bodies, filters, stats); requests already running, and requests arriving while it
reloads, are served from the old ones. ETags include
the catalog's content hash, so they change exactly when published bytes change. So a new version
is served by every worker at most ATLAS_STORE_POLL seconds plus one reload (measured in
docs/deploy.md) after its commit.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from flask import Flask, g

from geoapp.ingest.rows import empty_frame
from geoapp.ingest.service import importable_layers
from geoapp.ingest.store import Store, open_store

# app.extensions entries built from the data: rebuilt (if the app has them) or emptied when the
# version changes. A new per-data cache must be listed here (tests/test_living.py checks that every
# atlas.* entry is in one of these two lists).
DATA_EXTENSIONS = ("atlas.registry", "atlas.catalog", "atlas.search_index", "atlas.body_cache",
                   "atlas.filter_memo", "atlas.report_cache", "atlas.display_positions",
                   "atlas.point_index", "atlas.place_tables")
# Entries that do not depend on the data version (kept across a switch).
STATIC_EXTENSIONS = ("atlas.base_registry", "atlas.store", "atlas.live", "atlas.map_frame",
                     "atlas.memory_trimmer", "atlas.admin_sessions")


class Gate:
    """Requests pass through while no swap is under way; a swap waits for the requests in flight
    to finish and holds new ones back for the few dictionary assignments it makes. So no request
    ever mixes data of two versions (nor stores a body built from the old one in a new cache)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._inside = 0
        self._swapping = False

    def enter(self) -> None:
        with self._cond:
            while self._swapping:
                self._cond.wait()
            self._inside += 1

    def leave(self) -> None:
        with self._cond:
            self._inside -= 1
            if self._inside == 0:
                self._cond.notify_all()

    def swap(self, apply) -> None:
        with self._cond:
            self._swapping = True
            try:
                while self._inside:
                    self._cond.wait()
                apply()
            finally:
                self._swapping = False
                self._cond.notify_all()


class Live:
    def __init__(self, app: Flask, store: Store, poll: float):
        self.app = app
        self.store = store
        self.poll = poll
        self.version = 0
        self.checked_at = 0.0
        self.reloads = 0
        self._lock = threading.Lock()
        self.gate = Gate()
        self.imported = importable_layers(app.extensions["atlas.base_registry"].specs)

    def registry_for(self, frames: dict):
        base = self.app.extensions["atlas.base_registry"]
        layers = {layer: frames.get(layer, empty_frame()) for layer in self.imported}
        return base.with_layers(layers, Path(f"store:{self.store.kind}"))

    def load(self) -> None:
        """Read the current version into the app (start-up, and after a change)."""
        version, frames = self.store.snapshot()
        registry = self.registry_for(frames)
        extensions = self.app.extensions
        rebuilt = {"atlas.registry": registry}
        # Once started, build the new catalog and search index before the swap.
        if "atlas.catalog" in extensions:
            from geoapp.export.catalog import Catalog
            rebuilt["atlas.catalog"] = Catalog(registry, self.app.config.get("ATLAS_LAYERS_DIR"))
        if "atlas.report_cache" in extensions:
            from geoapp.web.stats import ReportCache
            rebuilt["atlas.report_cache"] = ReportCache()
        if "atlas.search_index" in extensions:
            from geoapp.layers.search import SearchIndex
            rebuilt["atlas.search_index"] = SearchIndex.build(registry.specs, registry.layers)
        if "atlas.display_positions" in extensions:
            from geoapp.web.map_page import display_positions
            rebuilt["atlas.display_positions"] = display_positions(registry.specs, registry)

        def apply() -> None:
            for key in DATA_EXTENSIONS:
                if key not in rebuilt:
                    extensions.pop(key, None)
            extensions.update(rebuilt)
            self.version = version

        self.gate.swap(apply)

    def check_soon(self) -> None:
        """Look for a new version on the next request (after this process wrote one)."""
        self.checked_at = 0.0

    def refresh(self, force: bool = False) -> bool:
        """Switch to the store's current version if it changed; True if it did."""
        now = time.monotonic()
        if not force and now - self.checked_at < self.poll:
            return False
        self.checked_at = now
        if self.store.current_version() == self.version:
            return False
        # One thread reloads; the others keep serving the current data meanwhile (no queue).
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self.store.current_version() == self.version:
                return False
            self.load()
            self.reloads += 1
            return True
        finally:
            self._lock.release()


def init_app(app: Flask) -> Live:
    """Call after the curated registry is in app.extensions['atlas.registry'] and before the
    blueprints are registered (they build their start-up state from the registry)."""
    store = open_store(app.config.get("ATLAS_DATABASE_URL"), app.instance_path)
    app.extensions["atlas.base_registry"] = app.extensions["atlas.registry"]
    app.extensions["atlas.store"] = store
    live = Live(app, store, float(app.config.get("ATLAS_STORE_POLL", 1.0)))
    app.extensions["atlas.live"] = live
    live.load()

    @app.before_request
    def _switch_to_current_version():
        live.refresh()          # outside the gate: may wait for the requests in flight
        live.gate.enter()
        g.atlas_in_gate = True

    @app.teardown_request
    def _leave(_error=None):
        if g.pop("atlas_in_gate", False):
            live.gate.leave()

    return live
