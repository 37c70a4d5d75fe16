"""The documented way to run the atlas (`make run`): nginx in front, gunicorn behind it.

    python -m geoapp.serve [--host 127.0.0.1] [--port 5000] [--run-dir .run] [--workers 2]
    python -m geoapp.serve --reload [--run-dir .run]      # make reload: new data, no pause

nginx (Debian's) listens on host:port, holds slow and idle connections, serves /static itself,
compresses and caches; gunicorn (gthread workers) answers on a unix socket in the run directory.
Both run in the foreground of this process: Ctrl-C or SIGTERM stops both; if either dies, the
other is stopped too and this exits non-zero. With --die-with-parent (make run passes it) this
process also stops when its parent dies, even by SIGKILL, and nginx and gunicorn always stop when
this process dies (PR_SET_PDEATHSIG): a killed `make` or test run leaves no servers behind.

The run directory gets nginx.conf (from geoapp/nginx.conf.in) and upstream.conf (the socket nginx
sends requests to), each gunicorn's socket and pid file (gunicorn-<N>.sock, gunicorn-<N>.pid;
gunicorn.pid is the current one's), serve.json (this process's pid and its reloads), a copy of
the static files with .gz beside them, the cache, logs.

Data updates without a pause (`make reload`, or `kill -HUP` this process): a second gunicorn is
started on a new socket and loads and validates the data while the current one keeps serving;
when every one of its workers has loaded the app and it answers /health, upstream.conf names its
socket and nginx reloads its configuration (new nginx workers send to the new gunicorn, the old
ones finish their requests and exit); then the old gunicorn is stopped. If the new data does not
validate, the new gunicorn exits, nothing is switched and the old data stays served. The app is not
preloaded: each gunicorn loads the data in its workers.
"""
from __future__ import annotations

import argparse
import ctypes
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import re
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
HOOKS = Path(__file__).resolve().parent / "gunicorn_hooks.py"
STATE = "serve.json"
READY_TIMEOUT = 300       # s for a gunicorn's workers to load the data (a loaded 2-core machine)


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
    for stale in [*run_dir.glob("gunicorn*.sock"), *run_dir.glob("gunicorn*.pid"), run_dir / "nginx.pid"]:
        stale.unlink(missing_ok=True)
    for stale in run_dir.glob("ready-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return run_dir


# An allow-listed origin written into nginx.conf as a map key: scheme://host[:port] and nothing
# that nginx or flask-cors would read otherwise (quotes, spaces, `;`, regex characters)
_LITERAL_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.-]+(:[0-9]+)?")


def origin_map(setting: str | None) -> str:
    """The nginx map from the Origin header to the cache key's Origin part, for the app's
    ATLAS_CORS_ORIGINS: with `*` every origin gets the same answer, so the key only tells an
    Origin from none; with an allow-list, an allowed origin (as sent: the app echoes it) keys
    itself and every other origin shares one key ("other": no CORS header for any of them). An
    entry that is not a plain origin (flask-cors would take it as a regex) keeps the raw header."""
    from geoapp.web.cors import allowed_origins
    origins = allowed_origins(setting)
    lines = ['map $http_origin $atlas_origin {', '        ""      "";']
    if origins == "*":
        lines.append('        default "some";')
    elif all(_LITERAL_ORIGIN.fullmatch(o) for o in origins):
        lines += [f'        "{o}" $http_origin;' for o in dict.fromkeys(origins)]
        lines.append('        default "other";')
    else:
        lines.append("        default $http_origin;")
    return "\n".join(lines + ["    }"])


def nginx_config(run_dir: Path, host: str, port: int, tiles: str, as_root: bool,
                 cors_origins: str | None = None) -> str:
    from geoapp.web.headers import content_security_policy
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    values = {"RUN": str(run_dir), "LISTEN": listen, "CSP": content_security_policy(tiles),
              "USER": f"user {NGINX_USER} {NGINX_USER};" if as_root else "",
              "ORIGIN_MAP": origin_map(cors_origins)}
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def die_with_parent() -> None:
    """Get SIGTERM when the parent process dies, even by SIGKILL (Linux PR_SET_PDEATHSIG). Used as
    Popen's preexec_fn (the child of *this* thread: start children from the main thread), and by
    --die-with-parent for this process itself."""
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


