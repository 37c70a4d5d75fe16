"""Scale benchmark (prints figures; not a test): the atlas with 1k, 10k and 100k synthetic places.

    make bench-scale                      # or: PYTHONPATH=. .venv/bin/python benchmarks/bench_scale.py
    PYTHONPATH=. .venv/bin/python benchmarks/bench_scale.py --sizes 0 1000 --out /tmp/atlas-scale

For each size, benchmarks/synthetic.py writes a copy of data/ and layers/ with one extra point layer
of that many seeded rows (inside real districts, valid codes) under --out (never under data/), and
a fresh Python process measures, on that data:

  start-up        create_app(): load + validate every file, build the export catalog, specs, search
  check           `python -m geoapp.data check --data-dir …` wall time (a separate process)
  page            map page bytes raw and gzip, build cold (first request) and warm p50 (cached)
  drawn           Chromium: navigation start until every layer has been fetched and drawn
                  (atlas.loaded; the big layer as server-side clusters), median of 3 loads
  items / bbox    OGC items of the synthetic collection, limit=100 (p50, p99 of 200), and with a
                  bbox around Shenyang (p50, p99 of 200 distinct offsets, so not from cache)
  stats           /stats cold (first request)
  export          /export/<layer>.geojson of the whole synthetic layer, cold
  rss             the process's resident memory at the end (what one worker holds)

The size-0 row is today's data, the baseline the page-size target refers to.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(round(q * (len(samples) - 1))))]


def timed(client, url: str, headers=None) -> tuple[float, object]:
    start = time.perf_counter()
    response = client.get(url, headers=headers or {})
    response.get_data()   # the whole body: a streamed download is written while it is read
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code, response.data[:200])
    response.close()  # as a WSGI server does once the body is sent (runs call_on_close: web/memory.py)
    return elapsed, response


def measure(n: int, out: Path) -> dict:
    """Runs in a fresh process: one size."""
    from benchmarks.synthetic import LAYER_ID, make_dataset
    if n:
        data_dir, layers_dir = make_dataset(out / f"n{n}", n)
    else:
        data_dir, layers_dir = ROOT / "data", ROOT / "layers"
    start = time.perf_counter()
    check = subprocess.run([sys.executable, "-m", "geoapp.data", "check", "--data-dir", str(data_dir)],
                           capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    check_s = time.perf_counter() - start
    if check.returncode != 0:
        raise SystemExit(f"check failed for n={n}:\n{check.stderr[-2000:]}")

    from geoapp.web import create_app
    start = time.perf_counter()
    app = create_app({"ATLAS_TILES": "none", "ATLAS_DATA_DIR": str(data_dir),
                      "ATLAS_LAYERS_DIR": str(layers_dir)})
    startup_s = time.perf_counter() - start
    client = app.test_client()
    cold, page = timed(client, "/")
    warm = [timed(client, "/", {"Accept-Encoding": "gzip"})[0] for _ in range(100)]
    row = {"n": n, "startup_s": startup_s, "check_s": check_s, "page_kb": len(page.data) / 1024,
           "page_gzip_kb": len(gzip.compress(page.data)) / 1024, "page_cold_ms": cold,
           "page_warm_p50_ms": statistics.median(warm)}
    layer = LAYER_ID if n else "high_tech_zones"
    items = [timed(client, f"/ogc/collections/{layer}/items?limit=100&offset={(i * 100) % max(n, 1)}")[0]
             for i in range(200)]
    bbox = [timed(client, f"/ogc/collections/{layer}/items?limit=100&bbox="
                          f"{123.2 + i * 1e-4:.4f},41.6,{123.7 + i * 1e-4:.4f},42.0")[0] for i in range(200)]
    row.update(items_p50_ms=percentile(items, 0.5), items_p99_ms=percentile(items, 0.99),
               bbox_p50_ms=percentile(bbox, 0.5), bbox_p99_ms=percentile(bbox, 0.99))
    row["stats_cold_ms"] = timed(client, "/stats")[0]
    # the whole download, read piece by piece and dropped as a client would (not held here, so
    # the RSS below is the app's, not this script's copy of the body)
    start = time.perf_counter()
    response = client.get(f"/export/{layer}.geojson")
    assert response.status_code == 200, response.status_code
    size = sum(len(chunk) for chunk in response.iter_encoded())
    response.close()
    row["export_ms"] = (time.perf_counter() - start) * 1000
    row["export_mb"] = size / 1e6
    row["drawn_ms"] = drawn(app)
    row["rss_mb"] = rss_mb()
    return row


def drawn(app) -> float:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    samples = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for _ in range(3):
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                errors = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: m.type == "error" and errors.append(m.text))
                page.goto(f"http://127.0.0.1:{server.server_port}/", wait_until="commit")
                page.wait_for_function("() => window.atlas && atlas.loaded", timeout=60_000)
                samples.append(page.evaluate("performance.now()"))
                if errors:
                    raise SystemExit(f"console errors while drawing: {errors}")
                page.close()
            browser.close()
    finally:
        server.shutdown()
    return statistics.median(samples)


COLUMNS = [("n", "places", "{:>8}"), ("startup_s", "start s", "{:>8.1f}"), ("check_s", "check s", "{:>8.1f}"),
           ("page_kb", "page KB", "{:>8.1f}"), ("page_gzip_kb", "gzip KB", "{:>8.1f}"),
           ("page_cold_ms", "cold ms", "{:>8.0f}"), ("page_warm_p50_ms", "warm ms", "{:>8.2f}"),
           ("drawn_ms", "drawn ms", "{:>9.0f}"), ("items_p50_ms", "items50", "{:>8.1f}"),
           ("items_p99_ms", "items99", "{:>8.1f}"), ("bbox_p50_ms", "bbox50", "{:>8.1f}"),
           ("bbox_p99_ms", "bbox99", "{:>8.1f}"), ("stats_cold_ms", "stats ms", "{:>9.0f}"),
           ("export_ms", "export ms", "{:>10.0f}"), ("export_mb", "exp MB", "{:>7.1f}"), ("rss_mb", "RSS MB", "{:>8.0f}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1000, 10000, 100000])
    parser.add_argument("--out", type=Path, default=Path("/tmp/atlas-scale"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.out)))
        return
    rows = []
    for n in args.sizes:
        result = subprocess.run([sys.executable, __file__, "--one", str(n), "--out", str(args.out)],
                                capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"size {n} failed")
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(f"measured n={n}", file=sys.stderr)
    print("".join(f"{title:>{int(fmt.split('>')[1].split('.')[0].rstrip('f}'))}}" for _, title, fmt in COLUMNS))
    for row in rows:
        print("".join(fmt.format(row[key]) for key, _, fmt in COLUMNS))
    base = next((r for r in rows if r["n"] == 0), None)
    if base:
        for row in rows:
            if row["n"]:
                print(f"n={row['n']}: page gzip {row['page_gzip_kb'] / base['page_gzip_kb']:.2f} x today's; "
                      f"check {row['check_s'] / row['n'] * 1e6:.0f} us/row")
    print("targets at 100k: page gzip <= 1.2 x today's, cold < 1 s, drawn < 3 s, items p50 < 10 ms, "
          "bbox p50 < 30 ms, /stats cold < 2 s, check < 10 s, RSS < 600 MB")


if __name__ == "__main__":
    main()
