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
WAIT_S = 2.0           # a request waits at most this long for a connection, then gets a 503
REPLICA_WAIT_S = 1.0   # a replica that gives no connection this fast is skipped (the primary serves)
CONNECT_TIMEOUT_S = 3
# Every statement of a pooled connection ends within STATEMENT_TIMEOUT_MS (a costly CQL2 filter
# cannot hold a connection, and a thread, for ever; tiles set a shorter one of their own); a
# stream left idle inside its transaction is ended by the server; JIT is off (it made short
# queries slower: a bbox count took 316 ms with it and 150 ms without at 100k rows).
STATEMENT_TIMEOUT_MS = 15000
IDLE_IN_TRANSACTION_MS = 60000
OPTIONS = (f"-c statement_timeout={STATEMENT_TIMEOUT_MS} "
           f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS} -c jit=off")

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
                                   kwargs={"connect_timeout": CONNECT_TIMEOUT_S, "autocommit": True,
                                           "options": OPTIONS},
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
