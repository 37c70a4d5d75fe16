"""Serving precomputed bytes well: one cache of serialized bodies per process, keyed by what
defines them (page or collection, Filter.key(), format, ...), with gzip negotiation and ETag/304.

Used by the map, export and OGC blueprints; the serialization itself lives in geoapp.export.
"""
from __future__ import annotations

import gzip
import hashlib
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterator
from urllib.parse import quote

from flask import Response, current_app, request

from geoapp.export.catalog import Catalog

CACHE_MAX_BYTES = 96 * 1024 * 1024
CACHE_CONTROL = "public, max-age=60"


def build_catalog(app) -> Catalog:
    """The published collections, built once per app (at start-up: geoapp.web.init_catalog)."""
    with _build_lock:
        if "atlas.catalog" not in app.extensions:
            app.extensions["atlas.catalog"] = Catalog(app.extensions["atlas.registry"],
                                                      app.config.get("ATLAS_LAYERS_DIR"))
    return app.extensions["atlas.catalog"]


def catalog() -> Catalog:
    return current_app.extensions.get("atlas.catalog") or build_catalog(current_app)


_build_lock = threading.Lock()


@dataclass
class Body:
    data: bytes
    content_type: str
    etag: str                       # opaque tag of the identity encoding, without quotes
    built_at: float = field(default_factory=time.time)
    _gzipped: bytes | None = None

    def gzipped(self) -> bytes | None:
        """gzip bytes, made once; None when compressing does not pay."""
        if self._gzipped is None:
            packed = gzip.compress(self.data, compresslevel=6, mtime=0)
            self._gzipped = packed if len(packed) < 0.9 * len(self.data) else b""
        return self._gzipped or None

    @property
    def size(self) -> int:
        return len(self.data) + len(self._gzipped or b"")


def body_tag(version: str, key: tuple) -> str:
    """The ETag of a body: from what defines it, not its bytes, so every worker process agrees
    even where bytes carry a build time (OGC timeStamp, GeoPackage metadata) — hence weak — and
    a streamed body has one before it is written."""
    return hashlib.sha256(repr((version, key)).encode()).hexdigest()[:24]


class BodyCache:
    """A thread-safe LRU of Bodies, bounded in bytes. The data is immutable while the process
    runs (loaded at start-up), so entries never go stale; ETags include the catalog version.

    A body may belong to a `group` (e.g. one collection's tiles) under a `variant` (the filter's
    key): at most VARIANTS_PER_GROUP variants of a group are kept, the least recently used one
    (with all its bodies) dropped for a new one, so URLs made new by every filter combination
    cannot crowd out the rest. Concurrent requests for the same missing key wait for the one
    that builds it instead of each building it again."""

    VARIANTS_PER_GROUP = 16

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, Body] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Event] = {}
        self._variants: dict[object, OrderedDict] = {}   # group -> variant -> keys of its bodies
        self.hits = self.misses = 0

    def get(self, key: tuple, build: Callable[[], tuple[bytes, str]], version: str,
            group=None, variant=None) -> Body:
        while True:
            with self._lock:
                body = self._entries.get(key)
                if body is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    variants = self._variants.get(group)
                    if variants is not None and variant in variants:
                        variants.move_to_end(variant)
                    return body
                pending = self._building.get(key)
                if pending is None:
                    pending = self._building[key] = threading.Event()
                    break
            pending.wait()   # another request is building it: take its body (or build if it failed)
        try:
            data, content_type = build()
        finally:
            with self._lock:
                self._building.pop(key, None)
            pending.set()
        # gzip is made by the first request that accepts it (Body.gzipped), not for every body
        body = Body(data, content_type, body_tag(version, key))
        with self._lock:
            self.misses += 1
            self._entries[key] = body
            if group is not None:
                self._remember_variant(group, variant, key)
            total = sum(b.size for b in self._entries.values())
            while total > self.max_bytes and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                total -= dropped.size
        return body

    def _remember_variant(self, group, variant, key: tuple) -> None:
        variants = self._variants.setdefault(group, OrderedDict())
        variants.setdefault(variant, set()).add(key)
        variants.move_to_end(variant)
        while len(variants) > self.VARIANTS_PER_GROUP:
            _, keys = variants.popitem(last=False)
            for old in keys:
                self._entries.pop(old, None)

    def variants(self, group) -> list:
        """The variants of a group whose bodies are kept, least recently used first."""
        with self._lock:
            return list(self._variants.get(group, ()))

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._entries


