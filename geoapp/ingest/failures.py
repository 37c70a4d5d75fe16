"""What a failed store read or write means for the person who asked: a full disk, an unreachable
or read-only database — said in Chinese and English, with what was (not) changed, instead of a
bare 500 or a traceback. Every write of the store is one transaction, so a failure changes nothing."""
from __future__ import annotations

import errno
import sqlite3


def store_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a store operation raises when the database itself fails."""
    errors: list[type[BaseException]] = [sqlite3.Error, OSError]
    try:
        import psycopg
        errors.append(psycopg.Error)
    except ImportError:  # pragma: no cover - psycopg is a runtime dependency
        pass
    return tuple(errors)


def disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    if getattr(error, "sqlstate", None) == "53100":   # PostgreSQL disk_full
        return True
    return "disk is full" in str(error) or "No space left" in str(error)


def read_only(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return (isinstance(error, sqlite3.Error) and code is not None and code & 0xFF == sqlite3.SQLITE_READONLY) \
        or "readonly database" in str(error) or getattr(error, "sqlstate", None) == "25006" \
        or (isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES))


def describe(error: BaseException) -> tuple[int, str]:
    """(HTTP status, message): 507 for a full disk, 503 for anything else the store refused."""
    detail = f"{type(error).__name__}: {str(error)[:200]}"
    if disk_full(error):
        return 507, ("存储空间已满，未写入任何内容 / The store's disk is full: nothing was written "
                     f"(the previous version is still served). Free space, then try again. ({detail})")
    if read_only(error):
        return 503, ("数据存储为只读，未写入任何内容 / The store is read-only: nothing was written "
                     f"(the current data is still served). ({detail})")
    return 503, ("数据存储暂时不可用，未写入任何内容 / The store cannot be reached or failed: nothing was "
                 f"written (the current data is still served); try again shortly. ({detail})")


class StoreHealth:
    """This process's view of its store: reachable, or failing since when, with the last error and
    when to try again. Attempts back off exponentially (BACKOFF_FIRST doubling up to BACKOFF_MAX
    seconds) while the store keeps failing, so an unreachable store costs one attempt per
    interval, not one per request; the first success resets it."""

    BACKOFF_FIRST = 1.0
    BACKOFF_MAX = 30.0

    def __init__(self, clock=None):
        import threading
        import time
        self._clock = clock or time.monotonic
        self._wall = time.time
        self._lock = threading.Lock()
        self.failures = 0
        self.error: str | None = None               # the full error, for this process's log
        self.kind: str | None = None                # what /health shows: the class and the gist
        self.failing_since: float | None = None    # wall-clock time of the first failure in a row
        self.retry_at = 0.0

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def due(self) -> bool:
        """May the store be asked now (not within a back-off interval)?"""
        return self._clock() >= self.retry_at

    def succeeded(self) -> None:
        with self._lock:
            self.failures, self.error, self.kind, self.failing_since, self.retry_at = 0, None, None, None, 0.0

    def failed(self, error: BaseException) -> float:
        """Record a failure; returns the seconds until the next attempt."""
        with self._lock:
            self.failures += 1
            self.error = f"{type(error).__name__}: {str(error)[:300]}"
            # /health is public: the class and the gist, not the message (host names, ports, paths)
            gist = "disk full" if disk_full(error) else "read-only" if read_only(error) else "cannot be read"
            self.kind = f"{type(error).__name__} ({gist})"
            if self.failing_since is None:
                self.failing_since = self._wall()
            wait = min(self.BACKOFF_MAX, self.BACKOFF_FIRST * 2 ** (self.failures - 1))
            self.retry_at = self._clock() + wait
            return wait

    def report(self) -> dict:
        """For /health: {"store": "ok"} or what is wrong and when it is tried again."""
        with self._lock:
            if self.failures == 0:
                return {"store": "ok"}
            return {"store": "unreachable", "store_error": self.kind, "failures": self.failures,
                    "failing_for_s": round(self._wall() - (self.failing_since or self._wall()), 1),
                    "next_try_in_s": round(max(0.0, self.retry_at - self._clock()), 1)}
