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
