"""`python -m geoapp.data import FILE --layer ID --crs wgs84|gcj02|bd09|cgcs2000
--mode append|update|replace [--dry-run] [--skip-invalid]`, `python -m geoapp.data history`,
`python -m geoapp.data revert VERSION [--yes]`.

--crs and --mode have no default: the clerk says which app the coordinates come from and how the
file meets the rows already there. `revert` shows what it changes and asks (or takes --yes);
version 0 is the state before the first import.

The store is ATLAS_DATABASE_URL (postgresql://… or sqlite:///path) or, without it, the SQLite file
instance/atlas-store.sqlite that the web app reads. Exit status: 0 written (or dry run clean),
1 problems found (nothing written), 2 bad usage, 3 the store failed (disk full, read-only,
unreachable: nothing written, said in one message).
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from geoapp import DATA_DIR, LAYERS_DIR
from geoapp.ingest.coords import CRS_CHOICES


def _store(args):
    from geoapp.ingest.store import open_store
    return open_store(args.database_url)


def _who(args) -> str:
    if args.who:
        return args.who
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def cmd_import(args) -> int:
    from geoapp.data import load_registry
    from geoapp.ingest import service
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    from geoapp.ingest.coords import CRS_LABELS
    missing = []
    if not args.crs:
        missing.append("--crs is required (no default): the coordinate system of 经度/纬度 — "
                       + "; ".join(f"{c} = {CRS_LABELS[c]}" for c in CRS_CHOICES)
                       + ". 高德/腾讯 give gcj02, 百度 gives bd09, GPS/天地图 give wgs84/cgcs2000")
    if not args.mode:
        missing.append("--mode is required (no default): "
                       + "; ".join(f"{m} = {service.MODE_LABELS[m][1]}" for m in service.MODES))
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 2
    base = load_registry(args.data_dir, args.layers_dir)
    store = _store(args)
    who = _who(args)
    try:
        check = service.check_file(path.read_bytes(), path.name, args.layer, args.crs, base, store,
                                   who, skip_invalid=args.skip_invalid, mode=args.mode)
    except service.ImportRefused as error:
        print(str(error), file=sys.stderr)
        return 2
    prepared = check.prepared
    for note in prepared.notes:
        print(f"note: {note}")
    if prepared.problems:
        print(f"{len(prepared.problems)} problem(s) in {len(prepared.bad_rows)} row(s) of {path.name}:",
              file=sys.stderr)
        shown, more, by_field = service.problem_summary(prepared.problems)
        for problem in shown:
            print(f"  - {problem}", file=sys.stderr)
        if more:
            print(f"  ... and {more} more problem(s): " + ", ".join(f"{f} {n}" for f, n in by_field)
                  + " (--skip-invalid writes every rejected row to a rejects file)", file=sys.stderr)
    if check.diff is None:
        print("nothing written: fix the rows above (or pass --skip-invalid to write the good rows "
              "and a rejects file)", file=sys.stderr)
        return 1
    summary = (f"layer {args.layer} ({args.mode}): {check.diff.rows} rows; against the current version "
               f"{check.base_version}: {check.diff.added} added, {check.diff.changed} changed, "
               f"{check.diff.removed} removed")
    if check.diff.removed:
        summary += f" — 将删除 {check.diff.removed} 行 / {check.diff.removed} stored rows will be removed"
    if prepared.problems:
        summary += f"; {len(prepared.bad_rows)} rejected"
    if args.dry_run:
        print(f"dry run, nothing written. {summary}")
        return 1 if prepared.problems else 0
    if prepared.problems:
        from geoapp.ingest.service import rejects_csv
        rejects = Path(args.rejects or path.with_name(path.stem + ".rejects.csv"))
        rejects.write_bytes(rejects_csv(prepared))
        print(f"rejected rows and reasons: {rejects}")

    print(f"checked: {summary}", flush=True)

    def progress(written: int) -> None:
        print(f"writing: {written}/{check.diff.rows} rows", file=sys.stderr, flush=True)

    from geoapp.ingest.store import StoreConflict
    try:
        version, change = service.commit(check, store, who, skip_invalid=args.skip_invalid, progress=progress)
    except StoreConflict as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"version {version} written by {who}: layer {args.layer}: {change.rows} rows; "
          f"{change.added} added, {change.changed} changed, {change.removed} removed")
    return 0


def cmd_history(args) -> int:
    rows = _store(args).history(include_origin=True)
    print(f"{'version':>7}  {'time (UTC)':<20} {'who':<12} {'action':<7} {'layer':<24} "
          f"{'rows':>6} {'+':>6} {'~':>6} {'-':>6} {'rej':>5}  file")
    for r in rows:
        what = {"import": r["file"], "origin": "(before the first import: no imported rows / 首次导入前)"
                }.get(r["action"], f"(= version {r['reverted_to']})")
        print(f"{r['id']:>7}  {r['time']:<20} {r['who']:<12} {r['action']:<7} {r['layer']:<24} "
              f"{r['rows']:>6} {r['added']:>6} {r['changed']:>6} {r['removed']:>6} {r['rejected']:>5}  {what}")
    return 0


def describe_revert(target: int, current: int, changes: dict) -> list[str]:
    lines = [f"revert to version {target} (current: {current}):"]
    for layer, d in changes.items():
        line = (f"  {layer}: {d.rows} rows after; {d.added} added, {d.changed} changed, {d.removed} removed")
        if d.removed:
            line += f" — 将删除 {d.removed} 行 / {d.removed} rows will be removed"
        lines.append(line)
    if not changes:
        lines.append("  (no imported layer changes)")
    return lines


def cmd_revert(args) -> int:
    from geoapp.ingest.store import StoreError
    store = _store(args)
    try:
        current, changes = store.revert_preview(args.version)
    except StoreError as error:
        print(str(error), file=sys.stderr)
        return 1
    print("\n".join(describe_revert(args.version, current, changes)))
    if not args.yes:
        if not sys.stdin.isatty():
            print("not reverted: confirm with --yes (or run it in a terminal to be asked)", file=sys.stderr)
            return 2
        if input("revert? 确认恢复？ [y/N] ").strip().lower() not in ("y", "yes", "是"):
            print("not reverted", file=sys.stderr)
            return 1
    try:
        version = store.revert(args.version, _who(args), expect_version=current)
    except StoreError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"version {version}: the data of version {args.version} is served again")
    return 0


def main(argv: list[str]) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", default=os.environ.get("ATLAS_DATABASE_URL", ""),
                        help="postgresql://… or sqlite:///path (default: instance/atlas-store.sqlite)")
    common.add_argument("--who", default="", help="recorded in the version (default: login name)")
    parser = argparse.ArgumentParser(prog="python -m geoapp.data")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", parents=[common], help="check a CSV/XLSX/GeoJSON/GeoPackage and write it as a new version")
    imp.add_argument("file")
    imp.add_argument("--layer", required=True, help="an imported layer id (layers/*.yaml with imported:)")
    imp.add_argument("--crs", choices=CRS_CHOICES, default="",
                     help="required: coordinate system of 经度/纬度: gcj02 for 高德/腾讯 Amap/Tencent, bd09 for "
                          "百度 Baidu, wgs84 for GPS, cgcs2000 for 天地图 Tianditu")
    imp.add_argument("--mode", choices=("append", "update", "replace"), default="",
                     help="required: append (keep the rows already there), update (change rows matched by "
                          "id, else name + district; remove nothing), replace (the layer becomes the file)")
    imp.add_argument("--dry-run", action="store_true", help="check and show the diff; write nothing")
    imp.add_argument("--skip-invalid", action="store_true",
                     help="write the good rows and a rejects file instead of refusing the file")
    imp.add_argument("--rejects", help="where to write the rejects CSV (default FILE.rejects.csv)")
    imp.add_argument("--data-dir", type=Path, default=DATA_DIR)
    imp.add_argument("--layers-dir", type=Path, default=LAYERS_DIR)
    sub.add_parser("history", parents=[common], help="list the versions, newest first")
    rev = sub.add_parser("revert", parents=[common], help="serve the data of an earlier version again (as a new version)")
    rev.add_argument("version", type=int, help="a version from `history`; 0 = before the first import")
    rev.add_argument("--yes", action="store_true", help="revert without asking (the diff is printed)")
    args = parser.parse_args(argv)
    from geoapp.ingest import failures
    try:
        return {"import": cmd_import, "history": cmd_history, "revert": cmd_revert}[args.command](args)
    except failures.store_errors() as error:   # a full disk, a read-only or unreachable store
        print(failures.describe(error)[1], file=sys.stderr)
        return 3
