"""JSON API: health, the plans and the layer listing."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from geoapp.web import context
from geoapp.web.context import atlas, bundle, current_filter, registry
from geoapp.web.export import layer_index

bp = Blueprint("api", __name__)


@bp.get("/health")
def health():
    """{"status": "ok"} once the data is loaded; {"status": "degraded", ...} (still 200: the data
    in memory is served) while the store cannot be read, with the error and when it is tried again."""
    registry()  # loaded at start-up; reaching here means the data validated
    state = atlas()
    report = state.health.report()
    # with streaming replicas (ATLAS_DATABASE_REPLICA_URL): the version served and where its rows
    # were read ("replica 1", "replica 2", ... in the order configured, or "primary")
    replicas = getattr(state.store, "replicas", None)
    # and the imported layers whose rows are queried in the database (ATLAS_SQL_LAYER_ROWS)
    reads = ({"serving_version": state.version, "reads_from": state.store.read_source(),
              "layers_in_database": sorted(bundle().sql)} if replicas else {})
    # never from a cache: the answer is about this process, now
    if report["store"] == "ok":
        return jsonify(status="ok", **reads), {"Cache-Control": "no-store"}
    return jsonify(status="degraded", serving_version=state.version, **{**report, **reads}), {"Cache-Control": "no-store"}


@bp.get("/api/plans")
def plans():
    """Every plan the atlas serves: id, titles (zh, en), period, whether it is the default (the
    unprefixed URLs), and the URL of its map; its other pages are under that URL."""
    root = request.host_url.rstrip("/")
    return jsonify({"plans": [{**p, "url": root + (context.plan_prefix(p["id"]) or "") + "/"}
                              for p in context.plans()]})


@bp.get("/api/layers")
def layers():
    """Every layer (places and boundaries): id, zh/en title, geometry type, counts, download and
    OGC links. The filter in the query string is applied to the counts and carried in the links."""
    return jsonify(layer_index(current_filter()))
