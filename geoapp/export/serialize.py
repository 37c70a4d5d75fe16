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
from typing import Callable, Iterable, Iterator, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geoapp.export.spreadsheet import csv_cell, neutralise  # noqa: F401 (neutralise: ingest's rejects)

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


def plain_column(series: pd.Series) -> list:
    """`plain` of every cell of a column, column at a time: `tolist` gives Python scalars for
    numpy and text dtypes, missing cells become None by one vectorised isna, and only object
    columns are looked at cell by cell (for numpy scalars and NaN in them)."""
    values = series.tolist()
    if series.dtype == object:
        return [plain(v) for v in values]
    missing = np.flatnonzero(series.isna().to_numpy())
    for i in missing:
        values[i] = None
    return values


def property_records(frame: gpd.GeoDataFrame) -> list[dict]:
    columns = [c for c in frame.columns if c != frame.geometry.name]
    values = [plain_column(frame[c]) for c in columns]
    return [dict(zip(columns, row)) for row in zip(*values)] if columns else [{} for _ in range(len(frame))]


def feature_texts(frame: gpd.GeoDataFrame, swap_axes: bool = False) -> list[str]:
    """One GeoJSON Feature (text) per row; the frame's index is the feature id. `swap_axes` writes
    latitude first (OGC API – Features Part 2 output in EPSG:4326; not RFC 7946 then)."""
    return _feature_texts(frame.index, frame.geometry.values, property_records(frame), swap_axes)


def _feature_texts(ids, geometries, records: list[dict], swap_axes: bool = False) -> list[str]:
    geometries = rfc7946_geometries(geometries)
    if swap_axes:
        geometries = shapely.transform(geometries, lambda xy: xy[:, ::-1])
    geometries = shapely.to_geojson(geometries)
    texts = []
    for feature_id, geometry, properties in zip(ids, geometries, records):
        texts.append('{"type":"Feature","id":' + json.dumps(str(feature_id), ensure_ascii=False)
                     + ',"geometry":' + (geometry or "null")
                     + ',"properties":' + json.dumps(properties, ensure_ascii=False, separators=(",", ":")) + "}")
    return texts


class Columns:
    """A frame's feature ids, geometries and property columns as numpy arrays, read once, so that
    writing the Features of a few rows does no pandas indexing (per column, that was most of an
    OGC items page at 100k rows): `feature_texts(positions)` equals
    feature_texts(frame.iloc[positions]). Numeric columns are the frame's own arrays; other
    columns are object arrays (cells made `plain` when written)."""

    def __init__(self, frame: gpd.GeoDataFrame):
        self.ids = frame.index.to_numpy()
        self.geometries = np.asarray(frame.geometry.values, dtype=object)
        self.names = [c for c in frame.columns if c != frame.geometry.name]
        self.columns = []
        for name in self.names:
            series = frame[name]
            numeric = isinstance(series.dtype, np.dtype) and series.dtype.kind in "biuf"
            values = series.to_numpy() if numeric else series.astype(object).to_numpy()
            missing = series.isna().to_numpy()
            self.columns.append((values, missing if missing.any() else None, numeric))

    def records(self, positions: np.ndarray) -> list[dict]:
        cells = []
        for values, missing, numeric in self.columns:
            column = values[positions].tolist()
            if missing is not None:
                for i in np.flatnonzero(missing[positions]):
                    column[i] = None
            # text is most cells of object columns: only the others go through plain()
            cells.append(column if numeric else [v if type(v) is str else plain(v) for v in column])
        if not self.names:
            return [{} for _ in range(len(positions))]
        return [dict(zip(self.names, row)) for row in zip(*cells)]

    def feature_texts(self, positions: np.ndarray) -> list[str]:
        return _feature_texts(self.ids[positions], self.geometries[positions], self.records(positions))


def _collection_head(members: Mapping | None) -> str:
    head = '{"type":"FeatureCollection"'
    for key, value in (members or {}).items():
        head += "," + json.dumps(key) + ":" + json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return head + ',"features":['


