"""Validation of place layers against the boundaries, the vocabularies and the plan text.

Every problem names the file, the row (1-based data row, header excluded, as a spreadsheet
shows it minus one) and the field, and says what is allowed, so a planner can fix the file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoapp import PROJECT_ROOT, vocab
from geoapp.data import plan_text

REQUIRED = ["id", "name_zh", "name_en", "kind", "level", "city_adcode", "industries",
            "location_precision", "plan_refs", "source"]
# A point known only to its city / district must be that unit's government seat
# (data/boundaries/seats.csv, scripts/build_seats.py); 1e-6 degrees is the file's rounding.
SEAT_TOLERANCE_DEG = 1.5e-6
SEATS_FILE = "seats.csv"
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class DataValidationError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


_split = vocab.split_codes


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or not str(value).strip()


def check_crs(frame: gpd.GeoDataFrame, path: Path) -> list[Problem]:
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        return [Problem(relative(path), None, "crs",
                        f"coordinate reference system is {frame.crs.to_string() if frame.crs else 'missing'}; "
                        "store WGS84 lon/lat (EPSG:4326, RFC 7946)")]
    return []


def read_seats(boundaries_dir: Path) -> dict[str, tuple[float, float]]:
    """adcode -> (lon, lat) of the government seat of every city and county-level unit."""
    table = pd.read_csv(boundaries_dir / SEATS_FILE, dtype=str, keep_default_na=False)
    return {code: (float(x), float(y)) for code, x, y in zip(table["adcode"], table["lon"], table["lat"])}


def _normalise_text(text: str) -> str:
    return re.sub(r"\s+", "", text)


def plan_names(rec) -> list[str]:
    """The names a place goes by in the plan: name_zh and the `plan_names` aliases (';'-separated)."""
    names = [] if _blank(rec.get("name_zh")) else [str(rec["name_zh"]).strip()]
    return names + _split(rec.get("plan_names"))


def check_places(frame: gpd.GeoDataFrame, path: Path, boundaries: dict[str, gpd.GeoDataFrame],
                 seen_ids: dict[str, str],
                 seats: dict[str, tuple[float, float]] | None = None) -> list[Problem]:
    """Check one place layer. `seen_ids` maps ids already used (in any file) to their file;
    `seats` (read_seats) enables the check that city/district-only points are at the seat."""
    name = relative(path)
    problems: list[Problem] = []
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        return [Problem(name, None, c, "required column is missing") for c in missing]
    problems += check_crs(frame, path)
    cities = boundaries["city"].set_index("adcode")
    districts = boundaries["district"].set_index("adcode")
    province = boundaries["province"].geometry.union_all()
    sections = plan_text.sections()

    def add(row: int, field: str, message: str) -> None:
        problems.append(Problem(name, row, field, message))

    for position, (_, rec) in enumerate(frame.iterrows(), start=1):
        ident = str(rec["id"]).strip() if not _blank(rec["id"]) else ""
        if not ident:
            add(position, "id", "empty; give a stable slug such as htz_shenyang")
        elif not ID_PATTERN.match(ident):
            add(position, "id", f"'{ident}' is not a slug (lower-case letters, digits, single underscores)")
        elif ident in seen_ids:
            add(position, "id", f"'{ident}' is already used in {seen_ids[ident]}; ids must be unique")
        else:
            seen_ids[ident] = name
        for field in ("name_zh", "name_en"):
            if _blank(rec[field]):
                add(position, field, "empty; every place needs a Chinese and an English name")
        if _blank(rec["source"]):
            add(position, "source", "empty; say where the fact and the location come from")
        for field, table in (("kind", vocab.KINDS), ("level", vocab.LEVELS),
                             ("location_precision", vocab.LOCATION_PRECISION)):
            value = "" if _blank(rec[field]) else str(rec[field]).strip()
            if value not in table:
                add(position, field, f"unknown code '{value}'; allowed: {', '.join(table)}")
        for field in ("industries", "plan_role"):
            for code in _split(rec.get(field)):
                if code not in vocab.INDUSTRIES:
                    add(position, field,
                        f"unknown industry code '{code}'; allowed: {', '.join(vocab.INDUSTRIES)}")
        refs = _split(rec["plan_refs"])
        if not refs:
            add(position, "plan_refs", "empty; name the plan section(s), e.g. 三（二）2 or 专栏5")
        names = plan_names(rec)
        for ref in refs:
            if ref not in sections:
                add(position, "plan_refs", f"section '{ref}' does not exist in the plan text")
            elif not any(_normalise_text(n) in _normalise_text(sections[ref].text) for n in names):
                add(position, "plan_refs", f"section '{ref}' does not mention this place under any "
                    f"of its names ({' / '.join(names)}); cite a section that names it, or add the "
                    "name the plan uses there to plan_names")
        city = "" if _blank(rec["city_adcode"]) else str(rec["city_adcode"]).strip()
        if city not in cities.index:
            add(position, "city_adcode",
                f"'{city}' is not one of Liaoning's 14 city adcodes ({', '.join(cities.index)})")
            continue
        geom = rec.geometry
        if geom is None or geom.is_empty:
            add(position, "geometry", "missing; give lon/lat (WGS84)")
            continue
        if not geom.is_valid:
            add(position, "geometry", "invalid geometry")
            continue
        if not province.covers(geom):
            add(position, "lon/lat", f"({geom.x:.5f}, {geom.y:.5f}) lies outside Liaoning; "
                "coordinates are lon, lat in WGS84" if geom.geom_type == "Point" else "outside Liaoning")
            continue
        if not cities.loc[city].geometry.covers(geom):
            add(position, "lon/lat", f"point lies outside its declared city {city} "
                f"({cities.loc[city, 'name_zh']})")
        precision = str(rec["location_precision"]).strip()
        district = "" if _blank(rec.get("district_adcode")) else str(rec["district_adcode"]).strip()
        if precision != "city" or district:
            if district not in districts.index:
                add(position, "district_adcode", f"'{district}' is not a Liaoning district adcode "
                    "(see data/boundaries/liaoning_district.geojson); leave empty only with "
                    "location_precision=city")
                continue
            if districts.loc[district, "parent_adcode"] != city:
                add(position, "district_adcode", f"district {district} "
                    f"({districts.loc[district, 'name_zh']}) is not in city {city}")
            elif not districts.loc[district].geometry.covers(geom):
                add(position, "lon/lat", f"point lies outside its declared district {district} "
                    f"({districts.loc[district, 'name_zh']})")
        if seats is not None and geom.geom_type == "Point" and precision in ("city", "district"):
            code = city if precision == "city" else district
            seat = seats.get(code)
            if seat is None:
                add(position, "location_precision", f"no government seat for {code} in "
                    f"data/boundaries/{SEATS_FILE}; run scripts/build_seats.py")
            elif abs(geom.x - seat[0]) > SEAT_TOLERANCE_DEG or abs(geom.y - seat[1]) > SEAT_TOLERANCE_DEG:
                unit = "city" if precision == "city" else "district/county"
                add(position, "lon/lat", f"({geom.x}, {geom.y}) is not the {unit} government seat of "
                    f"{code} ({seat[0]}, {seat[1]}); a row known only to its {precision} is drawn at "
                    "the seat (scripts/place_points.py), or give the precision the source supports "
                    "(subdistrict, source_coordinate)")
    return problems
