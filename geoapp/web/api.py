"""JSON API: health and layer listing."""
from __future__ import annotations

from flask import Blueprint, jsonify

from geoapp.web.context import registry

bp = Blueprint("api", __name__)


@bp.get("/health")
def health():
    registry()  # loaded at start-up; reaching here means the data validated
    return jsonify(status="ok")
