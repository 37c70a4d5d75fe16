"""Mapbox Vector Tiles of a published collection in the WebMercatorQuad tiling scheme, and the
OGC API – Tiles metadata documents that describe them (no Flask here).

The tile grid is morecantile's WebMercatorQuad (the OGC Two-Dimensional Tile Matrix Set
definition); the encoder is mapbox-vector-tile (clipping, quantizing to the 4096 extent, winding
order). A tile holds one MVT layer named after the collection, every published property except
empty ones (MVT has no null), and the geometry clipped to the tile plus a 64-unit buffer.
"""
from __future__ import annotations

import json
from functools import lru_cache

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pandas as pd
import shapely
from mapbox_vector_tile.encoder import on_invalid_geometry_make_valid

from geoapp.export.serialize import plain

TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"
MVT = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
BUFFER = 64            # tile units around the tile, so strokes and markers do not cut at edges
MAX_ZOOM = 18          # deeper tiles are refused (404): the data's positions are not finer
TMS = morecantile.tms.get(TMS_ID)


class TileError(ValueError):
    """A bad tile address: status 400 when it is not numbers, 404 when outside the matrix set."""

    def __init__(self, message: str, status: int = 404):
        super().__init__(message)
        self.status = status


@lru_cache(maxsize=1)
def tile_matrix_set() -> dict:
    """The WebMercatorQuad definition (OGC 2DTMS JSON), as morecantile publishes it."""
    return json.loads(TMS.model_dump_json(exclude_none=True))


def parse_tile(z: str, y: str, x: str) -> tuple[int, int, int]:
    """tileMatrix / tileRow / tileCol path parts -> ints, checked against the matrix size."""
    try:
        zoom, row, col = int(z), int(y), int(x)
    except ValueError:
        raise TileError(f"tileMatrix/tileRow/tileCol must be integers, got {z}/{y}/{x}", 400) from None
    if not 0 <= zoom <= MAX_ZOOM:
        raise TileError(f"tileMatrix {zoom} is outside 0..{MAX_ZOOM}")
    size = 2 ** zoom
    if not (0 <= row < size and 0 <= col < size):
        raise TileError(f"tile {zoom}/{row}/{col} is outside the matrix: rows and columns run 0..{size - 1}")
    return zoom, row, col


def _tile_features(frame: gpd.GeoDataFrame, mercator: gpd.GeoSeries, ids: pd.Index,
                   zoom: int, row: int, col: int) -> list[dict]:
    bounds = TMS.xy_bounds(morecantile.Tile(col, row, zoom))
    unit = (bounds.right - bounds.left) / EXTENT
    pad = BUFFER * unit
    box = (bounds.left - pad, bounds.bottom - pad, bounds.right + pad, bounds.top + pad)
    wanted = mercator.loc[ids]
    hits = wanted.sindex.query(shapely.box(*box), predicate="intersects")
    features = []
    columns = [c for c in frame.columns if c != frame.geometry.name]
    for position in sorted(hits):
        feature_id = wanted.index[position]
        geometry = wanted.iloc[position]
        if geometry.geom_type not in ("Point", "MultiPoint"):
            geometry = shapely.clip_by_rect(shapely.simplify(geometry, unit / 2, preserve_topology=True), *box)
        if geometry.is_empty:
            continue
        geometry = _quantize(geometry, bounds)
        record = frame.loc[feature_id, columns]
        properties = {c: plain(v) for c, v in record.items()}
        properties = {c: v for c, v in properties.items() if v is not None}
        properties.setdefault("id", str(feature_id))
        features.append({"geometry": geometry, "properties": properties, "id": int(frame.index.get_loc(feature_id)) + 1})
    return features


def _quantize(geometry, bounds) -> shapely.Geometry:
    """Web Mercator metres -> integer tile units (0..EXTENT, y up), vectorised. (The encoder's own
    quantize_bounds option does this with shapely.ops.transform, deprecated in Shapely 2.1.)"""
    left, bottom, right, top = bounds.left, bounds.bottom, bounds.right, bounds.top
    scale = np.array([EXTENT / (right - left), EXTENT / (top - bottom)])
    origin = np.array([left, bottom])
    return shapely.transform(geometry, lambda xy: np.round((xy - origin) * scale))


def encode_tile(layer: str, frame: gpd.GeoDataFrame, mercator: gpd.GeoSeries, ids: pd.Index,
                zoom: int, row: int, col: int) -> bytes:
    """MVT bytes of the features `ids` of `frame` (geometries `mercator`, EPSG:3857) in a tile."""
    return encode_layers([(layer, frame, mercator, ids)], zoom, row, col)


def encode_layers(layers: list[tuple[str, gpd.GeoDataFrame, gpd.GeoSeries, pd.Index]],
                  zoom: int, row: int, col: int) -> bytes:
    """One tile with an MVT layer per (name, frame, mercator geometries, ids); layers with no
    feature in the tile are left out, and a tile with none is empty (a valid MVT)."""
    encoded = []
    for name, frame, mercator, ids in layers:
        features = _tile_features(frame, mercator, ids, zoom, row, col)
        if features:
            encoded.append({"name": name, "features": features})
    if not encoded:
        return b""
    return mapbox_vector_tile.encode(
        encoded, default_options={"extents": EXTENT, "on_invalid_geometry": on_invalid_geometry_make_valid})


def matrix_limits(bbox: list[float], max_zoom: int = MAX_ZOOM) -> list[dict]:
    """tileMatrixSetLimits: the tiles covering a lon/lat bbox at each zoom."""
    west, south, east, north = bbox
    limits = []
    for zoom in range(max_zoom + 1):
        upper_left = TMS.tile(west, north, zoom)
        lower_right = TMS.tile(east, south, zoom)
        limits.append({"tileMatrix": str(zoom), "minTileRow": upper_left.y, "maxTileRow": lower_right.y,
                       "minTileCol": upper_left.x, "maxTileCol": lower_right.x})
    return limits


def geometry_dimension(geometry_type: str) -> int:
    if geometry_type in ("Point", "MultiPoint"):
        return 0
    if geometry_type in ("LineString", "MultiLineString"):
        return 1
    return 2


def property_types(frame: gpd.GeoDataFrame) -> dict:
    out = {}
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        out[column] = {"type": "number" if numeric else "string"}
    return out
