"""Figures, search and the places list of an imported layer served from PostGIS (issue 23):
what each costs at N synthetic places (default 100,000) in a throwaway cluster.

Starts a PostGIS cluster (benchmarks/pgcluster.py), writes N synthetic places (benchmarks/
synthetic.py: points in real districts named 合成平台 — test data, never data/) as one version of
the imported layer with bench_million's bulk load (the store's own COPY writer, indexes built
after), runs VACUUM ANALYZE, then creates the app in this process (ATLAS_SQL_LAYER_ROWS=0: the
layer stays in the database) and times requests through the Flask test client:

    aggregate       the layer's GROUP BY (geoapp/postgis/figures.py), alone, on a cold SqlLayer
    stats cold      the first /stats (the aggregate + the whole report + the page)
    stats warm      /stats again (the body cache) and /stats for 8 new filters (the aggregate
                    kept: the report in memory), p50
    distribution    /api/distribution for 8 new filters, p50
    coverage        /api/coverage for 8 new filters, p50
    map page        / for 8 new filters (counts, facets, legend from the groups), p50
    search p50      /map/search over 24 distinct queries (Chinese, short, loose, Latin, ids)
    places p50      /map/places.json: first pages and deep pages by name, city, kind; map views
    places.csv      the whole list streamed (time to last byte, MB)

Usage:  PYTHONPATH=. .venv/bin/python benchmarks/bench_sql_stats.py [--rows N] [--verbose]
Ends with one line:  sql-stats: places N; stats cold X; stats warm p50 X; distribution p50 X; search p50 X; places p50 X
(ms). Nothing here is a test: it prints figures (docs/performance.md keeps them).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_million import load_places, vacuum_analyze  # noqa: E402
from benchmarks.pgcluster import postgis_cluster  # noqa: E402

LAYER = "enterprises_platforms"
FILTERS = ["?level=national", "?city=210100", "?industry=biomedicine", "?city=210200&level=provincial",
           "?industry=equipment,new_materials", "?kind=platform&city=211400", "?industry=marine&level=national",
           "?city=210300,210400"]
OTHER_FILTERS = ["?level=provincial", "?city=210500", "?industry=chemicals", "?city=210600&level=national",
                 "?industry=electronics,marine", "?kind=platform&city=211000", "?industry=biomedicine&level=provincial",
                 "?city=211200,211300"]
SEARCHES = ["合成平台 0001", "合成平台000123", "平台 0123", "合成平台 09", "台0456", "合平0789", "合成00512",
            "沈阳", "大连高新区", "本溪", "合成平台 099999", "不存在的名字", "Synthetic platform 00077",
            "synthetic 000555", "platform 0123", "Shenyang", "dalian", "synthetic_000999", "合成平台 0555",
            "合成平台 07", "平台 0999", "合成 00042", "anshan", "合成平台 004"]
PLACES = ["?page=1", "?page=2", "?page=1000&per_page=50", "?sort=city&page=1", "?sort=kind&order=desc&page=5",
          "?sort=name&order=desc&page=1", "?level=national&page=3", "?bbox=121.0,38.7,122.3,39.6&page=1",
          "?bbox=123.0,41.5,124.0,42.2&sort=city&page=2", "?lang=en&page=1", "?city=210100&page=20",
          "?sort=level&page=1"]


def timed(client, path: str) -> tuple[float, int, int]:
    start = time.perf_counter()
    response = client.get(path)
    size = len(response.get_data())   # a streamed body is read to its last byte
    return (time.perf_counter() - start) * 1000, response.status_code, size


def p50(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--verbose", action="store_true", help="print every request's time")
    parser.add_argument("--url", help="a store already holding the rows as version --version (no cluster, no load)")
    parser.add_argument("--version", type=int, default=1)
    args = parser.parse_args()
    if args.url:
        run(args, args.url, args.version)
        return
    with postgis_cluster() as url:
        made, wrote, version = load_places(url, args.rows, "bulk")
        print(f"  {args.rows:,} synthetic places: frame {made:.1f} s, written {wrote:.1f} s "
              f"(version {version}); VACUUM ANALYZE {vacuum_analyze(url):.1f} s", flush=True)
        run(args, url, version)


def run(args, url: str, version: int) -> None:
    if True:
        from geoapp.postgis.figures import _query
        from geoapp.postgis.layer import SqlLayer
        from geoapp.web import create_app
        probe = SqlLayer(LAYER, version, args.rows, url, url)
        start = time.perf_counter()
        groups = _query(probe)
        aggregate = (time.perf_counter() - start) * 1000
        print(f"  aggregate: {aggregate:.0f} ms, {len(groups):,} groups", flush=True)

        start = time.perf_counter()
        app = create_app({"ATLAS_TILES": "none", "ATLAS_DATABASE_URL": url, "ATLAS_STORE_POLL": 0,
                          "ATLAS_SQL_LAYER_ROWS": 0})
        print(f"  app created in {time.perf_counter() - start:.1f} s", flush=True)
        client = app.test_client()
        rows = []

        def measure(name: str, paths: list[str]) -> float:
            samples = []
            for path in paths:
                ms, status, _ = timed(client, path)
                if status != 200:
                    raise SystemExit(f"{path}: HTTP {status}")
                samples.append(ms)
                if args.verbose:
                    print(f"      {ms:8.1f} ms  {path}", flush=True)
            rows.append((name, len(paths), p50(samples), max(samples)))
            print(f"  {name:<28} n={len(paths):<3} p50 {p50(samples):8.1f} ms   max {max(samples):8.1f} ms", flush=True)
            return p50(samples)

        cold = measure("stats cold", ["/stats"])
        measure("stats again (cached body)", ["/stats"])
        warm = measure("stats, new filter", [f"/stats{f}" for f in FILTERS])
        distribution = measure("/api/distribution, new", [f"/api/distribution{f}" for f in OTHER_FILTERS])
        measure("/api/coverage, new filter", [f"/api/coverage{f}" for f in OTHER_FILTERS])
        measure("map page, new filter", [f"/{f}" for f in OTHER_FILTERS])
        measure("city panel", [f"/map/cities/{c}.json" for c in ("210100", "210200", "211400", "210500")])
        from urllib.parse import quote
        search = measure("/map/search", [f"/map/search?q={quote(q)}" for q in SEARCHES])
        places = measure("/map/places.json", [f"/map/places.json{p}" for p in PLACES])
        ms, status, size = timed(client, "/map/places.csv?level=national")
        print(f"  places.csv?level=national   {ms:8.1f} ms to the last byte, {size / 1e6:.1f} MB", flush=True)
        rows.append(("places.csv?level=national (last byte)", 1, ms, ms))
        print()
        print("| measure | requests | p50 ms | max ms |")
        print("|---|---:|---:|---:|")
        print(f"| aggregate (GROUP BY) | 1 | {aggregate:.0f} | {aggregate:.0f} |")
        for name, n, median, top in rows:
            print(f"| {name} | {n} | {median:.1f} | {top:.1f} |")
        print()
        print(f"sql-stats: places {args.rows}; stats cold {cold:.0f}; stats warm p50 {warm:.0f}; "
              f"distribution p50 {distribution:.0f}; search p50 {search:.0f}; places p50 {places:.0f}")
        from geoapp.postgis.pool import close_all
        close_all()


if __name__ == "__main__":
    main()
