"""Turn a read table into the rows of an imported layer: conversion here, checks in
geoapp/data/validate.check_places (the one validator of curated and imported rows).

Headers are matched in Chinese or English (名称/name, 经度/lon, 纬度/lat, 地址, 所在市/city,
区县/district, 产业/industries, 级别/level, 类型/kind ...); cities and districts by name or adcode;
industries, levels and kinds by code or label. Coordinates in GCJ-02/BD-09 are converted to WGS84.
A row with no coordinates but a district or city is placed at that area's seat point with the
matching location_precision. What cannot be converted (an unknown city, an unreadable number, a
point outside Liaoning, an unknown label) is reported here; the converted rows then go through the
same checks as a curated file (names, sources, codes, plan sections and their mentions, ids,
declared city/district against the point, seats), and every cell through the same template-syntax
check, with the same messages. Every problem names file, spreadsheet row and field; nothing is
dropped silently.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoapp import vocab
from geoapp.data.validate import Problem, check_places, template_cells
from geoapp.ingest import coords
from geoapp.ingest.read import RawTable
from geoapp.ingest.seats import seat_points

# Columns of an imported layer (text), in the order they are stored and published.
COLUMNS = ["id", "name_zh", "name_en", "kind", "level", "city_adcode", "district_adcode",
           "industries", "location_precision", "address", "plan_refs", "source", "note_zh", "note_en"]

# Canonical field -> header spellings (compared after _norm_header).
HEADERS: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "代码", "标识", "统一社会信用代码", "creditcode"),
    "name_zh": ("name_zh", "name", "名称", "中文名称", "单位名称", "企业名称", "平台名称", "机构名称"),
    "name_en": ("name_en", "英文名称", "英文名", "englishname"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
    "address": ("address", "地址", "详细地址", "所在地址"),
    "city": ("city", "city_adcode", "所在市", "市", "城市", "地市", "所在城市"),
    "district": ("district", "district_adcode", "区县", "所在区县", "县区", "区", "县（市、区）",
                 "县市区"),
    "industries": ("industries", "industry", "产业", "产业领域", "所属产业", "行业", "领域"),
    "level": ("level", "级别", "等级"),
    "kind": ("kind", "type", "类型", "类别"),
    "plan_refs": ("plan_refs", "规划条目", "规划依据"),
    "source": ("source", "来源", "数据来源", "出处"),
    "note_zh": ("note_zh", "note", "notes", "备注", "说明"),
    "note_en": ("note_en", "英文备注", "englishnote"),
}
FIELD_LABELS = {"id": "编号/id", "name_zh": "名称/name", "name_en": "英文名称/name_en",
                "lon": "经度/lon", "lat": "纬度/lat", "address": "地址/address",
                "city": "所在市/city", "district": "区县/district", "industries": "产业/industries",
                "level": "级别/level", "kind": "类型/kind", "plan_refs": "规划条目/plan_refs",
                "source": "来源/source", "note_zh": "备注/note", "note_en": "英文备注/note_en"}
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
# check_places' fields as an imported list's problems name them.
VALIDATOR_LABELS = {"id": "编号/id", "name_zh": "名称/name", "name_en": "英文名称/name_en",
                    "source": "来源/source", "kind": "类型/kind", "level": "级别/level",
                    "location_precision": "位置精度/location_precision", "industries": "产业/industries",
                    "plan_refs": "规划条目/plan_refs", "city_adcode": "所在市/city",
                    "district_adcode": "区县/district", "geometry": "经度/纬度", "lon/lat": "经度/纬度"}
# Fields about where a row is: a row whose location could not be converted is not checked again.
WHERE = {"经度/纬度", "所在市/city", "区县/district", "位置精度/location_precision", "geometry"}
# What an imported row may leave empty (a curated row may not).
OPTIONAL = ("name_en", "plan_refs")
LIST_SPLIT = re.compile(r"[;；,，、/]")


def _norm_header(text: str) -> str:
    text = re.sub(r"[（(][^）)]*[）)]", "", str(text))  # 经度（GCJ-02） -> 经度
    return re.sub(r"\s+", "", text).lower().lstrip("\ufeff")


_ALIASES = {_norm_header(alias): name for name, aliases in HEADERS.items() for alias in aliases}
# 县（市、区） loses its bracket in _norm_header: keep it reachable.
_ALIASES["县"] = "district"


@dataclass
class Prepared:
    """The result of checking a file: rows ready to store (if no problems), and what was wrong."""
    layer: str
    file_name: str
    frame: gpd.GeoDataFrame                 # COLUMNS + geometry (WGS84); index = 0..n-1
    rows: list[int]                         # spreadsheet row of each frame row
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # not errors: ignored columns, conversions
    bad_rows: set[int] = field(default_factory=set)   # spreadsheet rows with a problem
    table: pd.DataFrame | None = None       # the cells as read, for the rejects file
    id_given: list[bool] = field(default_factory=list)  # per frame row: the file gave its 编号/id

    @property
    def ok(self) -> bool:
        return not self.problems

    def keep(self) -> list[bool]:
        return [row not in self.bad_rows for row in self.rows]

    def good(self) -> gpd.GeoDataFrame:
        return self.frame[self.keep()].reset_index(drop=True)

    def add_problems(self, problems: list[Problem]) -> None:
        """More problems (found against the stored layer), kept in row order."""
        self.problems = sorted(self.problems + problems, key=lambda p: p.row or 0)
        self.bad_rows |= {p.row for p in problems if p.row is not None}


class Lookup:
    """Cities and districts of the boundary layers, by adcode, Chinese and English name."""

    def __init__(self, boundaries: dict[str, gpd.GeoDataFrame]):
        self.cities = boundaries["city"].set_index("adcode")
        self.districts = boundaries["district"].set_index("adcode")
        # Plain dicts for the per-row lookups (a pandas .loc per row was most of the conversion time)
        self.parent: dict[str, str] = self.districts["parent_adcode"].to_dict()
        self.city_by_name: dict[str, str] = {}
        for code, rec in self.cities.iterrows():
            for name in (rec["name_zh"], rec["name_zh"].removesuffix("市"), rec.get("name_en", "")):
                if name:
                    self.city_by_name[str(name).lower()] = code
        self.district_by_name: dict[str, list[str]] = {}
        for code, rec in self.districts.iterrows():
            names = {rec["name_zh"], str(rec.get("name_en", "") or "")}
            if len(rec["name_zh"]) > 2:
                names.add(rec["name_zh"][:-1])   # 和平区 -> 和平, 新民市 -> 新民
            for name in names - {""}:
                self.district_by_name.setdefault(name.lower(), []).append(code)

    def city(self, text: str) -> str | None:
        text = text.strip()
        if text in self.cities.index:
            return text
        return self.city_by_name.get(text.lower())

    def district(self, text: str, city: str | None) -> tuple[str | None, list[str]]:
        """(adcode, candidates): adcode when the name or code is unambiguous (within the city)."""
        text = text.strip()
        if text in self.districts.index:
            return text, [text]
        found = self.district_by_name.get(text.lower(), [])
        if city:
            found = [c for c in found if self.parent[c] == city]
        return (found[0] if len(found) == 1 else None), found

    def city_list(self) -> str:
        return "、".join(f"{r.name_zh}({c})" for c, r in self.cities.iterrows())


def _code(table: dict[str, tuple[str, str]], text: str) -> str | None:
    """A vocabulary code from its code, Chinese or English label (case-insensitive)."""
    text = text.strip()
    low = text.lower()
    for code, (zh, en) in table.items():
        if low in (code.lower(), zh.lower(), en.lower()) or (zh.endswith("级") and text == zh[:-1]):
            return code
    return None


def _allowed(table: dict[str, tuple[str, str]]) -> str:
    return ", ".join(f"{code} ({zh})" for code, (zh, _) in table.items())


def map_headers(raw: RawTable) -> tuple[dict[str, str], list[Problem], list[str]]:
    """Canonical field -> the file's column; problems for columns claimed twice; ignored columns."""
    mapping: dict[str, str] = {}
    problems, ignored = [], []
    for column in raw.table.columns:
        name = _ALIASES.get(_norm_header(column))
        if name is None:
            ignored.append(str(column))
        elif name in mapping:
            problems.append(Problem(raw.name, 1, str(column),
                                    f"column '{column}' means the same as '{mapping[name]}' "
                                    f"({FIELD_LABELS[name]}); keep one of them"))
        else:
            mapping[name] = column
    return mapping, problems, ignored


