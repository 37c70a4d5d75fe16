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
import numpy as np
import pandas as pd
import shapely
import yaml

from geoapp import PROJECT_ROOT, vocab

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


def _split_each(cells: pd.Series) -> pd.Series:
    """`_split` of every cell (a list per row), each distinct cell split once. Rows with the
    same cell share one list: read them, never change them."""
    positions, distinct = pd.factorize(cells, use_na_sentinel=True)
    splits = [_split(cell) for cell in distinct] + [[]]  # the last: empty / NaN cells (-1)
    return pd.Series([splits[p] for p in positions], index=cells.index, dtype=object)


def _stripped(cells: pd.Series) -> pd.Series:
    """Cells as stripped text ('' for NaN), object dtype."""
    return pd.Series([str(v).strip() for v in cells.fillna("").tolist()], index=cells.index, dtype=object)


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or not str(value).strip()


def check_crs(frame: gpd.GeoDataFrame, path: Path) -> list[Problem]:
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        return [Problem(relative(path), None, "crs",
                        f"coordinate reference system is {frame.crs.to_string() if frame.crs else 'missing'}; "
                        "store WGS84 lon/lat (EPSG:4326, RFC 7946)")]
    return []


def read_seats(boundaries_dir: Path) -> tuple[dict[str, tuple[float, float]], list[Problem]]:
    """adcode -> (lon, lat) of the government seat of every city and county-level unit, and the
    problems of the file (missing, unreadable, a column or a number wrong) named by file/row/field."""
    path = boundaries_dir / SEATS_FILE
    name = relative(path)
    rebuild = "rebuild it with scripts/build_seats.py (make data)"
    if not path.exists():
        return {}, [Problem(name, None, None, f"missing; {rebuild}")]
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        return {}, [Problem(name, None, None, f"not UTF-8 text ({error.reason} at byte {error.start}); {rebuild}")]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        return {}, [Problem(name, None, None, f"not a readable CSV ({error}); {rebuild}")]
    missing = [c for c in ("adcode", "lon", "lat") if c not in table.columns]
    if missing:
        return {}, [Problem(name, None, c, "required column is missing") for c in missing]
    lon = pd.to_numeric(table["lon"], errors="coerce")
    lat = pd.to_numeric(table["lat"], errors="coerce")
    bad = np.flatnonzero((lon.isna() | lat.isna()).to_numpy())
    problems = [Problem(name, int(i) + 1, "lon/lat", f"'{table['lon'].iat[i]}', '{table['lat'].iat[i]}' "
                        "are not decimal degrees") for i in bad]
    good = ~(lon.isna() | lat.isna())
    return ({code: (float(x), float(y)) for code, x, y in zip(table["adcode"][good], lon[good], lat[good])},
            problems)


def _normalise_text(text: str) -> str:
    """Without any whitespace (str.split's whitespace is regex \\s's; ~3x faster than re.sub)."""
    return "".join(text.split())


def plan_names(rec) -> list[str]:
    """The names a place goes by in the plan: name_zh and the `plan_names` aliases (';'-separated)."""
    names = [] if _blank(rec.get("name_zh")) else [str(rec["name_zh"]).strip()]
    return names + _split(rec.get("plan_names"))