def gunicorn_command(run_dir: Path, workers: int, threads: int, generation: int = 1) -> list[str]:
    return [str(Path(sys.executable).with_name("gunicorn")),
            "--config", str(HOOKS),            # workers say when they have loaded the app
            "--bind", f"unix:{run_dir / f'gunicorn-{generation}.sock'}",
            "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
            "--keep-alive", "5",               # > nginx's upstream keepalive_timeout (2 s)
            "--graceful-timeout", "30",
            "--no-control-socket",             # no shared socket in $HOME (issue 14 item 6)
            "--pid", str(run_dir / f"gunicorn-{generation}.pid"),
            "--chdir", str(ROOT),
            "wsgi:app"]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _children(pid: int) -> dict[int, str]:
    """Live child processes of pid -> their command line (from /proc; zombies left out)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat_line = Path(f"/proc/{entry.name}/stat").read_text()
            fields = stat_line.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found[int(entry.name)] = (Path(f"/proc/{entry.name}/cmdline").read_bytes()
                                          .replace(b"\0", b" ").decode(errors="replace").strip())
        except (OSError, ValueError, IndexError):
            continue
    return found


def _nginx_workers(master: int) -> set[int]:
    return {pid for pid, cmd in _children(master).items() if "worker process" in cmd}


class AppServer:
    """One gunicorn (a generation): its own socket, pid file and readiness directory."""

    def __init__(self, run_dir: Path, generation: int, workers: int, threads: int):
        self.generation, self.workers = generation, workers
        self.socket = run_dir / f"gunicorn-{generation}.sock"
        self.pidfile = run_dir / f"gunicorn-{generation}.pid"
        self.ready_dir = run_dir / f"ready-{generation}"
        self.ready_dir.mkdir()
        self.process = subprocess.Popen(gunicorn_command(run_dir, workers, threads, generation), cwd=ROOT,
                                        env={**os.environ, "ATLAS_READY_DIR": str(self.ready_dir)},
                                        preexec_fn=die_with_parent)

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        return _UnixHTTPConnection(str(self.socket), timeout)

    def ready(self) -> bool:
        """Every worker has loaded the app, and the socket answers /health with 200."""
        if sum(1 for p in self.ready_dir.iterdir() if p.name.isdigit()) < self.workers:
            return False
        try:
            return _get(self.connect, "/health") == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float, cancelled=lambda: False) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServeError(f"gunicorn {self.generation} exited while loading the data "
                                 f"(code {self.process.returncode}; its messages are above)")
            if cancelled():
                raise ServeError(f"gunicorn {self.generation}: stopped while loading")
            if any(self.ready_dir.glob("failed-*")):
                raise ServeError(f"gunicorn {self.generation}: a worker exited before it had loaded the "
                                 "app (the data's problems are in the messages above)")
            if self.ready():
                return
            time.sleep(0.2)
        raise ServeError(f"gunicorn {self.generation}: its workers did not all load the app and answer "
                         f"/health within {timeout:g} s")

    def stop(self, wait: bool = True) -> None:
        """SIGTERM: gunicorn stops accepting and lets its workers finish their requests."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        if wait:
            self.wait()

    def wait(self) -> None:
        try:
            self.process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for path in (self.socket, self.pidfile):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.ready_dir, ignore_errors=True)


def upstream_config(socket_path: Path) -> str:
    return (f"# written by geoapp.serve at every start and reload: the gunicorn nginx sends to\n"
            f"server unix:{socket_path} max_fails=0;\n")


