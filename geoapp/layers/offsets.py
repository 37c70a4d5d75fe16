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
