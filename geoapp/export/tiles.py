"""Mapbox Vector Tiles of a published collection in the WebMercatorQuad tiling scheme, and the
OGC API – Tiles metadata documents that describe them (no Flask here).

The tile grid is morecantile's WebMercatorQuad (the OGC Two-Dimensional Tile Matrix Set
definition); the encoder is mapbox-vector-tile (clipping, quantizing to the 4096 extent, winding
order). A tile holds one MVT layer named after the collection, every published property except
empty ones (MVT has no null), and the geometry clipped to the tile plus a 64-unit buffer.

Bounded whatever the layer's size: a tile with more than MAX_TILE_POINTS points carries clusters
(count + mean position) per cell instead, so its features and bytes stay under a fixed cap, and a
tile that is not built within its time Budget raises TileBudgetExceeded (the web answers 503).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import lru_cache

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pandas as pd
import shapely
from mapbox_vector_tile.encoder import on_invalid_geometry_make_valid

from geoapp.export.serialize import property_records
from geoapp.filters import Filter
from geoapp.postgis import SqlLayer
from geoapp.postgis import tiles as sql_tiles

TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"
MVT = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
BUFFER = 64            # tile units around the tile, so strokes and markers do not cut at edges
MAX_ZOOM = 18          # deeper tiles are refused (404): the data's positions are not finer
MAX_TILE_POINTS = 1000  # a tile with more points than this carries clusters instead (any zoom)
CLUSTER_UNITS = 128    # side of a cluster cell in tile units (1/32 of a tile): <= 34 x 34 cells
TILE_BUDGET_S = 1.5    # wall time a tile may take before it is answered 503 (ATLAS_TILE_BUDGET_S)
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


class TileBudgetExceeded(RuntimeError):
    """Building a tile took longer than its time budget: answered as an honest 503, never by
    holding a worker until the proxy gives up."""


@dataclass
class Budget:
    """The time one tile may take (seconds of wall time from `started`)."""
    seconds: float = TILE_BUDGET_S
    started: float = field(default_factory=time.monotonic)

    def check(self, zoom: int, row: int, col: int, features: int) -> None:
        spent = time.monotonic() - self.started
        if spent > self.seconds:
            raise TileBudgetExceeded(
                f"tile {zoom}/{row}/{col} was not built within its {self.seconds:g} s budget "
                f"({spent:.1f} s spent, {features} features so far); zoom in or narrow the filter "
                "(industry, city, level, kind), then try again")


@dataclass
class Source:
    """One MVT layer to encode: the published frame (properties; rows in the order of
    `mercator`), its geometries in EPSG:3857, the selected row positions, and for a point layer
    its x/y arrays (EPSG:3857, NaN where a row is not a point), so a tile of a large point layer
    is found by comparing numbers instead of querying geometries."""
    name: str
    frame: gpd.GeoDataFrame
    mercator: gpd.GeoSeries
    positions: np.ndarray
    points: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class SqlSource:
    """One MVT layer whose rows live in PostGIS (geoapp/postgis): encoded by the database
    (geoapp.postgis.tiles.mvt) with the same properties, positions, cap and clusters as a Source."""
    name: str
    sql: SqlLayer
    columns: list[sql_tiles.Column]
    flt: Filter


def tile_frame(zoom: int, row: int, col: int) -> sql_tiles.TileFrame:
    """The tile's origin, metres -> units scales and buffered box, as _tile_features computes them."""
    bounds = TMS.xy_bounds(morecantile.Tile(col, row, zoom))
    unit = (bounds.right - bounds.left) / EXTENT
    pad = BUFFER * unit
    return sql_tiles.TileFrame(bounds.left, bounds.bottom, EXTENT / (bounds.right - bounds.left),
                               EXTENT / (bounds.top - bounds.bottom),
                               (bounds.left - pad, bounds.bottom - pad, bounds.right + pad, bounds.top + pad))


