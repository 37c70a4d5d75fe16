"""Throwaway PostgreSQL 15 + PostGIS clusters on free loopback ports (Debian packages postgresql +
postgresql-15-postgis-3), run as the postgres user when we are root (initdb refuses root). Used by
the test suite (tests/conftest.py, tests/test_replica.py) and benchmarks/bench_postgis.py.

`postgis_cluster()` yields one cluster's URL; `postgis_cluster_control()` the running Cluster
(url, stop(), start(): tests of what the app does while its store is unreachable);
`primary_and_replica()` a primary and a streaming replica of it (`pg_basebackup -R`: a standby
that follows the primary's WAL stream)."""
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One data directory under `base`, served on its own free port; stop()/start() take it away
    and bring it back."""

    def __init__(self, base: Path, name: str):
        self.base = base
        self.data = base / name
        self.log = base / f"{name}.log"
        self.sockets = base / "run"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args, timeout: int = 120):
        command = ["runuser", "-u", "postgres", "--", *args] if self.as_root else list(args)
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                 f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextlib.contextmanager
def _workspace():
    if not (PG_BIN / "initdb").exists() or not POSTGIS_CONTROL.exists():
        raise MissingPostGIS("PostGIS is required: apt-get install postgresql postgresql-15-postgis-3 "
                             "(make system-deps)")
    base = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
    base.chmod(0o755)
    (base / "run").mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (base, base / "run"):
            os.chown(path, user.pw_uid, user.pw_gid)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _primary(base: Path) -> Cluster:
    primary = Cluster(base, "data")
    # initdb's pg_hba.conf trusts replication connections from 127.0.0.1, and wal_level=replica
    # with max_wal_senders=10 are PostgreSQL 15's defaults: a standby can stream from it as is.
    primary.run(str(PG_BIN / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--locale=C.UTF-8")
    primary.start()
    return primary


@contextlib.contextmanager
def postgis_cluster():
    """Yields a postgresql:// URL of a fresh cluster; stops and deletes it afterwards."""
    with postgis_cluster_control() as cluster:
        yield cluster.url


@contextlib.contextmanager
def postgis_cluster_control():
    """Yields a running Cluster (url, stop(), start()); stops (unless the caller did) and deletes
    it afterwards."""
    with _workspace() as base:
        primary = _primary(base)
        try:
            yield primary
        finally:
            if primary.running():
                primary.stop()


@contextlib.contextmanager
def primary_and_replica():
    """Yields (primary, replica) Cluster objects: the replica is a `pg_basebackup -R` copy of the
    primary (a hot standby streaming its WAL) started on another free port. Both are stopped
    (if running) and deleted afterwards; a test may stop() and start() the replica."""
    with _workspace() as base:
        primary = _primary(base)
        replica = Cluster(base, "replica")
        try:
            replica.run(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U",
                        "postgres", "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast")
            replica.start()
            yield primary, replica
        finally:
            for cluster in (replica, primary):
                if cluster.running():
                    cluster.stop()
