"""One psycopg connection pool per (process, database URL), opened on first use.

Pools are made lazily and keyed by the process id: gunicorn forks workers, and a connection must
never be shared by two processes. A pool holds at most MAX_SIZE connections (a worker's threads)
and opens them as needed; a request waits at most WAIT_S for one, then fails (the caller turns
that into a 503 or a fall-back to the primary)."""
from __future__ import annotations

import atexit
import os
import threading

MIN_SIZE = 1
MAX_SIZE = 8
WAIT_S = 10.0
REPLICA_WAIT_S = 1.0   # a replica that gives no connection this fast is skipped (the primary serves)
CONNECT_TIMEOUT_S = 3

_pools: dict[tuple[int, str], object] = {}
_lock = threading.Lock()


def pool(url: str, replica: bool = False):
    """The process's pool of connections to `url` (psycopg_pool.ConnectionPool). A connection is
    checked when taken from the pool (one round trip), so a database that went away is noticed
    before a query is sent on a dead connection."""
    key = (os.getpid(), url)
    found = _pools.get(key)
    if found is not None:
        return found
    with _lock:
        found = _pools.get(key)
        if found is None:
            from psycopg_pool import ConnectionPool
            found = ConnectionPool(url, min_size=MIN_SIZE, max_size=MAX_SIZE,
                                   timeout=REPLICA_WAIT_S if replica else WAIT_S,
                                   check=ConnectionPool.check_connection,
                                   kwargs={"connect_timeout": CONNECT_TIMEOUT_S, "autocommit": True},
                                   name=f"atlas-{len(_pools)}", open=True)
            _pools[key] = found
    return found


def close_all() -> None:
    """Close this process's pools (tests, exit)."""
    with _lock:
        for (pid, url), found in list(_pools.items()):
            if pid == os.getpid():
                found.close()
                del _pools[(pid, url)]


atexit.register(close_all)
