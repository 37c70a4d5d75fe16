"""Benchmark (not a test): N synthetic places in a throwaway PostGIS, served by the atlas and by
tipg from the SAME table in the same run (issue 23).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py [--places 1000000] [--samples 200]
    make bench-million [PLACES=100000]

1. A throwaway PostgreSQL 15 + PostGIS cluster (benchmarks/pgcluster.py), deleted at the end.
2. N places from benchmarks/synthetic.py (random points inside real districts, named 合成平台 /
   Synthetic platform: not places; never written under data/) written as one version of the
   imported layer `enterprises_platforms`. `--load bulk` (default) writes them with the store's
   own row writer (`PostGISStore._insert_features`: the same COPY, table and columns as an import;
   generated columns fill themselves) and its own version rows, but skips the import's diff
   against the previous version (there is none: the store is empty) and drops the table's
   secondary indexes during the COPY and re-creates them afterwards from their own definitions
   (pg_indexes.indexdef), so the table ends exactly as an import leaves it. Before that,
   `check_bulk` writes 2,000 rows both ways (`Store.commit` and bulk) into two scratch databases
   and stops the run unless every row of every atlas_* table and every index is identical. `--load commit` uses
   `PostGISStore.commit` itself. Then VACUUM ANALYZE (what autovacuum does soon after an import).
3. The atlas: gunicorn, 2 workers x 4 threads (gthread), ATLAS_DATABASE_URL at that cluster.
4. tipg (PyPI `tipg`, its default settings; installed by this script into its own venv, default
   /tmp/tipg-venv, never into the project's .venv), uvicorn, 1 process, on the same database. tipg
   knows nothing of data versions, so it is given a view of the same table: `bench_tipg_places`
   = the current version's rows of `atlas_features`, `fid AS id`, one column per property (the
   table's own column where it has one, else `props::jsonb ->> key`), `geom`. A view has no
   primary key, so tipg takes `id` (its fallback key name) and orders every items page by it;
   the bench adds the btree index a tipg table would have for that (`bench_tipg_id` on
   (data_version, fid)) unless the store already has one. Without the view tipg picks the GiST
   index's column `geom` as the "primary key" (its catalog takes any one-column index) and sorts
   every page by geometry: that was the 975 ms per items page of the first run.
5. Sequential requests from this process over loopback (new connection each): the same offsets,
   boxes, filter and tiles for both servers. Prints a table and the summary line, and writes the
   table into docs/performance.md between `<!-- bench-million -->` and `<!-- /bench-million -->`.
   The cluster logs statements slower than `--slow-ms` (default 25): the costliest are printed.
   Each measure stops early once it has taken `--budget` seconds (default 120; at least 20
   requests): tipg's z8 tiles and deep pages can take seconds each at 1M. The table says so.
   Everything shares one machine (the client takes CPU from the servers): compare rows of one run.

The summary line's `tile p50` is the WORSE of the z8 and z12 p50s (for the atlas and for tipg):
pooling 24 z8 tiles with 200 z12 tiles would mostly report z12.
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
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pgcluster import postgis_cluster_control  # noqa: E402

LAYER = "enterprises_platforms"
TIPG_VERSION = "1.6.1"
TIPG_VIEW = "bench_tipg_places"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench-million -->", "<!-- /bench-million -->"
CHECK_ROWS = 2000


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


class Timer:
    """Sequential GETs: the time to the last byte of each, and the bytes."""

    def __init__(self, budget_s: float = math.inf, keep: bool = False):
        self.sizes: list[int] = []
        self.bodies: list[bytes] = []
        self.budget_s = budget_s
        self.keep = keep

    def each(self, urls: list[str], least: int = 20) -> list[float]:
        """Times every URL in turn, stopping early (after at least `least`) once the measure has
        taken budget_s: the table says how many were taken."""
        start, samples = time.monotonic(), []
        for url in urls:
            if len(samples) >= least and time.monotonic() - start > self.budget_s:
                break
            samples.append(self(url))
        return samples

    def __call__(self, url: str) -> float:
        start = time.perf_counter()
        status, body = get(url)
        ms = (time.perf_counter() - start) * 1000
        if status not in (200, 204):
            raise SystemExit(f"{url} answered {status}: {body[:300]!r}")
        self.sizes.append(len(body))
        if self.keep:
            self.bodies.append(body)
        return ms


def streamed(url: str) -> tuple[float, float, int, int]:
    """A large download read in 1 MB pieces: ms to the first byte, ms to the last byte, bytes,
    and the number of GeoJSON features in it (occurrences of '"Feature"')."""
    start = time.perf_counter()
    first = None
    size = features = 0
    tail = b""
    with urllib.request.urlopen(url, timeout=3600) as response:
        while chunk := response.read(1 << 20):
            if first is None:
                first = time.perf_counter()
            size += len(chunk)
            window = tail + chunk
            features += window.count(b'"Feature"') - tail.count(b'"Feature"')
            tail = window[-16:]
    end = time.perf_counter()
    return (first - start) * 1000 if first else math.nan, (end - start) * 1000, size, features


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


def places_frame(n: int):
    """The n synthetic places as the store's frame (COLUMNS + point geometry)."""
    import geopandas as gpd

    from benchmarks.synthetic import synthetic_rows
    from geoapp.ingest.rows import COLUMNS
    rows = synthetic_rows(n)
    rows["address"] = ""
    rows["note_zh"] = rows["note_en"] = ""
    return gpd.GeoDataFrame(rows[COLUMNS], geometry=gpd.points_from_xy(rows["lon"], rows["lat"]), crs=4326)