def feature_collection(features: Iterable[str], members: Mapping | None = None) -> bytes:
    """A FeatureCollection from Feature texts; `members` (links, numberMatched, ...) go first."""
    return (_collection_head(members) + ",".join(features) + "]}").encode("utf-8")


# Rows written per piece of a streamed download (a few MB of text at most).
BATCH_ROWS = 2000


def row_batches(frame: gpd.GeoDataFrame, positions: np.ndarray | None = None,
                size: int = BATCH_ROWS) -> Iterator[gpd.GeoDataFrame]:
    """The rows at `positions` (all rows by default), in order, as frames of at most `size` rows."""
    positions = np.arange(len(frame)) if positions is None else positions
    for start in range(0, len(positions), size):
        yield frame.iloc[positions[start:start + size]]


def feature_collection_chunks(write: Callable[[np.ndarray], list[str]], positions: np.ndarray,
                              size: int = BATCH_ROWS) -> Iterator[bytes]:
    """The bytes of feature_collection(write(positions)) in pieces of `size` features, so a
    whole layer is never held as one text. `write` gives the Feature texts of row positions
    (Columns.feature_texts, or feature_texts of frame.iloc[positions])."""
    yield _collection_head(None).encode("utf-8")
    separator = ""
    for start in range(0, len(positions), size):
        yield (separator + ",".join(write(positions[start:start + size]))).encode("utf-8")
        separator = ","
    yield b"]}"


def to_csv(frame: gpd.GeoDataFrame) -> bytes:
    """UTF-8 CSV with a BOM (so Excel reads Chinese): points as `lon`,`lat` columns, other
    geometries as a `WKT` column (the name GDAL's CSV driver and QGIS recognise). Text that a
    spreadsheet would evaluate as a formula is neutralised (see `neutralise`)."""
    return b"".join(csv_chunks(frame))


def csv_chunks(frame: gpd.GeoDataFrame, positions: np.ndarray | None = None,
               size: int = BATCH_ROWS) -> Iterator[bytes]:
    """to_csv(frame.iloc[positions]) in pieces: the BOM and header, then `size` rows at a time."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    chosen = frame.geometry.values if positions is None else frame.geometry.values[positions]
    points = len(chosen) > 0 and bool((shapely.get_type_id(chosen) == 0).all())
    return csv_batch_chunks(columns, points, ((property_records(batch), batch.geometry.values)
                                              for batch in row_batches(frame, positions, size)))


def csv_batch_chunks(columns: list[str], points: bool, batches: Iterable[tuple[list[dict], np.ndarray]]
                     ) -> Iterator[bytes]:
    """csv_chunks of rows given a batch at a time as (property records, geometries) (rows read
    from PostGIS too): `columns` and `points` (every geometry a Point: lon/lat columns, else WKT)
    are known before the rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in columns] + (["lon", "lat"] if points else ["WKT"]))
    yield ("\ufeff" + out.getvalue()).encode("utf-8")
    for records, geometries in batches:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for record, geometry in zip(records, rfc7946_geometries(geometries)):
            row = [csv_cell(record[c]) for c in columns]
            if points:
                row += [repr(round(geometry.x, COORDINATE_DECIMALS)), repr(round(geometry.y, COORDINATE_DECIMALS))]
            else:
                row.append(shapely.to_wkt(geometry, rounding_precision=COORDINATE_DECIMALS))
            writer.writerow(row)
        yield out.getvalue().encode("utf-8")


GPKG_GEOMETRY_COLUMN = "geom"


