"""The OpenAPI 3.0 document of the OGC API – Features endpoint (a plain dict; no Flask)."""
from __future__ import annotations

from geoapp import vocab

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
MVT = "application/vnd.mapbox-vector-tile"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


def _filter_parameter(name: str, codes: list[str], what: str) -> dict:
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": False,
            "description": f"{what}. Several values comma-separated are OR-ed; parameters are "
                           f"AND-ed. An unknown value answers 400 listing the allowed ones.",
            "schema": {"type": "array", "items": {"type": "string", "enum": codes}}}


def _response(description: str, *media: str, schema_ref: str | None = None) -> dict:
    schema = {"$ref": schema_ref} if schema_ref else {"type": "object"}
    return {"description": description, "content": {m: {"schema": schema if m != HTML else {"type": "string"}}
                                                     for m in media}}


def openapi_document(server_url: str, collection_ids: list[str], city_codes: list[str],
                     default_limit: int, max_limit: int, coordinate_decimals: int,
                     plan_title: tuple[str, str] = ("", ""), industries=()) -> dict:
    """The OpenAPI 3.0 document of the OGC API of one plan (`plan_title`: its `sources` title,
    zh and en; `industries`: its industry codes, the `industry` parameter's values)."""
    errors = {
        "400": _response("Bad parameter (its name, what was wrong and what is allowed): OGC "
                         "exception {code, description}.", JSON, schema_ref="#/components/schemas/exception"),
        "404": _response("Unknown collection or feature.", JSON, schema_ref="#/components/schemas/exception"),
        "414": _response("Request URI longer than 8000 characters.", JSON,
                         schema_ref="#/components/schemas/exception"),
    }
    f_param = {"$ref": "#/components/parameters/f"}

    def operation(op_id, summary, ok, params=(), f=True):
        return {"get": {"operationId": op_id, "summary": summary,
                        "parameters": [f_param, *params] if f else list(params),
                        "responses": {"200": ok, **errors}}}

    def ref(name):
        return {"$ref": f"#/components/parameters/{name}"}

    collection_id = {"$ref": "#/components/parameters/collectionId"}
    atlas_filter = [
        _filter_parameter("industry", list(industries), "Industry code"),
        _filter_parameter("city", city_codes, "City adcode (also 沈阳, 沈阳市 or shenyang)"),
        _filter_parameter("level", list(vocab.LEVELS), "Level code"),
        _filter_parameter("kind", list(vocab.KINDS), "Kind code"),
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "辽宁创新地图 OGC API – Features / Liaoning Innovation Atlas",
            "version": "1.0.0",
            "description": f"Places of the {plan_title[1]} ({plan_title[0]}) and Liaoning's "
                           "administrative boundaries. WGS84 lon/lat (CRS84), coordinates rounded "
                           f"to {coordinate_decimals} decimals, feature id = the row's stable id "
                           "(adcode for boundaries). Boundary collections honour only `city`.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/": operation("getLandingPage", "Landing page",
                           _response("Landing page", JSON, HTML)),
            "/conformance": operation("getConformanceDeclaration", "Conformance classes",
                                      _response("Conformance declaration", JSON, HTML)),
            "/api": operation("getOpenAPI", "This document",
                              _response("OpenAPI 3.0 document", OPENAPI_JSON, HTML)),
            "/collections": operation("getCollections", "Feature collections",
                                      _response("Collections", JSON, HTML)),
            "/collections/{collectionId}": operation(
                "describeCollection", "One collection", _response("Collection", JSON, HTML),
                [collection_id]),
            "/collections/{collectionId}/items": operation(
                "getFeatures", "Features of a collection",
                _response("FeatureCollection with numberMatched, numberReturned, timeStamp and "
                          "next/prev links", GEOJSON, HTML),
                [collection_id, ref("bbox"), ref("bbox-crs"), ref("limit"), ref("offset"), ref("datetime"),
                 ref("filter"), ref("filter-lang"), ref("filter-crs"), ref("sortby"), ref("properties"),
                 ref("crs"), *atlas_filter]),
            "/collections/{collectionId}/items/{featureId}": operation(
                "getFeature", "One feature", _response("Feature", GEOJSON, HTML),
                [collection_id, {"name": "featureId", "in": "path", "required": True,
                                 "schema": {"type": "string"}}]),
            "/collections/{collectionId}/queryables": operation(
                "getQueryables", "Properties usable in filter (JSON Schema)",
                _response("Queryables", SCHEMA_JSON, HTML), [collection_id]),
            "/tileMatrixSets": operation(
                "getTileMatrixSetsList", "Tile matrix sets (WebMercatorQuad)", _response("Tile matrix sets", JSON)),
            "/tileMatrixSets/{tileMatrixSetId}": operation(
                "getTileMatrixSet", "A tile matrix set definition (OGC 2DTMS JSON)",
                _response("Tile matrix set", JSON), [ref("tileMatrixSetId")]),
            "/tiles": operation(
                "getDatasetVectorTileSetsList", "Vector tilesets of every collection together",
                _response("Tilesets", JSON), list(atlas_filter)),
            "/tiles/{tileMatrixSetId}": operation(
                "getDatasetVectorTileSet", "Vector tileset metadata, one MVT layer per collection",
                _response("Tileset", JSON), [ref("tileMatrixSetId"), *atlas_filter]),
            "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": operation(
                "getDatasetVectorTile", "A Mapbox Vector Tile with a layer per collection (empty body: no feature)",
                {"description": "Mapbox Vector Tile", "content": {MVT: {"schema": {"type": "string",
                                                                                  "format": "binary"}}}},
                [ref("tileMatrixSetId"), ref("tileMatrix"), ref("tileRow"), ref("tileCol"), *atlas_filter], f=False),
            "/collections/{collectionId}/tiles": operation(
                "getCollectionVectorTileSetsList", "Vector tilesets of a collection",
                _response("Tilesets", JSON), [collection_id, *atlas_filter]),
            "/collections/{collectionId}/tiles/{tileMatrixSetId}": operation(
                "getCollectionVectorTileSet", "Vector tileset metadata (limits, layer, item URL template)",
                _response("Tileset", JSON), [collection_id, ref("tileMatrixSetId"), *atlas_filter]),
            "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}": operation(
                "getCollectionVectorTile", "A Mapbox Vector Tile of the collection (empty body: no feature)",
                {"description": "Mapbox Vector Tile", "content": {MVT: {"schema": {"type": "string",
                                                                                  "format": "binary"}}}},
                [collection_id, ref("tileMatrixSetId"), ref("tileMatrix"), ref("tileRow"), ref("tileCol"),
                 *atlas_filter], f=False),
        },
        "components": {
            "parameters": {
                "f": {"name": "f", "in": "query", "required": False,
                      "description": "Response format; without it the Accept header decides "
                                     "(JSON unless text/html is preferred).",
                      "schema": {"type": "string", "enum": ["json", "html"]}},
                "collectionId": {"name": "collectionId", "in": "path", "required": True,
                                 "schema": {"type": "string", "enum": collection_ids}},
                "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form",
                         "explode": False,
                         "description": "minLon,minLat,maxLon,maxLat in CRS84 (6 numbers: the "
                                        "heights are ignored). Features whose geometry intersects "
                                        "the box are selected.",
                         "schema": {"type": "array", "minItems": 4, "maxItems": 6,
                                    "items": {"type": "number"}}},
                "limit": {"name": "limit", "in": "query", "required": False, "style": "form",
                          "explode": False,
                          "description": f"Page size, default {default_limit}; values above "
                                         f"{max_limit} are treated as {max_limit}.",
                          "schema": {"type": "integer", "minimum": 1, "maximum": max_limit,
                                     "default": default_limit}},
                "offset": {"name": "offset", "in": "query", "required": False,
                           "description": "Index of the first feature returned (paging).",
                           "schema": {"type": "integer", "minimum": 0, "default": 0}},
                "datetime": {"name": "datetime", "in": "query", "required": False,
                             "description": "Accepted as the standard asks; the features carry no "
                                            "time, so it selects nothing out.",
                             "schema": {"type": "string"}},
                "filter": {"name": "filter", "in": "query", "required": False,
                           "description": "CQL2 expression on the collection's queryables, AND-ed "
                                          "with industry/city/level/kind and bbox, e.g. "
                                          "level = 'national' AND CASEI(name_en) LIKE '%dalian%'. "
                                          "Unknown properties or unsupported operators answer 400 "
                                          "naming them.",
                           "schema": {"type": "string"}},
                "filter-lang": {"name": "filter-lang", "in": "query", "required": False,
                                "description": "cql2-text (default) or cql2-json; cql-text is the "
                                               "draft name older GDAL sends, read as cql2-text.",
                                "schema": {"type": "string", "enum": ["cql2-text", "cql2-json", "cql-text"],
                                           "default": "cql2-text"}},
                "filter-crs": {"name": "filter-crs", "in": "query", "required": False,
                               "description": "CRS of geometries in the filter (EPSG:4326: lat, lon).",
                               "schema": {"type": "string", "format": "uri", "enum": [CRS84, EPSG4326],
                                          "default": CRS84}},
                "sortby": {"name": "sortby", "in": "query", "required": False, "style": "form",
                           "explode": False,
                           "description": "Properties to sort by, '-' for descending, e.g. "
                                          "-level,+name_en. Empty values sort last.",
                           "schema": {"type": "array", "minItems": 1,
                                      "items": {"type": "string", "pattern": r"^[+-]?[A-Za-z_][A-Za-z0-9_]*$"}}},
                "properties": {"name": "properties", "in": "query", "required": False, "style": "form",
                               "explode": False,
                               "description": "Only these properties in each feature.",
                               "schema": {"type": "array", "items": {"type": "string"}}},
                "crs": {"name": "crs", "in": "query", "required": False,
                        "description": "Output CRS: CRS84 (lon, lat; default) or EPSG:4326 "
                                       "(lat, lon). The Content-Crs header says which.",
                        "schema": {"type": "string", "format": "uri", "enum": [CRS84, EPSG4326],
                                   "default": CRS84}},
                "tileMatrixSetId": {"name": "tileMatrixSetId", "in": "path", "required": True,
                                    "schema": {"type": "string", "enum": ["WebMercatorQuad"]}},
                "tileMatrix": {"name": "tileMatrix", "in": "path", "required": True,
                               "description": "Zoom level, 0 to 18.",
                               "schema": {"type": "integer", "minimum": 0, "maximum": 18}},
                "tileRow": {"name": "tileRow", "in": "path", "required": True,
                            "description": "Row, 0 (north) to 2^tileMatrix - 1.",
                            "schema": {"type": "integer", "minimum": 0}},
                "tileCol": {"name": "tileCol", "in": "path", "required": True,
                            "description": "Column, 0 (west) to 2^tileMatrix - 1.",
                            "schema": {"type": "integer", "minimum": 0}},
                "bbox-crs": {"name": "bbox-crs", "in": "query", "required": False,
                             "description": "CRS of bbox: CRS84 (default) or EPSG:4326 "
                                            "(minLat,minLon,maxLat,maxLon).",
                             "schema": {"type": "string", "format": "uri", "enum": [CRS84, EPSG4326],
                                        "default": CRS84}},
            },
            "schemas": {
                "exception": {"type": "object", "required": ["code"],
                              "properties": {"code": {"type": "string"},
                                             "description": {"type": "string"}}},
            },
        },
    }
