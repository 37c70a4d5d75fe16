"""Blueprint 'stats' (placeholder until its issue lands)."""
from flask import Blueprint

bp = Blueprint("stats", __name__)
