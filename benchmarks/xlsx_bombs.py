"""Hostile XLSX files for the import's limits (issue 19 item 4) — written here, never under data/.

    dimension_bomb()      ~1.7 KB: a header and two rows, but the sheet declares A1:XFD1048576
                          (17 billion cells), which a reader that trusts the declaration pads to
    million_rows(n)       n rows of three short cells (1,000,000 rows: a few MB zipped)
    shared_strings_bomb() a sharedStrings part that unpacks to hundreds of MB

Rows are synthetic (合成 / synthetic), not places.
"""
from __future__ import annotations

import io
import zipfile

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
{extra}</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
{extra}</Relationships>"""
SHEET_HEAD = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="{ref}"/><sheetData>"""
SHEET_TAIL = "</sheetData></worksheet>"
SST_TYPE = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sharedStrings+xml"/>\n')
SST_REL = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
           'relationships/sharedStrings" Target="sharedStrings.xml"/>\n')


def _row(number: int, cells: list[str]) -> str:
    columns = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return f'<row r="{number}">' + "".join(
        f'<c r="{columns[i]}{number}" t="inlineStr"><is><t>{text}</t></is></c>' for i, text in enumerate(cells)) + "</row>"


def _book(sheet_parts, ref: str, shared_strings: bytes | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES.format(extra=SST_TYPE if shared_strings else ""))
        book.writestr("_rels/.rels", ROOT_RELS)
        book.writestr("xl/workbook.xml", WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(extra=SST_REL if shared_strings else ""))
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(SHEET_HEAD.format(ref=ref).encode())
            for part in sheet_parts:
                sheet.write(part.encode())
            sheet.write(SHEET_TAIL.encode())
        if shared_strings is not None:
            with book.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
                part.write(shared_strings)
    return out.getvalue()


def dimension_bomb() -> bytes:
    rows = [_row(1, ["名称", "所在市", "区县"]), _row(2, ["合成单位 1", "沈阳市", "和平区"]),
            _row(3, ["合成单位 2", "大连市", "中山区"])]
    return _book(rows, "A1:XFD1048576")


def million_rows(n: int = 1_000_000) -> bytes:
    def rows():
        yield _row(1, ["名称", "所在市", "区县"])
        for i in range(2, n + 2):
            yield _row(i, [f"合成{i}", "沈阳市", "和平区"])
    return _book(rows(), f"A1:C{n + 1}")


def shared_strings_bomb(megabytes: int = 300) -> bytes:
    text = "合" * 1000
    item = f"<si><t>{text}</t></si>".encode()
    count = megabytes * 1024 * 1024 // len(item)
    body = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main">' + item * count + b"</sst>")
    rows = [_row(1, ["名称", "所在市"]), '<row r="2"><c r="A2" t="s"><v>0</v></c></row>']
    return _book(rows, "A1:B2", shared_strings=body)
