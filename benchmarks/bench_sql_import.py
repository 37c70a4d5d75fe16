"""Memory and time of an import (check + commit) against a big layer in PostGIS (review finding 4).

    python benchmarks/bench_sql_import.py [--rows 100000] [--upload 1000] [--old]

Builds N synthetic places (benchmarks/synthetic.py; never under data/) as the stored layer in a
throwaway PostGIS cluster (benchmarks/pgcluster.py, the bench's bulk load), then, each in a fresh
process (so peak RSS is that step's alone): an append of `--upload` new rows (a CSV of
benchmarks/synthetic_lists.py, as a data office sends it) through service.check_file (with the
admin page's 20 preview samples) and service.commit; an update of the same rows with a changed
note; a revert preview and revert. Prints, per step, RSS before (registry loaded, file read), peak
RSS during the step (VmHWM, reset at its start) and RSS after, and the seconds of check and commit. With --old, the same append
also runs on the previous path (the stored layer read into the process: Store.sql_import = False)
for comparison. Prints figures only.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LAYER = "enterprises_platforms"


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> float:
    """The RSS now, with the peak (VmHWM) reset to it (Linux: clear_refs 5), so the peak read
    later is the step's own, not the registry's loading."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return rss_mb()


def step(url: str, action: str, upload: int, old: bool) -> dict:
    """One step in this process (called by the child)."""
    from benchmarks.synthetic_lists import synthetic_rows, to_csv
    from geoapp.data import load_registry
    from geoapp.ingest import service
    from geoapp.ingest.store import PostGISStore

    registry = load_registry()
    store = PostGISStore(url)
    if old:
        store.sql_import = False
    out: dict = {"action": action + (" (old path)" if old else "")}
    if action == "revert":
        target = store.history()[-1]["id"]         # the bulk load: the first version
        out["rss_before"] = reset_peak()
        start = time.perf_counter()
        current, changes = store.revert_preview(target)
        out["check_s"] = time.perf_counter() - start
        start = time.perf_counter()
        store.revert(target, "bench", expect_version=current)
        out["commit_s"] = time.perf_counter() - start
        out["diff"] = {k: v.as_dict() for k, v in changes.items()}
    else:
        table = synthetic_rows(registry.boundaries, upload, seed=31, crs="wgs84")
        if action == "update":
            table["备注"] = "更新 / updated"
        data = to_csv(table)
        out["rss_before"] = reset_peak()
        start = time.perf_counter()
        check = service.check_file(data, "bench.csv", LAYER, "wgs84", registry, store, "bench",
                                   mode=action, samples=20)
        out["check_s"] = time.perf_counter() - start
        if check.diff is None:
            raise SystemExit(f"{action}: {len(check.problems)} problems, e.g. {check.problems[:3]}")
        out["rss_checked"] = rss_mb()
        start = time.perf_counter()
        _, change = service.commit(check, store, "bench")
        out["commit_s"] = time.perf_counter() - start
        out["diff"] = change.as_dict()
    out["rss_after"] = rss_mb()
    out["rss_peak"] = rss_mb("VmHWM")
    return out


def run_child(url: str, action: str, upload: int, old: bool) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", url, "--action", action, "--upload",
                             str(upload)] + (["--old"] if old else []),
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{action} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--upload", type=int, default=1000)
    parser.add_argument("--old", action="store_true", help="also run the append on the previous path")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--action", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(step(args.child, args.action, args.upload, args.old)))
        return

    import psycopg

    from benchmarks.bench_million import load_places, vacuum_analyze
    from benchmarks.pgcluster import postgis_cluster

    with postgis_cluster() as server:
        url = server.rsplit("/", 1)[0] + "/bench_import"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench_import")
        made, wrote, _ = load_places(url, args.rows, "bulk")
        vacuum_analyze(url)
        print(f"stored layer: {args.rows:,} places (frame {made:.1f} s, bulk load {wrote:.1f} s); "
              f"upload: {args.upload:,} rows (CSV)")
        steps = [("append", True)] if args.old else []
        steps += [("append", False), ("update", False), ("revert", False)]
        print(f"{'step':<22} {'RSS before':>10} {'peak':>8} {'after':>8} {'check s':>8} {'commit s':>9}  diff")
        for action, old in steps:
            if old:
                # the old path's append, then back to the stored layer alone for the new path
                r = run_child(url, action, args.upload, True)
                target = r_target(url)
            else:
                r = run_child(url, action, args.upload, False)
            print(f"{r['action']:<22} {r['rss_before']:>8.0f}MB {r['rss_peak']:>6.0f}MB {r['rss_after']:>6.0f}MB "
                  f"{r['check_s']:>8.2f} {r['commit_s']:>9.2f}  {json.dumps(r['diff'])}", flush=True)
            if old:
                from geoapp.ingest.store import PostGISStore
                store = PostGISStore(url)
                store.revert(target, "bench", expect_version=store.current_version())


def r_target(url: str) -> int:
    from geoapp.ingest.store import PostGISStore
    return PostGISStore(url).history()[-1]["id"]


if __name__ == "__main__":
    main()
