"""The documented way to run the atlas (`make run`): nginx in front, gunicorn behind it.

    python -m geoapp.serve [--host 127.0.0.1] [--port 5000] [--run-dir .run] [--workers 2]

nginx (Debian's) listens on host:port, holds slow and idle connections, serves /static itself,
compresses and caches; gunicorn (gthread workers) answers on a unix socket in the run directory.
Both run in the foreground of this process: Ctrl-C or SIGTERM stops both; if either dies, the
other is stopped too and this exits non-zero.

The run directory gets nginx.conf (from geoapp/nginx.conf.in), the gunicorn socket and pid file
(gunicorn.pid), a copy of the static files with .gz beside them, the cache, logs.

Data updates without dropping requests: `kill -HUP $(cat .run/gunicorn.pid)` (or HUP this
process, which passes it on). gunicorn starts new workers, which load and validate the data
again, and lets the old ones finish their requests. The app is *not* preloaded in the master for
that reason (a preloaded app would be forked again unchanged). Run `make check` first: workers
that fail to load the data stop the service.
"""
from __future__ import annotations

import argparse
import ctypes
import gzip
import http.client
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = Path(__file__).resolve().parent / "web" / "static"
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.in"
NGINX_USER = "www-data"  # Debian's; nginx's workers drop to it when started as root
# Request headers the nginx cache key includes (nginx.conf.in, proxy_cache_key): every header an
# answer of the app may vary on must be one of these, or the cache would mix answers.
CACHE_KEY_VARY = {"accept-encoding", "accept", "origin"}
GZIP_SUFFIXES = {".css", ".js", ".json", ".svg", ".txt", ".html", ".geojson", ".map"}


class ServeError(RuntimeError):
    pass


def find_nginx() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if not found:
        raise ServeError("nginx not found. Install it (Debian: `apt-get install nginx`, or as root "
                         "`make run-deps`), then run again.")
    return found


def _reachable_by_others(path: Path) -> bool:
    """Every directory from / to path can be traversed by another user (nginx's workers)."""
    for part in [path, *path.parents]:
        if part.exists() and not os.stat(part).st_mode & stat.S_IXOTH:
            return False
    return True


def prepare_run_dir(run_dir: Path, as_root: bool) -> Path:
    run_dir = run_dir.resolve()
    if as_root and not _reachable_by_others(run_dir):
        # nginx's workers run as www-data and must reach the socket and the static copy
        fallback = Path(tempfile.mkdtemp(prefix="atlas-run-"))
        print(f"note: {run_dir} is not reachable by {NGINX_USER}; using {fallback}", flush=True)
        run_dir = fallback
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o755)
    for sub in ("tmp", "cache"):
        (run_dir / sub).mkdir(exist_ok=True)
        if as_root:
            shutil.chown(run_dir / sub, NGINX_USER, NGINX_USER)
    # a fresh copy of the static files, with .gz beside the compressible ones (gzip_static)
    static = run_dir / "static"
    if static.exists():
        shutil.rmtree(static)
    shutil.copytree(STATIC, static)
    for path in static.rglob("*"):
        if path.is_file() and path.suffix in GZIP_SUFFIXES and path.stat().st_size >= 1024:
            packed = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
            target = path.with_name(path.name + ".gz")
            target.write_bytes(packed)
            shutil.copystat(path, target)
    for stale in ("gunicorn.sock", "nginx.pid", "gunicorn.pid"):
        (run_dir / stale).unlink(missing_ok=True)
    return run_dir


def nginx_config(run_dir: Path, host: str, port: int, tiles: str, as_root: bool) -> str:
    from geoapp.web.headers import content_security_policy
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    values = {"RUN": str(run_dir), "LISTEN": listen, "CSP": content_security_policy(tiles),
              "USER": f"user {NGINX_USER} {NGINX_USER};" if as_root else ""}
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def _die_with_parent() -> None:
    """Child side of Popen: get SIGTERM if this launcher dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _get(connect, path: str, timeout: float = 2.0) -> int:
    conn = connect(timeout)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        return conn.getresponse().status
    finally:
        conn.close()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def _wait_for(connect, what: str, processes: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise ServeError(f"{what}: a process exited during start-up (code {process.returncode})")
        try:
            if _get(connect, "/health") == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise ServeError(f"{what} did not answer /health within {timeout:g} s")


def gunicorn_command(run_dir: Path, workers: int, threads: int) -> list[str]:
    return [str(Path(sys.executable).with_name("gunicorn")),
            "--bind", f"unix:{run_dir / 'gunicorn.sock'}",
            "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
            "--keep-alive", "5",               # > nginx's upstream keepalive_timeout (2 s)
            "--graceful-timeout", "30",
            "--no-control-socket",             # no shared socket in $HOME (issue 14 item 6)
            "--pid", str(run_dir / "gunicorn.pid"),
            "--chdir", str(ROOT),
            "wsgi:app"]


def serve(host: str, port: int, run_dir: Path, workers: int, threads: int) -> int:
    nginx = find_nginx()
    as_root = os.geteuid() == 0
    run_dir = prepare_run_dir(run_dir, as_root)
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_config(run_dir, host, port, os.environ.get("ATLAS_TILES", "osm"), as_root),
                    encoding="utf-8")
    check = subprocess.run([nginx, "-t", "-q", "-c", str(conf), "-p", str(run_dir), "-e",
                            str(run_dir / "nginx-error.log")], capture_output=True, text=True)
    if check.returncode != 0:
        raise ServeError(f"nginx rejects {conf}:\n{check.stderr}")

    processes: list[subprocess.Popen] = []
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    def reload(*_):
        # HUP: gunicorn starts new workers, which load the data again; the old ones finish
        if processes and processes[0].poll() is None:
            processes[0].send_signal(signal.SIGHUP)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, reload)
    try:
        gunicorn = subprocess.Popen(gunicorn_command(run_dir, workers, threads), cwd=ROOT,
                                    preexec_fn=_die_with_parent)
        processes.append(gunicorn)
        socket_path = str(run_dir / "gunicorn.sock")
        _wait_for(lambda t: _UnixHTTPConnection(socket_path, t), "gunicorn", processes, 120)
        front = subprocess.Popen([nginx, "-c", str(conf), "-p", str(run_dir), "-e",
                                  str(run_dir / "nginx-error.log"), "-g", "daemon off;"],
                                 preexec_fn=_die_with_parent)
        processes.append(front)
        connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
        _wait_for(lambda t: http.client.HTTPConnection(connect_host, port, timeout=t), "nginx",
                  processes, 30)
        print(f"Serving the atlas on http://{host}:{port}/ (nginx -> gunicorn {workers}x{threads} on "
              f"{socket_path}); run dir {run_dir}; Ctrl-C stops", flush=True)
        while not stopping:
            for process in processes:
                if process.poll() is not None:
                    print(f"{Path(process.args[0]).name} exited with code {process.returncode}; stopping",
                          file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.5)
        return 0
    except ServeError:
        stopping = True
        raise
    finally:
        for process in reversed(processes):  # front first, then the app (finishes its requests)
            if process.poll() is None:
                process.send_signal(signal.SIGQUIT if process is not processes[0] else signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        return serve(args.host, args.port, args.run_dir, args.workers, args.threads)
    except ServeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
