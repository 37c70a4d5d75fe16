"""One import, the same for the command and the web page: read, check, preview, commit.

The clerk chooses how the file meets the rows already in the layer (MODES, no default):
  append   the file's rows are added; rows already there are kept unchanged; a file row that is
           already in the layer (same id, or same name and district when the file gives no id)
           is a problem ("use update");
  update   file rows matching a stored row (by id, else name + district) replace it, the others
           are added; nothing is removed;
  replace  the layer becomes the file: stored rows not in it are removed.
The preview is made against one version (Check.base_version); the commit writes what the preview
showed, and only if that version is still current (store.StoreConflict otherwise)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoapp.data import Registry
from geoapp.data.validate import Problem
from geoapp.export.spreadsheet import Sheet, csv_bytes
from geoapp.ingest import rows as rows_mod
from geoapp.ingest.read import ReadError, read_upload
from geoapp.ingest.seats import seat_points
from geoapp.ingest.store import Diff, Store, diff

MODES = ("append", "update", "replace")
MODE_LABELS = {"append": ("追加", "append: add the rows, keep every row already there"),
               "update": ("更新", "update: change the rows matched by id (else name + district), add the others, "
                                  "remove nothing"),
               "replace": ("替换", "replace: the layer becomes the file; rows not in it are removed")}


def importable_layers(specs) -> dict[str, dict]:
    """Layer id -> kind/level defaults, for every spec in layers/*.yaml marked `imported:`."""
    return {spec.id: dict(spec.imported) for spec in specs if spec.imported is not None}


def source_text(file_name: str, who: str, day: str) -> str:
    """The per-row source of an imported row whose file gives none: file, row, who, date."""
    return f"导入清单 {file_name} 第{{row}}行（{who}，{day} 导入） / imported list {file_name}, row {{row}} ({who}, {day})"


@dataclass
class Check:
    prepared: rows_mod.Prepared
    diff: Diff | None            # against base_version (None when nothing can be written)
    mode: str = "replace"
    base_version: int = 0        # the version the preview was made against
    old: gpd.GeoDataFrame | None = None     # the layer's rows in base_version (in-memory stores)
    frame: gpd.GeoDataFrame | None = None   # what the layer holds after the commit (in-memory
    #                                         stores; on PostGIS only for replace: the file's rows)
    # PostGIS (store.sql_import): the stored layer stays in the database; what the commit writes
    # is `new` (the file's rows to write) with `matches` (stored position each one replaces, or
    # None: added), and `samples` holds a few rows of each kind of change for the preview page.
    new: gpd.GeoDataFrame | None = None
    matches: list | None = None
    samples: dict | None = None

    @property
    def problems(self) -> list[Problem]:
        return self.prepared.problems


class ImportRefused(ValueError):
    """Bad request: unknown layer, unreadable file (the message says what is allowed). `status`:
    400, or 413 for a file over the read limits (read.TooLarge)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _refuse_choice(name: str, value, allowed, help_text: str) -> None:
    if value not in allowed:
        given = f"'{value}' is not allowed" if value else "not chosen"
        raise ImportRefused(f"{name}: {given}; choose one of {', '.join(allowed)} ({help_text})")


CRS_HELP = ("高德/腾讯 Amap/Tencent → gcj02, 百度 Baidu → bd09, GPS/天地图 Tianditu → wgs84 or cgcs2000; "
            "there is no default: a wrong choice puts every point ~500 m off")
MODE_HELP = "append keeps the rows already there, update changes matching rows, replace removes the rest"


def check_file(data: bytes, file_name: str, layer: str, crs: str, base: Registry, store: Store,
               who: str, skip_invalid: bool = False, mode: str = "", samples: int = 0) -> Check:
    """Read and check an upload against the layer's current rows. `samples`: on a store that
    diffs in the database (PostGIS), how many rows of each kind of change to fetch for a preview
    (Check.samples); an in-memory store's Check holds the whole layer (old, frame) instead."""
    from geoapp.ingest.coords import CRS_CHOICES
    _refuse_choice("coordinate system / 坐标系 (--crs)", crs, CRS_CHOICES, CRS_HELP)
    _refuse_choice("mode / 导入方式 (--mode)", mode, MODES, MODE_HELP)
    layers = importable_layers(base.specs)
    if layer not in layers:
        raise ImportRefused(f"layer '{layer}' is not an imported layer; allowed: "
                            f"{', '.join(layers) or '(none: add a layers/NN_<id>.yaml with imported:)'}")
    try:
        raw = read_upload(data, file_name)
    except ReadError as error:
        raise ImportRefused(str(error), error.status) from None
    taken = {}
    for layer_id, frame in base.layers.items():
        if "id" in frame.columns and layer_id not in layers:
            taken.update(dict.fromkeys(frame["id"].astype(str), layer_id))
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    prepared = rows_mod.prepare(raw, layer, base.boundaries, crs, layers[layer],
                                source_text(Path(file_name).name, who, day), taken,
                                seats=seat_points(base.boundaries, base.data_dir), sections=base.sections)
    if store.sql_import:
        # the stored layer is matched in the database: only the matched rows' id and name come back
        base_version, matches, found = store.match_upload(layer, prepared.frame, prepared.id_given)
        old = None
    else:
        base_version, stored = store.snapshot()
        old = stored.get(layer, rows_mod.empty_frame())
        matches = match_rows(old, prepared)
        found = {m: (old["id"].iat[m], old["name_zh"].iat[m]) for m in matches if m is not None and m >= 0}
    if mode == "append":
        prepared.add_problems([
            Problem(prepared.file_name, row, "编号/id" if given else "名称/name",
                    f"already in the layer as '{found[m][0]}' ({found[m][1]}); "
                    "append adds new rows only: choose update to change it, or remove the row")
            for row, m, given in zip(prepared.rows, matches, prepared.id_given) if m is not None and m >= 0])
    prepared.add_problems([Problem(prepared.file_name, row, "名称/name",
                                   "the same name and district as several rows already in the layer; "
                                   "give an 编号/id column to say which one")
                           for row, m in zip(prepared.rows, matches) if m == AMBIGUOUS])
    new = _writable(prepared, skip_invalid)
    if new is None:
        return Check(prepared, None, mode, base_version, old, None)
    keep = prepared.keep() if not prepared.ok else [True] * len(prepared.frame)
    kept = [m for m, k in zip(matches, keep) if k]
    if store.sql_import:
        new = new.reset_index(drop=True)
        change, shown = store.import_diff(layer, base_version, new, kept, mode, samples)
        return Check(prepared, change, mode, base_version, None, new if mode == "replace" else None,
                     new=new, matches=kept, samples=shown)
    frame = merge(old, new, kept, mode)
    return Check(prepared, diff(old, frame), mode, base_version, old, frame)


AMBIGUOUS = -1


def match_rows(old: gpd.GeoDataFrame, prepared: rows_mod.Prepared) -> list[int | None]:
    """For each prepared row, the position of the stored row it is (by its 编号/id when the file
    gives one, else by name + district (city when no district)); None: new; AMBIGUOUS: several."""
    by_id = {ident: i for i, ident in enumerate(old["id"].tolist())}
    by_name: dict[tuple[str, str], list[int]] = {}
    for i, (name, district, city) in enumerate(zip(old["name_zh"], old["district_adcode"], old["city_adcode"])):
        by_name.setdefault((name, district or city), []).append(i)
    new = prepared.frame
    out: list[int | None] = []
    for ident, given, name, district, city in zip(new["id"], prepared.id_given or [False] * len(new),
                                                  new["name_zh"], new["district_adcode"], new["city_adcode"]):
        if given or ident in by_id:
            out.append(by_id.get(ident))
            continue
        found = by_name.get((name, district or city), [])
        out.append(found[0] if len(found) == 1 else (AMBIGUOUS if found else None))
    return out


def merge(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, matches: list[int | None], mode: str
          ) -> gpd.GeoDataFrame:
    """The layer after the import: `new` (the rows to write) against `old` (stored), `matches`
    from match_rows for each row of `new`."""
    if mode == "replace":
        return new.reset_index(drop=True)
    old = old.reset_index(drop=True)
    new = new.reset_index(drop=True)
    order = list(range(len(old)))          # positions in concat([old, new])
    ids = old["id"].tolist()
    for position, m in enumerate(matches):
        if m is None or m < 0:
            order.append(len(old) + position)
            ids.append(new["id"].iat[position])
        elif mode == "update":
            order[m] = len(old) + position   # matched by name + district: keeps the stored id
    combined = pd.concat([old[rows_mod.COLUMNS + ["geometry"]], new[rows_mod.COLUMNS + ["geometry"]]],
                         ignore_index=True)
    result = gpd.GeoDataFrame(combined.iloc[order].reset_index(drop=True), geometry="geometry", crs=4326)
    result["id"] = ids
    return result


def _writable(prepared: rows_mod.Prepared, skip_invalid: bool) -> gpd.GeoDataFrame | None:
    if prepared.ok:
        return prepared.frame
    if skip_invalid and prepared.frame is not None and len(prepared.frame):
        return prepared.good()
    return None


def commit(check: Check, store: Store, who: str, skip_invalid: bool = False, progress=None,
           expect_version: int | None = None) -> tuple[int, Diff]:
    """Write what the preview showed, if the store is still at the previewed version
    (`expect_version`, default check.base_version); StoreConflict otherwise."""
    if check.diff is None:
        raise ImportRefused(f"{len(check.problems)} problem(s): nothing written")
    rejected = len(check.prepared.bad_rows) if skip_invalid else 0
    if check.new is not None:
        return store.commit_import(check.prepared.layer, check.new, check.matches, check.mode, who,
                                   Path(check.prepared.file_name).name, rejected=rejected, progress=progress,
                                   expect_version=check.base_version if expect_version is None else expect_version)
    return store.commit(check.prepared.layer, check.frame, who, Path(check.prepared.file_name).name,
                        rejected=rejected, progress=progress,
                        expect_version=check.base_version if expect_version is None else expect_version)


def rejects_csv(prepared: rows_mod.Prepared) -> bytes:
    """The rejected rows as read, with their row number and every problem, as CSV (UTF-8 with BOM
    so Excel opens it), through the atlas's one spreadsheet writer: formulas neutralised in the
    cells and in the file's own column names."""
    by_row: dict[int, list[str]] = {}
    for p in prepared.problems:
        by_row.setdefault(p.row or 0, []).append(f"{p.field}: {p.message}" if p.field else p.message)
    table = prepared.table if prepared.table is not None else None
    columns = [str(c) for c in table.columns] if table is not None else []
    positions = {row: i for i, row in enumerate(prepared.rows)}
    rows = []
    for row, messages in sorted(by_row.items()):
        cells = table.iloc[positions[row]].tolist() if table is not None and row in positions else [""] * len(columns)
        rows.append([row] + [str(v) for v in cells] + [" | ".join(messages)])
    return csv_bytes(Sheet("rejects", ["行/row"] + columns + ["问题/problems"], rows))


SHOWN_PROBLEMS = 200   # problems listed one by one on the page and by the command; the rest summed up


def problem_summary(problems: list[Problem], first: int = SHOWN_PROBLEMS) -> tuple[list[Problem], int, list[tuple[str, int]]]:
    """(the first `first` problems, how many more, those per field, most frequent first): a file
    with a million bad rows gives a page of 200 problems and a count, not a million lines."""
    rest = problems[first:]
    by_field: dict[str, int] = {}
    for problem in rest:
        key = problem.field or "—"
        by_field[key] = by_field.get(key, 0) + 1
    return problems[:first], len(rest), sorted(by_field.items(), key=lambda item: -item[1])
