"""Benchmark (not a test): how long requests wait while the running atlas reloads its data.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_reload.py [--clients 4]

Starts the documented setup (geoapp.serve: nginx in front of gunicorn) on a free port, keeps
--clients threads requesting OGC item pages through nginx (each URL new, so the front cache never
answers), and reloads the same data twice, one way after the other:

- gunicorn HUP (`kill -HUP $(cat RUN_DIR/gunicorn.pid)`): gunicorn's own reload; the phase ends
  when every worker is a new one and answers;
- `make reload`'s switch (`python -m geoapp.serve --reload`): a second gunicorn loads the data,
  nginx is switched to it, the old one stopped; the phase ends when the command returns.

Prints, per phase, requests, errors and the latency median / p99 / max (s). Wall-clock figures on a
shared machine: compare the phases of one run, not runs on different days.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
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
from benchmarks.bench_load import worker_pids  # noqa: E402
from benchmarks.bench_ogc import ensure_tool, free_port, wait_until_up  # noqa: E402


class Load:
    def __init__(self, base: str, clients: int):
        self.base, self.done, self.samples = base, threading.Event(), []  # (start, seconds, ok)
        self.salt = random.randrange(10**5)
        self.threads = [threading.Thread(target=self.loop, args=(k,)) for k in range(clients)]

    def loop(self, k: int) -> None:
        n = 0
        while not self.done.is_set():
            n += 1
            north = 44 + k / 10 + (self.salt * 10**5 + n) / 1e12
            url = f"{self.base}/ogc/collections/cities/items?limit=2&bbox=118,38,126,{north:.12f}"
            started = time.monotonic()
            try:
                with urllib.request.urlopen(url, timeout=120) as response:
                    response.read()
                    ok = response.status == 200
            except OSError:
                ok = False
            self.samples.append((started, time.monotonic() - started, ok))

    def between(self, start: float, end: float) -> list[tuple[float, float, bool]]:
        return [s for s in self.samples if start <= s[0] <= end]


def report(name: str, samples: list, seconds: float) -> None:
    times = sorted(s[1] for s in samples)
    errors = sum(not s[2] for s in samples)
    if not times:
        print(f"{name:<22} no requests")
        return
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print(f"{name:<22} {seconds:6.1f} s {len(times):7,} requests {errors:3} errors   "
          f"median {statistics.median(times):.3f}  p99 {p99:.3f}  max {times[-1]:.3f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    if not ensure_tool("nginx", "nginx"):
        print("nginx is needed (Debian package nginx)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-reload-"))
    work.chmod(0o755)
    run_dir = work / "run"
    port = free_port()
    log = open(work / "serve.log", "wb")
    serve = subprocess.Popen([sys.executable, "-m", "geoapp.serve", "--port", str(port), "--run-dir", str(run_dir)],
                             cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ATLAS_TILES": "none"},
                             start_new_session=True)
    load = Load(f"http://127.0.0.1:{port}", args.clients)
    try:
        wait_until_up(load.base + "/health", timeout=300)
        for thread in load.threads:
            thread.start()
        time.sleep(5)
        t0 = time.monotonic()
        report("steady", load.between(t0 - 5, t0), 5)

        master = int((run_dir / "gunicorn.pid").read_text())
        old = set(worker_pids(master))
        os.kill(master, signal.SIGHUP)
        t1 = time.monotonic()
        deadline = t1 + 300
        while time.monotonic() < deadline:  # every worker new and the service answering
            current = set(worker_pids(master))
            if len(current) >= 2 and not current & old and len(load.between(time.monotonic() - 1, time.monotonic())):
                break
            time.sleep(0.2)
        time.sleep(2)
        t2 = time.monotonic()
        report("gunicorn HUP", load.between(t1, t2), t2 - t1)
        time.sleep(3)

        t3 = time.monotonic()
        reload = subprocess.run([sys.executable, "-m", "geoapp.serve", "--reload", "--run-dir", str(run_dir)],
                                cwd=ROOT, capture_output=True, text=True)
        time.sleep(2)
        t4 = time.monotonic()
        report("make reload's switch", load.between(t3, t4), t4 - t3)
        print(f"  ({(reload.stdout + reload.stderr).strip()})")
    finally:
        load.done.set()
        for thread in load.threads:
            if thread.is_alive():
                thread.join()
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)  # the session started above
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
