"""Write data/zones/shenyang_dalian_belt.geojson (the derived corridor; see data/zones/SOURCE.md).

    python scripts/build_belt.py
"""
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoapp.analysis.corridor import AXIS_ENDS, DEFAULT_HALF_WIDTH_KM, corridor

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    zones = pd.read_csv(ROOT / "data/parks/high_tech_zones.csv", dtype=str).set_index("id")
    ends = [(float(zones.loc[i, "lon"]), float(zones.loc[i, "lat"])) for i in AXIS_ENDS]
    province = gpd.read_file(ROOT / "data/boundaries/liaoning_province.geojson")
    belt = corridor(ends[0], ends[1], province, DEFAULT_HALF_WIDTH_KM)
    belt.insert(0, "id", "belt_shenyang_dalian")
    belt["name_zh"] = "沈大高新技术产业带（推导走廊）"
    belt["name_en"] = "Shenyang–Dalian high-tech industrial belt (derived corridor)"
    belt["kind"] = "corridor"
    belt["level"] = "provincial"
    belt["city_adcode"] = ""
    belt["industries"] = "electronics;equipment;biomedicine;new_materials;new_energy"
    belt["location_precision"] = "derived"
    belt["plan_refs"] = "三（二）2"
    belt["plan_names"] = "沈大高新技术产业带"
    # what readers see (popups, /about): no script paths or row ids
    belt["source"] = ("规划文本 plan text 三（二）2 names the belt and its industries; geometry derived by the "
                      "atlas: the line from the Shenyang HTZ point to the Dalian HTZ point, buffered "
                      f"{DEFAULT_HALF_WIDTH_KM:g} km each side, clipped to the province")
    belt["note_zh"] = "规划未给出产业带范围；此走廊是有说明的推导结果，不是官方范围。"
    belt["note_en"] = "The plan gives no boundary; this corridor is a documented derivation, not an official extent."
    path = ROOT / "data/zones/shenyang_dalian_belt.geojson"
    path.unlink(missing_ok=True)
    belt.to_file(path, driver="GeoJSON", RFC7946="YES", COORDINATE_PRECISION=6)
    print(f"{path}: axis {belt['axis_length_km'][0]} km, area {belt['area_km2'][0]} km²")


if __name__ == "__main__":
    main()