def _sql_layer(source: SqlSource, zoom: int, row: int, col: int, budget: Budget) -> bytes:
    """The encoded MVT layer of a SqlSource, asked of the database within what is left of the budget."""
    left = budget.seconds - (time.monotonic() - budget.started)
    if left <= 0:
        budget.check(zoom, row, col, 0)
    try:
        return sql_tiles.mvt(source.sql, source.name, source.columns, source.flt, tile_frame(zoom, row, col),
                             extent=EXTENT, buffer=BUFFER, max_points=MAX_TILE_POINTS,
                             cluster_units=CLUSTER_UNITS, timeout_s=max(left, 0.001), zoom=zoom, col=col, row=row)
    except sql_tiles.TileTimeout:
        budget.started -= budget.seconds   # spent: check() says so in its words
        budget.check(zoom, row, col, 0)
        raise


def point_xy(mercator: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray] | None:
    """x/y of a layer whose geometries are all points (else None)."""
    values = mercator.values
    if len(values) == 0 or not bool(np.all(shapely.get_type_id(values) == 0)):
        return None
    return shapely.get_x(values), shapely.get_y(values)


def _frame_properties(frame: gpd.GeoDataFrame, rows: np.ndarray) -> list[dict]:
    """Properties of the rows at positions `rows`: every published column but empty ones (MVT
    has no null), and `id` (the feature id) when the frame has no such column."""
    subset = frame.iloc[rows]
    records = property_records(subset)
    out = []
    for feature_id, record in zip(subset.index, records):
        properties = {c: v for c, v in record.items() if v is not None}
        properties.setdefault("id", str(feature_id))
        out.append(properties)
    return out


