"""Build data/boundaries/seats.csv: the government seat of every Liaoning city and county-level unit.

    PYTHONPATH=. python scripts/build_seats.py        (also run by `make data`)

Source: the PyPI package `cpca` (version pinned in requirements-dev.txt), file
cpca/resources/adcodes.csv. cpca (MIT) copies those centres from the Vonng/adcode data set
(CC BY 4.0), whose README says the coordinates are AMap's (高德) administrative-division centres in
GCJ-02. They are converted to WGS84 with `prcoords` (CC0; the iterative inverse `gcj_wgs_bored`,
sub-millimetre against its own forward transform; tests/test_seats.py checks it against pairs
published by AMap and Alibaba Cloud). Each seat is checked against this atlas's own polygon of its
unit; a seat outside it is kept but flagged (`inside_polygon=false`) and reported.

Only cpca's file is read (via the installed distribution's file list, without importing cpca,
which would load its address matcher). Runtime code reads the committed CSV and needs neither
package.
"""
from __future__ import annotations

import csv
import sys
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import prcoords
from shapely.geometry import Point

from geoapp.geo import EQUAL_AREA

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "boundaries" / "seats.csv"
FIELDS = ["adcode", "level", "name_zh", "lon", "lat", "gcj02_lon", "gcj02_lat", "inside_polygon",
          "metres_outside", "source", "source_version"]


def cpca_centres() -> tuple[dict[str, tuple[str, float, float]], str]:
    """adcode (6 digits) -> (name, GCJ-02 lon, lat) from cpca's adcodes.csv, and cpca's version."""
    dist = metadata.distribution("cpca")
    path = next(f for f in dist.files if str(f).replace("\\", "/") == "cpca/resources/adcodes.csv")
    centres = {}
    with open(dist.locate_file(path), encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["longitude"] and row["latitude"]:
                centres[row["adcode"][:6]] = (row["name"], float(row["longitude"]), float(row["latitude"]))
    return centres, dist.version


def gcj_to_wgs(lon: float, lat: float) -> tuple[float, float]:
    wgs = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon))
    return wgs.lon, wgs.lat


def build() -> list[dict]:
    centres, version = cpca_centres()
    rows = []
    for level in ("city", "district"):
        frame = gpd.read_file(ROOT / "data" / "boundaries" / f"liaoning_{level}.geojson")
        projected = frame.to_crs(EQUAL_AREA)
        for (code, name), geom, geom_m in zip(zip(frame["adcode"].astype(str), frame["name_zh"]),
                                              frame.geometry, projected.geometry):
            if code not in centres:
                raise SystemExit(f"{code} {name}: no centre in cpca {version}; cannot place its seat")
            src_name, gx, gy = centres[code]
            if src_name != name:
                raise SystemExit(f"{code}: cpca names it {src_name}, the boundaries {name}")
            lon, lat = gcj_to_wgs(gx, gy)
            lon, lat = round(lon, 6), round(lat, 6)
            inside = geom.covers(Point(lon, lat))
            outside_m = 0 if inside else round(
                gpd.GeoSeries([Point(lon, lat)], crs=4326).to_crs(EQUAL_AREA).iloc[0].distance(geom_m))
            rows.append({"adcode": code, "level": level, "name_zh": name, "lon": f"{lon:.6f}",
                         "lat": f"{lat:.6f}", "gcj02_lon": f"{gx:.6f}", "gcj02_lat": f"{gy:.6f}",
                         "inside_polygon": "true" if inside else "false",
                         "metres_outside": str(outside_m),
                         "source": "PyPI cpca cpca/resources/adcodes.csv (Vonng/adcode, AMap centre, "
                                   "GCJ-02) -> WGS84 with prcoords.gcj_wgs_bored",
                         "source_version": f"cpca {version}; prcoords "
                                           f"{metadata.version('prcoords')}"})
    return rows


def main() -> int:
    rows = build()
    tmp = OUT.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(OUT)
    outside = [r for r in rows if r["inside_polygon"] != "true"]
    print(f"{OUT.relative_to(ROOT)}: {len(rows)} seats, {len(outside)} outside their own polygon")
    for r in outside:
        print(f"  {r['adcode']} {r['name_zh']}: {r['metres_outside']} m outside")
    return 0


if __name__ == "__main__":
    sys.exit(main())
