"""Benchmark (not a test): OGC API – Features items and an export on loopback: the atlas as
`make run` serves it (nginx in front of gunicorn), the app alone (gunicorn), pygeoapi serving the
same city layer, and nginx serving the documented setup's own response bytes as static files.

    .venv/bin/python benchmarks/bench_ogc.py [--seconds 5] [--max-requests 30000] [--connections 16]

- atlas, make run: geoapp.serve (nginx from Debian + gunicorn 2 gthread workers x 4 threads on a
  unix socket, proxy cache keyed by URL and encoding), on a free port;
- atlas, gunicorn alone: the app without a front (2 workers x 4 threads, gthread, keep-alive);
- pygeoapi: installed by this script into its own venv (default /tmp/pygeoapi-venv) from PyPI,
  version PYGEOAPI_VERSION, GeoJSON provider over the atlas's cities export written to a temp dir,
  gunicorn with 2 sync workers (pygeoapi's usual deployment); cities queries only;
- nginx static (Debian; nginx and wrk installed with apt-get if missing and --no-nginx not
  given): the same bytes, keep-alive on. Without nginx, Python's http.server stands in.
Two load generators per row: Python (asyncio, raw HTTP/1.1 keep-alive) in 2 processes, 16
connections, bounded by --seconds and --max-requests; and wrk -t2 -c16 (C, does not cap nginx
as the Python one does). Requests carry no Accept-Encoding (identity), so every server sends the
same uncompressed JSON. Everything runs on one machine, so the load generator takes CPU from the
servers; figures are comparable between servers, not absolute.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYGEOAPI_VERSION = "0.21.0"

# (name, atlas path, pygeoapi path): the same selection of the same 14 cities.
QUERIES = [
    ("all 14 cities", "/ogc/collections/cities/items?limit=14", "/collections/cities/items?limit=14&f=json"),
    ("bbox south-east", "/ogc/collections/cities/items?limit=14&bbox=121,38.5,124,41",
     "/collections/cities/items?limit=14&bbox=121,38.5,124,41&f=json"),
    ("page 5 offset 5", "/ogc/collections/cities/items?limit=5&offset=5",
     "/collections/cities/items?limit=5&offset=5&f=json"),
    ("one feature", "/ogc/collections/cities/items/210200", "/collections/cities/items/210200?f=json"),
    # atlas only (pygeoapi serves the cities layer only here)
    ("HTZ items", "/ogc/collections/high_tech_zones/items", None),
    ("HTZ export", "/export/high_tech_zones.geojson", None),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {timeout} s")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


# --- servers ---------------------------------------------------------------------------------------

def start(command: list[str], env: dict | None = None, cwd: Path | None = None, log: Path | None = None):
    out = open(log, "wb") if log else subprocess.DEVNULL
    return subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the server's own process group, started above
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def start_atlas(port: int, work: Path):
    """The app alone: gunicorn on a TCP port, no front (2 workers x 4 threads, gthread)."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    return start([str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                  "--preload", "--keep-alive", "5", "--no-control-socket", "wsgi:app"], cwd=ROOT,
                 log=work / "atlas.log", env={"ATLAS_TILES": "none"})


def start_documented(port: int, work: Path):
    """The documented setup, as `make run` starts it: nginx in front of gunicorn (geoapp.serve)."""
    run_dir = work / "run"
    return start([sys.executable, "-m", "geoapp.serve", "--port", str(port), "--run-dir", str(run_dir)],
                 cwd=ROOT, log=work / "make-run.log", env={"ATLAS_TILES": "none"})


def wrk_rps(wrk: str, url: str, connections: int, seconds: float) -> tuple[float, int, str]:
    """requests/s and errors (non-2xx/3xx + socket errors) by wrk -t2 -c<connections>."""
    result = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", url],
                            capture_output=True, text=True)
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|connect|read|write|timeout)"
                                           r"[: ]\s*(\d+)", out))
    latency = re.search(r"Latency\s+(\S+)", out)
    return rps, errors, latency.group(1) if latency else "?"


