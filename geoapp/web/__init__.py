"""Flask app factory. Blueprints stay thin: parse the request, call data/analysis/layers.

All start-up happens in create_app, in order: configuration, the state (geoapp/state.py: the
basemap frame — unusable tile settings stop start-up —, the registry — every data file and layer
spec loaded and cross-checked once: a bad file stops the service here with file/row/field
messages —, the store, and the default plan's Bundle built by state.build_bundle: catalog,
display positions, search index, caches), blueprints, error handlers, and last the C heap's freed
pages handed back (geoapp/web/memory.py). The place search index is filled on the first search
(geoapp/layers/search.py). Every request binds the current Bundle once (web/context.py).
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, jsonify, request

from geoapp import DATA_DIR, LAYERS_DIR
from geoapp.data import load_registry
from geoapp.filters import FilterError

DEFAULTS = {
    "ATLAS_DATA_DIR": DATA_DIR,
    "ATLAS_LAYERS_DIR": LAYERS_DIR,
    # none | osm | tianditu (needs ATLAS_TIANDITU_KEY) | amap (GCJ-02: drawn shifted) | a tile URL
    # template ({z}/{x}/{y}) for an internal tile server, in ATLAS_TILES_DATUM (wgs84 | gcj02)
    "ATLAS_TILES": "osm",
    "ATLAS_TILES_ATTRIBUTION": "",
    "ATLAS_TILES_DATUM": "wgs84",
    "ATLAS_TIANDITU_KEY": "",
    # CORS on /ogc, /export, /api: * or comma-separated origins (see geoapp/web/cors.py)
    "ATLAS_CORS_ORIGINS": "*",
    # Imported layers: postgresql://... (PostGIS) or sqlite:///path; empty = SQLite file
    # atlas-store.sqlite in the instance folder. Workers look for a new version every POLL s.
    "ATLAS_DATABASE_URL": "",
    # Streaming replicas of that PostGIS primary (one postgresql:// URL or a comma-separated list):
    # snapshots are read there once a replica has reached the primary's version; writes go to the
    # primary; a replica that lags or is down falls back to the primary (docs/deploy.md).
    "ATLAS_DATABASE_REPLICA_URL": "",
    "ATLAS_STORE_POLL": 1.0,
    # PostGIS only: an imported layer of this many rows or more is served from the database
    # (geoapp/postgis: items, tiles, figures, search, downloads as SQL) instead of being read into
    # every worker; smaller layers are read into memory. The default 0 serves every imported layer
    # of a PostGIS store from the database: a worker's memory does not grow with imported rows
    # (a per-layer threshold would let many layers just under it fill every worker).
    "ATLAS_SQL_LAYER_ROWS": 0,
    # /admin/import is enabled only when this is set (and then requires it).
    "ATLAS_ADMIN_TOKEN": "",
}


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    init_config(app, config)
    init_state(app)
    init_blueprints(app)
    init_errors(app)
    init_templates(app)
    init_memory(app)
    return app


def init_config(app: Flask, config: dict | None) -> None:
    app.config.update(DEFAULTS)
    for key in ("ATLAS_TILES", "ATLAS_TILES_ATTRIBUTION", "ATLAS_DATA_DIR", "ATLAS_LAYERS_DIR",
                "ATLAS_CORS_ORIGINS", "ATLAS_TILES_DATUM", "ATLAS_TIANDITU_KEY", "ATLAS_DATABASE_URL",
                "ATLAS_DATABASE_REPLICA_URL", "ATLAS_STORE_POLL", "ATLAS_ADMIN_TOKEN", "ATLAS_SQL_LAYER_ROWS"):
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    app.config.update(config or {})
    app.json.ensure_ascii = False  # Chinese as UTF-8, not \uXXXX escapes
    app.json.sort_keys = False


def init_state(app: Flask) -> None:
    """The basemap, the curated registry (loaded and cross-checked once), the store of imported
    layers and the first Bundle; then every request binds the current Bundle (context.py)."""
    from geoapp.ingest.store import open_store
    from geoapp.layers.build import build_frame
    from geoapp.state import Atlas
    from geoapp.web import context
    frame = build_frame(app.config["ATLAS_TILES"], app.config["ATLAS_TILES_ATTRIBUTION"],
                        app.config.get("ATLAS_TILES_DATUM", "wgs84"), app.config.get("ATLAS_TIANDITU_KEY", ""))
    layers_dir = Path(app.config["ATLAS_LAYERS_DIR"])

    def load():
        return load_registry(
            Path(app.config["ATLAS_DATA_DIR"]), layers_dir,
            # tests of the root fix (data text never reaches a template engine) load poisoned data
            check_text=not app.config.get("ATLAS_SKIP_TEXT_CHECK", False))

    store = open_store(app.config.get("ATLAS_DATABASE_URL"), app.instance_path,
                       replicas=app.config.get("ATLAS_DATABASE_REPLICA_URL") or "",
                       sql_min_rows=sql_layer_rows(app.config.get("ATLAS_SQL_LAYER_ROWS")))
    atlas = Atlas(load(), load, store, frame.datum, layers_dir,
                  poll=float(app.config.get("ATLAS_STORE_POLL", 1.0)))
    atlas.map_frame = frame
    atlas.start()
    app.extensions["atlas"] = atlas
    context.init_app(app)


def sql_layer_rows(value) -> int:
    """ATLAS_SQL_LAYER_ROWS: a whole number ≥ 0 (0: every imported layer is served from PostGIS)."""
    try:
        rows = int(str(value).strip())
    except ValueError:
        rows = -1
    if rows < 0:
        raise ValueError(f"ATLAS_SQL_LAYER_ROWS '{value}' is not a whole number ≥ 0 (rows of an imported "
                         "layer from which it is served from PostGIS; 0 = every imported layer)")
    return rows


def init_blueprints(app: Flask) -> None:
    from geoapp.web import (about, admin, api, compare, drafts, export, headers, map_page, map_tables, ogc,
                            scorecard, stats)
    headers.init_app(app)
    for module in (map_page, map_tables, api, stats, scorecard, compare, export, ogc, about, admin, drafts):
        app.register_blueprint(module.bp)
    scorecard.init_scorecard(app)
    compare.init_compare(app)
    map_page.init_map(app)
    admin.init_admin(app)

    from geoapp.web.cors import init_cors
    init_cors(app)


def init_templates(app: Flask) -> None:
    """Compile every page template now, not in a worker's first request (/stats spent ~0.3 s CPU
    compiling stats.html there); a broken template stops start-up instead of failing a user.
    Every page template sees `plan`: the request's plan (titles for base.html and /about)."""
    @app.context_processor
    def _request_plan():
        from geoapp.web import context
        try:
            return {"plan": context.registry().plan}
        except Exception:  # outside a plan's request (e.g. an error page before the bundle is bound)
            return {}

    for name in app.jinja_env.list_templates(filter_func=lambda n: n.endswith(".html")):
        app.jinja_env.get_template(name)