class Service:
    def __init__(self, nginx: str, run_dir: Path, conf: Path, workers: int, threads: int,
                 state_dirs: list[Path]):
        self.nginx, self.run_dir, self.conf = nginx, run_dir, conf
        self.workers, self.threads, self.state_dirs = workers, threads, state_dirs
        self.app: AppServer | None = None
        self.front: subprocess.Popen | None = None
        self.stopping = False
        self.reload_requested = False
        self.reloads: list[dict] = []

    # --- state seen by `--reload` and the tests ---
    def write_state(self) -> None:
        state = {"pid": os.getpid(), "run_dir": str(self.run_dir),
                 "generation": self.app.generation if self.app else None,
                 "gunicorn_pid": self.app.process.pid if self.app else None,
                 "socket": str(self.app.socket) if self.app else None,
                 "reloads": self.reloads[-20:]}
        for folder in self.state_dirs:
            _write_atomic(folder / STATE, json.dumps(state, indent=1) + "\n")
        if self.app:
            _write_atomic(self.run_dir / "gunicorn.pid", f"{self.app.process.pid}\n")

    def check_front(self) -> None:
        check = subprocess.run([self.nginx, "-t", "-q", "-c", str(self.conf), "-p", str(self.run_dir), "-e",
                                str(self.run_dir / "nginx-error.log")], capture_output=True, text=True)
        if check.returncode != 0:
            raise ServeError(f"nginx rejects {self.conf}:\n{check.stderr}")

    def start(self, host: str, port: int) -> None:
        upstream = self.run_dir / "upstream.conf"
        self.app = AppServer(self.run_dir, 1, self.workers, self.threads)
        _write_atomic(upstream, upstream_config(self.app.socket))
        self.check_front()
        self.app.wait_ready(READY_TIMEOUT, lambda: self.stopping)
        self.write_state()  # before nginx answers: whoever sees the service up finds it
        self.front = subprocess.Popen([self.nginx, "-c", str(self.conf), "-p", str(self.run_dir), "-e",
                                       str(self.run_dir / "nginx-error.log"), "-g", "daemon off;"],
                                      preexec_fn=die_with_parent)
        connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
        _wait_for(lambda t: http.client.HTTPConnection(connect_host, port, timeout=t), "nginx",
                  [self.app.process, self.front], 30)

    def switch_front(self, new: AppServer) -> None:
        """Point nginx at new's socket: rewrite upstream.conf, check, reload nginx (graceful) and
        wait until every old nginx worker has exited, so no request goes to the old socket later."""
        upstream = self.run_dir / "upstream.conf"
        previous = upstream.read_text(encoding="utf-8")
        _write_atomic(upstream, upstream_config(new.socket))
        try:
            self.check_front()
        except ServeError:
            _write_atomic(upstream, previous)
            raise
        old_workers = _nginx_workers(self.front.pid)
        self.front.send_signal(signal.SIGHUP)  # = nginx -s reload
        started, applied = time.monotonic(), False
        while True:
            if self.front.poll() is not None:
                raise ServeError(f"nginx exited during its reload (code {self.front.returncode})")
            current = _nginx_workers(self.front.pid)
            applied = applied or bool(current - old_workers)
            if applied and not current & old_workers:
                return
            waited = time.monotonic() - started
            if not applied and waited > 20:
                _write_atomic(upstream, previous)
                raise ServeError("nginx did not take the new configuration within 20 s "
                                 f"(see {self.run_dir / 'nginx-error.log'})")
            if waited > 140 or self.stopping:  # nginx.conf.in: worker_shutdown_timeout 130s
                return
            time.sleep(0.05)

    def reload(self) -> None:
        """A new gunicorn with the data as it is now; nginx switched to it once it is ready."""
        began, wall = time.monotonic(), time.time()
        old = self.app
        record = {"started_at": wall, "from_generation": old.generation}
        print(f"reload: starting gunicorn {old.generation + 1} (gunicorn {old.generation} keeps serving)",
              flush=True)
        new = AppServer(self.run_dir, old.generation + 1, self.workers, self.threads)
        try:
            new.wait_ready(READY_TIMEOUT, lambda: self.stopping)
            self.switch_front(new)
        except ServeError as error:
            new.stop()
            record.update(ok=False, generation=old.generation, seconds=round(time.monotonic() - began, 2),
                          message=f"reload failed, still serving gunicorn {old.generation}: {error}")
            print(record["message"], file=sys.stderr, flush=True)
        else:
            self.app = new
            old.stop()  # nginx no longer sends to it: its workers finish and exit
            record.update(ok=True, generation=new.generation, seconds=round(time.monotonic() - began, 2),
                          message=f"reloaded: serving gunicorn {new.generation} "
                                  f"(pid {new.process.pid}) after {time.monotonic() - began:.1f} s")
            print(record["message"], flush=True)
        record["finished_at"] = time.time()
        self.reloads.append(record)
        self.write_state()

    def run(self) -> int:
        while not self.stopping:
            for process in (self.app.process, self.front):
                if process.poll() is not None:
                    print(f"{Path(process.args[0]).name} exited with code {process.returncode}; stopping",
                          file=sys.stderr, flush=True)
                    return 1
            if self.reload_requested:
                self.reload_requested = False
                self.reload()
                continue
            time.sleep(0.2)
        return 0

    def shutdown(self) -> None:
        # front first (it finishes its requests), then the app
        if self.front and self.front.poll() is None:
            self.front.send_signal(signal.SIGQUIT)
        if self.app:
            self.app.stop(wait=False)
        if self.front:
            for escalate in (signal.SIGTERM, signal.SIGKILL):  # graceful, then fast, then gone
                try:
                    self.front.wait(timeout=35 if escalate == signal.SIGTERM else 10)
                    break
                except subprocess.TimeoutExpired:
                    self.front.send_signal(escalate)
            self.front.wait()
        if self.app:
            self.app.wait()
        for folder in self.state_dirs:
            (folder / STATE).unlink(missing_ok=True)
        (self.run_dir / "gunicorn.pid").unlink(missing_ok=True)


