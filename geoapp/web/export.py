"""Downloads for GIS tools, honouring the shared filter:

    /export/<layer>.geojson   RFC 7946 GeoJSON (lon/lat, CCW exterior rings, 6 decimals, UTF-8)
    /export/<layer>.gpkg      GeoPackage, EPSG:4326, one table named after the layer
    /export/<layer>.csv       UTF-8 CSV with BOM; lon/lat columns for points, WKT for polygons
    /export/all.gpkg          every layer (filtered) as tables of one GeoPackage

Bodies are built once per (layer, Filter.key(), format) and served from memory, except large
ones (over STREAM_ROWS features): those are written while they are sent (GeoJSON and CSV a few
thousand rows at a time; GeoPackage, FlatGeobuf and Shapefile through a temporary file) and not
kept, so a 100k-row download never sits in memory whole. nginx's cache keeps them for repeats.
A layer served from PostGIS (Collection.sql) is always streamed: its rows come from a server-side
cursor a few thousand at a time (geoapp.export.sqlquery) through the same writers.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, url_for

from functools import partial

from geoapp.export import sqlquery
from geoapp.export.catalog import Catalog
from geoapp.export.serialize import (COORDINATE_DECIMALS, csv_chunks, feature_collection,
                                     feature_collection_chunks, file_chunks, to_csv, to_flatgeobuf,
                                     to_geopackage, to_shapefile_zip, write_flatgeobuf, write_geopackage,
                                     write_shapefile_zip)
from geoapp.filters import PARAMS, Filter
from geoapp.web.context import current_filter
from geoapp.web.serving import cached_body, catalog, send_body, send_stream

bp = Blueprint("export", __name__)

FORMATS = {
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "csv": "text/csv; charset=utf-8",
    "fgb": "application/flatgeobuf",
    "shp.zip": "application/zip",
}
ALL_LAYERS = "all"
# Downloads of more features than this are streamed, not built and cached (today's largest
# layer has 100 rows; 5,000 points are ~4 MB of GeoJSON).
STREAM_ROWS = 5000


def download_name(layer: str, flt: Filter, fmt: str) -> str:
    """ASCII file name that says what is inside, e.g. liaoning_high_tech_zones_city-210100.gpkg."""
    parts = [f"{p}-{'+'.join(sorted(getattr(flt, p)))}" for p in PARAMS
             if getattr(flt, p)]
    return "_".join(["liaoning", layer, *parts]) + f".{fmt}"


def build_export(layer: str, flt: Filter, fmt: str) -> tuple[bytes, str]:
    cat = catalog()
    collections = list(cat.collections.values()) if layer == ALL_LAYERS else [cat[layer]]
    if fmt == "gpkg":
        tables = {c.id: (cat.frame_for(c, flt).loc[c.select(flt, cat.cities)], c.geometry_type) for c in collections}
        return to_geopackage(tables, descriptions={c.id: c.description() for c in collections},
                             styles=[row for c in collections if (row := c.style_row())]), FORMATS[fmt]
    collection = collections[0]
    ids = collection.select(flt, cat.cities)
    frame = cat.frame_for(collection, flt).loc[ids]  # the cities' figures follow the filter
    if fmt == "geojson":
        return feature_collection(cat.feature_texts(collection, flt, ids)), FORMATS[fmt]
    if fmt == "csv":
        return to_csv(frame), FORMATS[fmt]
    if fmt == "fgb":
        return to_flatgeobuf(frame, collection.geometry_type, layer), FORMATS[fmt]
    return to_shapefile_zip(frame, collection.geometry_type,
                            download_name(layer, flt, "shp").removesuffix(".shp")), FORMATS[fmt]


def _not_found(message: str):
    cat = catalog()
    body = {"error": "not_found", "message": message, "layers": [*cat.ids(), ALL_LAYERS],
            "formats": list(FORMATS), "all_layers_formats": ["gpkg"]}
    return jsonify(body), 404


@bp.get("/export/<layer>.<fmt>")
def download(layer: str, fmt: str):
    if fmt == "zip" and layer.endswith(".shp"):  # <layer>.shp.zip
        layer, fmt = layer.removesuffix(".shp"), "shp.zip"
    if fmt not in FORMATS:
        return _not_found(f"unknown format '{fmt}'")
    if layer != ALL_LAYERS and layer not in catalog():
        return _not_found(f"unknown layer '{layer}'")
    if layer == ALL_LAYERS and fmt != "gpkg":
        return _not_found("all layers together come as one GeoPackage only: /export/all.gpkg")
    flt = current_filter()  # FilterError -> JSON 400 listing allowed values (app factory)
    key, name = ("export", layer, flt.key(), fmt), download_name(layer, flt, fmt)
    cat = catalog()
    collections = list(cat.collections.values()) if layer == ALL_LAYERS else [cat[layer]]
    if any(c.sql is not None for c in collections) or \
            sum(len(c.positions(flt, cat.cities)) for c in collections) > STREAM_ROWS:
        return send_stream(key, partial(export_chunks, cat, layer, flt, fmt), FORMATS[fmt],
                           download_name=name, compressible=fmt != "shp.zip")
    body = cached_body(key, lambda: build_export(layer, flt, fmt))
    return send_body(body, download_name=name)


def export_chunks(cat: Catalog, layer: str, flt: Filter, fmt: str):
    """The bytes of build_export(layer, flt, fmt), in pieces, from the catalog given (not the
    request's: this runs while the response is sent, after the view returned)."""
    collections = list(cat.collections.values()) if layer == ALL_LAYERS else [cat[layer]]

    def rows(c):   # the collection's selected rows: a frame, or batches read from PostGIS
        if c.sql is not None:
            return sqlquery.Query(cat, c, flt).chunks()
        return cat.frame_for(c, flt).iloc[c.positions(flt, cat.cities)]

    if fmt == "gpkg":
        def write(folder):
            tables = {c.id: (rows(c), c.geometry_type) for c in collections}
            return write_geopackage(folder, tables, descriptions={c.id: c.description() for c in collections},
                                    styles=[row for c in collections if (row := c.style_row())])
        return file_chunks(write)
    collection = collections[0]
    if collection.sql is not None:
        if fmt == "geojson":
            return sqlquery.geojson_chunks(sqlquery.Query(cat, collection, flt))
        if fmt == "csv":
            return sqlquery.csv_chunks(sqlquery.Query(cat, collection, flt))
        if fmt == "fgb":
            return file_chunks(lambda folder: write_flatgeobuf(folder, rows(collection), collection.geometry_type,
                                                               layer))
        name = download_name(layer, flt, "shp").removesuffix(".shp")
        return file_chunks(lambda folder: write_shapefile_zip(folder, None, collection.geometry_type, name,
                                                              batches=lambda: rows(collection)))
    positions = collection.positions(flt, cat.cities)
    frame = cat.frame_for(collection, flt)
    if fmt == "geojson":
        return feature_collection_chunks(cat.feature_writer(collection, flt), positions)
    if fmt == "csv":
        return csv_chunks(frame, positions)
    if fmt == "fgb":
        return file_chunks(lambda folder: write_flatgeobuf(folder, frame.iloc[positions],
                                                           collection.geometry_type, layer))
    name = download_name(layer, flt, "shp").removesuffix(".shp")
    return file_chunks(lambda folder: write_shapefile_zip(folder, frame.iloc[positions],
                                                          collection.geometry_type, name))


def layer_index(flt: Filter) -> dict:
    """What /api/layers answers: every layer with its titles, geometry type, counts, links."""
    cat = catalog()
    query = flt.query_items()
    layers = []
    for collection in cat.collections.values():
        entry = {
            "id": collection.id,
            "title": {"zh": collection.title_zh, "en": collection.title_en},
            "geometry_type": collection.geometry_type,
            "feature_count": collection.feature_count,
            "kind": "boundary" if collection.is_boundary else "place",
        }
        if not flt.empty:
            entry["matching_count"] = collection.count(flt, cat.cities)
        entry["links"] = {
            **{fmt: url_for("export.download", layer=collection.id, fmt=fmt, _external=True, **query)
               for fmt in FORMATS},
            "ogc_collection": url_for("ogc.collection", collection_id=collection.id, _external=True),
            "ogc_items": url_for("ogc.items", collection_id=collection.id, _external=True, **query),
        }
        layers.append(entry)
    return {
        "filter": query,
        "coordinate_decimals": COORDINATE_DECIMALS,
        "crs": "EPSG:4326 (lon, lat)",
        "layers": layers,
        "links": {"all_layers_gpkg": url_for("export.download", layer=ALL_LAYERS, fmt="gpkg",
                                             _external=True, **query),
                  "ogc": url_for("ogc.landing", _external=True)},
    }
