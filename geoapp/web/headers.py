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
  GET 200s (/api/*, admin-free pages, static files) go through the same serving.finish: a weak
  ETag, 304 on If-None-Match, and gzip when the client accepts it, the Body (and its gzip) kept
  by content hash in a small cache.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from geoapp.web.serving import BodyCache, finish

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


def _compressible(response: Response, data: bytes) -> bool:
    mimetype = response.mimetype or ""
    return len(data) >= GZIP_MIN_BYTES and any(mimetype.startswith(t) for t in GZIP_TYPES)


def _validate_and_compress(response: Response, bodies: BodyCache) -> Response:
    """Weak ETag of the identity body, 304 when the client has it, gzip when accepted: the same
    path as the cached bodies (serving.finish), with the Body kept by content hash so its gzip is
    made once."""
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
    digest = hashlib.sha256(data).hexdigest()[:24]
    body = bodies.get((digest,), lambda: (data, response.content_type), "content")
    return finish(response, body, compressible=_compressible(response, data))


def init_app(app: Flask) -> None:
    policy = content_security_policy(app.config.get("ATLAS_TILES", "osm"))
    bodies = BodyCache(GZIP_CACHE_BYTES)   # by content hash: a body is compressed once, not per request

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
        return _validate_and_compress(response, bodies)