def check_places(frame: gpd.GeoDataFrame, path: Path, boundaries: dict[str, gpd.GeoDataFrame],
                 seen_ids: dict[str, str],
                 seats: dict[str, tuple[float, float]] | None = None,
                 sections: dict | None = None, *, row_numbers: list[int] | None = None,
                 optional: tuple[str, ...] = (), id_pattern: re.Pattern | None = ID_PATTERN,
                 industries: dict[str, tuple[str, str]] | None = None) -> list[Problem]:
    """Check one place layer. `seen_ids` maps ids already used (in any file) to their file;
    `seats` (read_seats) enables the check that city/district-only points are at the seat;
    `sections` are the plan text's sections that plan_refs must name (None: not checked, as
    when the plan's manifest could not be read, which is reported by itself).
    The same checks serve imported lists (ingest/rows.py), which pass `row_numbers` (the spreadsheet row
    of each frame row, as problems name it), `optional` fields that may be empty (name_en,
    plan_refs) and `id_pattern=None` (their ids are checked when the list is converted). An
    optional field may also be left out as a column (the shared registry's rows carry no
    plan_refs: the plans say which places they name, geoapp.data.plans).
    `industries`: the industry vocabulary of `industries` and `plan_role` (default vocab.INDUSTRIES).

    Vectorised (column masks, prepared polygons, one covers() call per city and per district), so
    100,000 rows take seconds; problems come out in row order, as a spreadsheet lists them.
    """
    name = relative(path)
    missing = [c for c in REQUIRED if c not in frame.columns and c not in optional]
    if missing:
        return [Problem(name, None, c, "required column is missing") for c in missing]
    absent = [c for c in REQUIRED if c not in frame.columns]
    if absent:  # optional columns left out: empty
        frame = frame.assign(**dict.fromkeys(absent, ""))
    industries = vocab.INDUSTRIES if industries is None else industries
    found: list[tuple[int, int, str, str]] = []  # (row, check order, field, message)

    def add(mask, order: int, field: str, message) -> None:
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            found.append((int(i) + 1, order, field, message(int(i)) if callable(message) else message))

    def add_rows(rows, order: int, field: str, message: str) -> None:
        found.extend((int(i) + 1, order, field, message) for i in rows)

    frame = frame.reset_index(drop=True)
    text = {c: _stripped(frame[c]) for c in REQUIRED + ["district_adcode"] if c in frame.columns}
    cities = boundaries["city"].set_index("adcode")
    districts = boundaries["district"].set_index("adcode")
    province = boundaries["province"].geometry.union_all()

    ident = text["id"]
    blank_id = ident == ""
    add(blank_id, 0, "id", "empty; give a stable slug (lower-case letters, digits, single underscores), e.g. htz_anshan")
    bad_slug = (~blank_id & ~ident.str.match(id_pattern) if id_pattern is not None
                else pd.Series(False, index=ident.index))
    add(bad_slug, 0, "id", lambda i: f"'{ident[i]}' is not a slug (lower-case letters, digits, single underscores)")
    good = ~blank_id & ~bad_slug
    earlier = ident.map(seen_ids)
    repeated = good & (earlier.notna() | ident.duplicated())
    add(repeated, 0, "id", lambda i: f"'{ident[i]}' is already used in "
        f"{earlier[i] if isinstance(earlier[i], str) else name}; ids must be unique")
    for value in ident[good & ~repeated]:
        seen_ids[value] = name
    for order, (field, language) in enumerate((("name_zh", "Chinese"), ("name_en", "English")), start=1):
        if field not in optional:
            add(text[field] == "", order, field, f"empty; every place needs a {language} name")
    add(text["source"] == "", 3, "source", "empty; say where the fact and the location come from")
    for order, (field, table) in enumerate((("kind", vocab.KINDS), ("level", vocab.LEVELS),
                                            ("location_precision", vocab.LOCATION_PRECISION)), start=4):
        add(~text[field].isin(list(table)), order, field,
            lambda i, f=field, t=table: f"unknown code '{text[f][i]}'; allowed: {', '.join(t)}")
    for field in ("industries", "plan_role"):
        if field not in frame.columns:
            continue
        codes = _split_each(frame[field]).explode().dropna()
        for i, code in codes[~codes.isin(list(industries))].items():
            found.append((int(i) + 1, 7, field,
                          f"unknown industry code '{code}'; allowed: {', '.join(industries)}"))
    refs = _split_each(text["plan_refs"])
    if "plan_refs" not in optional:
        add(refs.map(len) == 0, 8, "plan_refs", "empty; name the plan section(s), e.g. 三（二）2 or 专栏5")
    exploded = refs.explode().dropna()
    if sections is None:  # no plan text to check against (its manifest has problems, reported)
        exploded = exploded[:0]
        sections = {}
    for i, ref in exploded[~exploded.isin(list(sections))].items():
        found.append((int(i) + 1, 9, "plan_refs", f"section '{ref}' does not exist in the plan text"))
    section_text = {ref: _normalise_text(sections[ref].text) for ref in set(exploded) if ref in sections}
    aliases = _split_each(frame["plan_names"]).tolist() if "plan_names" in frame.columns else None
    names_zh = text["name_zh"].tolist()
    alias_mentioned: dict[tuple[str, str], bool] = {}  # (alias, section): aliases repeat, test each once

    def mentions(ref: str, zh: str, others: list[str]) -> bool:
        if zh and _normalise_text(zh) in section_text[ref]:
            return True
        for alias in others:
            hit = alias_mentioned.get((alias, ref))
            if hit is None:
                hit = alias_mentioned[alias, ref] = _normalise_text(alias) in section_text[ref]
            if hit:
                return True
        return False

    cited = exploded[exploded.isin(list(section_text))]
    for i, ref in zip(cited.index.tolist(), cited.tolist()):
        if not mentions(ref, names_zh[i], aliases[i] if aliases is not None else []):
            names = ([names_zh[i]] if names_zh[i] else []) + (aliases[i] if aliases is not None else [])
            found.append((int(i) + 1, 9, "plan_refs", f"section '{ref}' does not mention this place "
                          f"under any of its names ({' / '.join(names)}); cite a section that names it, "
                          "or add the name the plan uses there to plan_names"))

    city = text["city_adcode"]
    bad_city = ~city.isin(list(cities.index))
    add(bad_city, 10, "city_adcode", lambda i: f"'{city[i]}' is not one of Liaoning's 14 city adcodes "
        f"({', '.join(cities.index)})")
    geoms = frame.geometry.values
    no_geom = ~bad_city & (frame.geometry.isna().to_numpy() | shapely.is_empty(geoms))
    add(no_geom, 11, "geometry", "missing; give lon/lat (WGS84)")
    invalid = ~bad_city & ~no_geom & ~shapely.is_valid(geoms)
    add(invalid, 11, "geometry", "invalid geometry")
    placed = np.array(~bad_city & ~no_geom & ~invalid, dtype=bool)
    shapely.prepare(province)
    outside = placed & ~shapely.covers(province, geoms)
    add(outside, 12, "lon/lat", lambda i: f"({geoms[i].x:.5f}, {geoms[i].y:.5f}) lies outside Liaoning; "
        "coordinates are lon, lat in WGS84" if geoms[i].geom_type == "Point" else "outside Liaoning")
    placed &= ~outside
    for code, rows in _outside(city, placed, cities, geoms):
        add_rows(rows, 13, "lon/lat",
                 f"point lies outside its declared city {code} ({cities.loc[code, 'name_zh']})")
    district = text["district_adcode"] if "district_adcode" in text else pd.Series("", index=frame.index)
    needs = placed & np.array((text["location_precision"] != "city") | (district != ""), dtype=bool)
    unknown = needs & ~district.isin(list(districts.index)).to_numpy()
    add(unknown, 14, "district_adcode", lambda i: f"'{district[i]}' is not a Liaoning district adcode "
        "(see data/boundaries/liaoning_district.geojson); leave empty only with location_precision=city")
    needs &= ~unknown
    parent = district.map(districts["parent_adcode"]).fillna("")
    wrong_city = needs & (parent != city).to_numpy()
    add(wrong_city, 14, "district_adcode", lambda i: f"district {district[i]} "
        f"({districts.loc[district[i], 'name_zh']}) is not in city {city[i]}")
    needs &= ~wrong_city
    # Two seats lie outside this atlas's polygon of their own unit (抚顺县 210421, 千山区 210311;
    # data/boundaries/SOURCE.md): a district-precision point exactly at its seat is where the
    # rule puts it, so it is not also held to the polygon.
    inside = needs & ~_at_seat(district, text["location_precision"], geoms, seats)
    for code, rows in _outside(district, inside, districts, geoms):
        add_rows(rows, 15, "lon/lat",
                 f"point lies outside its declared district {code} ({districts.loc[code, 'name_zh']})")
    if seats is not None:
        precision = text["location_precision"]
        point = np.array(shapely.get_type_id(geoms) == 0, dtype=bool)
        for level, codes, checked in (("city", city, placed), ("district", district, needs)):
            rows = np.flatnonzero(checked & point & (precision == level).to_numpy())
            unit = "city" if level == "city" else "district/county"
            for i in rows:
                code, geom = codes[i], geoms[i]
                seat = seats.get(code)
                if seat is None:
                    found.append((int(i) + 1, 16, "location_precision", f"no government seat for {code} in "
                                  f"data/boundaries/{SEATS_FILE}; run scripts/build_seats.py"))
                elif abs(geom.x - seat[0]) > SEAT_TOLERANCE_DEG or abs(geom.y - seat[1]) > SEAT_TOLERANCE_DEG:
                    found.append((int(i) + 1, 16, "lon/lat", f"({geom.x}, {geom.y}) is not the {unit} "
                                  f"government seat of {code} ({seat[0]}, {seat[1]}); a row known only to "
                                  f"its {level} is drawn at the seat (scripts/place_points.py), or give the "
                                  "precision the source supports (subdistrict, source_coordinate)"))
    found.sort(key=lambda item: (item[0], item[1]))
    return [Problem(name, row_numbers[row - 1] if row_numbers is not None else row, field, message)
            for row, _, field, message in found]


