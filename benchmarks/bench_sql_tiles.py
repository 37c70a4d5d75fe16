"""Vector tiles of an imported layer served from PostGIS (geoapp/postgis/tiles.py): z8 and z12 p50.

Starts a throwaway PostGIS cluster (benchmarks/pgcluster.py), COPies N synthetic places
(benchmarks/synthetic.py: test data, never data/) into the store as one imported layer, makes the
app in this process with the layer served from SQL (ATLAS_SQL_LAYER_ROWS=0) and times, cold (each
tile once, so the body cache does not answer), distinct z8 and z12 OGC tiles around random places
and the map's JSON tiles at z7 and z11. For comparison it times tipg's query shape on the same rows
(plain ST_AsMVT over ST_AsMVTGeom of every column, at most 10000 features, no clusters) for the
same tiles, the statement alone (no HTTP, as the atlas's "statement alone" figures; the request
figures are through Flask's test client, in this process). Prints one table and a summary line:

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sql_tiles.py [--places 100000] [--samples 100]
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pgcluster import postgis_cluster  # noqa: E402

LAYER = "enterprises_platforms"
TIPG_LIKE = """
SELECT ST_AsMVT(q, 'atlas_features', 4096, 'geom') FROM (
  SELECT data_version, position, fid, props, name_zh, kind, level, city_adcode, district_adcode,
         location_precision, industries,
         ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 256, true) AS geom
  FROM atlas_features
  WHERE data_version = %(dv)s AND ST_Intersects(geom, ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326))
  LIMIT 10000) q
"""


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def load(url: str, n: int) -> tuple[float, int]:
    import geopandas as gpd

    from benchmarks.synthetic import synthetic_rows
    from geoapp.ingest.rows import COLUMNS
    from geoapp.ingest.store import PostGISStore
    rows = synthetic_rows(n)
    rows["address"] = ""
    rows["note_zh"] = rows["note_en"] = ""
    frame = gpd.GeoDataFrame(rows[COLUMNS], geometry=gpd.points_from_xy(rows["lon"], rows["lat"]), crs=4326)
    start = time.perf_counter()
    version, _ = PostGISStore(url).commit(LAYER, frame, who="bench_sql_tiles", file_name=f"synthetic {n}")
    return time.perf_counter() - start, version


def timed(client, path: str) -> float:
    start = time.perf_counter()
    response = client.get(path)
    spent = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    return spent


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    import psycopg

    from benchmarks.synthetic import synthetic_rows
    from geoapp.postgis import tiles as sql_tiles
    from geoapp.web import create_app
    rng = random.Random(8)
    with postgis_cluster() as server:
        url = server.rsplit("/", 1)[0] + "/atlas_bench"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE atlas_bench")
        print(f"loading {args.places:,} synthetic places ...", flush=True)
        load_s, version = load(url, args.places)
        print(f"  COPY + commit {load_s:.1f} s", flush=True)
        start = time.perf_counter()
        app = create_app({"ATLAS_TILES": "none", "ATLAS_DATABASE_URL": url, "ATLAS_STORE_POLL": 0,
                          "ATLAS_SQL_LAYER_ROWS": 0})
        startup = time.perf_counter() - start
        sql = app.extensions["atlas"].bundle().sql[LAYER]
        # the bundle started building the layer's tile cells in the background (a big layer):
        # wait for them, as a host would before its first low-zoom tile comes from them
        start = time.perf_counter()
        cells = sql_tiles.aggregates(sql)
        while cells.wanted and not cells.ready(sql_tiles.GRID_MVT, 8):
            time.sleep(0.2)
            cells._asked = -1e9   # ask the database again now, not in RECHECK_S
        build_s = time.perf_counter() - start + startup
        sample = synthetic_rows(min(args.places, 5000), seed=99)
        picks = [(lon, lat) for lon, lat in zip(sample["lon"], sample["lat"])]
        rng.shuffle(picks)
        ogc = {z: sorted({tile_of(lon, lat, z) for lon, lat in picks})[:args.samples] for z in (8, 12)}
        client = app.test_client()
        times = {z: [timed(client, f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}")
                     for x, y in ogc[z]] for z in ogc}
        filtered = [timed(client, f"/ogc/collections/{LAYER}/tiles/WebMercatorQuad/8/{y}/{x}?level=national")
                    for x, y in ogc[8]]
        maps = {z: [timed(client, f"/map/layers/{LAYER}/tiles/{z}/{x}/{y}.json")
                    for x, y in sorted({tile_of(lon, lat, z) for lon, lat in picks})[:args.samples]] for z in (7, 11)}
        # the database's part alone, like for like with tipg's statement below
        from geoapp.export import tiles as mvt
        from geoapp.filters import Filter
        columns = app.extensions["atlas"].bundle().catalog[LAYER].sql_columns
        statement = {}
        for z in ogc:
            statement[z] = []
            for x, y in ogc[z]:
                start = time.perf_counter()
                sql_tiles.mvt(sql, LAYER, columns, Filter(), mvt.tile_frame(z, y, x), extent=mvt.EXTENT,
                              buffer=mvt.BUFFER, max_points=mvt.MAX_TILE_POINTS, cluster_units=mvt.CLUSTER_UNITS,
                              timeout_s=None, zoom=z, col=x, row=y)
                statement[z].append((time.perf_counter() - start) * 1000)
        tipg = {}
        with psycopg.connect(url) as conn:
            for z in ogc:
                tipg[z] = []
                for x, y in ogc[z]:
                    start = time.perf_counter()
                    conn.execute(TIPG_LIKE, {"z": z, "x": x, "y": y, "dv": sql.data_version}).fetchone()
                    tipg[z].append((time.perf_counter() - start) * 1000)
    rows = [("places", f"{args.places:,}", ""), ("COPY + commit (s)", f"{load_s:.1f}", ""),
            ("app start-up, layer in SQL (s)", f"{startup:.1f}", ""),
            ("app start-up until the tile cells are built (s)", f"{build_s:.1f}" if cells.wanted else "-", ""),
            (f"OGC tile z8, p50 of {len(times[8])}: request (statement alone)",
             f"{p50(times[8]):.1f} ({p50(statement[8]):.1f})", f"{p50(tipg[8]):.1f}"),
            (f"OGC tile z12, p50 of {len(times[12])}: request (statement alone)",
             f"{p50(times[12]):.1f} ({p50(statement[12]):.1f})", f"{p50(tipg[12]):.1f}"),
            (f"OGC tile z8 level=national, p50 of {len(filtered)}", f"{p50(filtered):.1f}", ""),
            (f"map JSON tile z7, p50 of {len(maps[7])}", f"{p50(maps[7]):.1f}", ""),
            (f"map JSON tile z11, p50 of {len(maps[11])}", f"{p50(maps[11]):.1f}", "")]
    print("| measure (ms unless stated) | atlas, layer in SQL | tipg's statement alone |\n|---|---|---|")
    for a, b, c in rows:
        print(f"| {a} | {b} | {c} |")
    print(f"sql tiles: places {args.places}; z8 p50 {p50(times[8]):.1f} (statement {p50(statement[8]):.1f}); "
          f"z12 p50 {p50(times[12]):.1f} (statement {p50(statement[12]):.1f}); "
          f"tipg statement z8 p50 {p50(tipg[8]):.1f}; tipg statement z12 p50 {p50(tipg[12]):.1f}")


if __name__ == "__main__":
    main()
