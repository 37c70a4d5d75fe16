"""The one writer of tables for spreadsheets: every CSV and XLSX download of the atlas (/stats
tables, the map's places list and city figures, /export/<layer>.csv, the import rejects) goes
through `csv_cell`/`xlsx_cell`, so none of them starts a cell with something a spreadsheet runs.

A `Sheet` is a title, header labels (already in the reader's language) and rows of Python
values. Text is data text: a cell that starts with = + - @, a tab or a carriage return would be
read by Excel/WPS/LibreOffice as a formula (`=HYPERLINK(...)`, `+cmd|' /C calc'!A0`, `@SUM(1+1)`),
so it gets a leading apostrophe (OWASP, "CSV injection"); numbers stay numbers (a negative
number is a number, not text). In XLSX every text cell is written with the string type, never
as a formula, and also carries the apostrophe so both files read the same.

XLSX through openpyxl (already the project's reader of imported XLSX: one library for both
directions; write-only mode streams rows to the file, so a 100k-row table is not held as cell
objects). XlsxWriter would write faster, but it turns text that looks like a formula, a number
or a URL into one unless each of those options is switched off, and it is a second dependency.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# XML 1.0 forbids these control characters; openpyxl refuses them. Shown as U+FFFD.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Excel's limits: 31 characters for a sheet title, no []:*?/\ in it.
_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")


def neutralise(value):
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe, so Excel, WPS
    and LibreOffice show it as text; anything else is returned unchanged."""
    if isinstance(value, str) and value[:1] in FORMULA_START:
        return "'" + value
    return value


def plain_value(value):
    """numpy/pandas scalars as Python values; missing (None, NaN, NA) as None."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, (str, bytes)):
        try:
            value = item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        import pandas as pd
        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def csv_cell(value) -> str | int | float:
    """One cell as the csv module writes it: numbers as numbers, text neutralised, missing empty."""
    value = plain_value(value)
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    return neutralise(str(value))


def xlsx_cell(value):
    """One cell as openpyxl writes it: numbers and booleans as they are, text neutralised and
    cleaned of the control characters XML cannot hold."""
    value = plain_value(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return neutralise(_ILLEGAL.sub("\ufffd", str(value)))


@dataclass
class Sheet:
    """A table for people: `title` names it (sheet name, caption), `columns` are the header
    labels in the reader's language, `rows` the cells. `notes` (source, filter, date) are written
    under the table in the XLSX, not in the CSV (a CSV is the table alone)."""
    title: str
    columns: Sequence[str]
    rows: Iterable[Sequence]
    notes: Sequence[str] = field(default_factory=tuple)


_STARTS = frozenset(FORMULA_START)


def _csv_fast(value):
    """csv_cell, with the common cell types (text, int, float) decided without a function call
    chain: a 100k-row table is over a million cells."""
    kind = type(value)
    if kind is str:
        return "'" + value if value and value[0] in _STARTS else value
    if kind is int:
        return value
    if kind is float:
        return value if value == value else ""
    return csv_cell(value)


def _xlsx_fast(value):
    kind = type(value)
    if kind is str and not _ILLEGAL.search(value):
        return "'" + value if value and value[0] in _STARTS else value
    if kind is int:
        return value
    if kind is float:
        return value if value == value else None
    return xlsx_cell(value)


def csv_rows(columns: Sequence[str], rows: Iterable[Sequence], bom: bool = True) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in columns])
    writer.writerows([_csv_fast(v) for v in row] for row in rows)
    return ("\ufeff" if bom else "") + out.getvalue()


def csv_bytes(sheet: Sheet) -> bytes:
    """UTF-8 CSV with a BOM (so Excel reads Chinese), CRLF line ends, header first."""
    return csv_rows(sheet.columns, sheet.rows).encode("utf-8")


def csv_chunks(columns: Sequence[str], batches: Iterable[Iterable[Sequence]]) -> Iterator[bytes]:
    """csv_bytes in pieces: the BOM and the header, then one piece per batch of rows."""
    yield csv_rows(columns, ()).encode("utf-8")
    for rows in batches:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([_csv_fast(v) for v in row] for row in rows)
        yield out.getvalue().encode("utf-8")


def sheet_title(title: str) -> str:
    return (_SHEET_TITLE_BAD.sub(" ", title).strip() or "Sheet")[:31]


def _width(text) -> float:
    """Rough display width of a cell in Excel's character units (CJK characters count double)."""
    text = "" if text is None else str(text)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """An XLSX workbook with one worksheet per Sheet: a bold, frozen header row, column widths
    that fit the header and the first rows, text never a formula (see module doc)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    book = Workbook(write_only=True)
    book.properties.creator = "辽宁创新地图 Liaoning Innovation Atlas"
    bold = Font(bold=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet_title(sheet.title))
        rows = [[_xlsx_fast(v) for v in row] for row in sheet.rows]
        columns = [xlsx_cell(c) for c in sheet.columns]
        ws.freeze_panes = "A2"
        from openpyxl.utils import get_column_letter
        for i, name in enumerate(columns):
            sample = [_width(name)] + [_width(r[i]) for r in rows[:200] if i < len(r)]
            ws.column_dimensions[get_column_letter(i + 1)].width = min(60, max(6, max(sample) + 2))
        header = []
        for name in columns:
            cell = WriteOnlyCell(ws, value=name)
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            header.append(cell)
        ws.append(header)
        for row in rows:
            ws.append(row)
        if sheet.notes:
            ws.append([])
            for note in sheet.notes:
                ws.append([xlsx_cell(note)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
