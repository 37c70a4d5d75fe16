"""Giving freed memory back to the system, so a worker's resident memory follows what it holds.

Loading 100,000 places, building the catalog or writing a large body allocates and frees hundreds
of MB of short-lived C memory (pandas/numpy buffers, shapely, text). glibc keeps freed heap pages
mapped for reuse, so a worker measured ~150 MB more than it held after such work (tracemalloc vs
RSS at 100k). `release_free_memory` asks glibc to hand them back (malloc_trim): once at the end
of create_app, and after a response when the process has grown by TRIM_AFTER_GROWTH since the last
time (checked when the response is closed, so the client does not wait; a trim takes ~1 ms).
Elsewhere than glibc (musl, macOS) it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import threading

from flask import Flask, Response

TRIM_AFTER_GROWTH = 32 * 2**20  # bytes of resident growth since the last trim


def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_trim = _malloc_trim()
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """This process's resident memory (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def release_free_memory() -> bool:
    """Hand the C heap's free pages back to the system; False where that is not possible."""
    if _trim is None:
        return False
    _trim(0)
    return True


class Trimmer:
    """Trims after responses once the process has grown by `growth` bytes since the last trim;
    one thread at a time (others skip rather than wait)."""

    def __init__(self, growth: int = TRIM_AFTER_GROWTH):
        self.growth = growth
        self.trimmed_at = rss_bytes()
        self._lock = threading.Lock()

    def maybe_trim(self) -> bool:
        if rss_bytes() - self.trimmed_at < self.growth or not self._lock.acquire(blocking=False):
            return False
        try:
            trimmed = release_free_memory()
            self.trimmed_at = rss_bytes()
            return trimmed
        finally:
            self._lock.release()


def init_app(app: Flask) -> None:
    """Trim now (the end of start-up) and after responses that left the process larger."""
    release_free_memory()
    trimmer = app.extensions["atlas.memory_trimmer"] = Trimmer()

    @app.after_request
    def trim_when_closed(response: Response) -> Response:
        response.call_on_close(trimmer.maybe_trim)
        return response