def init_memory(app: Flask) -> None:
    """Give back the memory start-up freed, and later what large responses freed (web/memory.py)."""
    from geoapp.web import memory
    memory.init_app(app)


RETRY_AFTER_S = 5


def init_errors(app: Flask) -> None:
    import psycopg
    from psycopg_pool import PoolTimeout

    from geoapp.postgis import DatabaseUnavailable

    @app.errorhandler(DatabaseUnavailable)
    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(error):
        """A layer served from PostGIS while its database cannot be reached or every connection
        is busy: 503 with Retry-After, never a 500 (pages served from memory keep working)."""
        message = str(error) if isinstance(error, DatabaseUnavailable) else (
            "数据库暂时无法访问，请稍后再试 / the database cannot be reached or is busy "
            f"({type(error).__name__}); try again in a few seconds")
        return _error_response({"error": "service_unavailable", "message": message}, 503,
                               {"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"})

    @app.errorhandler(psycopg.errors.QueryCanceled)
    def query_too_slow(error):
        """A statement over the database's time limit (geoapp/postgis/pool.py STATEMENT_TIMEOUT_MS)."""
        from geoapp.postgis.pool import STATEMENT_TIMEOUT_MS
        return _error_response({"error": "query_too_slow", "message": (
            f"查询超过 {STATEMENT_TIMEOUT_MS // 1000} 秒，已停止；请缩小范围（筛选、bbox、filter）/ the query ran "
            f"longer than {STATEMENT_TIMEOUT_MS // 1000} s and was stopped; narrow it (filter, bbox, CQL2 "
            "filter) and ask again")}, 503, {"Cache-Control": "no-store"})

    @app.errorhandler(FilterError)
    def bad_filter(error: FilterError):
        body = {"error": "bad_request", "parameter": error.param, "value": error.value,
                "message": str(error), "allowed": error.allowed}
        if request.accept_mimetypes.accept_html and not request.path.startswith(("/api", "/export")):
            from flask import render_template
            return render_template("error.html", error=body), 400
        return jsonify(body), 400


def _error_response(body: dict, status: int, headers: dict):
    """An error as JSON, or as the error page for a browser asking for a page."""
    if request.accept_mimetypes.accept_html and not request.path.startswith(("/api", "/export", "/ogc")):
        from flask import render_template
        return render_template("error.html", error=body), status, headers
    return jsonify(body), status, headers
