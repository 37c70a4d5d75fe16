"""Benchmark (prints figures; not a test): hostile XLSX files against the import's read limits
(issue 19 item 4). Each case runs in a fresh Python process; printed: its outcome, wall time and
the process's peak resident memory.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_import_limits.py [--out /tmp/atlas-bombs]

Peak memory is the process's VmHWM (/proc/self/status): ru_maxrss would carry over the parent's.

Cases (files from benchmarks/xlsx_bombs.py, written under --out, never under data/):
  dimension bomb     1.7 KB, declares A1:XFD1048576           read_upload, and `python -m geoapp.data import`
  1M rows            1,000,000 rows, declared as such          read_upload
  1M rows, lying     the same rows declaring A1:C2             read_upload (the cap holds while streaming)
  shared strings     300 MB of text in sharedStrings.xml       read_upload
Target (issue 19): the dimension bomb refused in < 5 s under 500 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

READ = """
import json, sys, time
from pathlib import Path
from geoapp.ingest.read import ReadError, read_upload
path = Path(sys.argv[1])
start = time.perf_counter()
try:
    raw = read_upload(path.read_bytes(), path.name)
    outcome = f"read {len(raw.table)} rows"
except ReadError as error:
    outcome = f"{error.status}: {str(error)[:150]}"
hwm = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - start,
                  "peak_mb": int(hwm.split()[1]) / 1024}))
"""


def run_read(path: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=900)
    if result.returncode:
        return {"outcome": "crashed: " + result.stderr[-300:], "seconds": float("nan"), "peak_mb": float("nan")}
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_cli(path: Path, store: Path) -> dict:
    command = [sys.executable, "-c",
               "import runpy, sys, atexit\n"
               "hwm = lambda: next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
               "atexit.register(lambda: print('PEAK_MB', int(hwm()) / 1024, file=sys.stderr))\n"
               "sys.argv = ['geoapp.data'] + sys.argv[1:]\n"
               "runpy.run_module('geoapp.data', run_name='__main__')",
               "import", str(path), "--layer", "enterprises_platforms", "--crs", "wgs84", "--mode", "replace"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "ATLAS_DATABASE_URL": f"sqlite:///{store}"})
    seconds = time.perf_counter() - start
    peak = re.search(r"PEAK_MB ([0-9.]+)", result.stderr)
    message = [line for line in result.stderr.splitlines() if line and not line.startswith("PEAK_MB")]
    return {"outcome": f"exit {result.returncode}: {(message[-1] if message else '')[:150]}",
            "seconds": seconds, "peak_mb": float(peak.group(1)) if peak else float("nan")}


def main() -> None:
    from benchmarks import xlsx_bombs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "atlas-bombs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = {"dimension_bomb.xlsx": xlsx_bombs.dimension_bomb(),
             "million_rows.xlsx": xlsx_bombs.million_rows(),
             "shared_strings.xlsx": xlsx_bombs.shared_strings_bomb(300)}
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    # the declaration sits in the deflated sheet part: write the lying file from the rows again
    import zipfile
    with zipfile.ZipFile(args.out / "million_rows.xlsx") as source, \
            zipfile.ZipFile(args.out / "million_rows_lying.xlsx", "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b'ref="A1:C1000001"', b'ref="A1:C2"', 1)
            target.writestr(item.filename, content)
    rows = []
    for label, name in [("dimension bomb", "dimension_bomb.xlsx"), ("1M rows", "million_rows.xlsx"),
                        ("1M rows, lying", "million_rows_lying.xlsx"), ("shared strings", "shared_strings.xlsx")]:
        size = (args.out / name).stat().st_size
        rows.append((label, "read_upload", size, run_read(args.out / name)))
    rows.append(("dimension bomb", "import command", (args.out / "dimension_bomb.xlsx").stat().st_size,
                 run_cli(args.out / "dimension_bomb.xlsx", args.out / "store.sqlite")))
    print(f"{'file':<16}{'through':<16}{'bytes':>10}{'seconds':>9}{'peak MB':>9}  outcome")
    for label, through, size, result in rows:
        print(f"{label:<16}{through:<16}{size:>10,}{result['seconds']:>9.2f}{result['peak_mb']:>9.0f}  {result['outcome']}")
    bomb = [r for label, _, _, r in rows if label == "dimension bomb"]
    worst_s = max(r["seconds"] for r in bomb)
    worst_mb = max(r["peak_mb"] for r in bomb)
    print(f"target: dimension bomb refused < 5 s under 500 MB -> worst {worst_s:.2f} s, {worst_mb:.0f} MB "
          f"{'MET' if worst_s < 5 and worst_mb < 500 else 'MISSED'}")


if __name__ == "__main__":
    main()