def to_geopackage(layers: Mapping[str, tuple[gpd.GeoDataFrame, str]],
                  descriptions: Mapping[str, str] | None = None,
                  styles: Iterable[dict] = ()) -> bytes:
    """A GeoPackage (EPSG:4326) with one table per entry: name -> (frame, geometry type).
    `descriptions` go to gpkg_contents.description; `styles` are rows of the `layer_styles`
    table QGIS reads (see geoapp.export.styles.style_row), written as an attributes table."""
    with tempfile.TemporaryDirectory(prefix="atlas-gpkg-") as folder:
        return write_geopackage(Path(folder), layers, descriptions, styles).read_bytes()


def write_geopackage(folder: Path, layers: Mapping[str, tuple[gpd.GeoDataFrame, str]],
                     descriptions: Mapping[str, str] | None = None, styles: Iterable[dict] = ()) -> Path:
    """to_geopackage written as a file in `folder`; returns its path. A layer's frame may also be
    an iterable of frames (its rows a batch at a time, e.g. read from PostGIS): the first batch
    makes the table, the others are appended to it, so the layer is never held whole."""
    path = Path(folder) / "export.gpkg"
    for name, (frames, geometry_type) in layers.items():
        for index, frame in enumerate([frames] if isinstance(frames, pd.DataFrame) else frames):
            table = frame.reset_index(drop=True)
            table[table.geometry.name] = gpd.GeoSeries(rfc7946_geometries(table.geometry.values),
                                                       index=table.index, crs=4326)
            options = {"IDENTIFIER": name, "GEOMETRY_NAME": GPKG_GEOMETRY_COLUMN}
            if descriptions and descriptions.get(name):
                options["DESCRIPTION"] = descriptions[name]
            pyogrio.write_dataframe(table, path, layer=name, driver="GPKG",
                                    geometry_type=geometry_type, append=path.exists(),
                                    layer_options=None if index else options,
                                    # 1.2: the newest version older GDAL/QGIS/ArcGIS open without a
                                    # warning (GDAL 3.6 warns on pyogrio's default 1.4).
                                    dataset_options=None if path.exists() else {"VERSION": "1.2"})
    rows = list(styles)
    if rows:
        # The schema QGIS creates (FID `id`, update_time): its loadStyle query orders by it.
        table = pd.DataFrame(rows, columns=list(rows[0]))
        table["update_time"] = pd.Timestamp.now(tz="UTC").floor("s").tz_localize(None)
        pyogrio.write_dataframe(table, path, layer="layer_styles", driver="GPKG", append=True,
                                layer_options={"FID": "id",
                                               "DESCRIPTION": "QGIS layer styles (QML and SLD) "
                                                              "generated from the atlas's map specs"})
    return path


def _write_file(folder: Path, frame: gpd.GeoDataFrame, geometry_type: str, driver: str, suffix: str,
                layer: str, **options) -> Path:
    """`frame` written with pyogrio; or an iterable of frames: the first makes the file, the
    others are appended (a layer read from PostGIS a batch at a time)."""
    path = Path(folder) / f"{layer}{suffix}"
    for index, batch in enumerate([frame] if isinstance(frame, pd.DataFrame) else frame):
        table = batch.reset_index(drop=True)
        table[table.geometry.name] = gpd.GeoSeries(rfc7946_geometries(table.geometry.values), index=table.index,
                                                   crs=4326)
        pyogrio.write_dataframe(table, path, layer=layer, driver=driver, geometry_type=geometry_type,
                                **({"append": True} if index else options))
    return path


def to_flatgeobuf(frame: gpd.GeoDataFrame, geometry_type: str, layer: str) -> bytes:
    """FlatGeobuf (EPSG:4326) with its packed Hilbert R-tree index, so clients can read a bbox of
    it over HTTP range requests. UTF-8 text."""
    with tempfile.TemporaryDirectory(prefix="atlas-export-") as folder:
        return write_flatgeobuf(Path(folder), frame, geometry_type, layer).read_bytes()


def write_flatgeobuf(folder: Path, frame: gpd.GeoDataFrame, geometry_type: str, layer: str) -> Path:
    """to_flatgeobuf written as a file in `folder`; returns its path."""
    return _write_file(folder, frame, geometry_type, "FlatGeobuf", ".fgb", layer,
                       layer_options={"SPATIAL_INDEX": "YES"})


