"""Liaoning Innovation Atlas: the province's innovation places (high-tech zones, parks, labs,
platforms) and the S&T plans that name them, on a map, in statistics and as GIS data.

Layers, top to bottom (data flows one way: nothing imports from a layer above it; the contract
is checked by `lint-imports`, pyproject.toml [tool.importlinter]):
    geoapp.serve, gunicorn_hooks   nginx + gunicorn (make run, make reload)
    geoapp.web                     Flask app factory and one blueprint per page (thin)
    geoapp.state                   what is served: one Bundle per (plan, data version), the switch
    geoapp.ingest / export / layers   imported lists and the versioned store / published
                                   collections (downloads, OGC) / the map (frame, layer GeoJSON,
                                   tiles, search, display positions)
    geoapp.analysis                pure functions over GeoDataFrames (coverage, distribution, belt)
    geoapp.filters                 the filter parsed once from a query string
    geoapp.data, geoapp.specs      load + validate the data folder and layer specs (one registry)
    geoapp.vocab, geoapp.geo       code lists and bilingual labels; coordinate systems
"""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
LAYERS_DIR = PROJECT_ROOT / "layers"
