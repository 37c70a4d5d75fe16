"""Probe (prints figures; not a test): what the served atlas answers while its store is unusable
(issue 19 item 6). gunicorn as `make run` runs it (2 gthread workers x 4 threads, no nginx), with
--clients threads asking read routes in a loop, in three phases per store:

  before     the store works
  broken     SQLite: its folder and file made immutable (chattr +i: read-only even for root,
             as on a read-only mount); PostGIS: the throwaway cluster stopped (pg_ctl stop)
  restored   chattr -i / pg_ctl start, until /health says ok again

For each phase: requests, statuses, p50/max latency, and what /health said.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_store_degraded.py [--seconds 15] [--clients 4]
                                                                     [--stores sqlite postgis]

Target (issue 19): reads keep answering 200 and /health says degraded while the store is broken.
Needs root (chattr) and Debian's postgresql-15-postgis-3 for the PostGIS phase.
"""
from __future__ import annotations

import argparse
import collections
import json
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

ROUTES = ["/map/places.json?per_page=20", "/ogc/collections/high_tech_zones/items?limit=5",
          "/api/layers", "/map/layers/high_tech_zones.geojson", "/health"]


def get(url: str) -> tuple[int, float, bytes]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    except OSError:
        body, status = b"", 0
    return status, time.perf_counter() - start, body


class Load:
    def __init__(self, base: str, clients: int):
        self.base, self.stop, self.samples = base, threading.Event(), []   # (t, route, status, seconds)
        self.threads = [threading.Thread(target=self.loop, args=(k,)) for k in range(clients)]

    def loop(self, k: int) -> None:
        n = k
        while not self.stop.is_set():
            route = ROUTES[n % len(ROUTES)]
            n += 1
            started = time.monotonic()
            status, seconds, _ = get(self.base + route)
            self.samples.append((started, route, status, seconds))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def health(base: str) -> dict:
    status, _, body = get(base + "/health")
    try:
        return {"http": status, **json.loads(body)}
    except ValueError:
        return {"http": status, "body": body[:100].decode(errors="replace")}


def phase_report(name: str, samples, start: float, end: float, healths: list[dict]) -> str:
    rows = [s for s in samples if start <= s[0] < end]
    statuses = collections.Counter(s[2] for s in rows)
    times = [s[3] for s in rows] or [float("nan")]
    said = collections.Counter(h.get("status", f"http {h.get('http')}") for h in healths)
    return (f"{name:<10}{len(rows):>7}  {dict(sorted(statuses.items()))!s:<22}{statistics.median(times):>8.3f}"
            f"{max(times):>8.3f}  /health: {dict(said)}")


def run(store: str, seconds: float, clients: int, work: Path) -> list[str]:
    from benchmarks.pgcluster import postgis_cluster_control
    cluster_cm = postgis_cluster_control() if store == "postgis" else None
    cluster = cluster_cm.__enter__() if cluster_cm else None
    folder = work / store
    folder.mkdir(parents=True, exist_ok=True)
    url = cluster.url if cluster else f"sqlite:///{folder / 'atlas-store.sqlite'}"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": url,
           "ATLAS_STORE_POLL": "0.5"}
    log = open(folder / "gunicorn.log", "wb")
    server = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                               "--timeout", "120", "--no-control-socket", "--chdir", str(ROOT), "wsgi:app"],
                              env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    lines = []
    immutable = []
    try:
        try:
            wait_until_up(base + "/health", timeout=300)
        except RuntimeError:
            log.flush()
            raise SystemExit((folder / "gunicorn.log").read_text(errors="replace")[-3000:]) from None
        with Load(base, clients) as load:
            marks = {"before": time.monotonic()}
            healths = {"before": [], "broken": [], "restored": []}

            def watch(phase: str, until: float) -> None:
                while time.monotonic() < until:
                    healths[phase].append(health(base))
                    time.sleep(0.5)

            watch("before", time.monotonic() + seconds / 3)
            marks["broken"] = time.monotonic()
            if cluster:
                cluster.stop()
            else:
                immutable = [str(p) for p in folder.glob("atlas-store.sqlite*")] + [str(folder)]
                subprocess.run(["chattr", "+i", *immutable], check=True)
            watch("broken", time.monotonic() + seconds)
            marks["restored"] = time.monotonic()
            if cluster:
                cluster.start()
            else:
                subprocess.run(["chattr", "-i", *immutable], check=True)
                immutable = []
            deadline = time.monotonic() + 60
            recovered = None
            while time.monotonic() < deadline:
                said = health(base)
                healths["restored"].append(said)
                if said.get("status") == "ok":
                    recovered = time.monotonic() - marks["restored"]
                    break
                time.sleep(0.25)
            marks["end"] = time.monotonic()
        lines.append(f"-- {store}: {clients} clients over {', '.join(ROUTES)}")
        lines.append(f"{'phase':<10}{'reqs':>7}  {'statuses':<22}{'p50 s':>8}{'max s':>8}")
        order = ["before", "broken", "restored"]
        for i, phase in enumerate(order):
            end = marks[order[i + 1]] if i + 1 < len(order) else marks["end"]
            lines.append(phase_report(phase, load.samples, marks[phase], end, healths[phase]))
        degraded = [h for h in healths["broken"] if h.get("status") == "degraded"]
        if degraded:
            lines.append(f"/health while broken (last): {json.dumps(degraded[-1], ensure_ascii=False)[:300]}")
        lines.append(f"/health ok again {recovered:.1f} s after the store came back" if recovered is not None
                     else "/health did not say ok within 60 s of the store coming back")
        return lines
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", *immutable])
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        if cluster_cm:
            cluster_cm.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgis"], choices=["sqlite", "postgis"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atlas-degraded-") as work:
        for store in args.stores:
            print("\n".join(run(store, args.seconds, args.clients, Path(work))), flush=True)


if __name__ == "__main__":
    main()
