"""Response headers every route gets: security headers, a default Content-Security-Policy,
validators (ETag/304) and gzip for bodies that do not already have them, long-cached static
assets with versioned URLs.

- Security headers are set only where a view has not set its own: the map page sends its own CSP
  (a script hash), which `after_request` leaves alone.
- The default CSP allows this origin only, plus the configured tile host in img-src
  (`tile_source`). Pages satisfy it: no inline script, styles in static files; `style` attributes
  (colours computed per row) are allowed with style-src-attr.
- url_for('static', filename=...) gets `?v=<content hash>`; a request carrying `v` is cached for a
  year (immutable), one without it for five minutes with an ETag to revalidate.
- Bodies already served by geoapp.web.serving (gzip + weak ETag) pass through untouched; other
  GET 200s (/stats, /api/*, /about, static files) get a weak ETag, 304 on If-None-Match, and
  gzip when the client accepts it, from a small cache keyed by that ETag.
"""
from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

OSM_TILES = "https://tile.openstreetmap.org"
STATIC_MAX_AGE = 365 * 24 * 3600
STATIC_UNVERSIONED_MAX_AGE = 300
# Routes whose GET answers are the same for everyone: a shared cache (the nginx front) may keep
# them. Anything else (a future admin page) is not marked and so not kept by the front.
PUBLIC_BLUEPRINTS = {"map", "api", "stats", "export", "ogc", "about"}
PUBLIC_CACHE_CONTROL = "public, max-age=60"
GZIP_MIN_BYTES = 1024
GZIP_TYPES = ("text/", "application/json", "application/geo+json", "application/javascript",
              "application/xml", "image/svg+xml", "application/vnd.oai.openapi+json",
              "application/schema+json", "text/csv")
GZIP_CACHE_BYTES = 32 * 1024 * 1024

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "SAMEORIGIN",
}


def tile_source(tiles: str) -> str | None:
    """The CSP source of the configured basemap tiles: 'osm', 'none' or a URL template such as
    http://{s}.tiles.intranet/{z}/{x}/{y}.png (-> http://*.tiles.intranet)."""
    if tiles in ("", "none"):
        return None
    if tiles == "osm":
        return OSM_TILES
    parts = urlsplit(tiles)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.replace("{s}", "*")
    return f"{parts.scheme}://{host}"


def content_security_policy(tiles: str) -> str:
    images = " ".join(filter(None, ["'self'", "data:", tile_source(tiles)]))
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        f"img-src {images}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


@lru_cache(maxsize=1024)
def _static_version(folder: str, filename: str) -> str | None:
    path = Path(folder, filename)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return None


def static_version(filename: str) -> str | None:
    """Content hash of a file under the app's static folder (None when there is no such file)."""
    return _static_version(current_app.static_folder, filename)


class _GzipCache:
    """gzip bytes per ETag, bounded in bytes (a body is compressed once, not per request)."""

    def __init__(self, max_bytes: int = GZIP_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, tag: str, data: bytes) -> bytes | None:
        with self._lock:
            if tag in self._entries:
                self._entries.move_to_end(tag)
                return self._entries[tag] or None
        packed = gzip.compress(data, compresslevel=6, mtime=0)
        packed = packed if len(packed) < 0.9 * len(data) else b""
        with self._lock:
            self._entries[tag] = packed
            self._size += len(packed)
            while self._size > self.max_bytes and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped)
        return packed or None


def _compressible(response: Response) -> bool:
    mimetype = response.mimetype or ""
    return any(mimetype.startswith(t) for t in GZIP_TYPES)


def _validate_and_compress(response: Response, gzip_cache: _GzipCache) -> Response:
    """Weak ETag of the identity body, 304 when the client has it, gzip when accepted."""
    if response.direct_passthrough:  # a file from send_file (static): read it (small) and close it
        source = response.response
        try:
            data = b"".join(source)
        finally:
            if hasattr(source, "close"):
                source.close()
        response.direct_passthrough = False
        response.set_data(data)
    else:
        data = response.get_data()
    tag = hashlib.sha256(data).hexdigest()[:24]
    response.vary.add("Accept-Encoding")
    packed = None
    if (len(data) >= GZIP_MIN_BYTES and _compressible(response)
            and request.accept_encodings["gzip"] > 0):
        packed = gzip_cache.get(tag, data)
    full_tag = tag + ("-gz" if packed else "")
    response.headers["ETag"] = f'W/"{full_tag}"'
    matches = request.if_none_match and (
        request.if_none_match.star_tag
        or any(request.if_none_match.contains_weak(t) for t in (tag, tag + "-gz")))
    if matches:
        response.status_code = 304
        response.set_data(b"")
        for name in ("Content-Length", "Content-Type", "Content-Encoding"):
            response.headers.pop(name, None)
        return response
    if packed:
        response.set_data(packed)
        response.headers["Content-Encoding"] = "gzip"
    return response


def init_app(app: Flask) -> None:
    policy = content_security_policy(app.config.get("ATLAS_TILES", "osm"))
    gzip_cache = _GzipCache()

    @app.url_defaults
    def version_static_urls(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = static_version(values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        if "Content-Security-Policy" not in headers:  # the map page sends its own (script hash)
            headers["Content-Security-Policy"] = policy

        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        if request.endpoint == "static":
            versioned = request.args.get("v") and request.args["v"] == static_version(
                request.view_args.get("filename", ""))
            headers["Cache-Control"] = (f"public, max-age={STATIC_MAX_AGE}, immutable" if versioned
                                        else f"public, max-age={STATIC_UNVERSIONED_MAX_AGE}")
        elif request.blueprint in PUBLIC_BLUEPRINTS:
            headers.setdefault("Cache-Control", PUBLIC_CACHE_CONTROL)
        if "ETag" in headers and request.endpoint != "static" or "Content-Encoding" in headers:
            return response  # geoapp.web.serving answered (weak ETag, gzip) or a view did its own
        if response.is_streamed and not response.direct_passthrough:
            return response  # a generator (a large export): neither buffered nor hashed
        return _validate_and_compress(response, gzip_cache)
