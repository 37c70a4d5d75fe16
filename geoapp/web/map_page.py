"""The map page (placeholder until the map issue lands)."""
from flask import Blueprint

bp = Blueprint("map", __name__)


@bp.get("/")
def index():
    return "<!doctype html><meta charset=utf-8><title>辽宁创新地图</title><h1>辽宁创新地图 Liaoning Innovation Atlas</h1>"