def stable_id(layer: str, name: str, place: str) -> str:
    digest = hashlib.sha1(f"{name}|{place}".encode()).hexdigest()[:12]
    return f"{layer}_{digest}"


def prepare(raw: RawTable, layer: str, boundaries: dict[str, gpd.GeoDataFrame], crs: str = "wgs84",
            defaults: dict | None = None, source_text: str = "", taken_ids: dict[str, str] | None = None,
            seats: dict[str, tuple[float, float]] | None = None, sections: dict | None = None) -> Prepared:
    """Check and convert every row. `defaults` fill kind/level when the file has no such column;
    `source_text` is the row source used when the file gives none ('{row}' is the row number);
    `taken_ids` maps ids used by other layers to their layer; `seats` (adcode -> lon, lat) are the
    government seats where rows naming only a district or city are placed (seats.seat_points);
    `sections` the plan text's sections that plan_refs may name (the registry's)."""
    if crs not in coords.CRS_CHOICES:
        raise ValueError(f"unknown coordinate system {crs!r}; allowed: {', '.join(coords.CRS_CHOICES)}")
    defaults = defaults or {}
    taken_ids = taken_ids or {}
    lookup = Lookup(boundaries)
    mapping, problems, ignored = map_headers(raw)
    notes = list(raw.notes)   # conversions made while reading (a CRS without EPSG code)
    if ignored:
        notes.append("columns not imported (unknown header): " + ", ".join(ignored)
                     + "; known headers: " + "; ".join(f"{FIELD_LABELS[k]}" for k in HEADERS))
    name = raw.name
    n = len(raw.table)
    bad: set[int] = set()

    def add(i: int, fld: str, message: str) -> None:
        problems.append(Problem(name, raw.rows[i], fld, message))
        bad.add(raw.rows[i])

    def column(key: str) -> list[str]:
        if key in mapping:
            return [str(v).strip() for v in raw.table[mapping[key]].tolist()]
        return [""] * n

    if "name_zh" not in mapping:
        problems.append(Problem(name, 1, "名称/name",
                                "没有名称列 / no name column; a header 名称 (or name, 单位名称, 企业名称) is required"))
    has_geometry = raw.geometry is not None
    if not has_geometry and ("lon" in mapping) != ("lat" in mapping):
        problems.append(Problem(name, 1, "经度/纬度", "经度、纬度两列须同时给出或都不给 / give both 经度/lon and 纬度/lat columns, or neither"))
    if problems:
        return Prepared(layer, name, _empty_frame(), [], problems, notes, set(raw.rows), raw.table)

    for row, message in raw.cell_problems:
        problems.append(Problem(name, row, None, message))
        bad.add(row)
    names, ids, addresses = column("name_zh"), column("id"), column("address")
    cities_in, districts_in = column("city"), column("district")
    kinds_in, levels_in, industries_in = column("kind"), column("level"), column("industries")
    passthrough = {key: column(key) for key in ("name_en", "plan_refs", "note_zh", "note_en", "source")}

    # Coordinates: from the columns, or from the features' geometry for GeoJSON/GeoPackage.
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    coord_given = np.zeros(n, dtype=bool)
    if has_geometry:
        geoms = raw.geometry
        for i, geom in enumerate(geoms):
            if geom is None or geom.is_empty:
                continue
            coord_given[i] = True
            if geom.geom_type != "Point":
                add(i, "geometry", f"{geom.geom_type}：导入清单只收点（每行一个地点） / an imported list holds points (one site per row)")
                continue
            lon[i], lat[i] = geom.x, geom.y
        if raw.crs_epsg not in (None, 4326, 4490):
            projected = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=raw.crs_epsg).to_crs(4326)
            lon, lat = projected.x.to_numpy(), projected.y.to_numpy()
            notes.append(f"geometry reprojected from EPSG:{raw.crs_epsg} to WGS84")
    else:
        for i, (x, y) in enumerate(zip(column("lon"), column("lat"))):
            if not x and not y:
                continue
            coord_given[i] = True
            if not x or not y:
                add(i, "经度/纬度", f"经度、纬度只给了一个 / only one of 经度/lon ('{x}') and 纬度/lat ('{y}') given; give both or neither")
                continue
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                add(i, "经度/纬度", f"'{x}', '{y}' 不是十进制度数 / are not decimal degrees (e.g. 123.4315, 41.8057)")
                continue
            if not (np.isfinite(fx) and np.isfinite(fy)):
                add(i, "经度/纬度", f"'{x}', '{y}' 不是十进制度数 / are not decimal degrees (e.g. 123.4315, 41.8057)")
                continue
            if 38 <= fx <= 44 and 118 <= fy <= 126:
                add(i, "经度/纬度", f"({x}, {y}) 经纬度似乎颠倒 / looks swapped: 经度/lon is about 118–126 and "
                    "纬度/lat about 38–44 in Liaoning")
                continue
            lon[i], lat[i] = fx, fy
    lon, lat = coords.to_wgs84(lon, lat, crs)
    if crs not in ("wgs84",):
        notes.append(f"coordinates converted from {coords.CRS_LABELS[crs]} to WGS84")

    # Where each located point actually is.
    located = ~np.isnan(lon)
    actual_district = np.full(n, None, dtype=object)
    if located.any():
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon[located], lat[located]), crs=4326)
        districts = boundaries["district"][["adcode", "geometry"]]
        joined = gpd.sjoin(points, districts, how="left", predicate="intersects")
        joined = joined[~joined.index.duplicated(keep="first")]
        for position, code in zip(np.flatnonzero(located), joined["adcode"].tolist()):
            actual_district[position] = code if isinstance(code, str) else None

    out = {c: [""] * n for c in COLUMNS}
    out_lon, out_lat = lon.copy(), lat.copy()
    seats = seats if seats is not None else seat_points(boundaries)
    seen: dict[str, int] = {}
    for i in range(n):
        nm = names[i]
        # City and district.
        city = district = None
        if cities_in[i]:
            city = lookup.city(cities_in[i])
            if city is None:
                add(i, "所在市/city", f"'{cities_in[i]}' 不是辽宁的市 / is not a Liaoning city; allowed: name or "
                    f"adcode of {lookup.city_list()}")
        if districts_in[i]:
            district, candidates = lookup.district(districts_in[i], city)
            if district is None:
                if len(candidates) > 1:
                    add(i, "区县/district", f"'{districts_in[i]}' 是几个区县的名称，请写明所在市 / is the name of several districts ("
                        + "、".join(f"{lookup.districts.loc[c, 'name_zh']} in "
                                   f"{lookup.cities.loc[lookup.districts.loc[c, 'parent_adcode'], 'name_zh']} ({c})"
                                   for c in candidates)
                        + "); give 所在市/city or the district adcode")
                else:
                    where = f" in {lookup.cities.loc[city, 'name_zh']}" if city else ""
                    where_zh = lookup.cities.loc[city, "name_zh"] if city else ""
                    add(i, "区县/district", f"'{districts_in[i]}' 不是辽宁{where_zh}的区县 / is not a district{where} of Liaoning; "
                        "allowed: a district name or adcode from data/boundaries/liaoning_district.geojson")
            else:
                parent = lookup.parent[district]
                if city and parent != city:
                    add(i, "区县/district", f"{lookup.districts.loc[district, 'name_zh']} ({district}) 属于"
                        f"{lookup.cities.loc[parent, 'name_zh']}，不在{lookup.cities.loc[city, 'name_zh']} / "
                        f"is in {lookup.cities.loc[parent, 'name_zh']}, not in "
                        f"{lookup.cities.loc[city, 'name_zh']}")
                city = city or parent
        # Location.
        if located[i]:
            found = actual_district[i]
            if found is None:
                add(i, "经度/纬度", f"点位在辽宁省外，请检查坐标系与经纬度顺序 / ({lon[i]:.6f}, {lat[i]:.6f}) WGS84 lies outside Liaoning"
                    + (f" (after converting from {crs})" if crs != "wgs84" else "")
                    + "; check the coordinate system (--crs wgs84|gcj02|bd09|cgcs2000) and the order lon, lat")
            else:
                # The point's district and city where the row does not declare them; a declared
                # one that the point contradicts is reported by the validator.
                found_city = lookup.parent[found]
                district = district or found
                city = city or found_city
            out["location_precision"][i] = "source_coordinate"
        elif district or city:
            out_lon[i], out_lat[i] = seats[district or city]
            out["location_precision"][i] = "district" if district else "city"
        elif not (cities_in[i] or districts_in[i] or coord_given[i]):
            add(i, "经度/纬度", "没有位置：请给出经纬度、区县或所在市 / no location: give 经度/lon and 纬度/lat, or 区县/district, or 所在市/city")
        out["city_adcode"][i] = city or ""
        out["district_adcode"][i] = district or ""
        # Vocabularies.
        for key, table, fld in (("kind", vocab.KINDS, "类型/kind"), ("level", vocab.LEVELS, "级别/level")):
            given = (kinds_in if key == "kind" else levels_in)[i]
            if not given:
                value = defaults.get(key, "")
                if not value:
                    add(i, fld, f"为空 / empty; allowed: {_allowed(table)}")
                out[key][i] = value
                continue
            code = _code(table, given)
            if code is None:
                add(i, fld, f"未知的值 / unknown value '{given}'; allowed: {_allowed(table)}")
            out[key][i] = code or ""
        codes = []
        for part in (p.strip() for p in LIST_SPLIT.split(industries_in[i])):
            if not part:
                continue
            code = _code(vocab.INDUSTRIES, part)
            if code is None:
                add(i, "产业/industries", f"未知的产业 / unknown industry '{part}'; allowed (separate several with ；or ,): "
                    f"{_allowed(vocab.INDUSTRIES)}")
            elif code not in codes:
                codes.append(code)
        out["industries"][i] = ";".join(codes)
        # Identity.
        if ids[i]:
            ident = ids[i]
            if not ID_PATTERN.match(ident):
                add(i, "编号/id", f"'{ident}' 不是可用的编号 / is not a usable id: 1–64 letters, digits, '_', '-', '.', "
                    "starting with a letter or digit")
        else:
            ident = stable_id(layer, nm, district or city or "")
        if not ids[i]:   # a given id's duplicates are the validator's; a derived one is named by the row
            if ident in seen:
                add(i, "名称/name", f"与第 {raw.rows[seen[ident]]} 行名称和地点相同 / same name and place as row {raw.rows[seen[ident]]}; "
                    "give an 编号/id column to tell the rows apart")
            else:
                seen[ident] = i
        out["id"][i] = ident
        out["name_zh"][i] = nm
        out["address"][i] = addresses[i]
        for key in ("name_en", "plan_refs", "note_zh", "note_en"):
            out[key][i] = passthrough[key][i]
        out["source"][i] = passthrough["source"][i] or source_text.replace("{row}", str(raw.rows[i]))

    frame = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(np.round(out_lon, 7), np.round(out_lat, 7)),
                             crs=4326)
    templated = template_cells(raw.table, name, list(raw.rows))
    problems += templated
    bad |= {p.row for p in templated if p.row is not None}
    for problem in validate(frame, name, list(raw.rows), [bool(i) for i in ids], boundaries, taken_ids,
                            seats, sections, problems):
        problems.append(problem)
        bad.add(problem.row)
    problems.sort(key=lambda p: p.row or 0)
    return Prepared(layer, name, frame, list(raw.rows), problems, notes, bad, raw.table,
                    [bool(i) for i in ids])


