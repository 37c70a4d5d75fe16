"""Blueprint 'export' (placeholder until its issue lands)."""
from flask import Blueprint

bp = Blueprint("export", __name__)