def install_pygeoapi(venv: Path) -> Path:
    python = venv / "bin" / "python"
    marker = venv / f".pygeoapi-{PYGEOAPI_VERSION}"
    if not marker.exists():
        print(f"installing pygeoapi {PYGEOAPI_VERSION} into {venv} (PyPI) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"pygeoapi=={PYGEOAPI_VERSION}",
                        "gunicorn"], check=True, stderr=subprocess.DEVNULL)
        marker.touch()
    return venv / "bin"


PYGEOAPI_CONFIG = """\
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  gzip: false
  language: en-US
  cors: false
  pretty_print: false
  limits: {{default_items: 10, max_items: 1000}}
  limit: 10
  map: {{url: 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', attribution: OSM}}
logging:
  level: ERROR
metadata:
  identification:
    title: bench
    description: benchmark
    keywords: [bench]
    keywords_type: theme
    terms_of_service: https://example.org
    url: https://example.org
  license: {{name: CC-BY 4.0, url: https://creativecommons.org/licenses/by/4.0/}}
  provider: {{name: bench, url: https://example.org}}
  contact: {{name: bench, position: bench, address: x, city: x, stateorprovince: x, postalcode: x,
            country: x, phone: x, fax: x, email: x, url: x, hours: x, instructions: x, role: pointOfContact}}
resources:
  cities:
    type: collection
    title: Liaoning cities
    description: the 14 prefecture-level cities
    keywords: [cities]
    extents:
      spatial: {{bbox: [118.8, 38.7, 125.8, 43.5], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}}
    providers:
      - type: feature
        name: GeoJSON
        data: {data}
        id_field: adcode
"""


