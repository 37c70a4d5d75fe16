"""OGC API – Features, Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) under /ogc/.

JSON unless `f=html` or the Accept header prefers text/html. Bad parameters answer 400 and
unknown collections/features 404, both as OGC exceptions {code, description}. Item pages are
served from precomputed bytes per (collection, Filter.key(), bbox, limit, offset).
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone

from flask import Blueprint, jsonify, render_template, request, url_for

from geoapp.export.openapi import GEOJSON, HTML, JSON, OPENAPI_JSON, openapi_document
from geoapp.export.serialize import COORDINATE_DECIMALS, feature_collection
from geoapp.filters import PARAMS, Filter, FilterError
from geoapp.web.context import current_filter
from geoapp.web.serving import cached_body, catalog, send_body

bp = Blueprint("ogc", __name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
ITEMS_PARAMS = {"f", "bbox", "limit", "offset", "datetime", *PARAMS}
_INTEGER = re.compile(r"^\+?[0-9]+$")  # ASCII digits only (\d also matches ٣)
_HUGE = 10**15  # a bigger number means "more than there is"; int() of 4300+ digits raises


class OGCException(Exception):
    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


@bp.errorhandler(OGCException)
def ogc_exception(error: OGCException):
    return jsonify(code=error.code, description=error.description), error.status


@bp.errorhandler(FilterError)
def ogc_filter_error(error: FilterError):
    return jsonify(code="InvalidParameterValue", description=str(error)), 400


# --- request parsing ----------------------------------------------------------------------------

def _check_params(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise OGCException(400, "InvalidParameterValue",
                           f"unknown query parameter(s): {', '.join(unknown)}; "
                           f"allowed here: {', '.join(sorted(allowed))}")


def wants_html() -> bool:
    f = request.args.get("f")
    if f is not None:
        if f not in ("json", "html"):
            raise OGCException(400, "InvalidParameterValue", f"unknown f '{f}'; allowed: json, html")
        return f == "html"
    best = request.accept_mimetypes.best_match([JSON, GEOJSON, HTML])
    return best == HTML


def parse_bbox(raw: str | None) -> tuple[tuple[float, float, float, float], ...] | None:
    """bbox=minLon,minLat,maxLon,maxLat (or 6 numbers) -> boxes; two when it crosses 180°."""
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise OGCException(400, "InvalidParameterValue",
                           f"bbox '{raw}' must be 4 (or 6) comma-separated numbers: "
                           "minLon,minLat,maxLon,maxLat in CRS84")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    west, south, east, north = numbers
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise OGCException(400, "InvalidParameterValue",
                           f"bbox '{raw}' is not a lon/lat box (south must not exceed north)")
    if west > east:  # crosses the antimeridian
        return (west, south, 180.0, north), (-180.0, south, east, north)
    return ((west, south, east, north),)


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not _INTEGER.match(raw) or _number(raw) < 1:
        raise OGCException(400, "InvalidParameterValue",
                           f"limit '{raw}' must be an integer from 1 (default {DEFAULT_LIMIT}, "
                           f"values above {MAX_LIMIT} are treated as {MAX_LIMIT})")
    return min(_number(raw), MAX_LIMIT)


def parse_offset(raw: str | None) -> int:
    if raw is None:
        return 0
    if not _INTEGER.match(raw):
        raise OGCException(400, "InvalidParameterValue", f"offset '{raw}' must be an integer ≥ 0")
    return _number(raw)


def _number(raw: str) -> int:
    digits = raw.lstrip("+").lstrip("0") or "0"
    return int(digits) if len(digits) <= 15 else _HUGE


def _collection(collection_id: str):
    cat = catalog()
    if collection_id not in cat:
        raise OGCException(404, "NotFound", f"no collection '{collection_id}'; collections: "
                                            + ", ".join(cat.ids()))
    return cat[collection_id]


def _link(href: str, rel: str, media: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": media, "title": title}


def _self_links(endpoint: str, json_type: str = JSON, **values) -> list[dict]:
    as_html = wants_html()
    here = url_for(endpoint, _external=True, **values)
    html = url_for(endpoint, _external=True, **values, f="html")
    json_url = url_for(endpoint, _external=True, **values, f="json")
    return [_link(html if as_html else here, "self", HTML if as_html else json_type, "this document"),
            _link(json_url if as_html else html, "alternate", json_type if as_html else HTML,
                  "this document as " + ("JSON" if as_html else "HTML"))]


def _json_body(key: tuple, build, content_type: str = JSON):
    """Cached JSON bytes per (endpoint key, host), sent with ETag/gzip."""
    body = cached_body(("ogc", request.host_url, *key),
                       lambda: (json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode("utf-8"), content_type))
    return send_body(body)


# --- resources -------------------------------------------------------------------------------------

def landing_document() -> dict:
    return {
        "title": "辽宁创新地图 Liaoning Innovation Atlas — OGC API – Features",
        "description": "Places of the Liaoning 13th Five-Year S&T Plan (high-tech zones, clusters, "
                       "bases, coastal parks, laboratories, platforms, plan areas, the Shenyang–Dalian "
                       "belt) and Liaoning's province, city and district boundaries.",
        "links": _self_links("ogc.landing") + [
            _link(url_for("ogc.openapi", _external=True), "service-desc", OPENAPI_JSON, "OpenAPI 3.0 definition"),
            _link(url_for("ogc.openapi", _external=True, f="html"), "service-doc", HTML, "API documentation"),
            _link(url_for("ogc.conformance", _external=True), "conformance", JSON, "conformance classes"),
            _link(url_for("ogc.collections", _external=True), "data", JSON, "feature collections"),
        ],
    }


@bp.get("/ogc/", strict_slashes=False)
def landing():
    _check_params({"f"})
    if wants_html():
        return render_template("ogc_landing.html", doc=landing_document(), heading="Landing page")
    return _json_body(("landing",), landing_document)


@bp.get("/ogc/conformance")
def conformance():
    _check_params({"f"})
    doc = lambda: {"links": _self_links("ogc.conformance"), "conformsTo": CONFORMANCE}  # noqa: E731
    if wants_html():
        return render_template("ogc_landing.html", doc=doc(), heading="Conformance")
    return _json_body(("conformance",), doc)


def _openapi() -> dict:
    cat = catalog()
    return openapi_document(url_for("ogc.landing", _external=True).rstrip("/"), cat.ids(),
                            list(cat.cities["adcode"]), DEFAULT_LIMIT, MAX_LIMIT, COORDINATE_DECIMALS)


@bp.get("/ogc/api")
def openapi():
    _check_params({"f"})
    if wants_html():
        return render_template("ogc_api.html", doc=_openapi(),
                               json_url=url_for("ogc.openapi", _external=True, f="json"))
    return _json_body(("api",), _openapi, OPENAPI_JSON)


def collection_document(collection) -> dict:
    cid = collection.id
    return {
        "id": cid,
        "title": collection.title,
        "description": f"{collection.title_en}: {len(collection.frame)} features, "
                       f"{collection.geometry_type}. Filter with industry, city, level, kind"
                       + (" (boundaries: city only)." if collection.is_boundary else "."),
        "extent": {"spatial": {"bbox": [collection.bbox()], "crs": CRS84}},
        "itemType": "feature",
        "links": [
            _link(url_for("ogc.collection", collection_id=cid, _external=True), "self", JSON, collection.title),
            _link(url_for("ogc.collection", collection_id=cid, _external=True, f="html"), "alternate", HTML,
                  "as HTML"),
            _link(url_for("ogc.items", collection_id=cid, _external=True), "items", GEOJSON, "features"),
            _link(url_for("ogc.items", collection_id=cid, _external=True, f="html"), "items", HTML,
                  "features as HTML"),
            *[_link(url_for("export.download", layer=cid, fmt=fmt, _external=True), "enclosure", media,
                    f"download ({fmt})")
              for fmt, media in (("geojson", GEOJSON), ("gpkg", "application/geopackage+sqlite3"),
                                 ("csv", "text/csv"))],
        ],
    }


def collections_document() -> dict:
    return {"links": _self_links("ogc.collections"),
            "collections": [collection_document(c) for c in catalog().collections.values()]}


@bp.get("/ogc/collections")
def collections():
    _check_params({"f"})
    if wants_html():
        return render_template("ogc_collections.html", doc=collections_document())
    return _json_body(("collections",), collections_document)


@bp.get("/ogc/collections/<collection_id>")
def collection(collection_id: str):
    _check_params({"f"})
    found = _collection(collection_id)
    if wants_html():
        return render_template("ogc_collections.html", doc={"collections": [collection_document(found)]},
                               single=True)
    return _json_body(("collection", collection_id), lambda: collection_document(found))


def _page(collection, flt: Filter, boxes, limit: int, offset: int):
    cat = catalog()
    ids = collection.select(flt, cat.cities)
    if boxes:
        ids = collection.within_bbox(ids, list(boxes))
    return ids, ids[offset:offset + limit]


def _query_args(flt: Filter, boxes) -> dict[str, str]:
    """The selection as query parameters, in canonical form (the filter via Filter.query_items,
    bbox as the four numbers parsed). Only what changes the answer: `datetime` is accepted but
    ignored (the collections have no time), so it is neither carried into links nor part of
    the cache key — any datetime shares one cached page."""
    args = flt.query_items()
    if boxes:
        west, south, east, north = boxes[0][0], boxes[0][1], boxes[-1][2], boxes[0][3]
        args["bbox"] = ",".join(_number_text(n) for n in (west, south, east, north))
    return args


def _number_text(n: float) -> str:
    """Shortest text that reads back as exactly n (121.0 -> '121')."""
    text = repr(float(n))
    return text[:-2] if text.endswith(".0") else text


def _items_links(collection_id: str, args: dict, matched: int, returned: int, limit: int,
                 offset: int) -> list[dict]:
    """self/alternate/next/prev/collection, carrying the selection (`args`) over."""
    as_html = wants_html()
    media = HTML if as_html else GEOJSON
    fmt = {"f": "html"} if as_html else {}

    def url(**extra):
        return url_for("ogc.items", collection_id=collection_id, _external=True, **args, **extra)

    links = [_link(url(limit=limit, offset=offset, **fmt), "self", media, "this page"),
             _link(url(limit=limit, offset=offset, f="json" if as_html else "html"), "alternate",
                   GEOJSON if as_html else HTML, "this page as " + ("GeoJSON" if as_html else "HTML"))]
    if offset + returned < matched:
        links.append(_link(url(limit=limit, offset=offset + limit, **fmt), "next", media, "next page"))
    if offset > 0:
        links.append(_link(url(limit=limit, offset=max(0, offset - limit), **fmt), "prev", media,
                           "previous page"))
    links.append(_link(url_for("ogc.collection", collection_id=collection_id, _external=True),
                       "collection", JSON, "the collection"))
    return links


def _timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.get("/ogc/collections/<collection_id>/items")
def items(collection_id: str):
    _check_params(ITEMS_PARAMS)
    found = _collection(collection_id)
    as_html = wants_html()
    boxes = parse_bbox(request.args.get("bbox"))
    limit = parse_limit(request.args.get("limit"))
    offset = parse_offset(request.args.get("offset"))
    flt = current_filter()  # FilterError -> OGC 400 (handler above)

    if as_html:
        ids, page = _page(found, flt, boxes, limit, offset)
        return render_template("ogc_items.html", collection=found, rows=found.frame.loc[page],
                               matched=len(ids), returned=len(page),
                               links=_items_links(collection_id, _query_args(flt, boxes), len(ids), len(page),
                                                   limit, offset))

    args = _query_args(flt, boxes)

    def build():
        ids, page = _page(found, flt, boxes, limit, offset)
        # timeStamp: when this page was generated (the data does not change while serving).
        members = {"numberMatched": len(ids), "numberReturned": len(page), "timeStamp": _timestamp(),
                   "links": _items_links(collection_id, args, len(ids), len(page), limit, offset)}
        return feature_collection(found.features.loc[page], members), GEOJSON

    # keyed on the parsed selection: spellings of one answer (datetime=…, bbox=1,2,3,4 or
    # 1.0,2.0,3,4, limit=5000 or 1000, city=本溪 or 210500) share one cached body
    key = ("ogc", request.host_url, "items", collection_id, flt.key(), tuple(args.items()), limit, offset)
    return send_body(cached_body(key, build))


@bp.get("/ogc/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    _check_params({"f"})
    found = _collection(collection_id)
    if feature_id not in found.features.index:
        raise OGCException(404, "NotFound", f"no feature '{feature_id}' in collection '{collection_id}'")

    def links():
        return _self_links("ogc.item", GEOJSON, collection_id=collection_id, feature_id=feature_id) + [
            _link(url_for("ogc.collection", collection_id=collection_id, _external=True), "collection", JSON,
                  "the collection")]

    if wants_html():
        return render_template("ogc_items.html", collection=found, rows=found.frame.loc[[feature_id]],
                               matched=1, returned=1, links=links(), single=True)

    def build():
        text = found.features.loc[feature_id]
        return (text[:-1] + ',"links":' + json.dumps(links(), ensure_ascii=False, separators=(",", ":"))
                + "}").encode("utf-8"), GEOJSON

    return send_body(cached_body(("ogc", request.host_url, "item", collection_id, feature_id), build))


@bp.get("/ogc/<path:rest>")
def unknown_path(rest: str):
    raise OGCException(404, "NotFound", f"no resource /ogc/{rest}; see /ogc/api")
