"""Write each plan's derived corridor, data/plans/<plan>/<corridor.layer>.geojson, from its manifest
(`corridor: {axis: [place_a, place_b], half_width_km, layer, place, title}`; see docs/plans.md and
the plan's SOURCE.md). The geometry and the measured columns are rebuilt; the row's other
properties (names, industries, plan_refs, source, notes) are kept from the file when it exists.

    python scripts/build_belt.py
"""
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoapp.analysis.corridor import corridor
from geoapp.data.plans import load_plans

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
MEASURED = ("axis_length_km", "area_km2", "half_width_km")


def place_points() -> pd.DataFrame:
    """lon/lat of every point place of the shared registry, by id."""
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
              for folder in ("parks", "platforms") for path in sorted((DATA / folder).glob("*.csv"))]
    return pd.concat(frames, ignore_index=True).set_index("id")[["lon", "lat"]].astype(float)


def main() -> None:
    plans, problems = load_plans(DATA)
    for problem in problems:
        print(f"skipped: {problem}")
    points = place_points()
    province = gpd.read_file(DATA / "boundaries/liaoning_province.geojson")
    for plan in plans.values():
        spec = plan.corridor
        if spec is None:
            continue
        ends = [(points.loc[i, "lon"], points.loc[i, "lat"]) for i in spec.axis]
        belt = corridor(ends[0], ends[1], province, spec.half_width_km)
        path = plan.folder / f"{spec.layer}.geojson"
        order = None
        if path.exists():
            old = gpd.read_file(path)
            kept = old.drop(columns=[c for c in (*MEASURED, "geometry") if c in old.columns]).iloc[0]
            properties, order = kept.to_dict(), list(old.columns)
        else:
            properties = {"id": spec.place, "name_zh": f"{spec.title[0]}（推导走廊）",
                          "name_en": f"{spec.title[1]} (derived corridor)", "kind": "corridor",
                          "level": "provincial", "city_adcode": "", "location_precision": "derived",
                          # what readers see (popups, /about): no script paths or row ids
                          "source": "geometry derived by the atlas: the straight line between the plan's "
                                    f"two axis places, buffered {spec.half_width_km:g} km each side, "
                                    "clipped to the province"}
        for position, (key, value) in enumerate(properties.items()):
            belt.insert(position, key, value)
        if order is not None:  # the file's column order: a rebuild changes only what moved
            belt = belt[order]
        path.unlink(missing_ok=True)
        belt.to_file(path, driver="GeoJSON", RFC7946="YES", COORDINATE_PRECISION=6)
        print(f"{path}: axis {belt['axis_length_km'][0]} km, area {belt['area_km2'][0]} km²")


if __name__ == "__main__":
    main()
