"""One import, the same for the command and the web page: read, check, preview, commit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd

from geoapp.data import Registry
from geoapp.data.validate import Problem
from geoapp.export.serialize import neutralise
from geoapp.ingest import rows as rows_mod
from geoapp.ingest.read import ReadError, read_upload
from geoapp.ingest.seats import seat_points
from geoapp.ingest.store import Diff, Store


def importable_layers(specs) -> dict[str, dict]:
    """Layer id -> kind/level defaults, for every spec in layers/*.yaml marked `imported:`."""
    return {spec.id: dict(spec.imported) for spec in specs if spec.imported is not None}


def source_text(file_name: str, who: str, day: str) -> str:
    """The per-row source of an imported row whose file gives none: file, row, who, date."""
    return f"导入清单 {file_name} 第{{row}}行（{who}，{day} 导入） / imported list {file_name}, row {{row}} ({who}, {day})"


@dataclass
class Check:
    prepared: rows_mod.Prepared
    diff: Diff | None            # against the current version (None when nothing can be written)

    @property
    def problems(self) -> list[Problem]:
        return self.prepared.problems


class ImportRefused(ValueError):
    """Bad request: unknown layer, unreadable file (the message says what is allowed)."""


def check_file(data: bytes, file_name: str, layer: str, crs: str, base: Registry, store: Store,
               who: str, skip_invalid: bool = False) -> Check:
    layers = importable_layers(base.specs)
    if layer not in layers:
        raise ImportRefused(f"layer '{layer}' is not an imported layer; allowed: "
                            f"{', '.join(layers) or '(none: add a layers/NN_<id>.yaml with imported:)'}")
    try:
        raw = read_upload(data, file_name)
    except ReadError as error:
        raise ImportRefused(str(error)) from None
    taken = {}
    for layer_id, frame in base.layers.items():
        if "id" in frame.columns and layer_id not in layers:
            taken.update(dict.fromkeys(frame["id"].astype(str), layer_id))
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    prepared = rows_mod.prepare(raw, layer, base.boundaries, crs, layers[layer],
                                source_text(Path(file_name).name, who, day), taken,
                                seats=seat_points(base.boundaries, base.data_dir))
    frame = _writable(prepared, skip_invalid)
    return Check(prepared, None if frame is None else store.preview(layer, frame))


def _writable(prepared: rows_mod.Prepared, skip_invalid: bool) -> gpd.GeoDataFrame | None:
    if prepared.ok:
        return prepared.frame
    if skip_invalid and prepared.frame is not None and len(prepared.frame):
        return prepared.good()
    return None


def commit(check: Check, store: Store, who: str, skip_invalid: bool = False, progress=None) -> tuple[int, Diff]:
    frame = _writable(check.prepared, skip_invalid)
    if frame is None:
        raise ImportRefused(f"{len(check.problems)} problem(s): nothing written")
    rejected = len(check.prepared.bad_rows) if skip_invalid else 0
    return store.commit(check.prepared.layer, frame, who, Path(check.prepared.file_name).name,
                        rejected=rejected, progress=progress)


def rejects_csv(prepared: rows_mod.Prepared) -> bytes:
    """The rejected rows as read, with their row number and every problem, as CSV (UTF-8 with BOM
    so Excel opens it); formulas neutralised."""
    import csv
    import io
    by_row: dict[int, list[str]] = {}
    for p in prepared.problems:
        by_row.setdefault(p.row or 0, []).append(f"{p.field}: {p.message}" if p.field else p.message)
    table = prepared.table if prepared.table is not None else None
    columns = [str(c) for c in table.columns] if table is not None else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["行/row"] + columns + ["问题/problems"])
    positions = {row: i for i, row in enumerate(prepared.rows)}
    for row, messages in sorted(by_row.items()):
        cells = table.iloc[positions[row]].tolist() if table is not None and row in positions else [""] * len(columns)
        writer.writerow([row] + [neutralise(str(v)) for v in cells] + [neutralise(" | ".join(messages))])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
