"""Moved to geoapp.specs (the registry loads the specs with the data); kept importable here."""
from geoapp.specs import GEOMETRIES, KEYS, LayerSpec, LayerSpecError, load_specs

__all__ = ["GEOMETRIES", "KEYS", "LayerSpec", "LayerSpecError", "load_specs"]