def secondary_indexes(cur) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of atlas_features' indexes that back no constraint."""
    cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'atlas_features' AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = 'atlas_features'::regclass) ORDER BY indexname")
    return cur.fetchall()


def bulk_load(store, frame, who: str, file_name: str) -> int:
    """Writes `frame` as the first version of LAYER in an empty store the way Store.commit does
    (its own _insert_version, _insert_features, _insert_layer_map), without the diff against a
    previous version and with the secondary indexes built after the COPY. Returns the version."""
    from geoapp.ingest.store import Diff
    store.ensure_schema()
    conn = store.connect()
    try:
        cur = conn.cursor()
        store._begin_write(cur)
        if store._current(cur) != 0:
            raise SystemExit("the bulk load writes the first version of an empty store only")
        cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
        indexes = secondary_indexes(cur)
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        n = len(frame)
        version = store._insert_version(cur, who, file_name, LAYER, "import", Diff(n, 0, 0, n), 0, None)
        step = max(n // 10, 1)
        done = {"next": step}

        def progress(rows: int) -> None:
            if rows >= done["next"] or rows == n:
                print(f"    {rows:,} rows copied", flush=True)
                done["next"] = rows + step
        store._insert_features(cur, version, frame, progress)
        for _, statement in indexes:
            cur.execute(statement)
        store._insert_layer_map(cur, version, {LAYER: version})
        conn.commit()
        return version
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def check_bulk(url: str) -> None:
    """CHECK_ROWS rows written by Store.commit and by bulk_load into two scratch databases of the
    cluster: every row of every atlas_* table (but the write time) and every index must be the
    same, or the run stops."""
    import psycopg

    from geoapp.ingest.store import PostGISStore
    frame = places_frame(CHECK_ROWS)
    base = url.rsplit("/", 1)[0]
    with psycopg.connect(url, autocommit=True) as admin:
        for name in ("bench_commit", "bench_bulk"):
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
            admin.execute(f"CREATE DATABASE {name}")
    try:
        PostGISStore(f"{base}/bench_commit").commit(LAYER, frame, who="bench_million", file_name="check")
        bulk_load(PostGISStore(f"{base}/bench_bulk"), frame, who="bench_million", file_name="check")
        seen = []
        for name in ("bench_commit", "bench_bulk"):
            with psycopg.connect(f"{base}/{name}") as conn:
                # every table of the store (features, versions, layer map, digests, ...): each row
                # as JSON without the write time, and every index
                tables = [r[0] for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                    "AND table_name LIKE 'atlas%' ORDER BY 1")]
                content = {table: [r[0] for r in conn.execute(
                    f"SELECT (to_jsonb(t) - 'created_at')::text AS r FROM {table} t ORDER BY r")]
                    for table in tables}
                content["indexes"] = conn.execute("SELECT tablename, indexname, indexdef FROM pg_indexes "
                                                  "WHERE schemaname = current_schema() ORDER BY 1, 2").fetchall()
                seen.append(content)
        commit, bulk = seen
        for part in sorted(set(commit) | set(bulk)):
            a, b = commit.get(part), bulk.get(part)
            if a != b:
                first = next(((x, y) for x, y in zip(a, b) if x != y), None) if a and b else None
                raise SystemExit(f"bulk load check: {part} differs from Store.commit's "
                                 f"({len(a or [])} / {len(b or [])} rows; first difference: {first})")
        if len(commit["atlas_features"]) != CHECK_ROWS:
            raise SystemExit(f"bulk load check: {len(commit['atlas_features'])} rows, expected {CHECK_ROWS}")
        checked = ", ".join(f"{t} ({len(commit[t])})" for t in sorted(commit))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            for name in ("bench_commit", "bench_bulk"):
                admin.execute(f"DROP DATABASE IF EXISTS {name}")
    print(f"  bulk load check: identical to Store.commit's: {checked}", flush=True)


