"""`python -m geoapp.data draft TEXT_FILE --plan <id> --out data/plans/<id> [--province-only]`:
draft a plan folder from a plan's text (docs/drafting.md)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from geoapp import DATA_DIR
from geoapp.ingest.drafts import load_gazetteer
from geoapp.ingest.drafts.extract import draft
from geoapp.ingest.drafts.folder import DraftError, decode_text, folder_files, write_folder


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m geoapp.data draft",
                                     description="Draft a plan folder (sections, places, tasks, targets) "
                                                 "from a plan's text, for review.")
    parser.add_argument("command", choices=["draft"])
    parser.add_argument("text_file", type=Path, help="the plan text (UTF-8 .txt)")
    parser.add_argument("--plan", required=True, help="the new plan's id (a slug, e.g. shenyang_st_14th)")
    parser.add_argument("--out", type=Path, help="folder to write (default: <data>/plans/<id>)")
    parser.add_argument("--province-only", action="store_true",
                        help="use only the province's boundaries, names and seats, not the registry "
                             "of known places")
    parser.add_argument("--replace", action="store_true",
                        help="replace an existing --out folder (the old one is moved aside, not deleted)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="data folder (default: $ATLAS_DATA_DIR or the project's data/)")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(os.environ.get("ATLAS_DATA_DIR") or DATA_DIR)
    out = args.out or data_dir / "plans" / args.plan
    started = time.perf_counter()
    try:
        if not args.text_file.is_file():
            raise DraftError(f"{args.text_file} is not a file")
        text = decode_text(args.text_file.read_bytes(), str(args.text_file))
        gazetteer = load_gazetteer(data_dir, province_only=args.province_only)
        result = draft(text, gazetteer, province_only=args.province_only)
        text_name = args.text_file.name if args.text_file.suffix == ".txt" else f"{args.plan}.txt"
        files = folder_files(result, args.plan, text_name, gazetteer.units)
        aside = write_folder(files, out, replace=args.replace)
    except DraftError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    located = [p for p in result.places if p.location_precision != "province"]
    print(f"{out}: {result.title_zh} ({'-'.join(map(str, result.period or ())) or 'no period'}); "
          f"{len(result.sections)} sections, {len(result.places)} places proposed "
          f"({sum(1 for p in result.places if p.registry_id)} known, {len(located)} located to a city or "
          f"district), {len(result.tasks)} tasks, {len(result.targets)} targets "
          f"in {time.perf_counter() - started:.1f} s")
    if aside:
        print(f"the folder that was there is now {aside}")
    print("Review every row with status 'proposed' (docs/drafting.md), then `make check`.")
    return 0
