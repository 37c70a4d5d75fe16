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


@contextlib.contextmanager
def postgis_cluster():
    """Yields a postgresql:// URL of a fresh cluster; stops and deletes it afterwards."""
    if not (PG_BIN / "initdb").exists() or not POSTGIS_CONTROL.exists():
        raise MissingPostGIS("PostGIS is required: apt-get install postgresql postgresql-15-postgis-3 "
                             "(make system-deps)")
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
    base.chmod(0o755)
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    if as_root:
        user = pwd.getpwnam("postgres")
        for path in (base, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)

    def run(*args):
        command = ["runuser", "-u", "postgres", "--", *args] if as_root else list(args)
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8")
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-o",
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)
