"""Benchmark (prints figures; not a test): OGC vector tiles of a large point layer, and /health
while they are built (issue 19 item 1).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_tiles_guard.py [--sizes 13000 100000] [--out /tmp/atlas-tiles]

For each size, benchmarks/synthetic.py writes a copy of data/ and layers/ with one synthetic point
layer of that many rows under --out (never under data/), and gunicorn is started on it as
`make run` runs it behind nginx (2 gthread workers x 4 threads; no nginx here, so no front cache
answers for the app). Then, against that gunicorn:

  sequential   GET /ogc/collections/synthetic_places/tiles/WebMercatorQuad/5/11/26 (the tile that
               holds all of Liaoning) with each of FILTERS, first request (built) and second (cached)
  parallel     16 such requests at once, each with a filter not asked before (so 16 tiles built),
               while another thread asks /health every 50 ms: every tile's time, /health's worst
  features     features and clusters in the unfiltered tile, and its size

Target (issue 19): a tile < 2 s with any filter, /health < 1 s during the 16 parallel requests.
Wall-clock figures on a shared 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.bench_ogc import free_port, wait_until_up  # noqa: E402
from benchmarks.synthetic import LAYER_ID, make_dataset  # noqa: E402

TILE = "/ogc/collections/{layer}/tiles/WebMercatorQuad/5/11/26"
CITIES = [f"21{n:02d}00" for n in range(1, 15)]
FILTERS = ["", "city=210100", "city=Benxi", "city=210100,210200", "industry=biomedicine",
           "level=national", "city=210200&industry=marine", "kind=platform&level=provincial"]
# 16 filters none of the sequential part asked for: each of the 16 parallel requests builds a tile
PARALLEL = [f"city={c}&level=national" for c in CITIES] + ["industry=new_energy,marine", "industry=chemicals&city=210800"]


def get(url: str) -> tuple[float, int, bytes]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=180) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return time.perf_counter() - start, status, body


def run_size(n: int, out: Path) -> dict:
    data_dir, layers_dir = make_dataset(out / f"n{n}", n)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ATLAS_DATA_DIR": str(data_dir),
           "ATLAS_LAYERS_DIR": str(layers_dir), "ATLAS_TILES": "none",
           "ATLAS_DATABASE_URL": f"sqlite:///{out / f'n{n}' / 'store.sqlite'}"}
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                               "--timeout", "120", "--no-control-socket", "--chdir", str(ROOT), "wsgi:app"],
                              env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/health", timeout=600)
        for _ in range(4):   # both workers up (each loads the data itself)
            get(base + "/health")
        tile = base + TILE.format(layer=LAYER_ID)
        row = {"n": n, "sequential": []}
        for flt in FILTERS:
            url = tile + (f"?{flt}" if flt else "")
            cold, status, body = get(url)
            warm, _, _ = get(url)
            row["sequential"].append((flt or "(none)", status, cold, warm, len(body)))
        _, _, body = get(tile)
        import mapbox_vector_tile
        features = mapbox_vector_tile.decode(body).get(LAYER_ID, {"features": []})["features"]
        row["features"] = len(features)
        row["clusters"] = sum(1 for f in features if f["properties"].get("cluster"))
        row["clustered_points"] = sum(f["properties"].get("point_count", 0) for f in features)
        row["tile_bytes"] = len(body)

        health, done = [], threading.Event()

        def probe():
            while not done.is_set():
                health.append(get(base + "/health")[:2])
                time.sleep(0.05)

        results = [None] * len(PARALLEL)

        def fetch(i: int, flt: str):
            results[i] = get(f"{tile}?{flt}")[:2]

        prober = threading.Thread(target=probe)
        prober.start()
        time.sleep(0.2)
        start = time.perf_counter()
        threads = [threading.Thread(target=fetch, args=(i, f)) for i, f in enumerate(PARALLEL)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        row["parallel_wall"] = time.perf_counter() - start
        time.sleep(0.2)
        done.set()
        prober.join()
        row["parallel"] = results
        row["health"] = health
        return row
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[13000, 100000])
    parser.add_argument("--out", type=Path, default=Path("/tmp/atlas-tiles"))
    args = parser.parse_args()
    for n in args.sizes:
        row = run_size(n, args.out)
        print(f"\n== {n} synthetic points; tile {TILE.format(layer=LAYER_ID)} ==")
        print(f"unfiltered tile: {row['features']} features ({row['clusters']} clusters holding "
              f"{row['clustered_points']} points), {row['tile_bytes']} bytes")
        print(f"{'filter':<34}{'status':>7}{'first s':>9}{'again s':>9}{'bytes':>8}")
        for flt, status, cold, warm, size in row["sequential"]:
            print(f"{flt:<34}{status:>7}{cold:>9.3f}{warm:>9.3f}{size:>8}")
        times = [s for s, _ in row["parallel"]]
        statuses = sorted({st for _, st in row["parallel"]})
        health = [s for s, _ in row["health"]]
        health_bad = sum(1 for _, st in row["health"] if st != 200)
        print(f"16 parallel tiles, 16 new filters: wall {row['parallel_wall']:.2f} s, per tile median "
              f"{statistics.median(times):.2f} s, max {max(times):.2f} s, statuses {statuses}")
        print(f"/health during them: {len(health)} requests, median {statistics.median(health):.3f} s, "
              f"max {max(health):.3f} s, non-200: {health_bad}")
        worst = max(max(c for _, _, c, _, _ in row["sequential"]), max(times))
        print(f"targets: tile < 2 s -> worst {worst:.2f} s {'MET' if worst < 2 else 'MISSED'}; "
              f"/health < 1 s -> worst {max(health):.2f} s {'MET' if max(health) < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
