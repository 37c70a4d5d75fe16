"""OGC API – Features under /ogc/: Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) with sortby and
properties, Part 2 (CRS84 and EPSG:4326), Part 3 (CQL2 text/JSON filter, queryables).

JSON unless `f=html` or the Accept header prefers text/html (so every answer has `Vary: Accept`).
Bad parameters answer 400 and unknown collections/features 404, both as OGC exceptions
{code, description}. Item pages are served from precomputed bytes per (collection,
Filter.key(), bbox, CQL2 filter, sortby, properties, crs, limit, offset).

A collection whose rows stay in PostGIS (Collection.sql: big imported layers) is answered with
SQL (geoapp.export.sqlquery): pages, counts, bbox, the filter, CQL2, sortby and single features,
written by the same writers as the in-memory collections.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from flask import Blueprint, current_app, jsonify, render_template, request, url_for

from geoapp.export import query, sqlquery, tiles
from geoapp.export.openapi import GEOJSON, HTML, JSON, OPENAPI_JSON, SCHEMA_JSON, openapi_document
from geoapp.export.query import CRS84, SUPPORTED_CRS, QueryError
from geoapp.export.serialize import COORDINATE_DECIMALS, feature_collection, feature_texts
from geoapp.filters import PARAMS, Filter, FilterError
from geoapp.web.context import current_filter
from geoapp.web.serving import cached_body, catalog, send_body

bp = Blueprint("ogc", __name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
]
TILESETS_REL = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILING_SCHEME_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
TILING_SCHEMES_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
QUERY_PARAMS = ("filter", "filter-lang", "filter-crs", "sortby", "properties", "crs", "bbox-crs")
ITEMS_PARAMS = {"f", "bbox", "limit", "offset", "datetime", *PARAMS, *QUERY_PARAMS}
MAX_URL_CHARS = 8000  # longer request URIs answer 414 (gunicorn refuses request lines > 4094 itself)
_INTEGER = re.compile(r"^\+?[0-9]+$")  # ASCII digits only (\d also matches ٣)
_HUGE = 10**15  # a bigger number means "more than there is"; int() of 4300+ digits raises


class OGCException(Exception):
    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


@bp.errorhandler(OGCException)
def ogc_exception(error: OGCException):
    response = jsonify(code=error.code, description=error.description)
    if error.status == 503:
        response.headers["Retry-After"] = "5"
    return response, error.status


@bp.errorhandler(FilterError)
def ogc_filter_error(error: FilterError):
    return jsonify(code="InvalidParameterValue", description=str(error)), 400


@bp.errorhandler(QueryError)
def ogc_query_error(error: QueryError):
    return jsonify(code="InvalidParameterValue", description=str(error)), 400


OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"


@bp.context_processor
def _basemap():
    """The basemap of the HTML pages' small map: the map page's ATLAS_TILES setting."""
    tiles = current_app.config.get("ATLAS_TILES", "none")
    if tiles == "osm":
        return {"tiles_url": OSM_TILES, "tiles_attribution": OSM_ATTRIBUTION}
    if tiles in ("", "none"):
        return {"tiles_url": "", "tiles_attribution": ""}
    return {"tiles_url": tiles, "tiles_attribution": current_app.config.get("ATLAS_TILES_ATTRIBUTION", "")}


@bp.before_request
def _refuse_long_uris():
    length = len(request.environ.get("PATH_INFO", "")) + len(request.environ.get("QUERY_STRING", ""))
    if length > MAX_URL_CHARS:  # as sent (percent-encoded)
        raise OGCException(414, "URITooLong", f"the request URI is {length} characters; at "
                                              f"most {MAX_URL_CHARS} are accepted")


@bp.after_request
def _vary_on_accept(response):
    # The same URL answers JSON or HTML by the Accept header.
    response.vary.add("Accept")
    return response


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


def parse_bbox(raw: str | None, lat_first: bool = False) -> tuple[tuple[float, float, float, float], ...] | None:
    """bbox=minLon,minLat,maxLon,maxLat (or 6 numbers) -> boxes; two when it crosses 180°.
    With `lat_first` (bbox-crs=EPSG:4326) the numbers are minLat,minLon,maxLat,maxLon."""
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
                           "minLon,minLat,maxLon,maxLat in CRS84 (minLat,minLon,maxLat,maxLon with "
                           "bbox-crs=EPSG:4326)")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if lat_first:
        numbers = [numbers[1], numbers[0], numbers[3], numbers[2]]
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
    plan = catalog().registry.plan
    return {
        "title": "辽宁创新地图 Liaoning Innovation Atlas — OGC API – Features",
        "description": f"Places of the {plan.title('sources', 'en')} ({plan.title('sources', 'zh')}: "
                       "high-tech zones, clusters, bases, parks, laboratories, platforms, the plan's "
                       "own areas) and Liaoning's province, city and district boundaries.",
        "links": _self_links("ogc.landing") + [
            _link(url_for("ogc.openapi", _external=True), "service-desc", OPENAPI_JSON, "OpenAPI 3.0 definition"),
            _link(url_for("ogc.openapi", _external=True, f="html"), "service-doc", HTML, "API documentation"),
            _link(url_for("ogc.conformance", _external=True), "conformance", JSON, "conformance classes"),
            _link(url_for("ogc.collections", _external=True), "data", JSON, "feature collections"),
            _link(url_for("ogc.tile_matrix_sets", _external=True), TILING_SCHEMES_REL, JSON,
                  "tile matrix sets (vector tiles: WebMercatorQuad)"),
            _link(url_for("ogc.dataset_tilesets", _external=True), TILESETS_REL, JSON,
                  "vector tiles of every collection together (one MVT layer each)"),
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
    plan = cat.registry.plan
    return openapi_document(url_for("ogc.landing", _external=True).rstrip("/"), cat.ids(),
                            list(cat.cities["adcode"]), DEFAULT_LIMIT, MAX_LIMIT, COORDINATE_DECIMALS,
                            plan.titles["sources"], list(plan.industries))


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
        "description": f"{collection.title_en}: {collection.feature_count} features, "
                       f"{collection.geometry_type}. Filter with industry, city, level, kind"
                       + (" (boundaries: city only)." if collection.is_boundary else "."),
        "extent": {"spatial": {"bbox": [collection.bbox()], "crs": CRS84}},
        "itemType": "feature",
        "crs": SUPPORTED_CRS,
        "storageCrs": CRS84,
        "links": [
            _link(url_for("ogc.collection", collection_id=cid, _external=True), "self", JSON, collection.title),
            _link(url_for("ogc.collection", collection_id=cid, _external=True, f="html"), "alternate", HTML,
                  "as HTML"),
            _link(url_for("ogc.items", collection_id=cid, _external=True), "items", GEOJSON, "features"),
            _link(url_for("ogc.items", collection_id=cid, _external=True, f="html"), "items", HTML,
                  "features as HTML"),
            _link(url_for("ogc.queryables", collection_id=cid, _external=True), QUERYABLES_REL, SCHEMA_JSON,
                  "queryables (properties usable in filter)"),
            # the rel name before OGC 19-079r1 final; GDAL < 3.8 looks for it
            _link(url_for("ogc.queryables", collection_id=cid, _external=True), "queryables", SCHEMA_JSON,
                  "queryables"),
            _link(url_for("ogc.collection_tilesets", collection_id=cid, _external=True), TILESETS_REL, JSON,
                  "vector tilesets (Mapbox Vector Tiles)"),
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


QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


@dataclass(frozen=True)
class ItemsQuery:
    """The Part 1/2/3 extras of an items request, parsed and checked against the collection."""
    expression: object = None           # pygeofilter AST or None
    filter_swap: bool = False           # filter-crs=EPSG:4326: literals are lat, lon
    sortby: tuple = ()
    properties: tuple | None = None
    crs: str = CRS84
    swap: bool = False                  # crs=EPSG:4326: output lat, lon

    @classmethod
    def from_request(cls, collection) -> "ItemsQuery":
        args = request.args
        expression = None
        if args.get("filter") is not None:
            expression = query.parse_filter(args["filter"], args.get("filter-lang"))
        elif args.get("filter-lang") is not None or args.get("filter-crs") is not None:
            raise QueryError("filter-lang and filter-crs need a filter", "filter-lang")
        _, filter_swap = query.parse_crs(args.get("filter-crs"), "filter-crs")
        crs, swap = query.parse_crs(args.get("crs"), "crs")
        return cls(expression, filter_swap, tuple(query.parse_sortby(args.get("sortby"), collection.frame)),
                   _tuple_or_none(query.parse_properties(args.get("properties"), collection.frame)), crs, swap)

    def select(self, frame, positions: np.ndarray) -> np.ndarray:
        """Those of the row `positions` matching the CQL2 filter, ordered by sortby."""
        if self.expression is not None:
            mask = query.evaluate(frame.iloc[positions], self.expression, self.filter_swap)
            positions = positions[mask.to_numpy()]
        return query.sort_positions(frame, positions, list(self.sortby))

    def rows(self, frame, page: pd.Index):
        frame = frame.loc[page]
        if self.properties is not None:
            frame = frame[[*self.properties, frame.geometry.name]]
        return frame

    def feature_texts(self, collection, flt: Filter, page: pd.Index, rows=None) -> list[str]:
        """The page's Feature texts; `rows`: the page's rows when they were read from PostGIS
        (a sqlquery.Page: the same texts as the in-memory writers give)."""
        if rows is not None:
            return rows.texts(self.properties, self.swap)
        cat = catalog()
        if self.properties is None and not self.swap:
            return cat.feature_texts(collection, flt, page)  # precomputed at start-up, mostly
        return feature_texts(self.rows(cat.frame_for(collection, flt), page), swap_axes=self.swap)


def _tuple_or_none(value):
    return None if value is None else tuple(value)


def _page(collection, flt: Filter, boxes, limit: int, offset: int,
          extras: ItemsQuery = ItemsQuery()) -> tuple[int, pd.Index, object]:
    """(number matched, feature ids of the page, the page's rows for a PostGIS collection else
    None). In memory it works on row positions: the filter's are remembered by the collection,
    bbox comes from its spatial index, and only the page's positions become feature ids."""
    cat = catalog()
    if collection.sql is not None:
        sqlquery.check(collection, extras.expression, extras.filter_swap)
        selection = sqlquery.Query(cat, collection, flt, boxes, extras.expression, extras.filter_swap,
                                   extras.sortby)
        matched, rows = selection.page(limit, offset)
        page = sqlquery.Page(selection.writer, rows)
        return matched, page.ids, page
    positions = collection.positions(flt, cat.cities)
    if boxes:
        positions = collection.within_bbox(positions, list(boxes))
    positions = extras.select(cat.frame_for(collection, flt), positions)  # the cities' figures follow the filter
    return len(positions), collection.frame.index[positions[offset:offset + limit]], None


