"""A throwaway PostgreSQL 15 + PostGIS cluster on a free loopback port (Debian packages
postgresql + postgresql-15-postgis-3), run as the postgres user when we are root (initdb refuses
root). Used by the test suite (tests/conftest.py) and benchmarks/bench_postgis.py."""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")


class MissingPostGIS(RuntimeError):
    pass


class Cluster:
    """A running throwaway cluster: its URL, and stop()/start() to take it away and bring it back
    (tests of what the app does while its store is unreachable)."""

    def __init__(self, base: Path, port: int, as_root: bool):
        self.base, self.port, self.as_root = base, port, as_root
        self.data, self.sockets = base / "data", base / "run"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def run(self, *args):
        command = ["runuser", "-u", "postgres", "--", *args] if self.as_root else list(args)
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"), "-w", "-o",
                 f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")


@contextlib.contextmanager
def postgis_cluster():
    """Yields a postgresql:// URL of a fresh cluster; stops and deletes it afterwards."""
    with postgis_cluster_control() as cluster:
        yield cluster.url


@contextlib.contextmanager
def postgis_cluster_control():
    """Yields a running Cluster (url, stop(), start()); stops and deletes it afterwards."""
    if not (PG_BIN / "initdb").exists() or not POSTGIS_CONTROL.exists():
        raise MissingPostGIS("PostGIS is required: apt-get install postgresql postgresql-15-postgis-3 "
                             "(make system-deps)")
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
    base.chmod(0o755)
    (base / "run").mkdir()
    if as_root:
        user = pwd.getpwnam("postgres")
        for path in (base, base / "run"):
            os.chown(path, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cluster = Cluster(base, port, as_root)
    try:
        cluster.run(str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8")
        cluster.start()
        try:
            yield cluster
        finally:
            try:
                cluster.stop()
            except subprocess.CalledProcessError:
                pass   # already stopped by the caller
    finally:
        shutil.rmtree(base, ignore_errors=True)
