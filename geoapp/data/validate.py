"""Validation of place layers against the boundaries, the vocabularies and the plan text.

Every problem names the file, the row (1-based data row, header excluded, as a spreadsheet
shows it minus one) and the field, and says what is allowed, so a planner can fix the file.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import yaml

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
                 seats: dict[str, tuple[float, float]] | None = None,
                 sections: dict | None = None) -> list[Problem]:
    """Check one place layer. `seen_ids` maps ids already used (in any file) to their file;
    `seats` (read_seats) enables the check that city/district-only points are at the seat;
    `sections` are the plan text's sections that plan_refs must name (default: the package's)."""
    name = relative(path)
    problems: list[Problem] = []
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        return [Problem(name, None, c, "required column is missing") for c in missing]
    problems += check_crs(frame, path)
    cities = boundaries["city"].set_index("adcode")
    districts = boundaries["district"].set_index("adcode")
    province = boundaries["province"].geometry.union_all()
    sections = plan_text.sections() if sections is None else sections

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


# Template syntax (Jinja and friends): data text is shown literally, never evaluated, and a file
# carrying it is refused as defence in depth.
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")


def _template_problem(name: str, row: int | None, field: str, value: str) -> Problem:
    token = TEMPLATE_SYNTAX.search(value).group(0)
    return Problem(name, row, field, f"contains template syntax '{token}': data text is shown "
                   "literally; write braces apart (e.g. '{ {') or remove them")


def _walk(value, path: str):
    """(key path, text) for every string in a YAML/JSON structure."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value, start=1):
            yield from _walk(item, f"{path}[{index}]")


def check_template_syntax(data_dir: Path, layers_dir: Path | None = None) -> list[Problem]:
    """Every text field of every data file (CSV cells, GeoJSON properties, YAML values) and of
    every layer spec that contains `{{`, `{%` or `{#`. Files that cannot be read are reported by
    the readers, not here."""
    problems: list[Problem] = []
    for path in sorted(Path(data_dir).rglob("*.csv")):
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, ValueError):
            continue
        for column in table.columns:
            if TEMPLATE_SYNTAX.search(str(column)):
                problems.append(_template_problem(relative(path), None, str(column), str(column)))
            for row, value in enumerate(table[column], start=1):
                if TEMPLATE_SYNTAX.search(value):
                    problems.append(_template_problem(relative(path), row, str(column), value))
    for path in sorted(Path(data_dir).rglob("*.geojson")):
        try:
            features = json.loads(path.read_text(encoding="utf-8")).get("features") or []
        except (UnicodeDecodeError, ValueError, AttributeError):
            continue
        for row, feature in enumerate(features, start=1):
            for field, value in _walk((feature or {}).get("properties") or {}, ""):
                if TEMPLATE_SYNTAX.search(value):
                    problems.append(_template_problem(relative(path), row, field, value))
    yaml_files = sorted(Path(data_dir).rglob("*.yaml"))
    if layers_dir is not None:
        yaml_files += sorted(Path(layers_dir).glob("*.yaml"))
    for path in yaml_files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError):
            continue
        for field, value in _walk(document, ""):
            if TEMPLATE_SYNTAX.search(value):
                problems.append(_template_problem(relative(path), None, field, value))
    return problems