def _query_args(flt: Filter, boxes) -> dict[str, str]:
    """The selection as query parameters, in canonical form (the filter via Filter.query_items,
    bbox as the four numbers parsed). Only what changes the answer: `datetime` is accepted but
    ignored (the collections have no time), so it is neither carried into links nor part of
    the cache key — any datetime shares one cached page."""
    args = flt.query_items()
    if boxes:
        west, south, east, north = boxes[0][0], boxes[0][1], boxes[-1][2], boxes[0][3]
        args["bbox"] = ",".join(_number_text(n) for n in (west, south, east, north))
    # the Part 1/2/3 extras as sent; bbox-crs is not carried: bbox is given above in CRS84 numbers
    for name in QUERY_PARAMS:
        if name != "bbox-crs" and request.args.get(name) is not None:
            args[name] = request.args[name]
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
    _, bbox_lat_first = query.parse_crs(request.args.get("bbox-crs"), "bbox-crs")
    boxes = parse_bbox(request.args.get("bbox"), bbox_lat_first)
    limit = parse_limit(request.args.get("limit"))
    offset = parse_offset(request.args.get("offset"))
    flt = current_filter()  # FilterError -> OGC 400 (handler above)
    extras = ItemsQuery.from_request(found)  # QueryError -> OGC 400

    if as_html:
        matched, page, rows = _page(found, flt, boxes, limit, offset, extras)
        return render_template("ogc_items.html", collection=found,
                               rows=extras.rows(catalog().frame_for(found, flt) if rows is None else rows.frame(),
                                                page),
                               matched=matched, returned=len(page),
                               map_data=_map_data(found, page, rows),
                               links=_items_links(collection_id, _query_args(flt, boxes), matched, len(page),
                                                   limit, offset))

    args = _query_args(flt, boxes)

    def build():
        matched, page, rows = _page(found, flt, boxes, limit, offset, extras)
        # timeStamp: when this page was generated (the data does not change while serving).
        members = {"numberMatched": matched, "numberReturned": len(page), "timeStamp": _timestamp(),
                   "links": _items_links(collection_id, args, matched, len(page), limit, offset)}
        return feature_collection(extras.feature_texts(found, flt, page, rows), members), GEOJSON

    # keyed on the parsed selection: spellings of one answer (datetime=…, bbox=1,2,3,4 or
    # 1.0,2.0,3,4, limit=5000 or 1000, city=本溪 or 210500) share one cached body
    key = ("ogc", request.host_url, "items", collection_id, flt.key(), tuple(args.items()), limit, offset)
    return send_body(cached_body(key, build), headers={"Content-Crs": f"<{extras.crs}>"})