def load_places(url: str, n: int, how: str) -> tuple[float, float, int]:
    """Writes n synthetic places as one version of LAYER; (seconds to make the frame, seconds to
    write it, the version)."""
    from geoapp.ingest.store import PostGISStore
    start = time.perf_counter()
    frame = places_frame(n)
    made = time.perf_counter() - start
    store = PostGISStore(url)
    start = time.perf_counter()
    if how == "commit":
        version, _ = store.commit(LAYER, frame, who="bench_million", file_name=f"synthetic {n}")
    else:
        version = bulk_load(store, frame, who="bench_million", file_name=f"synthetic {n}")
    return made, time.perf_counter() - start, version


def vacuum_analyze(url: str) -> float:
    import psycopg
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE atlas_features")
    return time.perf_counter() - start


def tipg_view(url: str, version: int) -> str:
    """Creates the view tipg serves (see the module text); returns what was created, in words."""
    import psycopg

    from geoapp.ingest.rows import COLUMNS
    with psycopg.connect(url, autocommit=True) as conn:
        # the table's own text columns (the store's generated ones); anything else from props, as
        # text like the atlas serves it (the store's `industries` column is a text[])
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'atlas_features' "
            "AND data_type = 'text' AND table_schema = current_schema()")}
        select = ["fid AS id"] + [c if c in columns else f"(props::jsonb ->> '{c}') AS {c}" for c in COLUMNS[1:]]
        conn.execute(f"CREATE VIEW {TIPG_VIEW} AS SELECT {', '.join(select)}, geom FROM atlas_features "
                     f"WHERE data_version = {int(version)}")
        defs = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'atlas_features'")]
        if any("(data_version, fid)" in d for d in defs):
            made = "the store's own index on (data_version, fid)"
        else:
            start = time.perf_counter()
            conn.execute("CREATE INDEX bench_tipg_id ON atlas_features (data_version, fid)")
            conn.execute("ANALYZE atlas_features")
            made = f"bench index bench_tipg_id (data_version, fid), built in {time.perf_counter() - start:.1f} s"
    native = sorted(c for c in COLUMNS[1:] if c in columns)
    return f"view {TIPG_VIEW} (table columns used: {', '.join(native) or 'none, all from props'}); {made}"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def worker_memory_mb(master: int) -> tuple[float, float]:
    """(largest VmRSS, largest VmHWM = peak RSS) over the gunicorn master's children, MB."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    rss, peak = [], []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss.append(int(line.split()[1]) / 1024)
            if line.startswith("VmHWM:"):
                peak.append(int(line.split()[1]) / 1024)
    return max(rss), max(peak)


def log_slow(url: str, ms: int) -> None:
    """Has the cluster log every statement slower than `ms` (both servers' statements)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET log_min_duration_statement = {int(ms)}")
        conn.execute("SELECT pg_reload_conf()")


def slow_statements(log: Path, keep: Path) -> list[str]:
    """Copies the cluster's log to `keep` and sums its slow statements by shape (numbers and
    quoted values replaced): the most costly first, as lines of text."""
    import re
    text = log.read_text(errors="replace") if log.exists() else ""
    keep.write_text(text)
    shapes: dict[str, list[float]] = {}
    for match in re.finditer(r"duration: ([0-9.]+) ms  (?:statement|execute [^:]*): (.*?)(?=\n\d{4}-\d\d-\d\d |\Z)",
                             text, re.S):
        statement = " ".join(match.group(2).split())   # a statement over several lines, on one
        shape = re.sub(r"'[^']*'", "'…'", re.sub(r"\b\d+(\.\d+)?\b", "N", statement))[:160]
        shapes.setdefault(shape, []).append(float(match.group(1)))
    ranked = sorted(shapes.items(), key=lambda kv: -sum(kv[1]))
    return [f"{len(v):5d} x, median {statistics.median(v):7.0f} ms, total {sum(v) / 1000:6.1f} s: {k}"
            for k, v in ranked[:10]]


def wait_cells(url: str, version: int, since: float, timeout: float) -> str:
    """Waits until the app has built its per-cell tile aggregates of `version` (geoapp/postgis/
    tiles.py builds them in the background once per data version); how long after `since` that
    was, in words (or that the store has none / they were not there in time)."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('atlas_tile_cells_built')").fetchone()[0] is None:
            return "the store keeps no tile aggregates"
        while time.monotonic() - since < timeout:
            if conn.execute("SELECT count(*) FROM atlas_tile_cells_built WHERE data_version = %s",
                            (version,)).fetchone()[0]:
                return f"{time.monotonic() - since:.1f}"
            time.sleep(1)
    return f"not built {timeout:.0f} s after start-up (tiles measured from the rows)"


def phase(name: str, started: float) -> None:
    print(f"  {name} done at +{time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--load", choices=("bulk", "commit"), default="bulk",
                        help="bulk: the store's COPY with indexes built afterwards (checked against "
                             "Store.commit on 2,000 rows first); commit: Store.commit itself")
    parser.add_argument("--budget", type=float, default=120,
                        help="seconds one measure (e.g. tipg's z8 tiles) may take before it stops early "
                             "(after at least 20 requests); the table says when it did")
    parser.add_argument("--slow-ms", type=int, default=25,
                        help="the cluster logs statements slower than this; the slowest shapes are printed "
                             "and the log kept in $TMPDIR/bench-million-pg-<port>.log")
    parser.add_argument("--cells-timeout", type=float, default=900,
                        help="seconds to wait after start-up for the app's tile aggregates of the version")
    parser.add_argument("--tipg-venv", type=Path, default=Path("/tmp/tipg-venv"))
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args()
    n, k = args.places, args.samples
    tipg_bin = install_tipg(args.tipg_venv)
    rng = random.Random(23)
    load_start = os.getloadavg()
    started = time.monotonic()
    with postgis_cluster_control() as cluster:
        url = cluster.url
        if args.load == "bulk":
            check_bulk(url)
        print(f"loading {n:,} synthetic places ({args.load}) ...", flush=True)
        made_s, load_s, version = load_places(url, n, args.load)
        print(f"  frame {made_s:.1f} s, write {load_s:.1f} s", flush=True)
        analyze_s = vacuum_analyze(url)
        tipg_setup = tipg_view(url, version)
        print(f"  VACUUM ANALYZE {analyze_s:.1f} s; tipg: {tipg_setup}", flush=True)
        phase("load", started)
        log_slow(url, args.slow_ms)
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
            app_start = time.monotonic()
            app_up = wait_up(a + "/health", app, app_log)
            wait_up(t + "/collections", tipg, tipg_log)
            print(f"  app up after {app_up:.1f} s", flush=True)
            timed = Timer()
            stats_cold = timed(a + "/stats")
            page_cold = timed(a + "/")
            page = [timed(a + "/") for _ in range(10)]
            phase("stats + map page", started)
            cells = wait_cells(url, version, app_start, args.cells_timeout)
            phase(f"tile aggregates ({cells})", started)
            offsets = [rng.randrange(0, max(n - 100, 1)) for _ in range(k)]
            boxes = [f"{lon - 0.05:.5f},{lat - 0.04:.5f},{lon + 0.05:.5f},{lat + 0.04:.5f}"
                     for lon, lat in zip(sample["lon"][:k], sample["lat"][:k])]
            cql_offsets = [o % max(n // 10 - 100, 1) for o in offsets]
            cql_filter = urllib.parse.quote("level='national'")
            tiles = {}
            for z in (8, 12):   # up to k distinct tiles holding places, in random order
                distinct = list(dict.fromkeys(tile_of(lon, lat, z) for lon, lat in zip(sample["lon"], sample["lat"])))
                tiles[z] = distinct[:k]
            queries = {
                "first": ["?limit=100"] * 20,
                "items": [f"?limit=100&offset={o}" for o in offsets],
                "bbox": [f"?limit=100&bbox={b}" for b in boxes],
                "cql": [f"?limit=100&offset={o}&filter={cql_filter}" for o in cql_offsets],
            }
            collections = json.loads(get(t + "/collections")[1])["collections"]
            tid = next(c["id"] for c in collections if c["id"].endswith(TIPG_VIEW))
            servers = {
                "atlas": (f"{a}/ogc/collections/{LAYER}/items",
                          lambda z, x, y: f"{a}/ogc/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}"),
                "tipg": (f"{t}/collections/{tid}/items",
                         lambda z, x, y: f"{t}/collections/{tid}/tiles/WebMercatorQuad/{z}/{x}/{y}"),
            }
            got: dict[str, dict] = {"atlas": {}, "tipg": {}}
            ids: dict[str, dict] = {"atlas": {}, "tipg": {}}   # feature ids of every items answer
            for server, (items_url, tile_url) in servers.items():
                for name, query in queries.items():
                    kept = Timer(args.budget, keep=True)
                    got[server][name] = kept.each([items_url + q for q in query])
                    ids[server][name] = [[f.get("id") for f in json.loads(b)["features"]] for b in kept.bodies]
                phase(f"{server} items", started)
                for z in tiles:
                    sized = Timer(args.budget)
                    got[server][f"z{z}"] = sized.each([tile_url(z, x, y) for x, y in tiles[z]])
                    got[server][f"z{z} bytes"] = statistics.mean(sized.sizes)
                phase(f"{server} tiles", started)
                if server == "atlas":
                    for z in tiles:
                        sized = Timer(args.budget)
                        got[server][f"cluster z{z}"] = sized.each(
                            [f"{a}/map/layers/{LAYER}/tiles/{z}/{x}/{y}.json" for x, y in tiles[z]])
                        got[server][f"cluster z{z} bytes"] = statistics.mean(sized.sizes)
                    export = streamed(f"{a}/export/{LAYER}.geojson")
                    phase("atlas export", started)
                    rss, peak = worker_memory_mb(app.pid)
        finally:
            stop(app)
            stop(tipg)
            slow_log = logs / f"bench-million-pg-{cluster.port}.log"
            slow = slow_statements(cluster.log, slow_log)
    at, tg = got["atlas"], got["tipg"]
    tile = max(p50(at["z8"]), p50(at["z12"]))
    tipg_tile = max(p50(tg["z8"]), p50(tg["z12"]))

    def cell(server: str, name: str) -> str:
        samples = got[server][name]
        planned = len(queries[name]) if name in queries else len(tiles[int(name[1:])])
        text = f"{p50(samples):.1f}"
        if name.startswith("z"):
            text += f" ({got[server][name + ' bytes'] / 1024:.0f} KB)"
        return text + (f" (p50 of {len(samples)}: time budget)" if len(samples) < planned else "")

    def answers(name: str) -> str:
        """Features per answer (mean) of each server, and in how many answers both servers gave
        the same ids in the same order (the same rows: tipg orders by id, the atlas by import
        order, and the synthetic ids follow the import order)."""
        a_ids, t_ids = ids["atlas"][name], ids["tipg"][name]
        same = sum(x == y for x, y in zip(a_ids, t_ids))
        mean = lambda lists: statistics.mean(len(x) for x in lists)
        return (f"{name}: {mean(a_ids):.0f} / {mean(t_ids):.0f} features per answer, "
                f"same ids in {same} of {min(len(a_ids), len(t_ids))}")
    export_first, export_last, export_bytes, export_features = export
    rows = [
        ("places (one imported layer)", f"{n:,}", "same rows (view)"),
        (f"make the frame / write it ({args.load}) / VACUUM ANALYZE, s",
         f"{made_s:.1f} / {load_s:.1f} / {analyze_s:.1f}", ""),
        ("app start-up (2 workers) until /health, s", f"{app_up:.1f}", ""),
        ("tile cell aggregates of the version built, s after start-up (measures below wait for them)",
         cells, ""),
        ("/stats cold (first request after start-up)", f"{stats_cold:.0f}", ""),
        ("map page `/`: first request / p50 of 10 after it", f"{page_cold:.0f} / {p50(page):.0f}", ""),
        ("items limit 100, the first page: its first request / p50 of 19 repeats (the atlas caches "
         "answers per data version)", *(f"{got[x]['first'][0]:.1f} / {p50(got[x]['first'][1:]):.1f}"
                                        for x in ("atlas", "tipg"))),
        (f"items limit 100, p50 of {k} random offsets in 0..N", cell("atlas", "items"), cell("tipg", "items")),
        (f"bbox limit 100, p50 of {k} distinct boxes (0.1° x 0.08°)", cell("atlas", "bbox"), cell("tipg", "bbox")),
        (f"CQL2 `level='national'` limit 100, p50 of {k} offsets", cell("atlas", "cql"), cell("tipg", "cql")),
        (f"vector tile z8, p50 of {len(tiles[8])} distinct tiles (mean size)", cell("atlas", "z8"), cell("tipg", "z8")),
        (f"vector tile z12, p50 of {len(tiles[12])} distinct tiles (mean size)", cell("atlas", "z12"),
         cell("tipg", "z12")),
        ("vector tile p50 in the summary (the worse of z8, z12)", f"{tile:.1f}", f"{tipg_tile:.1f}"),
        ("map cluster tile (/map/layers/…/tiles) z8 / z12, p50 (mean size)",
         f"{p50(at['cluster z8']):.1f} ({at['cluster z8 bytes'] / 1024:.0f} KB) / "
         f"{p50(at['cluster z12']):.1f} ({at['cluster z12 bytes'] / 1024:.0f} KB)", ""),
        ("whole-layer GeoJSON export: first byte / last byte, ms", f"{export_first:.0f} / {export_last:.0f}", ""),
        ("whole-layer GeoJSON export: size, features", f"{export_bytes / 1e6:.1f} MB, {export_features:,}", ""),
        ("largest worker RSS after all of it / largest worker peak RSS (MB)", f"{rss:.0f} / {peak:.0f}", ""),
    ]
    load_end = os.getloadavg()
    table = [f"`PYTHONPATH=. .venv/bin/python benchmarks/bench_million.py --places {n} --samples {k} "
             f"--load {args.load}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} "
             f"cores, load average {load_start[0]:.1f} at the start and {load_end[0]:.1f} at the end, "
             f"{(time.monotonic() - started) / 60:.0f} min; tipg {TIPG_VERSION} defaults under uvicorn, 1 process, "
             f"serving {tipg_setup}). ms unless stated.", "", "| measure | atlas | tipg |", "|---|---|---|"]
    table += [f"| {x} | {y} | {z} |" for x, y, z in rows]
    table += ["", "Answers checked (atlas / tipg): " + "; ".join(answers(name) for name in queries) + "."]
    if export_features != n:
        table.append(f"\n**The export held {export_features:,} features, not {n:,}.**")
    line = (f"million: places {n}; items p50 {p50(at['items']):.1f}; bbox p50 {p50(at['bbox']):.1f}; "
            f"cql2 p50 {p50(at['cql']):.1f}; tile p50 {tile:.1f}; stats cold {stats_cold:.0f}; worker rss {rss:.0f}; "
            f"tipg items p50 {p50(tg['items']):.1f}; tipg tile p50 {tipg_tile:.1f}")
    print("\n".join(table))
    print(f"\nstatements slower than {args.slow_ms} ms by total time (log: {slow_log}):")
    print("\n".join(slow) or "  none")
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
