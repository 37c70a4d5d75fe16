"""How long drafting the shipped plan text takes (issue 20: the whole draft < 10 s).

    .venv/bin/python -m benchmarks.bench_draft

Prints: loading the gazetteer (province-only and with the registry), drafting, and the counts.
The accuracy figures (places in the right city, target values) are asserted and printed by
`pytest -s tests/test_drafts.py -k "right_city or targets"`.
"""
from __future__ import annotations

import time

from geoapp.data import load_registry
from geoapp.ingest.drafts import load_gazetteer
from geoapp.ingest.drafts.extract import draft


def main() -> None:
    started = time.perf_counter()
    registry = load_registry()
    plan = getattr(registry, "plan", None)
    path = plan.text if plan is not None else registry.data_dir / "plan" / "source" / "liaoning_st_13th_fyp.txt"
    text = path.read_text(encoding="utf-8")
    print(f"text: {path} ({len(text):,} characters); registry loaded in {time.perf_counter() - started:.2f} s")
    for province_only in (True, False):
        t0 = time.perf_counter()
        gazetteer = load_gazetteer(province_only=province_only, registry=None if province_only else registry)
        t1 = time.perf_counter()
        result = draft(text, gazetteer, province_only=province_only)
        t2 = time.perf_counter()
        mode = "province-only" if province_only else "with registry"
        grouped = sum(1 for p in result.places if "member of group term" in p.how)
        print(f"{mode:>14}: gazetteer {t1 - t0:.2f} s, draft {t2 - t1:.2f} s, total {t2 - t0:.2f} s "
              f"({'within' if t2 - t0 < 10 else 'OVER'} the 10 s target); "
              f"{len(result.places)} places ({grouped} as members of group terms), "
              f"{len(result.tasks)} tasks, {len(result.targets)} targets")


if __name__ == "__main__":
    main()
