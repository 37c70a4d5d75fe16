"""Read an uploaded list (CSV, XLSX, GeoJSON, GeoPackage) into a table of text cells.

Every cell stays text exactly as written (a formula such as =HYPERLINK(...) is read as its text,
never evaluated); each row keeps the number a spreadsheet shows for it (header = row 1), so a
problem can be found in the file.

What a file may make the reader do is bounded before and while it is read (TooLarge, answered
413): at most MAX_ROWS data rows, MAX_COLUMNS columns and MAX_CELLS cells (rows x columns); an
XLSX is streamed (openpyxl read_only) with its declared dimension ignored (a 1.7 KB file can
declare A1:XFD1048576, which a reader trusting it pads every row and the sheet to) and its zip
parts' unpacked sizes checked first. A GeoPackage with several layers, a CRS that cannot be
identified or converted, and features whose point is not two finite numbers are reported, never
guessed at.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

FORMATS = {".csv": "CSV", ".txt": "CSV", ".xlsx": "XLSX", ".xlsm": "XLSX",
           ".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GeoPackage"}
# Excel in China saves "CSV" as GB18030/GBK; UTF-8 (with or without BOM) is tried first because
# a UTF-8 file almost never decodes as GB18030 by accident... but GB18030 decodes nearly anything,
# so it must come last.
ENCODINGS = ("utf-8-sig", "gb18030")


MAX_ROWS = 100_000          # data rows of one list
MAX_COLUMNS = 200           # columns of one list
MAX_CELLS = 5_000_000       # rows x columns read
MAX_UNPACKED = 512 * 1024 * 1024        # an XLSX's parts, unpacked
MAX_SHARED_STRINGS = 64 * 1024 * 1024   # its shared strings (openpyxl holds them all in memory)


class ReadError(ValueError):
    """The file as a whole cannot be read (format, encoding, no header)."""
    status = 400


class TooLarge(ReadError):
    """The file holds (or claims) more than a list may: 413, with the limit and what to do."""
    status = 413


def _too_many_rows(name: str, columns: int) -> TooLarge:
    cap = _row_cap(columns)
    return TooLarge(f"{name}: more than {cap:,} data rows; a list may have at most {MAX_ROWS:,} rows "
                    f"and {MAX_CELLS:,} cells (rows × {columns} columns): split it into several files "
                    f"/ 文件行数过多：每个文件最多 {cap:,} 行，请拆分后分别导入")


def _row_cap(columns: int) -> int:
    return min(MAX_ROWS, MAX_CELLS // max(columns, 1))


def _too_many_columns(name: str, row: int, count: int) -> TooLarge:
    return TooLarge(f"{name}: row {row} has {count:,} cells; a list may have at most {MAX_COLUMNS} "
                    f"columns / 列数过多：最多 {MAX_COLUMNS} 列")


@dataclass
class RawTable:
    name: str                      # the file name as given (shown in every problem)
    table: pd.DataFrame            # text cells, original headers; "" for empty
    rows: list[int]                # spreadsheet row number of each table row
    geometry: gpd.GeoSeries | None = None  # for GeoJSON/GeoPackage: the features' geometry
    crs_epsg: int | None = None    # for GeoJSON/GeoPackage: the file's declared CRS
    encoding: str = ""
    cell_problems: list = field(default_factory=list)   # (row, message) found while reading
    notes: list = field(default_factory=list)           # not problems: conversions made while reading


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value)


def _decode(data: bytes, name: str) -> tuple[str, str]:
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ReadError(f"{name}: not UTF-8 or GB18030/GBK text; save the CSV as UTF-8 or use XLSX")


def read_csv(data: bytes, name: str) -> RawTable:
    """CSV by the csv module (not pandas): a row with more cells than the header is reported,
    never shifted into another column or the index."""
    import csv
    text, encoding = _decode(data, name)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise ReadError(f"{name}: not a readable CSV ({error})") from None
    header, rows, cells, problems = None, [], [], []
    cap = MAX_ROWS
    for number, record in enumerate(records, start=1):
        if header is None:
            if any(c.strip() for c in record):
                header = [c.strip() for c in record]
                if len(header) > MAX_COLUMNS:
                    raise _too_many_columns(name, number, len(header))
                cap = _row_cap(len(header))
            continue
        if len(cells) >= cap:
            raise _too_many_rows(name, len(header))
        if len(record) > len(header) and any(c.strip() for c in record[len(header):]):
            problems.append((number, f"{len(record)} cells but the header has {len(header)}; "
                             "a cell containing a comma must be in double quotes"))
        cells.append((record + [""] * len(header))[:len(header)])
        rows.append(number)
    if header is None:
        raise ReadError(f"{name}: empty; the first line must hold the column headers")
    table = pd.DataFrame(cells, columns=header, dtype=str) if cells else pd.DataFrame(columns=header, dtype=str)
    return _drop_blank(RawTable(name, table, rows, encoding=encoding, cell_problems=problems))


def _check_unpacked(data: bytes, name: str) -> None:
    """Refuse an XLSX whose parts unpack to more than the limits, before anything unpacks them
    (zipfile stops at each part's declared size, so the declaration binds)."""
    import zipfile
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise ReadError(f"{name}: not a readable XLSX workbook ({type(error).__name__})") from None
    total = sum(part.file_size for part in parts)
    shared = sum(part.file_size for part in parts if part.filename.lower().endswith("sharedstrings.xml"))
    if total > MAX_UNPACKED or shared > MAX_SHARED_STRINGS:
        raise TooLarge(f"{name}: the workbook unpacks to {total / 2**20:,.0f} MB ({shared / 2**20:,.0f} MB of "
                       f"text); at most {MAX_UNPACKED // 2**20} MB ({MAX_SHARED_STRINGS // 2**20} MB of text) "
                       "are read: save only the list's sheet, or split it / 文件解压后过大，请拆分")


def _check_declared(sheet, name: str) -> None:
    """Refuse a sheet that declares more rows, columns or cells than a list may have."""
    rows, columns = sheet.max_row or 0, sheet.max_column or 0
    if rows - 1 > MAX_ROWS or columns > MAX_COLUMNS or (rows - 1) * columns > MAX_CELLS:
        try:
            declared = sheet.calculate_dimension()
        except ValueError:
            declared = f"{rows:,} rows × {columns:,} columns"
        raise TooLarge(f"{name}: the sheet declares {declared} ({rows:,} rows × {columns:,} columns = "
                       f"{rows * columns:,} cells); a list may have at most {MAX_ROWS:,} rows, {MAX_COLUMNS} "
                       f"columns and {MAX_CELLS:,} cells: split it, or copy only the list into a new "
                       "workbook / 表格声明的范围过大，请拆分或只复制清单到新工作簿")


def read_xlsx(data: bytes, name: str) -> RawTable:
    import openpyxl  # reads cells without evaluating formulas (data_only=False keeps their text)
    _check_unpacked(data, name)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise ReadError(f"{name}: not a readable XLSX workbook ({type(error).__name__})") from None
    try:
        sheet = book.worksheets[0]
        _check_declared(sheet, name)
        # The declared <dimension> is the file's claim, not its content: read the cells present
        # (openpyxl pads to a declaration that is too large, and stops at one that is too small).
        sheet.reset_dimensions()
        header, records, numbers = None, [], []
        cap = MAX_ROWS
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if len(values) > MAX_COLUMNS:
                if any(v is not None and str(v).strip() for v in values[MAX_COLUMNS:]):
                    raise _too_many_columns(name, number, len(values))
                values = values[:MAX_COLUMNS]
            cells = [_text(v) for v in values]
            if header is None:
                if any(c.strip() for c in cells):
                    header = [c.strip() for c in cells]
                    cap = _row_cap(len(header))
                continue
            if not any(c.strip() for c in cells):
                continue        # blank rows (gaps, trailing lines) are neither kept nor counted
            if len(records) >= cap:
                raise _too_many_rows(name, len(header))
            records.append((cells + [""] * len(header))[:len(header)])
            numbers.append(number)
    finally:
        book.close()
    if header is None:
        raise ReadError(f"{name}: the first sheet is empty; row 1 must hold the column headers")
    table = pd.DataFrame(records, columns=header, dtype=str) if records else \
        pd.DataFrame(columns=header, dtype=str)
    return _drop_blank(RawTable(name, table, numbers))


def read_features(data: bytes, name: str, suffix: str) -> RawTable:
    import tempfile
    import warnings

    import pyogrio
    # GDAL wants a GeoPackage as a file with its extension (SQLite underneath), not a stream.
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        try:
            layers = [str(layer[0]) for layer in pyogrio.list_layers(handle.name)]
            if len(layers) > 1:
                raise ReadError(f"{name}: {len(layers)} layers ({', '.join(layers[:10])}); a list is one layer: "
                                "save the layer to import as its own file (QGIS: Export → Save Features As; "
                                f"ogr2ogr one.gpkg {name} LAYER) / 文件含多个图层，请每个文件只保存一个图层")
            count = pyogrio.read_info(handle.name).get("features", -1)
            if count > MAX_ROWS:
                raise TooLarge(f"{name}: {count:,} features; a list may have at most {MAX_ROWS:,}: split it "
                               "into several files / 要素过多，请拆分")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # bad coordinates: reported below
                frame = gpd.read_file(handle.name, engine="pyogrio")
        except ReadError:
            raise
        except Exception as error:
            raise ReadError(f"{name}: not a readable {FORMATS[suffix]} file "
                            f"({str(error).replace(handle.name, name)})") from None
    notes = []
    epsg = frame.crs.to_epsg() if frame.crs is not None else None
    if frame.crs is not None and epsg is None:
        # A CRS without an EPSG code (a custom or local system): converted by its definition,
        # never taken for WGS84.
        try:
            frame = frame.to_crs(4326)
        except Exception as error:
            raise ReadError(f"{name}: its coordinate system ({frame.crs.name}) cannot be converted to WGS84 "
                            f"({type(error).__name__}); save the file in EPSG:4326 / 坐标系无法转换") from None
        notes.append(f"geometry converted from the file's coordinate system '{frame.crs.name}' "
                     "(no EPSG code) to WGS84")
        epsg = 4326
    if len(frame.columns) - 1 > MAX_COLUMNS:
        raise _too_many_columns(name, 1, len(frame.columns) - 1)
    table = pd.DataFrame({c: [_text(v) for v in frame[c]] for c in frame.columns
                          if c != frame.geometry.name}, dtype=str)
    geometry = frame.geometry.reset_index(drop=True)
    problems = _geometry_problems(data, suffix, geometry)
    if problems:
        bad = [row - 1 for row, _ in problems]
        geometry = geometry.copy()
        geometry.iloc[bad] = None    # the row is rejected; nothing is placed from a broken point
    # Features are numbered from 1 as QGIS's attribute table shows them.
    return RawTable(name, table.reset_index(drop=True), list(range(1, len(frame) + 1)),
                    geometry=geometry, crs_epsg=epsg, cell_problems=problems, notes=notes)


def _geometry_problems(data: bytes, suffix: str, geometry: gpd.GeoSeries) -> list[tuple[int, str]]:
    """(feature number, message) for features whose point is not two finite numbers: GDAL reads
    [123.4] as no geometry and [NaN, 41.8] as a point of NaN, either of which would otherwise
    put the row at its district's seat without a word."""
    import json
    import math
    problems: dict[int, str] = {}
    raw_geometries = None
    if suffix in (".geojson", ".json"):
        try:
            document = json.loads(data.decode("utf-8-sig"))
            features = document.get("features") if isinstance(document, dict) else None
            if isinstance(features, list) and len(features) == len(geometry):
                raw_geometries = [f.get("geometry") if isinstance(f, dict) else None for f in features]
        except (ValueError, UnicodeDecodeError):
            pass
    for i, geom in enumerate(geometry):
        given = raw_geometries[i] if raw_geometries is not None else None
        if given is not None and (geom is None or geom.is_empty):
            shown = json.dumps(given.get("coordinates") if isinstance(given, dict) else given,
                               ensure_ascii=False)[:80]
            problems[i + 1] = (f"geometry: coordinates {shown} are not a point: give two numbers "
                               "[lon, lat] in decimal degrees / 坐标应为两个数字 [经度, 纬度]")
        elif geom is not None and not geom.is_empty and geom.geom_type == "Point" \
                and not (math.isfinite(geom.x) and math.isfinite(geom.y)):
            problems[i + 1] = (f"geometry: point ({geom.x}, {geom.y}) is not two finite numbers: give "
                               "[lon, lat] in decimal degrees / 坐标不是有效数字")
    return sorted(problems.items())


def _drop_blank(raw: RawTable) -> RawTable:
    """Drop fully empty rows (trailing lines Excel leaves); keep the others' row numbers."""
    if raw.table.empty:
        return raw
    keep = raw.table.apply(lambda r: any(str(v).strip() for v in r), axis=1).to_numpy()
    raw.table = raw.table[keep].reset_index(drop=True)
    raw.rows = [n for n, k in zip(raw.rows, keep) if k]
    return raw


def read_upload(data: bytes, name: str) -> RawTable:
    """Read by the file name's extension; raise ReadError saying what is accepted."""
    suffix = Path(name).suffix.lower()
    kind = FORMATS.get(suffix)
    if kind == "CSV":
        return read_csv(data, name)
    if kind == "XLSX":
        return read_xlsx(data, name)
    if kind in ("GeoJSON", "GeoPackage"):
        return read_features(data, name, suffix)
    raise ReadError(f"{name}: unknown file type '{suffix}'; allowed: "
                    + ", ".join(sorted(FORMATS)))


def read_path(path: Path) -> RawTable:
    return read_upload(Path(path).read_bytes(), Path(path).name)