@bp.get("/ogc/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    _check_params({"f"})
    found = _collection(collection_id)
    rows = None
    if found.sql is not None:   # the one row, read from PostGIS
        rows = sqlquery.Page.feature(catalog(), found, feature_id)
    if feature_id not in (found.features.index if rows is None else rows.ids):
        raise OGCException(404, "NotFound", f"no feature '{feature_id}' in collection '{collection_id}'")

    def links():
        return _self_links("ogc.item", GEOJSON, collection_id=collection_id, feature_id=feature_id) + [
            _link(url_for("ogc.collection", collection_id=collection_id, _external=True), "collection", JSON,
                  "the collection")]

    if wants_html():
        return render_template("ogc_items.html", collection=found,
                               rows=(found.frame if rows is None else rows.frame()).loc[[feature_id]],
                               matched=1, returned=1, links=links(), single=True,
                               map_data=_map_data(found, pd.Index([feature_id]), rows))

    def build():
        text = found.features.loc[feature_id] if rows is None else rows.texts()[0]
        return (text[:-1] + ',"links":' + json.dumps(links(), ensure_ascii=False, separators=(",", ":"))
                + "}").encode("utf-8"), GEOJSON

    return send_body(cached_body(("ogc", request.host_url, "item", collection_id, feature_id), build))


def _map_data(collection, page: pd.Index, rows=None) -> str:
    """The page's features for the HTML map: a FeatureCollection dict, written into the page as a
    <script type="application/json"> block (|tojson escapes <, >, &) and read by static/ogc_map.js.
    `rows`: the page's rows when they were read from PostGIS."""
    if rows is not None:
        return json.loads(feature_collection(rows.texts()))
    return json.loads(feature_collection(collection.features.loc[page]))


@bp.get("/ogc/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    _check_params({"f"})
    found = _collection(collection_id)

    def doc():
        return query.queryables(found.frame, found.geometry_type,
                                url_for("ogc.queryables", collection_id=collection_id, _external=True),
                                found.title, list(catalog().registry.plan.industries))

    if wants_html():
        return render_template("ogc_queryables.html", collection=found, doc=doc())
    # application/schema+json as Part 3 says, unless the client asks for plain JSON only (GDAL
    # before 3.8 refuses any other type). That older client also reads the queryables from the
    # pre-1.0 draft's `queryables` list (unknown keywords are ignored by JSON Schema), so its
    # `-where` on any property is sent to the server as a CQL2 filter.
    accept = request.accept_mimetypes
    media = SCHEMA_JSON if accept[SCHEMA_JSON] > 0 or not accept else JSON

    def build():
        schema = doc()
        if media == JSON:
            schema["queryables"] = [{"id": name, "title": name} for name in schema["properties"]]
        return schema
    return _json_body(("queryables", collection_id, media), build, media)


# --- OGC API – Tiles (vector tiles of every collection) --------------------------------------------

def _tileset_id(tile_matrix_set_id: str) -> None:
    if tile_matrix_set_id != tiles.TMS_ID:
        raise OGCException(404, "NotFound", f"no tile matrix set '{tile_matrix_set_id}'; available: {tiles.TMS_ID}")


def _tms_link(rel: str = TILING_SCHEME_REL) -> dict:
    return _link(url_for("ogc.tile_matrix_set", tileMatrixSetId=tiles.TMS_ID, _external=True), rel, JSON,
                 "WebMercatorQuad tile matrix set")


@bp.get("/ogc/tileMatrixSets")
def tile_matrix_sets():
    _check_params({"f"})
    doc = lambda: {"tileMatrixSets": [{"id": tiles.TMS_ID, "title": "Google Maps Compatible for the World",  # noqa: E731
                                       "uri": tiles.TMS_URI, "links": [_tms_link("self")]}]}
    return _json_body(("tms-list",), doc)


@bp.get("/ogc/tileMatrixSets/<tileMatrixSetId>")
def tile_matrix_set(tileMatrixSetId: str):  # noqa: N803 (the OpenAPI parameter name)
    _check_params({"f"})
    _tileset_id(tileMatrixSetId)
    return _json_body(("tms", tileMatrixSetId), tiles.tile_matrix_set)


def _tileset_document(collection, query_args: dict) -> dict:
    cid = collection.id
    template = url_for("ogc.collection_tile", collection_id=cid, tileMatrixSetId=tiles.TMS_ID,
                       tileMatrix="0", tileRow="0", tileCol="0", _external=True, **query_args)
    template = template.replace("/0/0/0", "/{tileMatrix}/{tileRow}/{tileCol}", 1)
    west, south, east, north = collection.bbox()
    return {
        "title": collection.title,
        "description": f"Mapbox Vector Tiles of {collection.title_en}: one layer '{cid}', every property "
                       "(empty ones left out), geometries clipped to the tile plus a 64/4096 buffer.",
        "dataType": "vector",
        "crs": tiles.MERCATOR,
        "tileMatrixSetURI": tiles.TMS_URI,
        "boundingBox": {"lowerLeft": [west, south], "upperRight": [east, north], "crs": CRS84},
        "tileMatrixSetLimits": tiles.matrix_limits(collection.bbox()),
        "layers": [{"id": cid, "title": collection.title, "dataType": "vector",
                    "geometryDimension": tiles.geometry_dimension(collection.geometry_type),
                    "minTileMatrix": "0", "maxTileMatrix": str(tiles.MAX_ZOOM),
                    "propertiesSchema": {"type": "object", "properties": tiles.property_types(collection.frame)}}],
        "links": [
            _link(url_for("ogc.collection_tileset", collection_id=cid, tileMatrixSetId=tiles.TMS_ID,
                          _external=True, **query_args), "self", JSON, "this tileset"),
            _tms_link(),
            {**_link(template, "item", tiles.MVT, "Mapbox vector tile"), "templated": True},
            _link(url_for("ogc.collection", collection_id=cid, _external=True), "collection", JSON, "the collection"),
        ],
    }


@bp.get("/ogc/collections/<collection_id>/tiles")
def collection_tilesets(collection_id: str):
    _check_params({"f", *PARAMS})
    found = _collection(collection_id)
    flt = current_filter()

    def doc():
        tileset = _tileset_document(found, flt.query_items())
        return {"links": [_link(url_for("ogc.collection_tilesets", collection_id=collection_id, _external=True),
                                "self", JSON, "tilesets")],
                "tilesets": [{key: tileset[key] for key in ("title", "dataType", "crs", "tileMatrixSetURI")}
                             | {"links": [tileset["links"][0], tileset["links"][1]]}]}
    return _json_body(("tilesets", collection_id, flt.key()), doc)


@bp.get("/ogc/collections/<collection_id>/tiles/<tileMatrixSetId>")
def collection_tileset(collection_id: str, tileMatrixSetId: str):  # noqa: N803
    _check_params({"f", *PARAMS})
    found = _collection(collection_id)
    _tileset_id(tileMatrixSetId)
    flt = current_filter()
    return _json_body(("tileset", collection_id, flt.key()), lambda: _tileset_document(found, flt.query_items()))


@bp.get("/ogc/collections/<collection_id>/tiles/<tileMatrixSetId>/<tileMatrix>/<tileRow>/<tileCol>")
def collection_tile(collection_id: str, tileMatrixSetId: str, tileMatrix: str, tileRow: str,  # noqa: N803
                    tileCol: str):  # noqa: N803
    _check_params({"f", *PARAMS})
    found = _collection(collection_id)
    _tileset_id(tileMatrixSetId)
    zoom, row, col = _tile_address(tileMatrix, tileRow, tileCol)
    flt = current_filter()

    def build():
        cat = catalog()
        source = found.tile_source(cat.frame_for(found, flt), flt, cat.cities)
        return _encode([source], zoom, row, col), tiles.MVT

    return send_body(cached_body(("tile", collection_id, flt.key(), zoom, row, col), build,
                                 group=("tile", collection_id), variant=flt.key()))


def _encode(sources: list, zoom: int, row: int, col: int) -> bytes:
    """The tile's MVT bytes within the time budget (ATLAS_TILE_BUDGET_S); past it, a 503 saying
    so (with Retry-After) rather than a worker held until the proxy's timeout."""
    budget = tiles.Budget(float(current_app.config.get("ATLAS_TILE_BUDGET_S", tiles.TILE_BUDGET_S)))
    try:
        return tiles.encode_layers(sources, zoom, row, col, budget)
    except tiles.TileBudgetExceeded as error:
        raise OGCException(503, "ServiceUnavailable", str(error)) from None


def _dataset_tileset_document(query_args: dict) -> dict:
    cat = catalog()
    template = url_for("ogc.dataset_tile", tileMatrixSetId=tiles.TMS_ID, tileMatrix="0", tileRow="0",
                       tileCol="0", _external=True, **query_args)
    template = template.replace("/0/0/0", "/{tileMatrix}/{tileRow}/{tileCol}", 1)
    bounds = [c.bbox() for c in cat.collections.values()]
    bbox = [min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds),
            max(b[3] for b in bounds)]
    return {
        "title": "辽宁创新地图 / Liaoning Innovation Atlas — every collection",
        "description": "Mapbox Vector Tiles with one layer per collection (named by its id).",
        "dataType": "vector", "crs": tiles.MERCATOR, "tileMatrixSetURI": tiles.TMS_URI,
        "boundingBox": {"lowerLeft": bbox[:2], "upperRight": bbox[2:], "crs": CRS84},
        "tileMatrixSetLimits": tiles.matrix_limits(bbox),
        "layers": [{"id": c.id, "title": c.title, "dataType": "vector",
                    "geometryDimension": tiles.geometry_dimension(c.geometry_type),
                    "minTileMatrix": "0", "maxTileMatrix": str(tiles.MAX_ZOOM)} for c in cat.collections.values()],
        "links": [
            _link(url_for("ogc.dataset_tileset", tileMatrixSetId=tiles.TMS_ID, _external=True, **query_args),
                  "self", JSON, "this tileset"),
            _tms_link(),
            {**_link(template, "item", tiles.MVT, "Mapbox vector tile"), "templated": True},
        ],
    }


@bp.get("/ogc/tiles")
def dataset_tilesets():
    _check_params({"f", *PARAMS})
    flt = current_filter()

    def doc():
        tileset = _dataset_tileset_document(flt.query_items())
        return {"links": [_link(url_for("ogc.dataset_tilesets", _external=True), "self", JSON, "tilesets")],
                "tilesets": [{key: tileset[key] for key in ("title", "dataType", "crs", "tileMatrixSetURI")}
                             | {"links": [tileset["links"][0], tileset["links"][1]]}]}
    return _json_body(("dataset-tilesets", flt.key()), doc)


@bp.get("/ogc/tiles/<tileMatrixSetId>")
def dataset_tileset(tileMatrixSetId: str):  # noqa: N803
    _check_params({"f", *PARAMS})
    _tileset_id(tileMatrixSetId)
    flt = current_filter()
    return _json_body(("dataset-tileset", flt.key()), lambda: _dataset_tileset_document(flt.query_items()))


@bp.get("/ogc/tiles/<tileMatrixSetId>/<tileMatrix>/<tileRow>/<tileCol>")
def dataset_tile(tileMatrixSetId: str, tileMatrix: str, tileRow: str, tileCol: str):  # noqa: N803
    _check_params({"f", *PARAMS})
    _tileset_id(tileMatrixSetId)
    zoom, row, col = _tile_address(tileMatrix, tileRow, tileCol)
    flt = current_filter()

    def build():
        cat = catalog()
        sources = [c.tile_source(cat.frame_for(c, flt), flt, cat.cities) for c in cat.collections.values()]
        return _encode(sources, zoom, row, col), tiles.MVT

    return send_body(cached_body(("dataset-tile", flt.key(), zoom, row, col), build,
                                 group=("dataset-tile",), variant=flt.key()))


def _tile_address(tile_matrix: str, tile_row: str, tile_col: str) -> tuple[int, int, int]:
    if request.args.get("f") not in (None, "mvt"):
        raise OGCException(400, "InvalidParameterValue", "tiles come as Mapbox Vector Tiles only (f=mvt)")
    try:
        return tiles.parse_tile(tile_matrix, tile_row, tile_col)
    except tiles.TileError as error:
        raise OGCException(error.status, "NotFound" if error.status == 404 else "InvalidParameterValue",
                           str(error)) from None


@bp.get("/ogc/<path:rest>")
def unknown_path(rest: str):
    raise OGCException(404, "NotFound", f"no resource /ogc/{rest}; see /ogc/api")
