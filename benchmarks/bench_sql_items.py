"""OGC items, CQL2 and downloads of a layer served from PostGIS (geoapp.export.sqlquery), timed in
process (Flask test client: the app and the database, no HTTP), with the query plans.

    python benchmarks/bench_sql_items.py [--rows 100000] [--repeat 30]

Builds N synthetic places (benchmarks/synthetic.py; never under data/) into a throwaway PostGIS
cluster (benchmarks/pgcluster.py) with the bench's bulk load (the store's own COPY writer), starts
the app with ATLAS_SQL_LAYER_ROWS=0 and prints p50/p90 in ms of: items pages (first, random
offsets), bbox pages over distinct boxes, the shared filter, CQL2 expressions, sortby, single
features, and a whole-layer GeoJSON/CSV download; then EXPLAIN of the SQL behind them. Every
answer is read once first with a different offset/box (so no body cache answers a timed request).
Prints figures only; `make bench-million` (benchmarks/bench_million.py) is the end-to-end run.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LAYER = "enterprises_platforms"


def stats(samples: list[float]) -> str:
    samples = sorted(samples)
    p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
    return f"p50 {statistics.median(samples):7.2f}  p90 {p90:7.2f}  (n={len(samples)})"


def timed(client, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        start = time.perf_counter()
        response = client.get(path)
        body = response.data
        out.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {body[:300]!r}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    n, k = args.rows, args.repeat

    import psycopg

    from benchmarks.bench_million import load_places, vacuum_analyze
    from benchmarks.pgcluster import postgis_cluster
    from geoapp.export import sqlquery
    from geoapp.export.query import parse_filter
    from geoapp.web import create_app

    rng = random.Random(23)
    with postgis_cluster() as server:
        url = server.rsplit("/", 1)[0] + "/bench_items"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench_items")
        made, wrote, version = load_places(url, n, "bulk")
        analysed = vacuum_analyze(url)
        print(f"{n:,} places: frame {made:.1f} s, COPY + indexes {wrote:.1f} s, VACUUM ANALYZE {analysed:.1f} s")
        start = time.perf_counter()
        app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": url,
                          "ATLAS_STORE_POLL": 0, "ATLAS_SQL_LAYER_ROWS": 0})
        print(f"app start {time.perf_counter() - start:.1f} s")
        client = app.test_client()
        items = f"/ogc/collections/{LAYER}/items"
        quote = urllib.parse.quote

        def offsets(top):
            return [rng.randrange(0, max(top - 100, 1)) for _ in range(k)]

        def boxes():
            out = []
            for _ in range(k):
                w, s = rng.uniform(119.0, 125.0), rng.uniform(39.0, 43.0)
                size = rng.choice([0.05, 0.2, 0.5])
                out.append(f"{w:.4f},{s:.4f},{w + size:.4f},{s + size:.4f}")
            return out

        cql = {
            "level='national'": "level='national'",
            "city_adcode IN (…3) AND kind='platform'": "city_adcode IN ('210100','210200','210300') AND kind='platform'",
            "name_zh LIKE '合成平台 0123%'": "name_zh LIKE '合成平台 0123%'",
            "S_INTERSECTS(geometry, polygon)": "S_INTERSECTS(geometry, POLYGON((123 41.5, 123.6 41.5, 123.6 42, 123 42, 123 41.5)))",
            "industries LIKE '%marine%' OR level='national'": "industries LIKE '%marine%' OR level='national'",
            "city_zh='沈阳市' (a label column)": "city_zh='沈阳市'",
        }
        collection = app.extensions["atlas"].bundle().catalog[LAYER]
        labels = sqlquery.writer(app.extensions["atlas"].bundle().catalog, collection).labels
        for name, text in cql.items():
            expression = parse_filter(text, "cql2-text")
            try:
                sqlquery.cql2_sql(expression, labels=labels)
                how = "SQL"
            except sqlquery.Unsupported:
                how = "fallback"
            cql[name] = (text, how)

        cases = [
            ("items first page, limit 100-i (distinct bodies)", [f"{items}?limit={100 - i}" for i in range(k)]),
            ("items limit 100, random offsets in 0..N", [f"{items}?limit=100&offset={o}" for o in offsets(n)]),
            ("bbox limit 100, distinct boxes (0.05-0.5 deg)", [f"{items}?limit=100&bbox={b}" for b in boxes()]),
            ("filter level=national, offsets in 0..N/10", [f"{items}?limit=100&level=national&offset={o}"
                                                            for o in offsets(n // 10)]),
            *[(f"CQL2 {name} [{how}], offsets in 0..1000",
               [f"{items}?limit=100&offset={o}&filter={quote(text)}" for o in offsets(1100)])
              for name, (text, how) in cql.items()],
            ("sortby=-name_en, offsets in 0..1000", [f"{items}?limit=100&sortby=-name_en&offset={o}"
                                                     for o in offsets(1100)]),
            ("single feature", [f"{items}/synthetic_{rng.randrange(n):06d}" for _ in range(k)]),
        ]
        print(f"\n{'request':<66} ms")
        for name, paths in cases:
            client.get(paths[0].replace("limit=100", "limit=99"))    # warm the pool / the count memo
            print(f"{name:<66} {stats(timed(client, paths))}")

        for fmt in ("geojson", "csv", "gpkg"):
            start = time.perf_counter()
            response = client.get(f"/export/{LAYER}.{fmt}")
            size = sum(len(chunk) for chunk in response.response)
            print(f"whole-layer {fmt:<8} {(time.perf_counter() - start):6.1f} s  {size / 1e6:6.1f} MB")

        print("\nEXPLAIN (ANALYZE) of the SQL behind them (as geoapp.export.sqlquery runs it: the page's "
              "positions, then those rows; no parallel workers):")
        bundle = app.extensions["atlas"].bundle()
        layer = bundle.sql[LAYER]
        from geoapp.filters import Filter
        plans = [
            ("count, level=national", *layer.where(Filter(level=frozenset({"national"}))), None),
            ("page, level=national offset 5000", *layer.where(Filter(level=frozenset({"national"}))),
             "position LIMIT 100 OFFSET 5000"),
            ("count, bbox", *layer.where(boxes=[(123.0, 41.5, 123.5, 42.0)]), None),
            ("page, bbox", *layer.where(boxes=[(123.0, 41.5, 123.5, 42.0)]), "position LIMIT 100"),
        ]
        for name, (text, how) in cql.items():
            if how == "SQL":
                plans.append((f"CQL2 {name}", *layer.where(extra=sqlquery.cql2_sql(parse_filter(text, None),
                                                                                      labels=labels)),
                              "position LIMIT 100"))
        plans.append(("sortby=-name_en", *layer.where(), sqlquery.order_sql([("name_en", False)])[0] + " LIMIT 100"))
        with psycopg.connect(url) as conn:
            conn.execute("SET max_parallel_workers_per_gather = 0")
            for name, where, params, order in plans:
                sql = (f"SELECT position FROM atlas_features WHERE {where} ORDER BY {order}" if order else
                       f"SELECT count(*) FROM atlas_features WHERE {where}")
                plan = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params).fetchall()]
                print(f"-- {name}")
                for line in plan:
                    if any(word in line for word in ("Scan", "Index", "Execution", "Sort", "Limit")):
                        print("   " + line.strip()[:160])
        from geoapp.postgis.pool import close_all
        close_all()


if __name__ == "__main__":
    main()
