"""Probe (issue 19 item 5): two `python -m geoapp.data import` commands started at the same moment
against the same store, as two clerks committing at once. Before the fix both succeeded and the
second silently overwrote the first; now exactly one is written and the other exits 1 saying the
data changed since its preview. Prints one line per race and a summary.

    .venv/bin/python -m benchmarks.probe_import_race [--rows 3000] [--rounds 3] [--postgis]

Rows are synthetic (benchmarks/synthetic_lists.py, named 合成测试单位), written to a temporary folder.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic_lists import synthetic_rows, to_csv
from geoapp import PROJECT_ROOT
from geoapp.data import load_registry
from geoapp.ingest.store import open_store

LAYER = "enterprises_platforms"


def start(url: str, path: Path, who: str) -> subprocess.Popen:
    env = {**os.environ, "ATLAS_DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "geoapp.data", "import", str(path), "--layer", LAYER,
                             "--crs", "gcj02", "--mode", "replace", "--who", who],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT)


def race(url: str, files: dict[str, Path], ids: dict[str, set]) -> dict:
    store = open_store(url)
    before = store.current_version()
    t0 = time.perf_counter()
    procs = {who: start(url, path, who) for who, path in files.items()}
    out = {who: (p.wait(timeout=900), p.stdout.read(), p.stderr.read()) for who, p in procs.items()}
    elapsed = time.perf_counter() - t0
    import re
    previewed = {who: int(m.group(1)) for who, (_, stdout, _) in out.items()
                 if (m := re.search(r"against the current version (\d+)", stdout))}
    won = [who for who, (rc, _, _) in out.items() if rc == 0]
    told = [who for who, (rc, _, err) in out.items() if rc == 1 and "changed since the preview" in err]
    stored = set(store.layer(LAYER)["id"])
    return {"won": won, "told": told, "versions": store.current_version() - before,
            "stored_is_winner": len(won) == 1 and stored == ids[won[0]], "seconds": elapsed,
            "codes": {who: rc for who, (rc, _, _) in out.items()}, "previewed": previewed,
            "overlap": len(set(previewed.values())) == 1 and len(previewed) == 2}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgis", action="store_true", help="also race on a throwaway PostGIS")
    args = parser.parse_args(argv)
    boundaries = load_registry().boundaries
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files, ids = {}, {}
        for who, seed, n in (("clerk_a", 1, args.rows), ("clerk_b", 2, args.rows * 3 // 4)):
            table = synthetic_rows(boundaries, n, seed=seed, crs="gcj02")
            table["编号"] = [f"{who}_{i}" for i in range(n)]
            files[who] = tmp / f"{who}.csv"
            files[who].write_bytes(to_csv(table))
            ids[who] = set(table["编号"])
        stores = [("sqlite", f"sqlite:///{tmp / 'store.sqlite'}")]
        cluster = None
        if args.postgis:
            from benchmarks.pgcluster import postgis_cluster
            cluster = postgis_cluster()
            stores.append(("postgis", cluster.__enter__()))
        try:
            results = []
            for kind, url in stores:
                for round_ in range(1, args.rounds + 1):
                    r = race(url, files, ids)
                    results.append(r)
                    print(f"{kind} race {round_}: checked against versions {r['previewed']} "
                          f"({'the same: a race' if r['overlap'] else 'different: one after the other'}); "
                          f"exit codes {r['codes']}; written: {r['won']}; told why: "
                          f"{r['told']}; new versions: {r['versions']}; stored rows = the winner's file: "
                          f"{r['stored_is_winner']}; {r['seconds']:.1f} s", flush=True)
        finally:
            if cluster is not None:
                cluster.__exit__(None, None, None)
    races = [r for r in results if r["overlap"]]
    exact = sum(1 for r in races if len(r["won"]) == 1 and len(r["told"]) == 1 and r["versions"] == 1
                and r["stored_is_winner"])
    print(f"{exact}/{len(races)} races (both checked against the same version): exactly one written, the "
          f"other told why; {len(results) - len(races)} run(s) were one after the other (both written, "
          "each against the version before it)")
    return 0 if exact == len(races) else 1


if __name__ == "__main__":
    sys.exit(main())
