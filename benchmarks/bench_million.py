"""Benchmark (not a test): N synthetic places in a throwaway PostGIS, served by the atlas and by
tipg from the SAME table in the same run (issue 23).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py [--places 1000000] [--samples 200]

1. A throwaway PostgreSQL 15 + PostGIS cluster (benchmarks/pgcluster.py).
2. N places from benchmarks/synthetic.py (random points inside real districts, named 合成平台 /
   Synthetic platform: not places; never written under data/) COPied into the store as one
   version of the imported layer `enterprises_platforms` (Store.commit: COPY ... FROM STDIN).
3. The atlas: gunicorn, 2 workers x 4 threads (gthread), ATLAS_DATABASE_URL at that cluster.
4. tipg (PyPI `tipg`, its default settings; installed by this script into its own venv, default
   /tmp/tipg-venv, never into the project's .venv), uvicorn, on the same database: it serves the
   store's table `public.atlas_features` (the only version in it, so the same N rows).
5. Sequential requests from this process over loopback: OGC items (limit 100, distinct offsets),
   bbox (limit 100, distinct boxes), a CQL2 filter (level='national', distinct offsets), vector
   tiles at z8 and z12 (distinct tiles around random places), /stats cold (its first request), the
   largest worker RSS after all of it; tipg items (limit 100) and tiles (the same z/x/y).
Prints a table and the summary line, and writes the table into docs/performance.md between the
markers `<!-- bench-million -->` and `<!-- /bench-million -->`. Everything shares one machine
(the clients take CPU from the servers): compare rows of one run, not across machines.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pgcluster import postgis_cluster  # noqa: E402

LAYER = "enterprises_platforms"
TIPG_VERSION = "1.6.1"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench-million -->", "<!-- /bench-million -->"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 600) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def timed(url: str) -> float:
    start = time.perf_counter()
    status, _ = get(url)
    ms = (time.perf_counter() - start) * 1000
    if status != 200 and status != 204:
        raise SystemExit(f"{url} answered {status}")
    return ms


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def wait_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 1800) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            if get(url, timeout=30)[0] == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not up after {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def install_tipg(venv: Path) -> Path:
    marker = venv / f".tipg-{TIPG_VERSION}"
    if not marker.exists():
        print(f"installing tipg {TIPG_VERSION} + uvicorn into {venv} (PyPI) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "--quiet", f"tipg=={TIPG_VERSION}",
                        "uvicorn"], check=True)
        marker.touch()
    return venv / "bin"


def load_places(url: str, n: int) -> float:
    """COPY n synthetic places into the store as one version of LAYER; seconds taken."""
    import geopandas as gpd

    from benchmarks.synthetic import synthetic_rows
    from geoapp.ingest.rows import COLUMNS
    from geoapp.ingest.store import PostGISStore
    rows = synthetic_rows(n)
    rows["address"] = ""
    rows["note_zh"] = rows["note_en"] = ""
    frame = gpd.GeoDataFrame(rows[COLUMNS], geometry=gpd.points_from_xy(rows["lon"], rows["lat"]), crs=4326)
    store = PostGISStore(url)
    start = time.perf_counter()
    store.commit(LAYER, frame, who="bench_million", file_name=f"synthetic {n}")
    return time.perf_counter() - start


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def worker_rss_mb(master: int) -> float:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    rss = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]) / 1024)
    return max(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--tipg-venv", type=Path, default=Path("/tmp/tipg-venv"))
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args()
    n, k = args.places, args.samples
    tipg_bin = install_tipg(args.tipg_venv)
    rng = random.Random(23)
    with postgis_cluster() as url:
        print(f"loading {n:,} synthetic places ...", flush=True)
        load_s = load_places(url, n)
        print(f"  COPY + commit {load_s:.1f} s", flush=True)
        from benchmarks.synthetic import synthetic_rows
        sample = synthetic_rows(min(n, 5000)).sample(frac=1, random_state=1)
        logs = Path(os.environ.get("TMPDIR", "/tmp"))
        app_port, tipg_port = free_port(), free_port()
        env = {**os.environ, "ATLAS_DATABASE_URL": url, "ATLAS_TILES": "none", "PYTHONPATH": str(ROOT)}
        app_log, tipg_log = logs / f"bench-million-app-{app_port}.log", logs / f"bench-million-tipg-{tipg_port}.log"
        with app_log.open("wb") as out:
            app = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{app_port}",
                                    "--workers", "2", "--threads", "4", "--worker-class", "gthread",
                                    "--timeout", "1800", "wsgi:app"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=out)
        tipg_env = {**os.environ, "DATABASE_URL": url}
        with tipg_log.open("wb") as out:
            tipg = subprocess.Popen([str(tipg_bin / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1",
                                     "--port", str(tipg_port), "--log-level", "warning"], cwd="/tmp",
                                    env=tipg_env, stdout=subprocess.DEVNULL, stderr=out)
        try:
            a, t = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{tipg_port}"
            app_up = wait_up(a + "/health", app, app_log)
            wait_up(t + "/collections", tipg, tipg_log)
            print(f"  app up after {app_up:.1f} s", flush=True)
            items_url = f"/ogc/collections/{LAYER}/items"
            offsets = [rng.randrange(0, max(n - 100, 1)) for _ in range(k)]
            stats_cold = timed(a + "/stats")
            items = [timed(f"{a}{items_url}?limit=100&offset={o}") for o in offsets]
            boxes = []
            for lon, lat in zip(sample["lon"][:k], sample["lat"][:k]):
                boxes.append(f"{lon - 0.05:.5f},{lat - 0.04:.5f},{lon + 0.05:.5f},{lat + 0.04:.5f}")
            bbox = [timed(f"{a}{items_url}?limit=100&bbox={b}") for b in boxes]
            cql = [timed(f"{a}{items_url}?limit=100&offset={o % max(n // 10 - 100, 1)}&filter="
                         + urllib.request.quote("level='national'")) for o in offsets[:k]]
            tiles = {z: sorted({tile_of(lon, lat, z) for lon, lat in zip(sample["lon"], sample["lat"])})[:k]
                     for z in (8, 12)}
            app_tiles = {z: [timed(f"{a}/ogc/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}")
                             for x, y in tiles[z]] for z in tiles}
            rss = worker_rss_mb(app.pid)
            collections = json.loads(get(t + "/collections")[1])["collections"]
            tid = next(c["id"] for c in collections if c["id"].endswith("atlas_features"))
            tipg_items = [timed(f"{t}/collections/{tid}/items?limit=100&offset={o}") for o in offsets]
            tipg_tiles = {z: [timed(f"{t}/collections/{tid}/tiles/WebMercatorQuad/{z}/{x}/{y}")
                              for x, y in tiles[z]] for z in tiles}
        finally:
            stop(app)
            stop(tipg)
    every_app_tile = app_tiles[8] + app_tiles[12]
    every_tipg_tile = tipg_tiles[8] + tipg_tiles[12]
    rows = [
        ("places (one imported layer)", f"{n:,}", ""),
        ("COPY + commit into the store", f"{load_s * 1000:.0f}", ""),
        ("app start-up (2 workers) until /health", f"{app_up * 1000:.0f}", ""),
        (f"items limit 100, p50 of {len(items)}", f"{p50(items):.1f}", f"{p50(tipg_items):.1f}"),
        (f"bbox limit 100, p50 of {len(bbox)} boxes", f"{p50(bbox):.1f}", ""),
        (f"CQL2 level='national' limit 100, p50 of {len(cql)}", f"{p50(cql):.1f}", ""),
        (f"vector tile z8, p50 of {len(app_tiles[8])}", f"{p50(app_tiles[8]):.1f}", f"{p50(tipg_tiles[8]):.1f}"),
        (f"vector tile z12, p50 of {len(app_tiles[12])}", f"{p50(app_tiles[12]):.1f}", f"{p50(tipg_tiles[12]):.1f}"),
        ("vector tile z8+z12, p50", f"{p50(every_app_tile):.1f}", f"{p50(every_tipg_tile):.1f}"),
        ("/stats cold (first request)", f"{stats_cold:.0f}", ""),
        ("largest worker RSS after all of it (MB)", f"{rss:.0f}", ""),
    ]
    load = os.getloadavg()
    table = [f"`PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py --places {n} --samples {k}` "
             f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load average "
             f"{load[0]:.1f} at the end; tipg {TIPG_VERSION} defaults under uvicorn, 1 process). ms unless "
             "stated.", "", "| measure | atlas | tipg |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    line = (f"million: places {n}; items p50 {p50(items):.1f}; bbox p50 {p50(bbox):.1f}; cql2 p50 {p50(cql):.1f}; "
            f"tile p50 {p50(every_app_tile):.1f}; stats cold {stats_cold:.0f}; worker rss {rss:.0f}; "
            f"tipg items p50 {p50(tipg_items):.1f}; tipg tile p50 {p50(every_tipg_tile):.1f}")
    print("\n".join(table))
    if not args.no_doc:
        text = DOC.read_text(encoding="utf-8")
        block = f"{START}\n" + "\n".join(table) + f"\n\nSummary line: `{line}`\n{END}"
        if START in text and END in text:
            text = text[:text.index(START)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n## A million places on PostGIS: atlas vs tipg (`make bench-million`)\n\n" + block + "\n"
        DOC.write_text(text, encoding="utf-8")
    print(line)


if __name__ == "__main__":
    main()
