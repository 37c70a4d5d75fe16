"""Freed memory is handed back to the system (geoapp/web/memory.py): at the end of start-up and
after responses that left the process larger. Not timed; the RSS figures are in docs/performance.md."""
import ctypes

import pytest

from geoapp.web import memory


@pytest.mark.skipif(memory._trim is None, reason="not glibc")
def test_release_free_memory_returns_freed_heap_pages():
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    size = 64 * 1024 - 64  # blocks glibc keeps on its heap (below the mmap threshold)
    blocks = [libc.malloc(size) for _ in range(1024)]
    for pointer in blocks:
        libc.memset(pointer, 1, size)  # touched: resident
    for pointer in blocks[::2]:  # every other one: 32 MB of holes between live blocks, which
        libc.free(pointer)       # glibc does not give back by itself (only a free top of the heap)
    before = memory.rss_bytes()
    assert memory.release_free_memory()
    assert before - memory.rss_bytes() > 16 * 2**20
    for pointer in blocks[1::2]:
        libc.free(pointer)


def test_trimmer_trims_after_growth_only(monkeypatch):
    resident = iter([100, 100, 100 + 40 * 2**20, 100 + 40 * 2**20, 100 + 50 * 2**20])
    monkeypatch.setattr(memory, "rss_bytes", lambda: next(resident))
    calls = []
    monkeypatch.setattr(memory, "release_free_memory", lambda: calls.append(1) or True)
    trimmer = memory.Trimmer(growth=32 * 2**20)  # reads 100
    assert not trimmer.maybe_trim() and calls == []  # 100: no growth
    assert trimmer.maybe_trim() and calls == [1]     # grew by 40 MB: trimmed, now at +40 MB
    assert not trimmer.maybe_trim() and calls == [1]  # +10 MB since: not yet


def test_app_trims_when_a_response_is_closed(client, monkeypatch):
    app = client.application
    trimmer = app.extensions["atlas.memory_trimmer"]
    calls = []
    monkeypatch.setattr(trimmer, "maybe_trim", lambda: calls.append(1))
    response = client.get("/health")
    assert response.status_code == 200
    response.close()
    assert calls == [1]