PLAN_PLACE_COLUMNS = ("id", "plan_refs")  # of a plan's places.csv; plan_names, plan_role optional


def check_plan_places(table: pd.DataFrame, path: Path, names: dict[str, str],
                      sections: dict, industries: dict[str, tuple[str, str]],
                      check_ids: bool = True) -> list[Problem]:
    """A plan's places.csv: which shared places the plan names and where. Every row names a
    place of the registry (`names`: id -> name_zh) once, cites sections of the plan's text that
    exist and mention the place (under name_zh or one of `plan_names`), and gives `plan_role`
    codes of the plan's industry vocabulary. `check_ids=False` when some place files could not
    be loaded (reported by themselves): their ids are not known, so rows naming them are skipped."""
    name = relative(path)
    missing = [c for c in PLAN_PLACE_COLUMNS if c not in table.columns]
    if missing:
        return [Problem(name, None, c, "required column is missing (columns: id, plan_refs, "
                        "plan_names, plan_role)") for c in missing]
    problems: list[Problem] = []
    seen: set[str] = set()
    text = {ref: _normalise_text(section.text) for ref, section in sections.items()}
    for row, rec in enumerate(table.fillna("").astype(str).to_dict("records"), start=1):
        ident = rec["id"].strip()
        if ident not in names:
            if check_ids:
                problems.append(Problem(name, row, "id", f"'{ident}' is not the id of a place in the shared "
                                        "registry (data/parks, data/platforms, data/zones)"))
            continue
        if ident in seen:
            problems.append(Problem(name, row, "id", f"'{ident}' is listed twice; one row per place"))
        seen.add(ident)
        refs = _split(rec["plan_refs"])
        if not refs:
            problems.append(Problem(name, row, "plan_refs", "empty; name the plan section(s), e.g. 三（二）2 or 专栏5"))
        aliases = [names[ident]] + _split(rec.get("plan_names", ""))
        for ref in refs:
            if ref not in text:
                problems.append(Problem(name, row, "plan_refs", f"section '{ref}' does not exist in the plan text"))
            elif not any(alias and _normalise_text(alias) in text[ref] for alias in aliases):
                problems.append(Problem(name, row, "plan_refs", f"section '{ref}' does not mention this "
                                        f"place under any of its names ({' / '.join(a for a in aliases if a)}); "
                                        "cite a section that names it, or add the name the plan uses there "
                                        "to plan_names"))
        for code in _split(rec.get("plan_role", "")):
            if code not in industries:
                problems.append(Problem(name, row, "plan_role", f"unknown industry code '{code}'; "
                                        f"allowed (the plan's industries): {', '.join(industries)}"))
    return problems