def body_cache() -> BodyCache:
    return current_app.extensions.setdefault("atlas.body_cache", BodyCache())


def cached_body(key: tuple, build: Callable[[], tuple[bytes, str]], group=None, variant=None) -> Body:
    return body_cache().get(key, build, catalog().version, group, variant)


def _wants_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def _etag_matches(etag: str) -> bool:
    if not request.if_none_match:
        return False
    if request.if_none_match.star_tag:
        return True
    return any(request.if_none_match.contains_weak(tag) for tag in (etag, etag + "-gz"))


def content_disposition(download_name: str | tuple[str, str]) -> str:
    """`attachment` with the file name: a (name, ASCII name) pair gives the name as RFC 5987
    `filename*` (UTF-8, percent-encoded: 各市分布_生物医药_2026-12-06.xlsx) and the ASCII one as
    `filename` for clients that do not read it."""
    if isinstance(download_name, str):
        return f'attachment; filename="{download_name}"'
    name, fallback = download_name
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _headers(tag: str, download_name: str | tuple[str, str] | None, headers: dict | None) -> dict:
    response_headers = {"ETag": f'W/"{tag}"', "Vary": "Accept-Encoding", "Cache-Control": CACHE_CONTROL}
    if download_name:
        response_headers["Content-Disposition"] = content_disposition(download_name)
    response_headers.update(headers or {})
    return response_headers


def send_body(body: Body, status: int = 200, download_name: str | None = None,
              headers: dict | None = None) -> Response:
    """The body with ETag (weak), Vary, gzip when the client accepts it, 304 when it has it."""
    packed = body.gzipped() if _wants_gzip() else None
    tag = body.etag + ("-gz" if packed else "")
    response_headers = _headers(tag, download_name, headers)
    if status == 200 and _etag_matches(body.etag):
        return Response(status=304, headers=response_headers)
    if packed:
        response_headers["Content-Encoding"] = "gzip"
    response = Response(packed or body.data, status=status, headers=response_headers,
                        content_type=body.content_type)
    return response


def send_stream(key: tuple, chunks: Callable[[], Iterator[bytes]], content_type: str,
                download_name: str | None = None, compressible: bool = True) -> Response:
    """A body too large to build and keep in the BodyCache, written while it is sent: `chunks()`
    yields its bytes and is only called when the client does not have them (same weak ETag as a
    cached body of this key, so 304s and nginx's revalidation work alike). gzip'ed piece by
    piece when the client accepts it and `compressible`. `chunks` must not need the request
    context: the pieces are written after the view has returned."""
    etag = body_tag(catalog().version, key)
    packed = compressible and _wants_gzip()
    response_headers = _headers(etag + ("-gz" if packed else ""), download_name, None)
    if _etag_matches(etag):
        return Response(status=304, headers=response_headers)
    if packed:
        response_headers["Content-Encoding"] = "gzip"
    return Response(gzip_chunks(chunks()) if packed else chunks(), headers=response_headers,
                    content_type=content_type)


def gzip_chunks(chunks: Iterator[bytes], level: int = 6) -> Iterator[bytes]:
    """One gzip stream (as gzip.compress would write) of the concatenated chunks."""
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    for chunk in chunks:
        if packed := packer.compress(chunk):
            yield packed
    yield packer.flush()
