"""Serving precomputed bytes well: ETag/304, gzip negotiation, a bounded per-key cache."""
from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from flask import Response, request


@dataclass(frozen=True)
class Payload:
    body: bytes
    gzipped: bytes
    etag: str
    mimetype: str


def make_payload(body: bytes, mimetype: str) -> Payload:
    return Payload(body, gzip.compress(body, compresslevel=6),
                   hashlib.blake2b(body, digest_size=12).hexdigest(), mimetype)


class PayloadCache:
    """Thread-safe LRU of Payloads; `get(key, build)` builds once per key."""

    def __init__(self, size: int = 256):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key, build: Callable[[], Payload]) -> Payload:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        payload = build()  # outside the lock: a slow build must not block cache hits
        with self._lock:
            self._items[key] = payload
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return payload


def send_payload(payload: Payload, headers: dict | None = None, max_age: int = 300) -> Response:
    etag = f'"{payload.etag}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = Response(status=304)
    elif "gzip" in request.headers.get("Accept-Encoding", ""):
        response = Response(payload.gzipped, mimetype=payload.mimetype)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(payload.body, mimetype=payload.mimetype)
    response.headers["ETag"] = etag
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