# Template syntax (Jinja and friends): data text is shown literally, never evaluated, and a file
# carrying it is refused as defence in depth.
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")
ESCAPED_BRACE = re.compile(r"\\(?:u0*|x)7b", re.IGNORECASE)


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


def template_cells(table: pd.DataFrame, name: str, rows: list[int] | None = None) -> list[Problem]:
    """Every header and text cell of a table (a CSV data file or an imported list) holding `{{`,
    `{%` or `{#`, named by file, row (`rows`: each table row's number; default 1-based) and column."""
    problems = []
    for column in table.columns:
        if TEMPLATE_SYNTAX.search(str(column)):
            problems.append(_template_problem(name, None, str(column), str(column)))
        hits = table[column].astype(str).str.contains(TEMPLATE_SYNTAX, regex=True)
        for row in np.flatnonzero(hits.to_numpy()):  # vectorised: only hits are visited
            value = table[column].iat[row]
            problems.append(_template_problem(name, rows[row] if rows is not None else int(row) + 1,
                                              str(column), value))
    return problems


def check_template_syntax(data_dir: Path, layers_dir: Path | None = None) -> list[Problem]:
    """Every text field of every data file (CSV cells, GeoJSON properties, YAML values) and of
    every layer spec that contains `{{`, `{%` or `{#`. Files that cannot be read are reported by
    the readers, not here."""
    problems: list[Problem] = []
    def suspect(path: Path) -> bool:
        """Parse only files whose text has the syntax, or an escaped brace (JSON/YAML \\u007b)."""
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return False
        return bool(TEMPLATE_SYNTAX.search(text) or ESCAPED_BRACE.search(text))

    for path in sorted(Path(data_dir).rglob("*.csv")):
        if not suspect(path):
            continue
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, ValueError):
            continue
        problems += template_cells(table, relative(path))
    for path in sorted(Path(data_dir).rglob("*.geojson")):
        if not suspect(path):
            continue
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
        if not suspect(path):
            continue
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError):
            continue
        for field, value in _walk(document, ""):
            if TEMPLATE_SYNTAX.search(value):
                problems.append(_template_problem(relative(path), None, field, value))
    return problems


