"""Server-side clustering of large point layers, per Web Mercator tile (z/x/y, 256 px).

A layer too large to send whole (tens of thousands of rows) is drawn from small per-tile bodies:
points that share a cell of CELL_PX × CELL_PX screen pixels at that zoom become one cluster
(count, mean position); a point alone in its cell, or every point from CLUSTER_MAX_ZOOM on,
is sent itself (id, position, style, name). Each tile body is cached by (layer, filter, z, x, y),
so the cost of a request does not grow with the layer beyond one vectorised pass over its rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import geopandas as gpd
import numpy as np

from geoapp.filters import Filter
from geoapp.layers.features import camel, point_style
from geoapp.layers.popup import display_name
from geoapp.postgis import SqlLayer
from geoapp.postgis.tiles import first_styles, map_tile
from geoapp.specs import LayerSpec

TILE_PX = 256
CELL_PX = 64
CLUSTER_MAX_ZOOM = 15   # from this zoom on every point is drawn (spiderfy is not needed there)
MAX_ZOOM = 18
POINT_DECIMALS = 5
# Above this many features (after the filter) a point layer is not sent whole: the browser loads
# server-side clusters per tile and fetches popups when opened.
TILES_ABOVE = 2000


class TileError(ValueError):
    pass


def world_uv(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator normalised to [0, 1) (u east, v south), as tile schemes count."""
    lat = np.clip(lat, -85.05112878, 85.05112878)
    u = (lon + 180.0) / 360.0
    v = (1.0 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2.0
    return u, v


def check_tile(z: int, x: int, y: int) -> None:
    if not (0 <= z <= MAX_ZOOM):
        raise TileError(f"zoom {z} out of range; allowed 0–{MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise TileError(f"tile {z}/{x}/{y} does not exist; at zoom {z} x and y run 0–{n - 1}")


@dataclass
class PointIndex:
    """A filtered point layer prepared for tiling: positions, ids, names, style numbers."""
    u: np.ndarray
    v: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    ids: np.ndarray
    names: np.ndarray
    style_index: np.ndarray
    styles: list[dict]

    @classmethod
    def build(cls, spec: LayerSpec, frame: gpd.GeoDataFrame, lang: str) -> "PointIndex":
        lon = frame.geometry.x.to_numpy(dtype=float)
        lat = frame.geometry.y.to_numpy(dtype=float)
        u, v = world_uv(lon, lat)
        # Styles depend on a few columns only: resolve each distinct combination once.
        by = spec.style.get("by")
        keys = list(zip(frame[by].astype(str) if by and by in frame else [""] * len(frame),
                        frame["location_precision"].astype(str) if "location_precision" in frame
                        else [""] * len(frame)))
        table: dict[tuple, int] = {}
        styles: list[dict] = []
        index = np.empty(len(keys), dtype=np.int32)
        for i, key in enumerate(keys):
            number = table.get(key)
            if number is None:
                number = table[key] = len(styles)
                styles.append(camel(point_style(spec, {by or "": key[0], "location_precision": key[1]})))
            index[i] = number
        names = np.array([display_name(r, lang) for r in
                          frame[["name_zh", "name_en"]].to_dict("records")], dtype=object)
        return cls(u, v, lon, lat, frame["id"].astype(str).to_numpy(), names, index, styles)

    def __len__(self) -> int:
        return len(self.ids)

    def tile(self, z: int, x: int, y: int) -> dict:
        check_tile(z, x, y)
        n = 1 << z
        scale = n * TILE_PX  # world size in pixels at this zoom
        px, py = self.u * scale, self.v * scale
        inside = ((px >= x * TILE_PX) & (px < (x + 1) * TILE_PX)
                  & (py >= y * TILE_PX) & (py < (y + 1) * TILE_PX))
        rows = np.flatnonzero(inside)
        clusters, singles = [], rows
        if z < CLUSTER_MAX_ZOOM and len(rows):
            cells = (np.floor(px[rows] / CELL_PX).astype(np.int64) * (scale // CELL_PX + 1)
                     + np.floor(py[rows] / CELL_PX).astype(np.int64))
            _, inverse, counts = np.unique(cells, return_inverse=True, return_counts=True)
            alone = counts[inverse] == 1
            singles = rows[alone]
            grouped = ~alone
            if grouped.any():
                groups = inverse[grouped]
                sizes = np.bincount(groups)
                keep = sizes > 0
                mean_lon = np.bincount(groups, self.lon[rows[grouped]])[keep] / sizes[keep]
                mean_lat = np.bincount(groups, self.lat[rows[grouped]])[keep] / sizes[keep]
                clusters = [[round(float(a), POINT_DECIMALS), round(float(b), POINT_DECIMALS), int(c)]
                            for a, b, c in zip(mean_lon, mean_lat, sizes[keep])]
        points = [[self.ids[i], round(float(self.lon[i]), POINT_DECIMALS),
                   round(float(self.lat[i]), POINT_DECIMALS), int(self.style_index[i]), self.names[i]]
                  for i in singles]
        return {"z": z, "x": x, "y": y, "styles": self.styles, "clusters": clusters, "points": points}


@dataclass
class SqlPointIndex:
    """PointIndex of a layer whose rows live in PostGIS (geoapp/postgis): each tile is asked of
    the database (geoapp.postgis.tiles.map_tile: the same cells, clusters and lone points), only
    the filter's style table is kept. `shift` (the basemap datum's, geoapp.layers.build.display_shift)
    moves what is drawn as the in-memory path's shifted frame does: the rows are placed in cells at
    their position plus the shift at the tile's centre, and the points and cluster means returned
    are shifted exactly."""
    sql: SqlLayer
    flt: Filter
    lang: str
    by: str
    shift: Callable | None
    styles: list[dict]
    numbers: dict[tuple[str, str], int]

    @classmethod
    def build(cls, spec: LayerSpec, sql: SqlLayer, flt: Filter, lang: str, shift: Callable | None = None) -> "SqlPointIndex":
        by = spec.style.get("by") or ""
        pairs = first_styles(sql, flt, by)
        styles = [camel(point_style(spec, {by: value, "location_precision": precision})) for value, precision in pairs]
        return cls(sql, flt, lang, by, shift, styles, {pair: i for i, pair in enumerate(pairs)})

    def tile(self, z: int, x: int, y: int) -> dict:
        check_tile(z, x, y)
        offset = (0.0, 0.0)
        if self.shift is not None:   # the datum's shift near the tile's centre
            n = 1 << z
            lon = (x + 0.5) / n * 360.0 - 180.0
            lat = float(np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * (y + 0.5) / n)))))
            sx, sy = self.shift([lon], [lat])
            offset = (float(sx[0]) - lon, float(sy[0]) - lat)
        found = map_tile(self.sql, self.flt, z, x, y, by=self.by, tile_px=TILE_PX, cell_px=CELL_PX,
                         cluster=z < CLUSTER_MAX_ZOOM, shift=offset)
        clusters = [[lon, lat, n] for lon, lat, n in found.clusters]
        points = [[i, lon, lat, self.numbers.get((value, precision), 0),
                   display_name({"name_zh": zh, "name_en": en}, self.lang)]
                  for i, lon, lat, value, precision, zh, en in found.points]
        if self.shift is not None:
            for rows in (clusters, points):
                if rows:
                    column = 0 if rows is clusters else 1
                    xs, ys = self.shift([r[column] for r in rows], [r[column + 1] for r in rows])
                    for r, a, b in zip(rows, xs, ys):
                        r[column], r[column + 1] = float(a), float(b)
        clusters = [[round(a, POINT_DECIMALS), round(b, POINT_DECIMALS), n] for a, b, n in clusters]
        points = [[i, round(a, POINT_DECIMALS), round(b, POINT_DECIMALS), s, name] for i, a, b, s, name in points]
        return {"z": z, "x": x, "y": y, "styles": self.styles, "clusters": clusters, "points": points}