def start_pygeoapi(port: int, work: Path, venv: Path):
    bin_dir = install_pygeoapi(venv)
    data = work / "cities.geojson"
    # The same 14 cities, as the atlas exports them (RFC 7946 GeoJSON).
    from geoapp.export.catalog import Catalog
    from geoapp.data import load_registry
    from geoapp.export.serialize import feature_collection
    data.write_bytes(feature_collection(Catalog(load_registry())["cities"].features))
    config = work / "pygeoapi.yml"
    openapi = work / "pygeoapi-openapi.yml"
    config.write_text(PYGEOAPI_CONFIG.format(port=port, data=data), encoding="utf-8")
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run([str(bin_dir / "pygeoapi"), "openapi", "generate", str(config), "--output-file",
                    str(openapi)], check=True, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    return start([str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                  "pygeoapi.flask_app:APP"], env=env, cwd=work, log=work / "pygeoapi.log")


NGINX_CONFIG = """\
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  keepalive_timeout 30;
  types {{ application/geo+json json; }}
  client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def ensure_tool(command: str, package: str, allow_install: bool = True) -> str | None:
    """Path of a Debian tool (nginx, wrk), installed with apt-get when missing and allowed."""
    def find():
        return shutil.which(command) or next((p for p in (f"/usr/sbin/{command}", f"/usr/bin/{command}")
                                              if Path(p).exists()), None)
    if find() or not allow_install:
        return find()
    print(f"installing {package} (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env,
                       timeout=300, stdout=subprocess.DEVNULL)
    except (subprocess.SubprocessError, OSError) as error:
        print(f"{package} not installed ({error})")
        return None
    return find()


def ensure_nginx(allow_install: bool) -> str | None:
    return ensure_tool("nginx", "nginx", allow_install)


def start_static(port: int, work: Path, root: Path, nginx: str | None):
    if nginx:
        (work / "tmp").mkdir(exist_ok=True)
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONFIG.format(work=work, port=port, root=root))
        return start([nginx, "-c", str(conf), "-g", "daemon off;"], log=work / "nginx.log"), "nginx"
    return start([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(root),
                  "--protocol", "HTTP/1.1", str(port)], log=work / "static.log"), "python http.server"


# --- load generator ----------------------------------------------------------------------------------

async def _connection(port: int, request: bytes, deadline: float, budget: list[int], latencies: list,
                      errors: list[int]):
    reader = writer = None
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            if "content-length" in headers:
                await reader.readexactly(int(headers["content-length"]))
            else:  # chunked
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors[0] += 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors[0] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def _worker(args) -> tuple[list[float], int, float]:
    port, path, connections, seconds, max_requests = args
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/geo+json\r\n"
               f"Connection: keep-alive\r\n\r\n").encode()
    latencies, errors, budget = [], [0], [max_requests]

    async def run():
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*[_connection(port, request, deadline, budget, latencies, errors)
                               for _ in range(connections)])

    started = time.perf_counter()
    asyncio.run(run())
    return latencies, errors[0], time.perf_counter() - started


def load(port: int, path: str, connections: int, seconds: float, max_requests: int, processes: int = 2):
    """requests/s, p50 ms, p99 ms, errors for `connections` keep-alive connections on `path`."""
    _worker((port, path, 2, 0.3, 200))  # warm-up: caches, connection pools
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    with multiprocessing.Pool(processes) as pool:
        results = pool.map(_worker, [(port, path, share, seconds, max_requests // processes) for share in shares])
    latencies = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return len(latencies) / elapsed, p(0.50), p(0.99), errors, len(latencies)


# --- main -----------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per query and server")
    parser.add_argument("--max-requests", type=int, default=30000, help="per query and server")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pygeoapi-venv", type=Path, default=Path("/tmp/pygeoapi-venv"))
    parser.add_argument("--no-nginx", action="store_true", help="do not install nginx/wrk if missing")
    parser.add_argument("--no-pygeoapi", action="store_true", help="skip pygeoapi")
    parser.add_argument("--no-wrk", action="store_true", help="only the Python load generator")
    parser.add_argument("--queries", default="", help="comma-separated names (or parts of names) of the "
                        "queries to run, e.g. 'all 14 cities,HTZ'; default all")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each (query, server) this many times, alternating servers, and "
                             "report the median: the machine is shared, one round is noisy")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    work = Path(tempfile.mkdtemp(prefix="bench-ogc-"))
    work.chmod(0o755)  # nginx workers (www-data) read the static files below it
    static_root = work / "static"
    static_root.mkdir()
    ports = {"documented": free_port(), "atlas": free_port(), "pygeoapi": free_port(), "static": free_port()}
    nginx = ensure_nginx(not args.no_nginx)
    wrk = None if args.no_wrk else ensure_tool("wrk", "wrk", not args.no_nginx)
    processes = []
    try:
        if nginx:
            processes.append(start_documented(ports["documented"], work))
        processes.append(start_atlas(ports["atlas"], work))
        if not args.no_pygeoapi:
            processes.append(start_pygeoapi(ports["pygeoapi"], work, args.pygeoapi_venv))
            wait_until_up(f"http://127.0.0.1:{ports['pygeoapi']}/collections/cities?f=json")
        wait_until_up(f"http://127.0.0.1:{ports['atlas']}/health", timeout=240)
        if nginx:
            wait_until_up(f"http://127.0.0.1:{ports['documented']}/health", timeout=240)
        main_port = ports["documented"] if nginx else ports["atlas"]

        # The static server gets the documented setup's exact bytes for each query.
        static_paths = []
        for i, (name, atlas_path, pygeoapi_path) in enumerate(QUERIES):
            atlas_bytes = fetch(f"http://127.0.0.1:{main_port}{atlas_path}")
            if pygeoapi_path and not args.no_pygeoapi:
                pygeoapi_bytes = fetch(f"http://127.0.0.1:{ports['pygeoapi']}{pygeoapi_path}")
                a, b = json.loads(atlas_bytes), json.loads(pygeoapi_bytes)
                count = lambda doc: len(doc.get("features", [doc]))  # noqa: E731
                if count(a) != count(b):
                    print(f"warning: '{name}': atlas {count(a)} features, pygeoapi {count(b)}")
            (static_root / f"q{i}.json").write_bytes(atlas_bytes)
            static_paths.append(f"/q{i}.json")
        static, static_name = start_static(ports["static"], work, static_root, nginx)
        processes.append(static)
        wait_until_up(f"http://127.0.0.1:{ports['static']}/q0.json")

        rows = []
        wanted = [w.strip() for w in args.queries.split(",") if w.strip()]
        for i, (name, atlas_path, pygeoapi_path) in enumerate(QUERIES):
            if wanted and not any(w in name for w in wanted):
                continue
            servers = []
            if nginx:
                servers.append(("atlas, make run (nginx + gunicorn)", ports["documented"], atlas_path))
            servers.append(("atlas, gunicorn alone", ports["atlas"], atlas_path))
            if pygeoapi_path and not args.no_pygeoapi:
                servers.append(("pygeoapi " + PYGEOAPI_VERSION, ports["pygeoapi"], pygeoapi_path))
            servers.append((static_name + " static (same bytes)", ports["static"], static_paths[i]))
            measured = {server: [] for server, _, _ in servers}
            for _ in range(max(1, args.rounds)):   # servers alternate within a round
                for server, port, path in servers:
                    url = f"http://127.0.0.1:{port}{path}"
                    size = len(fetch(url))
                    rps, p50, p99, errors, n = load(port, path, args.connections, args.seconds, args.max_requests)
                    wrk_figures = wrk_rps(wrk, url, args.connections, args.seconds) if wrk else (None, None, "")
                    measured[server].append((rps, p50, p99, errors, n, size, *wrk_figures))
                    print(f"  {name:<16} {server:<36} {rps:>9.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
                          + (f"   wrk {wrk_figures[0]:>9.0f} req/s" if wrk else ""), flush=True)
            for server, _, _ in servers:
                runs = sorted(measured[server], key=lambda r: r[0])
                median = runs[len(runs) // 2]
                if wrk:   # the median of wrk's figures on its own
                    by_wrk = sorted(measured[server], key=lambda r: r[6] or 0)[len(runs) // 2]
                    median = (*median[:6], *by_wrk[6:])
                rows.append((name, server, *median))
    finally:
        for process in processes:
            stop(process)

    print(f"\n{args.connections} keep-alive connections, up to {args.seconds:g} s or {args.max_requests} "
          f"requests per row (Python generator), wrk -t2 -c{args.connections} -d{max(1, round(args.seconds))}s; "
          f"{os.cpu_count()} CPUs shared by servers and load generators; no Accept-Encoding (identity)\n")
    print("| query | server | req/s (Python) | p50 ms | p99 ms | errors | requests | body bytes | req/s (wrk) | wrk errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, server, rps, p50, p99, errors, n, size, wrk_rps_, wrk_errors, _ in rows:
        wrk_text = f"{wrk_rps_:,.0f} | {wrk_errors}" if wrk_rps_ is not None else "– | –"
        print(f"| {name} | {server} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {n} | {size:,} | {wrk_text} |")

    print("\n| query | server | / static (Python) | / static (wrk) | / pygeoapi (Python) |")
    print("|---|---|---:|---:|---:|")
    for name in dict.fromkeys(r[0] for r in rows):
        group = [r for r in rows if r[0] == name]
        stat = next(r for r in group if "static" in r[1])
        pygeo = next((r for r in group if r[1].startswith("pygeoapi")), None)
        for row in group:
            if "static" in row[1] or row[1].startswith("pygeoapi"):
                continue
            wrk_ratio = f"{row[8] / stat[8]:.2f}" if row[8] and stat[8] else "–"
            print(f"| {name} | {row[1]} | {row[2] / stat[2]:.2f} | {wrk_ratio} | "
                  + (f"{row[2] / pygeo[2]:.1f}x" if pygeo else "–") + " |")
    print("\ntarget (issue 14): make run at >= 0.50 of nginx static req/s on the same bytes")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}"
          + (f"; median of {args.rounds} rounds" if args.rounds > 1 else ""))
    print(f"logs and configs: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
