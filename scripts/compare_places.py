"""Print how every place moved between two versions of the data, and which places share a point.

    python scripts/compare_places.py [BEFORE_REF]        (default: 0851ddf, main before issue 13)

Reads the point layers (data/parks/*.csv, data/platforms/*.csv) at BEFORE_REF with `git show` and
from the working tree, and prints a Markdown table: precision before -> after, district before ->
after, and the distance moved in metres (geodesic on WGS84, pyproj.Geod). Then lists the groups of
places that share one coordinate (map display must offset/spiderfy them; exports keep the anchor).
"""
from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from pyproj import Geod

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["data/parks/high_tech_zones.csv", "data/parks/clusters_bases.csv",
          "data/parks/coastal_parks.csv", "data/platforms/platforms_labs.csv"]
DEFAULT_BEFORE = "0851ddf"


def rows_at(ref: str | None, path: str) -> dict[str, dict]:
    if ref is None:
        text = (ROOT / path).read_text(encoding="utf-8-sig")
    else:
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{path}"], check=True,
                              capture_output=True, text=True).stdout
    return {r["id"]: r for r in csv.DictReader(io.StringIO(text))}


def main(argv: list[str]) -> int:
    before_ref = argv[0] if argv else DEFAULT_BEFORE
    geod = Geod(ellps="WGS84")
    print("| id | name | precision before → after | district before → after | moved (m) |")
    print("|---|---|---|---|---:|")
    shared = defaultdict(list)
    total = moved = 0
    for path in LAYERS:
        before, after = rows_at(before_ref, path), rows_at(None, path)
        for ident, new in after.items():
            old = before.get(ident)
            x2, y2 = float(new["lon"]), float(new["lat"])
            shared[(new["lon"], new["lat"])].append(ident)
            total += 1
            if old is None:
                print(f"| `{ident}` | {new['name_zh']} | (new) → {new['location_precision']} | "
                      f"(new) → {new['district_adcode'] or '—'} | — |")
                continue
            _, _, dist = geod.inv(float(old["lon"]), float(old["lat"]), x2, y2)
            moved += dist > 0.5
            print(f"| `{ident}` | {new['name_zh']} | {old['location_precision']} → "
                  f"{new['location_precision']} | {old['district_adcode'] or '—'} → "
                  f"{new['district_adcode'] or '—'} | {dist:,.0f} |")
    print(f"\n{total} places, {moved} moved.\n\nPlaces sharing one coordinate (exports keep the "
          "anchor; the map must show each of them):")
    for (lon, lat), ids in sorted(shared.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if len(ids) > 1:
            print(f"- ({lon}, {lat}): {', '.join(ids)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
