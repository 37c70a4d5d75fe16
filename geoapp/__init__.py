"""Liaoning Innovation Atlas: maps the Liaoning 13th Five-Year S&T Plan (2016-2020).

Layers (data flows one way, nothing imports from a layer above it):
    geoapp.vocab, geoapp.data   load + validate data files into GeoDataFrames (one registry)
    geoapp.filters              the filter parsed once from a query string
    geoapp.analysis             pure functions over GeoDataFrames
    geoapp.layers               layer specs (layers/*.yaml) -> map frame (folium) + layer GeoJSON, search
    geoapp.web                  Flask app factory and blueprints
"""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
LAYERS_DIR = PROJECT_ROOT / "layers"
