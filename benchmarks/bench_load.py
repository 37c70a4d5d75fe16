"""Benchmark (not a test): a sustained load run against the documented setup (`make run`: nginx in
front of gunicorn, started here through geoapp.serve on a free port).

    .venv/bin/python benchmarks/bench_load.py [--seconds 60] [--connections 64] [--threads 2]

wrk (Debian package; installed with apt-get if missing) drives `--connections` keep-alive
connections for `--seconds` over a mix of routes, as browsers ask for them (Accept-Encoding: gzip):
the map page and its layer data, /stats (default and other widths and filters), the JSON API and
CSVs, OGC items (pages, bboxes), exports, static assets, /about, /health. Part of the mix is
made of many distinct URLs (widths, bboxes, offsets) so the app computes, not only the cache.
Every second the resident memory (VmRSS) of each gunicorn worker is sampled; the script prints
requests/s, latency, errors (non-2xx/3xx and socket errors as wrk counts them) and the memory
series, and ends with "errors: 0" or the counts.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.bench_ogc import ensure_tool, free_port, wait_until_up  # noqa: E402


def mixed_paths(seed: int = 14) -> list[str]:
    rng = random.Random(seed)
    fixed = [
        "/", "/?lang=en", "/?industry=biomedicine", "/?city=210200", "/stats", "/stats?lang=en",
        "/stats?industry=equipment", "/api/distribution", "/api/coverage", "/api/layers",
        "/stats/distribution.csv", "/stats/belt_places.csv", "/about", "/health",
        "/ogc/", "/ogc/collections", "/ogc/collections/cities/items?limit=14",
        "/ogc/collections/high_tech_zones/items", "/ogc/collections/cities/items/210200",
        "/ogc/collections/districts/items?limit=50&offset=50", "/export/high_tech_zones.geojson",
        "/export/cities.csv", "/export/high_tech_zones.gpkg", "/map/layers/high_tech_zones.geojson",
        "/static/atlas.css", "/static/atlas/core.js", "/static/vendor/leaflet-1.9.4/leaflet.js",
        "/static/stats.css",
    ]
    # distinct URLs: widths on /stats and the belt CSV, bboxes and offsets on OGC items
    widths = [f"{w / 10:g}" for w in rng.sample(range(20, 1000), 40)]
    varied = [f"/api/coverage?half_width_km={w}" for w in widths[:20]]
    varied += [f"/stats?half_width_km={w}" for w in widths[20:]]
    for _ in range(60):
        west, south = rng.uniform(119, 124), rng.uniform(38.5, 42)
        varied.append(f"/ogc/collections/districts/items?bbox={west:.2f},{south:.2f},"
                      f"{west + rng.uniform(0.5, 2):.2f},{south + rng.uniform(0.5, 2):.2f}&limit=20")
    varied += [f"/ogc/collections/districts/items?limit=10&offset={n}" for n in range(0, 100, 5)]
    # about three fixed requests for one varied, as a page view brings its assets and data
    return fixed * 3 + varied


WRK_SCRIPT = """
local paths = {%s}
local counter = 0
math.randomseed(%d)
request = function()
  counter = counter + 1
  local path = paths[math.random(#paths)]
  return wrk.format("GET", path, {["Accept-Encoding"] = "gzip, deflate, br",
                                  ["Accept"] = "text/html,application/json;q=0.9,*/*;q=0.8"})
end
done = function(summary, latency, requests)
  io.write(string.format("SUMMARY requests=%%d non2xx=%%d connect=%%d read=%%d write=%%d timeout=%%d\\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
  io.write(string.format("LATENCY p50=%%.2f p90=%%.2f p99=%%.2f max=%%.2f\\n", latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    try:
        return [int(p) for p in children.read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    wrk = ensure_tool("wrk", "wrk")
    ensure_tool("nginx", "nginx")
    if not wrk:
        print("wrk is needed (Debian package wrk)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    work.chmod(0o755)
    port = free_port()
    log = open(work / "serve.log", "wb")
    serve = subprocess.Popen([sys.executable, "-m", "geoapp.serve", "--port", str(port), "--run-dir",
                              str(work / "run")], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                             env={**os.environ, "ATLAS_TILES": "none"}, start_new_session=True)
    samples: list[tuple[float, dict[int, float]]] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/health", timeout=240)
        paths = mixed_paths()
        for path in sorted(set(paths)):  # every route answers before the run
            with urllib.request.urlopen(base + path, timeout=60) as response:
                assert response.status == 200, path
        script = work / "mixed.lua"
        script.write_text(WRK_SCRIPT % (",".join(f'"{p}"' for p in paths), 14), encoding="utf-8")
        master = int((work / "run" / "gunicorn.pid").read_text())
        stop = threading.Event()

        def sample():
            started = time.monotonic()
            while not stop.is_set():
                samples.append((time.monotonic() - started,
                                {pid: rss_mb(pid) for pid in worker_pids(master)}))
                stop.wait(1.0)

        sampler = threading.Thread(target=sample)
        sampler.start()
        print(f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, {len(set(paths))} distinct "
              f"URLs ({len(paths)} weighted), against make run's nginx + gunicorn on port {port} ...",
              flush=True)
        result = subprocess.run([wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
                                 "--timeout", "10s", "-s", str(script), base], capture_output=True, text=True)
        stop.set()
        sampler.join()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)  # the session started above
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
        log.close()

    print(result.stdout)
    summary = dict(re.findall(r"(\w+)=(\d+)", re.search(r"SUMMARY (.*)", result.stdout).group(1)))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    errors = {k: int(v) for k, v in summary.items() if k != "requests"}
    print(f"requests: {int(summary['requests']):,} in {args.seconds} s = {rps:,.0f} req/s")
    print("errors: " + (", ".join(f"{k} {v}" for k, v in errors.items() if v) or "0"))

    pids = sorted({pid for _, series in samples for pid in series})
    print("\nworker RSS (MB), every 10 s:")
    print("| t (s) | " + " | ".join(f"worker {pid}" for pid in pids) + " |")
    print("|---:|" + "---:|" * len(pids))
    for t, series in samples[::10] + samples[-1:]:
        print(f"| {t:.0f} | " + " | ".join(f"{series.get(pid) or 0:.1f}" for pid in pids) + " |")
    if samples:
        first, last = samples[min(5, len(samples) - 1)][1], samples[-1][1]
        growth = {pid: (last.get(pid) or 0) - (first.get(pid) or 0) for pid in pids}
        print("RSS change from t=5 s to the end: " + ", ".join(f"{pid}: {d:+.1f} MB" for pid, d in growth.items()))
    print(f"\nlogs: {work}")
    return 0 if not any(errors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