def _point_features(source: Source, bounds, box, zoom: int, row: int, col: int,
                    budget: Budget) -> list[dict]:
    """Features of a point layer in a tile: every point when at most MAX_TILE_POINTS fall in it,
    otherwise one feature per CLUSTER_UNITS cell (a point alone in its cell as itself, several as
    a cluster {cluster: true, point_count: n} at their mean position). So a tile holds at most
    MAX_TILE_POINTS or about ((EXTENT + 2 BUFFER) / CLUSTER_UNITS)^2 features whatever the layer's
    size, and building it is a few vectorised passes over the selected rows."""
    x, y = source.points
    positions = source.positions
    px, py = x[positions], y[positions]
    inside = (px >= box[0]) & (px <= box[2]) & (py >= box[1]) & (py <= box[3])
    rows = positions[inside]
    if not len(rows):
        return []
    scale_x = EXTENT / (bounds.right - bounds.left)
    scale_y = EXTENT / (bounds.top - bounds.bottom)
    ux = np.round((px[inside] - bounds.left) * scale_x)
    uy = np.round((py[inside] - bounds.bottom) * scale_y)
    singles = np.arange(len(rows))
    clusters: list[dict] = []
    if len(rows) > MAX_TILE_POINTS:
        span = EXTENT + 2 * BUFFER
        per_side = span // CLUSTER_UNITS + 2
        cx = np.clip((ux + BUFFER) // CLUSTER_UNITS, 0, per_side - 1).astype(np.int64)
        cy = np.clip((uy + BUFFER) // CLUSTER_UNITS, 0, per_side - 1).astype(np.int64)
        cell = cx * per_side + cy
        counts = np.bincount(cell, minlength=per_side * per_side)
        singles = np.flatnonzero(counts[cell] == 1)
        grouped = np.flatnonzero(counts > 1)
        mean_x = np.round(np.bincount(cell, ux, minlength=len(counts))[grouped] / counts[grouped])
        mean_y = np.round(np.bincount(cell, uy, minlength=len(counts))[grouped] / counts[grouped])
        for gx, gy, n in zip(mean_x.tolist(), mean_y.tolist(), counts[grouped].tolist()):
            clusters.append({"geometry": shapely.Point(gx, gy),
                             "properties": {"cluster": True, "point_count": int(n)}})
    budget.check(zoom, row, col, len(rows))
    geometries = shapely.points(np.column_stack([ux[singles], uy[singles]]))
    properties = _frame_properties(source.frame, rows[singles])
    features = [{"geometry": g, "properties": p, "id": int(r) + 1}
                for g, p, r in zip(geometries, properties, rows[singles].tolist())]
    return features + clusters


def _tile_features(source: Source, zoom: int, row: int, col: int, budget: Budget) -> list[dict]:
    bounds = TMS.xy_bounds(morecantile.Tile(col, row, zoom))
    unit = (bounds.right - bounds.left) / EXTENT
    pad = BUFFER * unit
    box = (bounds.left - pad, bounds.bottom - pad, bounds.right + pad, bounds.top + pad)
    if source.points is not None:
        return _point_features(source, bounds, box, zoom, row, col, budget)
    # other geometries: the layer's spatial index (built once per layer), then the selection
    hits = source.mercator.sindex.query(shapely.box(*box), predicate="intersects")
    selected = np.zeros(len(source.mercator), dtype=bool)
    selected[source.positions] = True
    hits = np.sort(hits[selected[hits]])
    features = []
    for count, position in enumerate(hits.tolist()):
        if count % 64 == 0:
            budget.check(zoom, row, col, count)
        geometry = source.mercator.iloc[position]
        if geometry is None:
            continue
        if geometry.geom_type not in ("Point", "MultiPoint"):
            geometry = shapely.clip_by_rect(shapely.simplify(geometry, unit / 2, preserve_topology=True), *box)
        if geometry.is_empty:
            continue
        features.append((position, _quantize(geometry, bounds)))
    properties = _frame_properties(source.frame, np.array([p for p, _ in features], dtype=np.int64))
    return [{"geometry": g, "properties": p, "id": position + 1}
            for (position, g), p in zip(features, properties)]


def _quantize(geometry, bounds) -> shapely.Geometry:
    """Web Mercator metres -> integer tile units (0..EXTENT, y up), vectorised. (The encoder's own
    quantize_bounds option does this with shapely.ops.transform, deprecated in Shapely 2.1.)"""
    left, bottom, right, top = bounds.left, bounds.bottom, bounds.right, bounds.top
    scale = np.array([EXTENT / (right - left), EXTENT / (top - bottom)])
    origin = np.array([left, bottom])
    return shapely.transform(geometry, lambda xy: np.round((xy - origin) * scale))


def encode_layers(sources: list[Source], zoom: int, row: int, col: int, budget: Budget | None = None) -> bytes:
    """One tile with an MVT layer per source; layers with no feature in the tile are left out,
    and a tile with none is empty (a valid MVT). Raises TileBudgetExceeded past the budget."""
    budget = budget or Budget()
    encoded = []
    total = 0
    for source in sources:
        if isinstance(source, SqlSource):
            data = _sql_layer(source, zoom, row, col, budget)
            if data:
                encoded.append(data)
            continue
        features = _tile_features(source, zoom, row, col, budget)
        total += len(features)
        if features:
            encoded.append({"name": source.name, "features": features})
    budget.check(zoom, row, col, total)
    # A tile is a list of layers: layers encoded apart (one by the database) and concatenated are
    # the same bytes as one encoding of them all.
    return b"".join(part if isinstance(part, bytes) else _encode(part) for part in _runs(encoded))


def _runs(encoded: list) -> list:
    """Consecutive in-memory layers as one list (encoded together), database layers as bytes."""
    runs: list = []
    for part in encoded:
        if isinstance(part, bytes):
            runs.append(part)
        elif runs and isinstance(runs[-1], list):
            runs[-1].append(part)
        else:
            runs.append([part])
    return runs


def _encode(layers: list) -> bytes:
    return mapbox_vector_tile.encode(
        layers, default_options={"extents": EXTENT, "on_invalid_geometry": on_invalid_geometry_make_valid})


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