def validate(frame: gpd.GeoDataFrame, name: str, rows: list[int], id_given: list[bool], boundaries,
             taken_ids: dict[str, str], seats, sections, converted: list[Problem]) -> list[Problem]:
    """check_places over the converted rows, its problems named as the list names them; minus
    what conversion already reported (same row and field, or any location field of a row whose
    location could not be converted) and the ids conversion derived (unique by construction)."""
    found = check_places(frame, Path(name), boundaries, {k: f"layer {v}" for k, v in taken_ids.items()},
                         seats, sections, row_numbers=rows, optional=OPTIONAL, id_pattern=None)
    reported = {(p.row, p.field) for p in converted}
    unplaced = {p.row for p in converted if p.field in WHERE}
    derived = {row for row, given in zip(rows, id_given) if not given}
    out = []
    for p in found:
        label = VALIDATOR_LABELS.get(p.field, p.field)
        if (p.row, label) in reported or (label in WHERE and p.row in unplaced) \
                or (label == "编号/id" and p.row in derived):
            continue
        out.append(Problem(name, p.row, label, p.message))
    return out


def _empty_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=str) for c in COLUMNS},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def empty_frame() -> gpd.GeoDataFrame:
    return _empty_frame()


def same_geometry(a, b) -> bool:
    return bool(shapely.equals_exact(a, b, tolerance=1e-9))
