"""Display positions for places that share one stored coordinate (usually a government seat).

Several places known only to the same city or district are stored at that unit's seat, so they
share a point; drawn there they would hide each other. On the map only, each member of such a
group is moved onto a small circle around the shared point (deterministic: ordered by layer order,
then id), so every place is visible and clickable. Exports, the OGC API and search keep the
stored anchor; the popup says the point is the seat, not the site.
"""
from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd

from geoapp.layers.build import display_shift
from geoapp.layers.tiles import TILES_ABOVE

RADIUS_M = 350          # about 1 px at the province view, clearly apart from zoom 12 on
METRES_PER_DEGREE = 111_320
KEY_DECIMALS = 6        # coordinates equal to 1e-6° (the seats file's rounding) count as shared


def display_offsets(frames: list[tuple[str, gpd.GeoDataFrame]]) -> dict[tuple[str, str], tuple[float, float]]:
    """(layer id, place id) -> display (lon, lat) for every place whose stored point it shares
    with another place of the given point layers (in map order). Places alone keep their point."""
    rows = []
    for order, (layer_id, frame) in enumerate(frames):
        if frame.empty:
            continue
        rows.append(pd.DataFrame({"layer": layer_id, "order": order, "id": frame["id"].astype(str).to_numpy(),
                                  "lon": frame.geometry.x.round(KEY_DECIMALS).to_numpy(),
                                  "lat": frame.geometry.y.round(KEY_DECIMALS).to_numpy()}))
    if not rows:
        return {}
    table = pd.concat(rows, ignore_index=True).drop_duplicates(["lon", "lat", "id"])
    offsets = {}
    for (lon, lat), group in table.groupby(["lon", "lat"], sort=False):
        if len(group) < 2:
            continue
        group = group.sort_values(["order", "id"])
        dlat = RADIUS_M / METRES_PER_DEGREE
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        for k, member in enumerate(group.itertuples()):
            angle = math.pi / 2 - 2 * math.pi * k / len(group)  # first member due north, clockwise
            offsets[(member.layer, member.id)] = (lon + dlon * math.cos(angle), lat + dlat * math.sin(angle))
        # a member present in several layers (the demo-zone core repeats HTZs) gets one position
    return offsets


def display_positions(specs, layers: dict[str, gpd.GeoDataFrame],
                      datum: str = "wgs84") -> dict[str, dict[str, tuple[float, float]]]:
    """layer id -> {place id: display (lon, lat)} for places sharing a stored point, as drawn on
    a basemap in `datum` (wgs84 | gcj02: the offsets are shifted with everything else drawn).
    Computed once over the whole data (geoapp.state.build_bundle), so a place does not jump when
    the filter changes; a layer that repeats places of other layers (counted: false, member_id)
    follows its members. Layers drawn as tiles (over TILES_ABOVE rows) are left out."""
    points = [s for s in specs if s.geometry == "point" and len(layers[s.data]) <= TILES_ABOVE]
    moved = display_offsets([(s.id, layers[s.data]) for s in points if s.counted])
    by_layer: dict[str, dict] = {}
    for (layer_id, place_id), where in moved.items():
        by_layer.setdefault(layer_id, {})[place_id] = where
    by_place = {place_id: where for (_, place_id), where in moved.items()}
    for spec in points:
        frame = layers[spec.data]
        if not spec.counted and "member_id" in frame.columns:
            by_layer[spec.id] = {i: by_place[m] for i, m in zip(frame["id"], frame["member_id"])
                                 if m in by_place}
    shift = display_shift(datum)
    if shift is not None:
        for layer_id, table in by_layer.items():
            ids = list(table)
            if not ids:
                continue
            xs, ys = shift([table[i][0] for i in ids], [table[i][1] for i in ids])
            by_layer[layer_id] = {i: (float(x), float(y)) for i, x, y in zip(ids, xs, ys)}
    return by_layer
