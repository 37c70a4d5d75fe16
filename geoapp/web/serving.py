"""Serving precomputed bytes well: one cache of serialized bodies per Bundle (plan and data
version: geoapp/state.py), keyed by what defines them (page or collection, Filter.key(), format,
...), with gzip negotiation and ETag/304.

Used by the map, export and OGC blueprints; the serialization itself lives in geoapp.export.
"""
from __future__ import annotations

import zlib
from typing import Callable, Iterator
from urllib.parse import quote

from flask import Response, request

from geoapp.export.catalog import Catalog
from geoapp.state import Body, BodyCache, body_tag
from geoapp.web import context

__all__ = ["Body", "BodyCache", "body_cache", "cached_body", "catalog", "send_body", "send_stream"]

CACHE_CONTROL = "public, max-age=60"


def catalog() -> Catalog:
    """The request's published collections (its Bundle's)."""
    return context.catalog()


def body_cache() -> BodyCache:
    """The request's Bundle's body cache: bodies of one data version, dropped with it."""
    return context.bundle().bodies


def prefixed(key: tuple) -> tuple:
    """The key of a body as served at this request's URL prefix: a plan served at /plans/<id>/
    and unprefixed (the default plan) writes different links into its bodies."""
    return ("at", request.script_root, *key) if request.script_root else key


def cached_body(key: tuple, build: Callable[[], tuple[bytes, str]], group=None, variant=None) -> Body:
    return body_cache().get(prefixed(key), build, catalog().version, group, variant)


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
    response = Response(body.data, status=status, headers=_headers(body.etag, download_name, headers),
                        content_type=body.content_type)
    return finish(response, body)


def finish(response: Response, body: Body, compressible: bool = True) -> Response:
    """THE validation and compression of an answer (cached bodies here, every other GET 200 by
    geoapp.web.headers): the weak ETag of `body`, `Vary: Accept-Encoding`, 304 without a body
    when the client has it, else gzip (made once per Body) when the client accepts it, the body
    is `compressible` and it pays."""
    packed = body.gzipped() if compressible and _wants_gzip() else None
    response.headers["ETag"] = f'W/"{body.etag}{"-gz" if packed else ""}"'
    response.vary.add("Accept-Encoding")
    if response.status_code == 200 and _etag_matches(body.etag):
        response.status_code = 304
        response.set_data(b"")
        for name in ("Content-Length", "Content-Type", "Content-Encoding"):
            response.headers.pop(name, None)
        return response
    if packed:
        response.set_data(packed)
        response.headers["Content-Encoding"] = "gzip"
    return response


def send_stream(key: tuple, chunks: Callable[[], Iterator[bytes]], content_type: str,
                download_name: str | None = None, compressible: bool = True) -> Response:
    """A body too large to build and keep in the BodyCache, written while it is sent: `chunks()`
    yields its bytes and is only called when the client does not have them (same weak ETag as a
    cached body of this key, so 304s and nginx's revalidation work alike). gzip'ed piece by
    piece when the client accepts it and `compressible`. `chunks` must not need the request
    context: the pieces are written after the view has returned."""
    etag = body_tag(catalog().version, prefixed(key))
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