def serve(host: str, port: int, run_dir: Path, workers: int, threads: int) -> int:
    nginx = find_nginx()
    as_root = os.geteuid() == 0
    requested = run_dir.resolve()
    run_dir = prepare_run_dir(run_dir, as_root)
    state_dirs = [run_dir]
    if requested != run_dir:  # `--reload --run-dir` finds this process where it was asked to run
        requested.mkdir(parents=True, exist_ok=True)
        state_dirs.append(requested)
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_config(run_dir, host, port, os.environ.get("ATLAS_TILES", "osm"), as_root,
                                 os.environ.get("ATLAS_CORS_ORIGINS")), encoding="utf-8")
    service = Service(nginx, run_dir, conf, workers, threads, state_dirs)

    def stop(*_):
        service.stopping = True

    def reload(*_):
        service.reload_requested = True  # done by the main loop (children are started from this thread)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, reload)
    try:
        service.start(host, port)
        print(f"Serving the atlas on http://{host}:{port}/ (nginx -> gunicorn {workers}x{threads} on "
              f"{service.app.socket}); run dir {run_dir}; Ctrl-C stops, `make reload` reloads the data",
              flush=True)
        return service.run()
    finally:
        service.shutdown()


def request_reload(run_dir: Path, timeout: float = READY_TIMEOUT + 90) -> int:
    """Ask the atlas served from run_dir to reload its data; wait for the outcome and print it."""
    path = run_dir.resolve() / STATE
    try:
        pid = json.loads(path.read_text(encoding="utf-8"))["pid"]
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError):
        print(f"error: no atlas is served from {run_dir} (no running server in {path})", file=sys.stderr)
        return 2
    asked = time.time()
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            print(f"error: the server stopped ({path} is gone)", file=sys.stderr)
            return 2
        done = [r for r in state["reloads"] if r["started_at"] >= asked and "finished_at" in r]
        if done:
            print(done[0]["message"], file=sys.stdout if done[0]["ok"] else sys.stderr)
            return 0 if done[0]["ok"] else 1
        time.sleep(0.2)
    print(f"error: no reload finished within {timeout:g} s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--reload", action="store_true",
                        help="ask the atlas served from --run-dir to reload its data (no pause), wait for it")
    parser.add_argument("--die-with-parent", action="store_true",
                        help="stop (and stop nginx and gunicorn) when the parent process dies")
    args = parser.parse_args(argv)
    if args.reload:
        return request_reload(args.run_dir)
    if args.die_with_parent:
        parent = os.getppid()
        die_with_parent()
        if os.getppid() != parent:  # it died before the line above
            return 1
    try:
        return serve(args.host, args.port, args.run_dir, args.workers, args.threads)
    except ServeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
