"""`python -m geoapp.data check`: validate every data file and print a per-layer summary.
`import`, `history`, `revert`: imported lists in the versioned store (geoapp.ingest.cli).
`draft TEXT --plan <id>`: a plan folder drafted from a plan's text (geoapp.ingest.drafts.cli)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from geoapp import DATA_DIR, LAYERS_DIR
from geoapp.data import DataValidationError, load_registry


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["draft"]:
        from geoapp.ingest.drafts.cli import main as draft_main  # plan drafts: see docs/drafting.md
        return draft_main(argv)
    if {"import", "history", "revert"} & set(argv):
        from geoapp.ingest.cli import main as ingest_main  # imported lists: see geoapp/ingest
        return ingest_main(argv)
    parser = argparse.ArgumentParser(prog="python -m geoapp.data")
    parser.add_argument("command", choices=["check"])
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="data folder (default: $ATLAS_DATA_DIR or the project's data/)")
    parser.add_argument("--layers-dir", type=Path, default=None,
                        help="layer specs (default: $ATLAS_LAYERS_DIR or the project's layers/)")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(os.environ.get("ATLAS_DATA_DIR") or DATA_DIR)
    layers_dir = args.layers_dir or Path(os.environ.get("ATLAS_LAYERS_DIR") or LAYERS_DIR)
    try:
        registry = load_registry(data_dir, layers_dir)
    except DataValidationError as error:
        print(f"{len(error.problems)} problem(s) in the data:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{'layer':<28}{'features':>9}  {'geometry':<22}file")
    for row in registry.summary():
        print(f"{row['layer']:<28}{row['features']:>9}  {row['geometry']:<22}{row['file']}")
    places = registry.counted_places()  # each place once (not again through `counted: false` layers)
    print(f"\n{len(places)} places and areas; location precision: "
          + ", ".join(f"{k} {v}" for k, v in places['location_precision'].value_counts().items()))
    print(f"\n{len(registry.plans)} plan(s) in data/plans/:")
    for plan_id in registry.plans:
        view = registry.for_plan(plan_id)
        plan = view.plan
        print(f"  {plan_id}{' (default)' if plan.default else ''}: {plan.title('full', 'en')}, "
              f"{plan.period[0]}–{plan.period[1]}; {len(view.tasks)} tasks, {len(view.sections)} "
              f"sections, {len(plan.industries)} industries, {len(view.specs)} layer specs, "
              f"{'corridor ' + '–'.join(plan.corridor.axis) if plan.corridor else 'no corridor'}; "
              f"{len(view.sources)} SOURCE.md files")
    print("OK: every file valid (CRS, geometry, unique ids, vocabularies, city/district "
          "containment, plan manifests, plan sections, sources, layer specs against the data, "
          "tasks against places/layers/cities/sections, corridor ends, no template syntax in any text)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
