"""Data access: load every data file once, validate it, hand out GeoDataFrames."""
from geoapp.data.registry import Registry, load_registry
from geoapp.data.validate import DataValidationError, Problem

__all__ = ["Registry", "load_registry", "DataValidationError", "Problem"]
