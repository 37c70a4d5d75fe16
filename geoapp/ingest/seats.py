"""Where a row that names only its district or city is placed: the government seat (区县/市人民政府
驻地) from data/boundaries/seats.csv (sourced there; the same points the curated layers use), so the
row's location_precision ('district' or 'city') has the same meaning in every layer. An adcode that
file lacks falls back to a representative point inside the polygon (always inside, not the centroid).
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from geoapp.data.validate import read_seats


def seat_points(boundaries: dict[str, gpd.GeoDataFrame], data_dir: Path | None = None
                ) -> dict[str, tuple[float, float]]:
    """adcode -> (lon, lat) WGS84 for every city and district."""
    points = {}
    for level in ("city", "district"):
        frame = boundaries[level]
        for code, point in zip(frame["adcode"], frame.geometry.representative_point()):
            points[str(code)] = (round(point.x, 6), round(point.y, 6))
    if data_dir is not None:
        # The registry has already validated the file (its problems stop the app and the import).
        seats, _problems = read_seats(Path(data_dir) / "boundaries")
        points.update(seats)
    return points