# Shapefile (dBASE) field names are at most 10 characters. Every published column has a fixed
# short name here (documented in docs/ogc.md); a column missing from this table is cut to 10
# characters and made unique with a number. The zip carries the mapping as fields.csv too.
SHAPEFILE_FIELDS = {
    "city_adcode": "city_code", "district_adcode": "dist_code", "district_zh": "dist_zh",
    "district_en": "dist_en", "area_adcode": "area_code", "parent_adcode": "par_code",
    "industries_zh": "indust_zh", "industries_en": "indust_en", "location_precision": "loc_prec",
    "location_precision_zh": "locprec_zh", "location_precision_en": "locprec_en",
    "axis_length_km": "axis_km", "half_width_km": "half_w_km",
    "htz_national": "htz_nat", "htz_provincial": "htz_prov", "clusters_bases": "clus_bases",
    "laboratories": "labs", "designations": "designat", "city_precision_places": "city_prec",
    "industries_present": "indust_n",
    "industry_equipment": "ind_equip", "industry_electronics": "ind_elec",
    "industry_new_materials": "ind_newmat", "industry_chemicals": "ind_chem",
    "industry_agriculture": "ind_agri", "industry_biomedicine": "ind_biomed",
    "industry_energy_environment": "ind_energy", "industry_marine": "ind_marine",
    "industry_st_services": "ind_stserv", "industry_new_energy": "ind_newen",
}
DBF_TEXT_BYTES = 254  # the longest dBASE text field; longer text continues in <name>_2, <name>_3, ...


