"""JSON API: health and layer listing."""
from __future__ import annotations

from flask import Blueprint, jsonify

from geoapp.web.context import current_filter, registry
from geoapp.web.export import layer_index

bp = Blueprint("api", __name__)


@bp.get("/health")
def health():
    registry()  # loaded at start-up; reaching here means the data validated
    # never from a cache: the answer is about this process, now
    return jsonify(status="ok"), {"Cache-Control": "no-store"}


@bp.get("/api/layers")
def layers():
    """Every layer (places and boundaries): id, zh/en title, geometry type, counts, download and
    OGC links. The filter in the query string is applied to the counts and carried in the links."""
    return jsonify(layer_index(current_filter()))
