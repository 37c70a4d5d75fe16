"""Fill lon/lat of rows whose location is known only to a district or a city.

    python scripts/place_points.py data/parks/high_tech_zones.csv [...]

For location_precision 'district' (or 'city') with empty lon/lat, writes the representative
point of that district's (city's) full-resolution polygon (shapely point_on_surface: always inside
the polygon), rounded to 5 decimals. The point marks the area, not the site; the map and exports
say so. Rows with coordinates are left untouched, so re-running changes nothing.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import geopandas as gpd

ROOT = Path(__file__).resolve().parents[1]


def representative_points() -> dict[str, tuple[float, float]]:
    points = {}
    for level in ("city", "district"):
        frame = gpd.read_file(ROOT / "data" / "boundaries" / f"liaoning_{level}.geojson")
        for code, geom in zip(frame["adcode"].astype(str), frame.geometry):
            p = geom.representative_point()
            points[code] = (round(p.x, 5), round(p.y, 5))
    return points


def main(paths: list[str]) -> None:
    points = representative_points()
    for name in paths:
        path = Path(name)
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fields, rows = reader.fieldnames, list(reader)
        filled = 0
        for row in rows:
            if row["lon"].strip() and row["lat"].strip():
                continue
            code = {"district": row.get("district_adcode", ""), "city": row["city_adcode"]} \
                .get(row["location_precision"])
            if code in points:
                row["lon"], row["lat"] = (str(v) for v in points[code])
                filled += 1
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        print(f"{path}: {filled} point(s) placed")


if __name__ == "__main__":
    main(sys.argv[1:])
