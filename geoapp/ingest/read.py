"""Read an uploaded list (CSV, XLSX, GeoJSON, GeoPackage) into a table of text cells.

Every cell stays text exactly as written (a formula such as =HYPERLINK(...) is read as its text,
never evaluated); each row keeps the number a spreadsheet shows for it (header = row 1), so a
problem can be found in the file.
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


class ReadError(ValueError):
    """The file as a whole cannot be read (format, encoding, no header)."""


@dataclass
class RawTable:
    name: str                      # the file name as given (shown in every problem)
    table: pd.DataFrame            # text cells, original headers; "" for empty
    rows: list[int]                # spreadsheet row number of each table row
    geometry: gpd.GeoSeries | None = None  # for GeoJSON/GeoPackage: the features' geometry
    crs_epsg: int | None = None    # for GeoJSON/GeoPackage: the file's declared CRS
    encoding: str = ""
    cell_problems: list = field(default_factory=list)   # (row, message) found while reading


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
    for number, record in enumerate(records, start=1):
        if header is None:
            if any(c.strip() for c in record):
                header = [c.strip() for c in record]
            continue
        if len(record) > len(header) and any(c.strip() for c in record[len(header):]):
            problems.append((number, f"{len(record)} cells but the header has {len(header)}; "
                             "a cell containing a comma must be in double quotes"))
        cells.append((record + [""] * len(header))[:len(header)])
        rows.append(number)
    if header is None:
        raise ReadError(f"{name}: empty; the first line must hold the column headers")
    table = pd.DataFrame(cells, columns=header, dtype=str) if cells else pd.DataFrame(columns=header, dtype=str)
    return _drop_blank(RawTable(name, table, rows, encoding=encoding, cell_problems=problems))


def read_xlsx(data: bytes, name: str) -> RawTable:
    import openpyxl  # reads cells without evaluating formulas (data_only=False keeps their text)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise ReadError(f"{name}: not a readable XLSX workbook ({type(error).__name__})") from None
    sheet = book.worksheets[0]
    header, records, numbers = None, [], []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = [_text(v) for v in values]
        if header is None:
            if any(c.strip() for c in cells):
                header = [c.strip() for c in cells]
            continue
        records.append((cells + [""] * len(header))[:len(header)])
        numbers.append(number)
    book.close()
    if header is None:
        raise ReadError(f"{name}: the first sheet is empty; row 1 must hold the column headers")
    table = pd.DataFrame(records, columns=header, dtype=str) if records else \
        pd.DataFrame(columns=header, dtype=str)
    return _drop_blank(RawTable(name, table, numbers))


def read_features(data: bytes, name: str, suffix: str) -> RawTable:
    import tempfile
    # GDAL wants a GeoPackage as a file with its extension (SQLite underneath), not a stream.
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        try:
            frame = gpd.read_file(handle.name, engine="pyogrio")
        except Exception as error:
            raise ReadError(f"{name}: not a readable {FORMATS[suffix]} file "
                            f"({str(error).replace(handle.name, name)})") from None
    epsg = frame.crs.to_epsg() if frame.crs is not None else None
    table = pd.DataFrame({c: [_text(v) for v in frame[c]] for c in frame.columns
                          if c != frame.geometry.name}, dtype=str)
    # Features are numbered from 1 as QGIS's attribute table shows them.
    return RawTable(name, table.reset_index(drop=True), list(range(1, len(frame) + 1)),
                    geometry=frame.geometry.reset_index(drop=True), crs_epsg=epsg)


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