def shapefile_names(columns: Iterable[str]) -> dict[str, str]:
    """Column -> dBASE field name (<= 10 characters, unique, case-insensitively too)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        short = SHAPEFILE_FIELDS.get(column, column)[:10]
        candidate, n = short, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{short[:10 - len(str(n)) - 1]}_{n}"
        names[column] = candidate
        taken.add(candidate.lower())
    return names


def _utf8_chunks(text: str, limit: int = DBF_TEXT_BYTES) -> list[str]:
    """text in pieces of at most `limit` UTF-8 bytes, cut between characters and never next to
    whitespace: dBASE pads text with spaces and readers (GDAL) strip them at both ends, so a cut
    at a space would lose it. Concatenating the pieces gives the text back."""
    chunks, start = [], 0
    while len(text[start:].encode("utf-8")) > limit:
        end, size = start, 0
        while size + len(text[end].encode("utf-8")) <= limit:
            size += len(text[end].encode("utf-8"))
            end += 1
        cut = end
        while cut > start + 1 and (text[cut - 1].isspace() or text[cut].isspace()):
            cut -= 1
        if cut == start + 1 and (text[cut - 1].isspace() or text[cut].isspace()):
            cut = end  # a run of whitespace longer than a field: nothing better to do
        chunks.append(text[start:cut])
        start = cut
    chunks.append(text[start:])
    return chunks


def shapefile_widths(frame: gpd.GeoDataFrame) -> dict[str, int]:
    """Column -> the dBASE fields its longest text needs (shapefile_table's continuation fields),
    for a layer written a batch at a time (take the largest of every batch's)."""
    widths = {}
    for column in (c for c in frame.columns if c != frame.geometry.name):
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        cells = [plain(v) for v in series.astype(object)]
        widths[column] = max([len(_utf8_chunks(str(v))) for v in cells if v is not None and str(v)] + [1])
    return widths


def shapefile_table(frame: gpd.GeoDataFrame, widths: Mapping[str, int] | None = None
                    ) -> tuple[gpd.GeoDataFrame, list[tuple[str, str]]]:
    """The frame with dBASE field names, text over 254 bytes split over continuation fields
    (lossless: concatenate name, name_2, ... in order), and the (field, column) mapping.
    `widths` (shapefile_widths of the whole layer): the fields of each text column, when the
    frame is one batch of a layer."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    names = shapefile_names(columns)
    out: dict[str, object] = {}
    mapping: list[tuple[str, str]] = []
    taken = {n.lower() for n in names.values()}
    for column in columns:
        series = frame[column]
        field = names[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            out[field] = series
            mapping.append((field, column))
            continue
        cells = [plain(v) for v in series.astype(object)]
        pieces = [_utf8_chunks(str(v)) if v is not None and str(v) else [v] for v in cells]
        width = max([len(p) for p in pieces] + [1]) if widths is None else widths[column]
        for part in range(width):
            name = field if part == 0 else f"{field[:10 - len(str(part + 1)) - 1]}_{part + 1}"
            while part and name.lower() in taken:
                name = name[:-1]
            taken.add(name.lower())
            out[name] = pd.Series([p[part] if part < len(p) else None for p in pieces], index=frame.index,
                                  dtype=object)
            mapping.append((name, column if part == 0 else f"{column} (part {part + 1})"))
    table = gpd.GeoDataFrame(out, geometry=frame.geometry.values, crs=frame.crs, index=frame.index)
    return table, mapping


def to_shapefile_zip(frame: gpd.GeoDataFrame, geometry_type: str, name: str) -> bytes:
    """A zipped ESRI Shapefile (EPSG:4326): .shp .shx .dbf .prj and a .cpg saying UTF-8, plus
    fields.csv mapping the short dBASE field names to the full column names."""
    with tempfile.TemporaryDirectory(prefix="atlas-export-") as folder:
        return write_shapefile_zip(Path(folder), frame, geometry_type, name).read_bytes()


def write_shapefile_zip(folder: Path, frame: gpd.GeoDataFrame, geometry_type: str, name: str,
                        batches: Callable[[], Iterable[gpd.GeoDataFrame]] | None = None) -> Path:
    """to_shapefile_zip written as `<name>.shp.zip` in `folder` (next to the Shapefile's parts);
    returns its path. With `batches` (a function giving the layer's rows a batch at a time, read
    twice: the fields' widths first), `frame` is ignored and the layer is never held whole."""
    import zipfile

    if batches is None:
        table, mapping = shapefile_table(frame)
        tables = [table]
    else:
        widths: dict[str, int] = {}
        for batch in batches():
            for column, width in shapefile_widths(batch).items():
                widths[column] = max(width, widths.get(column, 1))
        mapping = []

        def tables():
            for batch in batches():
                table, mapping[:] = shapefile_table(batch, widths)
                yield table
        tables = tables()
    path = _write_file(folder, tables, "Polygon" if geometry_type == "MultiPolygon" else geometry_type,
                       "ESRI Shapefile", ".shp", name, layer_options={"ENCODING": "UTF-8"})
    stem = path.with_suffix("")
    cpg = stem.with_suffix(".cpg")
    if not cpg.exists():
        cpg.write_text("UTF-8", encoding="ascii")
    archive_path = Path(folder) / f"{name}.shp.zip"
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            part = stem.with_suffix(suffix)
            if part.exists():
                archive.write(part, arcname=f"{name}{suffix}")
        fields = io.StringIO()
        writer = csv.writer(fields, lineterminator="\r\n")
        writer.writerow(["field", "column"])
        writer.writerows([csv_cell(v) for v in row] for row in mapping)
        archive.writestr("fields.csv", "\ufeff" + fields.getvalue())
    return archive_path


def file_chunks(write, size: int = 1 << 20) -> Iterator[bytes]:
    """Bytes of the file `write(folder)` makes (and returns the path of) in a temporary folder,
    read `size` bytes at a time; the folder is removed when the reading ends or is abandoned."""
    with tempfile.TemporaryDirectory(prefix="atlas-export-") as folder:
        with open(write(Path(folder)), "rb") as file:
            while chunk := file.read(size):
                yield chunk
