"""Two app processes against one PostGIS, under load (issue 10's measured scale-out figure).

Starts a throwaway PostGIS cluster, imports 10,000 synthetic rows (benchmarks/synthetic_lists.py,
test data only), starts two gunicorn processes (1 worker x 4 threads each, ATLAS_STORE_POLL=1)
on free ports sharing that database, and drives them with concurrent clients for DURATION seconds
over a mix of OGC API item pages, a filtered export and map-layer requests (each client
alternates between the two processes, as a load balancer would). While the load runs it imports
a new version with the command and measures how long until BOTH processes serve the new ETag.
Prints requests/s, latency percentiles and that switch time. Usage:

    PYTHONPATH=. .venv/bin/python benchmarks/bench_postgis.py [DURATION_S] [CLIENTS]
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pgcluster import postgis_cluster  # noqa: E402
from benchmarks.synthetic_lists import synthetic_rows, to_csv  # noqa: E402

LAYER = "enterprises_platforms"
PATHS = [f"/ogc/collections/{LAYER}/items?limit=100&offset={k * 100}" for k in range(20)] + \
        [f"/export/{LAYER}.geojson?city=210100", f"/map/layers/{LAYER}.geojson?city=210200",
         "/ogc/collections?f=json", f"/ogc/collections/{LAYER}/items?limit=50&bbox=123.2,41.6,123.6,41.9"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.read(), dict(response.headers)


def wait_up(base: str, deadline: float = 300) -> None:
    start = time.time()
    while time.time() - start < deadline:
        try:
            if get(base + "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{base} did not start")


def main() -> None:
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 30
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    from geoapp.data import load_registry
    registry = load_registry()
    work = Path(tempfile.mkdtemp(prefix="atlas-bench-"))
    first = work / "list-v1.csv"
    table = synthetic_rows(registry.boundaries, 10_000, seed=3)
    first.write_bytes(to_csv(table))
    second = work / "list-v2.csv"
    table["备注"] = "第二版 / second version"
    second.write_bytes(to_csv(table))
    with postgis_cluster() as url:
        env = {**os.environ, "ATLAS_DATABASE_URL": url, "ATLAS_STORE_POLL": "1", "ATLAS_TILES": "none",
               "PYTHONPATH": str(ROOT)}
        cli = [sys.executable, "-m", "geoapp.data", "import", "--layer", LAYER, "--crs", "gcj02", "--mode", "replace", "--who", "bench"]
        t = time.time()
        subprocess.run(cli[:4] + [str(first)] + cli[4:], env=env, cwd=ROOT, check=True, capture_output=True)
        print(f"import of 10,000 rows into PostGIS (command, incl. start-up and checks): {time.time() - t:.1f} s")
        ports = [free_port(), free_port()]
        servers = [subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{p}",
                                     "--workers", "1", "--threads", "4", "wsgi:app"],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for p in ports]
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        try:
            for base in bases:
                wait_up(base)
            for base in bases:            # warm each process's caches once, as after a deploy
                for path in PATHS:
                    get(base + path)
            phase = ["steady"]
            samples: dict[str, list[float]] = {"steady": [], "switch": []}
            errors = {"steady": 0, "switch": 0}
            lock = threading.Lock()
            done = threading.Event()

            def client(n: int) -> None:
                i = n
                while not done.is_set():
                    base = bases[i % 2]
                    path = PATHS[(i * 7) % len(PATHS)]
                    i += 1
                    t0 = time.perf_counter()
                    try:
                        ok = get(base + path, {"Accept-Encoding": "gzip"})[0] == 200
                    except OSError:
                        ok = False
                    with lock:
                        samples[phase[0]].append(time.perf_counter() - t0)
                        errors[phase[0]] += not ok

            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            for thread in threads:
                thread.start()
            time.sleep(duration)                  # phase 1: steady load
            with lock:
                phase[0] = "switch"
            steady_time = duration
            # phase 2: a new version is imported under load; when does each process serve it?
            tag_path = f"/export/{LAYER}.geojson"
            old_tags = [get(base + tag_path)[2]["ETag"] for base in bases]
            t_switch = time.time()
            subprocess.run(cli[:4] + [str(second)] + cli[4:], env=env, cwd=ROOT, check=True, capture_output=True)
            committed = time.time()
            switched: list[float | None] = [None, None]

            def probe(k: int) -> None:
                while switched[k] is None and time.time() - committed < 300:
                    if get(bases[k] + tag_path)[2]["ETag"] != old_tags[k]:
                        switched[k] = time.time() - committed
                    time.sleep(0.05)

            probes = [threading.Thread(target=probe, args=(k,)) for k in range(2)]
            for thread in probes:
                thread.start()
            for thread in probes:
                thread.join()
            switch_time = time.time() - t_switch
            done.set()
            for thread in threads:
                thread.join()
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    print(f"two gunicorn processes (1 worker x 4 threads each) on one PostGIS, {clients} client threads, "
          f"{os.cpu_count()} CPU cores shared with the database, the clients and other work")
    for name, seconds in (("steady load", steady_time), ("during import + switch", switch_time)):
        ms = sorted(x * 1000 for x in samples["steady" if name == "steady load" else "switch"])
        errs = errors["steady" if name == "steady load" else "switch"]
        print(f"  {name}: {len(ms)} requests in {seconds:.0f} s = {len(ms) / seconds:.1f} req/s, "
              f"errors {errs}; latency ms p50 {statistics.median(ms):.1f}  p95 {ms[int(0.95 * len(ms))]:.1f}  "
              f"p99 {ms[int(0.99 * len(ms))]:.1f}  max {ms[-1]:.1f}")
    print(f"  new version (10,000 rows, every row changed) committed {committed - t_switch:.1f} s after the "
          f"import started; served by process 1 {switched[0]:.2f} s and process 2 {switched[1]:.2f} s "
          f"after the commit (ATLAS_STORE_POLL=1 s + reading the version + rebuilding the catalog)")


if __name__ == "__main__":
    main()
