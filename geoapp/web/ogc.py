"""Blueprint 'ogc' (placeholder until its issue lands)."""
from flask import Blueprint

bp = Blueprint("ogc", __name__)
