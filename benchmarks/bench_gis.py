"""Benchmark (not a test): the GIS extras of issue 11 on the real data, in-process (Flask test
client, no network), so the figures are CPU cost per request on this machine.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_gis.py [--repeat 20]

Prints, for each: the median and max milliseconds over --repeat runs, uncached (the body cache is
cleared before every run), and the size of the answer:
- CQL2 filters (parse + evaluate with pygeofilter + serialize) on high_tech_zones and districts;
- vector tiles (MVT encode) at zooms 5, 8 and 11 over Shenyang, points and district polygons;
- downloads: GeoPackage (with layer_styles), FlatGeobuf, zipped Shapefile of districts, all.gpkg.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from urllib.parse import quote

from geoapp.web import create_app


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def cases() -> list[tuple[str, str]]:
    out = [
        ("CQL2 text: level = 'national' (HTZ)",
         "/ogc/collections/high_tech_zones/items?filter=" + quote("level = 'national'")),
        ("CQL2 text: LIKE + S_INTERSECTS (districts)",
         "/ogc/collections/districts/items?filter="
         + quote("name_zh LIKE '%区' AND S_INTERSECTS(geometry, BBOX(121, 38.7, 122.5, 39.6))")),
        ("CQL2 JSON: = (HTZ)", "/ogc/collections/high_tech_zones/items?filter-lang=cql2-json&filter="
         + quote('{"op":"=","args":[{"property":"level"},"national"]}')),
        ("sortby + properties (districts)",
         "/ogc/collections/districts/items?sortby=-area_km2&properties=name_zh,area_km2"),
        ("crs=EPSG:4326 (districts, re-serialized)",
         "/ogc/collections/districts/items?crs=" + quote("http://www.opengis.net/def/crs/EPSG/0/4326")),
    ]
    for z in (5, 8, 11):
        x, y = tile_of(123.43, 41.80, z)
        out.append((f"MVT z{z} high_tech_zones", f"/ogc/collections/high_tech_zones/tiles/WebMercatorQuad/{z}/{y}/{x}"))
        out.append((f"MVT z{z} districts", f"/ogc/collections/districts/tiles/WebMercatorQuad/{z}/{y}/{x}"))
    out += [("districts.gpkg (+ layer_styles)", "/export/districts.gpkg"),
            ("districts.fgb", "/export/districts.fgb"),
            ("districts.shp.zip", "/export/districts.shp.zip"),
            ("all.gpkg (10 layers + styles)", "/export/all.gpkg")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    app = create_app({"TESTING": True, "ATLAS_TILES": "none"})
    client = app.test_client()
    print(f"{'case':48} {'median ms':>10} {'max ms':>9} {'bytes':>10}")
    for name, url in cases():
        timings, size = [], 0
        for _ in range(args.repeat):
            cache = app.extensions["atlas"].bundle().bodies
            if cache is not None:
                cache._entries.clear()
            start = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.data[:200])
            size = len(response.data)
        print(f"{name:48} {statistics.median(timings):10.1f} {max(timings):9.1f} {size:10d}")


if __name__ == "__main__":
    main()
