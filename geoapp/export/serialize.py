"""Bytes for GIS tools: RFC 7946 GeoJSON, GeoPackage (EPSG:4326) and CSV. Pure functions.

GeoJSON follows RFC 7946: WGS84 lon/lat, no `crs` member, exterior rings counter-clockwise and
holes clockwise (section 3.1.6), coordinates rounded to COORDINATE_DECIMALS, UTF-8 text with
Chinese left unescaped, and the row's stable id as the feature `id`.
"""
from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

# 6 decimal places of a degree are about 0.11 m of latitude (0.08 m of longitude at 42°N): finer
# than any location in the data (the boundary source is itself stored with 6 decimals).
COORDINATE_DECIMALS = 6


def rfc7946_geometries(geometries) -> np.ndarray:
    """Geometries with counter-clockwise exterior rings and coordinates rounded for output."""
    oriented = shapely.orient_polygons(np.asarray(geometries, dtype=object), exterior_cw=False)
    return shapely.transform(oriented, lambda xy: np.round(xy, COORDINATE_DECIMALS))


def plain(value):
    """A cell as a JSON/CSV-friendly Python value: numpy scalars unwrapped, NaN/None -> None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def property_records(frame: gpd.GeoDataFrame) -> list[dict]:
    columns = [c for c in frame.columns if c != frame.geometry.name]
    rows = frame[columns].to_dict("records")
    return [{k: plain(v) for k, v in row.items()} for row in rows]


def feature_texts(frame: gpd.GeoDataFrame, swap_axes: bool = False) -> list[str]:
    """One GeoJSON Feature (text) per row; the frame's index is the feature id. `swap_axes` writes
    latitude first (OGC API – Features Part 2 output in EPSG:4326; not RFC 7946 then)."""
    geometries = rfc7946_geometries(frame.geometry.values)
    if swap_axes:
        geometries = shapely.transform(geometries, lambda xy: xy[:, ::-1])
    geometries = shapely.to_geojson(geometries)
    texts = []
    for feature_id, geometry, properties in zip(frame.index, geometries, property_records(frame)):
        texts.append('{"type":"Feature","id":' + json.dumps(str(feature_id), ensure_ascii=False)
                     + ',"geometry":' + (geometry or "null")
                     + ',"properties":' + json.dumps(properties, ensure_ascii=False, separators=(",", ":")) + "}")
    return texts


def feature_collection(features: Iterable[str], members: Mapping | None = None) -> bytes:
    """A FeatureCollection from Feature texts; `members` (links, numberMatched, ...) go first."""
    head = '{"type":"FeatureCollection"'
    for key, value in (members or {}).items():
        head += "," + json.dumps(key) + ":" + json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (head + ',"features":[' + ",".join(features) + "]}").encode("utf-8")


def to_csv(frame: gpd.GeoDataFrame) -> bytes:
    """UTF-8 CSV with a BOM (so Excel reads Chinese): points as `lon`,`lat` columns, other
    geometries as a `WKT` column (the name GDAL's CSV driver and QGIS recognise)."""
    records = property_records(frame)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    geometries = rfc7946_geometries(frame.geometry.values)
    points = len(frame) > 0 and bool((shapely.get_type_id(geometries) == 0).all())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns + (["lon", "lat"] if points else ["WKT"]))
    for record, geometry in zip(records, geometries):
        row = ["" if record[c] is None else record[c] for c in columns]
        if points:
            row += [repr(round(geometry.x, COORDINATE_DECIMALS)), repr(round(geometry.y, COORDINATE_DECIMALS))]
        else:
            row.append(shapely.to_wkt(geometry, rounding_precision=COORDINATE_DECIMALS))
        writer.writerow(row)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_geopackage(layers: Mapping[str, tuple[gpd.GeoDataFrame, str]]) -> bytes:
    """A GeoPackage (EPSG:4326) with one table per entry: name -> (frame, geometry type)."""
    with tempfile.TemporaryDirectory(prefix="atlas-gpkg-") as folder:
        path = Path(folder) / "export.gpkg"
        for name, (frame, geometry_type) in layers.items():
            table = frame.reset_index(drop=True)
            table[table.geometry.name] = gpd.GeoSeries(rfc7946_geometries(table.geometry.values),
                                                       index=table.index, crs=4326)
            pyogrio.write_dataframe(table, path, layer=name, driver="GPKG",
                                    geometry_type=geometry_type, append=path.exists(),
                                    layer_options={"IDENTIFIER": name},
                                    # 1.2: the newest version older GDAL/QGIS/ArcGIS open without a
                                    # warning (GDAL 3.6 warns on pyogrio's default 1.4).
                                    dataset_options=None if path.exists() else {"VERSION": "1.2"})
        return path.read_bytes()