def _at_seat(codes: pd.Series, precision: pd.Series, geoms, seats) -> np.ndarray:
    """Rows of precision 'district' whose point is their district's seat (within the file rounding)."""
    out = np.zeros(len(codes), dtype=bool)
    if not seats:
        return out
    for i in np.flatnonzero((precision == "district").to_numpy()):
        seat, geom = seats.get(codes.iat[i]), geoms[i]
        if seat is not None and geom is not None and shapely.get_type_id(geom) == 0 \
                and abs(geom.x - seat[0]) <= SEAT_TOLERANCE_DEG and abs(geom.y - seat[1]) <= SEAT_TOLERANCE_DEG:
            out[i] = True
    return out


def _outside(codes: pd.Series, mask: np.ndarray, units: gpd.GeoDataFrame, geoms):
    """(code, positions) of the masked rows not covered by their declared unit's polygon: one
    prepared covers() per unit, not one per row."""
    for code, rows in _groups(codes, mask).items():
        polygon = units.loc[code].geometry
        shapely.prepare(polygon)
        yield code, rows[~shapely.covers(polygon, geoms[rows])]


def _groups(codes: pd.Series, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Positions of the masked rows, grouped by code (one pass, not one comparison per code)."""
    positions = np.flatnonzero(mask)
    return {code: positions[idx] for code, idx in
            pd.Series(codes.to_numpy()[positions]).groupby(codes.to_numpy()[positions]).indices.items()}
