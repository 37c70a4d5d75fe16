"""Admin sign-ins that can be revoked, and a limit on wrong tokens, kept in the store.

The store (SQLite file or PostGIS) is what every worker and every app host already share, so a
logout revokes the session everywhere at once and wrong tokens are counted across workers: a
per-process limiter (Flask-Limiter's memory storage) would let each of N workers take its own
10 tries, and its shared storages (Redis, Memcached, MongoDB) would be a new service to run.

Tables (same SQL on SQLite and PostgreSQL):
    atlas_admin_sessions  sid (random, in the signed cookie), created_at, revoked_at
    atlas_admin_failures  client (address), at: one row per wrong token, kept WINDOW_S seconds
"""
from __future__ import annotations

import secrets
import threading
import time

SESSION_SECONDS = 12 * 3600     # a sign-in lasts a working day at most
WINDOW_S = 60                   # wrong tokens are counted over the last minute ...
MAX_FAILURES = 10               # ... and from the 11th attempt on, login answers 429

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS atlas_admin_sessions (sid text PRIMARY KEY, "
    "created_at double precision NOT NULL, revoked_at double precision)",
    "CREATE TABLE IF NOT EXISTS atlas_admin_failures (client text NOT NULL, at double precision NOT NULL)",
    "CREATE INDEX IF NOT EXISTS atlas_admin_failures_client ON atlas_admin_failures (client, at)",
]


class SessionStoreError(RuntimeError):
    """The store could not be reached or written: signing in or checking a session is not
    possible now (the admin pages answer 503 saying so)."""


def _database_errors() -> tuple[type[BaseException], ...]:
    import sqlite3
    errors: list[type[BaseException]] = [sqlite3.Error, OSError]
    try:
        import psycopg
        errors.append(psycopg.Error)
    except ImportError:  # pragma: no cover - psycopg is a runtime dependency
        pass
    return tuple(errors)


class AdminSessions:
    def __init__(self, store):
        self.store = store
        self._ready = False
        self._lock = threading.Lock()

    def _run(self, statements: list[tuple[str, tuple]], fetch: bool = False):
        """Execute statements in one transaction; the first row of the last one if `fetch`."""
        try:
            self._ensure()
            conn = self.store.connect()
        except _database_errors() as error:
            raise SessionStoreError(f"the store is unreachable ({type(error).__name__})") from error
        try:
            cur = conn.cursor()
            row = None
            for sql, params in statements:
                cur.execute(self.store.sql(sql), params)
            if fetch:
                row = cur.fetchone()
            conn.commit()
            return row
        except _database_errors() as error:
            _quietly(conn.rollback)
            raise SessionStoreError(f"the store could not be read or written ({type(error).__name__}: "
                                    f"{str(error)[:200]})") from error
        except BaseException:
            _quietly(conn.rollback)
            raise
        finally:
            _quietly(conn.close)

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self.store.ensure_schema()
            conn = self.store.connect()
            try:
                cur = conn.cursor()
                for statement in _SCHEMA:
                    cur.execute(statement)
                conn.commit()
            finally:
                conn.close()
            self._ready = True

    def start(self) -> str:
        """A new session id, recorded; sessions older than SESSION_SECONDS are forgotten."""
        sid = secrets.token_urlsafe(24)
        now = time.time()
        self._run([("DELETE FROM atlas_admin_sessions WHERE created_at < ?", (now - SESSION_SECONDS,)),
                   ("INSERT INTO atlas_admin_sessions (sid, created_at) VALUES (?, ?)", (sid, now))])
        return sid

    def active(self, sid: str | None) -> bool:
        if not sid:
            return False
        row = self._run([("SELECT created_at, revoked_at FROM atlas_admin_sessions WHERE sid = ?", (sid,))],
                        fetch=True)
        return row is not None and row[1] is None and time.time() - float(row[0]) < SESSION_SECONDS

    def revoke(self, sid: str | None) -> None:
        if sid:
            self._run([("UPDATE atlas_admin_sessions SET revoked_at = ? WHERE sid = ?", (time.time(), sid))])

    def failures(self, client: str) -> int:
        """Wrong tokens from `client` in the last WINDOW_S seconds."""
        row = self._run([("SELECT count(*) FROM atlas_admin_failures WHERE client = ? AND at >= ?",
                          (client, time.time() - WINDOW_S))], fetch=True)
        return int(row[0])

    def fail(self, client: str) -> None:
        now = time.time()
        self._run([("DELETE FROM atlas_admin_failures WHERE at < ?", (now - WINDOW_S,)),
                   ("INSERT INTO atlas_admin_failures (client, at) VALUES (?, ?)", (client, now))])

    def retry_after(self, client: str) -> int:
        """Seconds until the oldest counted failure of `client` leaves the window."""
        row = self._run([("SELECT min(at) FROM atlas_admin_failures WHERE client = ? AND at >= ?",
                          (client, time.time() - WINDOW_S))], fetch=True)
        oldest = float(row[0]) if row and row[0] is not None else time.time()
        return max(1, int(oldest + WINDOW_S - time.time()) + 1)


def _quietly(action) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001 - a broken connection cannot roll back or close cleanly
        pass
