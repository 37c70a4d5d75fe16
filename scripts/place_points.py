"""Put rows known only to a city or a district at that unit's government seat.

    python scripts/place_points.py data/parks/high_tech_zones.csv [...]

location_precision 'city' -> the city government seat (市人民政府驻地), 'district' -> the
district/county government seat, both from data/boundaries/seats.csv (built by
scripts/build_seats.py). The point marks the seat, not the site; the map, popups and exports say
so. Rows with another precision ('subdistrict', 'source_coordinate') keep their own coordinates.
Re-running changes nothing; `python -m geoapp.data check` rejects a city/district row that is not
at its seat.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEATS = ROOT / "data" / "boundaries" / "seats.csv"


def seats() -> dict[str, tuple[str, str]]:
    with open(SEATS, encoding="utf-8") as fh:
        return {r["adcode"]: (r["lon"], r["lat"]) for r in csv.DictReader(fh)}


def main(paths: list[str]) -> None:
    points = seats()
    for name in paths:
        path = Path(name)
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fields, rows = reader.fieldnames, list(reader)
        moved = 0
        for row in rows:
            code = {"district": row.get("district_adcode", ""), "city": row["city_adcode"]} \
                .get(row["location_precision"])
            if code in points and (row["lon"], row["lat"]) != points[code]:
                row["lon"], row["lat"] = points[code]
                moved += 1
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(path)
        print(f"{path}: {moved} point(s) placed at a government seat")


if __name__ == "__main__":
    main(sys.argv[1:])
