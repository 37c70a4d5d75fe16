"""The names a plan text can use for places of the province, built from the province's own data.

    units         province, 14 cities, 100 districts/counties (data/boundaries), each with its
                  government seat (data/boundaries/seats.csv) as the point a proposal located only
                  to that unit is drawn at
    surface forms full names (沈阳市, 浑南区, 绥中县) and short forms made by rule (沈阳, 浑南,
                  旅顺 from 旅顺口区, 绥中); a short form that is also an everyday word (振兴, 和平,
                  中山 …) counts only in its full form; a short form two units share (铁西) is
                  resolved by the city named next to it, or not at all
    contractions  first characters of two cities (沈大 = 沈阳 + 大连, 沈抚) anywhere in a name, and
                  of two districts of one city before 新区 (金普新区 = 金州 + 普兰店)
    regions       辽宁 / 全省 / 东北 … : the province (or beyond it): no city
    group terms   a name for a fixed set of places (“五点一线” = the six coastal development areas),
                  from data/boundaries/group_terms.yaml (geoapp.data.groups), with each member's
                  city and district: the drafter expands a term the text writes into its members
                  (also with --province-only: it is province data)
    known places  (not with --province-only) the registry's places under their names, plan_names
                  and the rule-made short name (沈阳高新技术产业开发区 -> 沈阳高新区)

Nothing here is fetched: the names are the data folder's, the word list is rjieba's own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import permutations

import geopandas as gpd
import pandas as pd

from geoapp.data.groups import GroupTerm

# Short forms that are also everyday words in plan prose (东北振兴, 和平, 宏伟目标 …).
COMMON_WORDS = frozenset("和平 中山 振兴 宏伟 太平 元宝 白塔 灯塔 大东 平山 明山 西市 站前 沙河 清河 "
                         "新民 东港 海州 连山 龙城 双塔 太和 古塔 凌河 银州 兴城".split())
# Admin suffixes stripped, longest first, to make a short form (at least two characters left).
_SUFFIXES = ("满族自治县", "蒙古族自治县", "自治县", "新区", "区", "县", "市")
GENERIC_START = r"^(?:生物|医药|软件|电子|信息|新材料|材料|化工|装备|智能|农业|海洋|新能源|节能|环保|科技|高新|国家|省级|产业)"
PLACE_END = r"(?:区|园|基地|集群|实验室|中心|研究院|城|带|点)$"
REGIONS = {"辽宁省": "", "辽宁": "", "全省": "", "我省": "", "东北": "", "辽西": "", "辽东": "",
           "辽南": "", "辽北": "", "东北亚": ""}


@dataclass(frozen=True)
class Unit:
    adcode: str
    level: str          # province / city / district
    name_zh: str
    name_en: str
    parent: str         # city adcode of a district; '' otherwise
    lon: float
    lat: float

    @property
    def city(self) -> str:
        return self.adcode if self.level == "city" else self.parent if self.level == "district" else ""


@dataclass(frozen=True)
class KnownPlace:
    id: str
    name_zh: str
    name_en: str
    kind: str
    level: str
    city_adcode: str
    district_adcode: str
    location_precision: str
    lon: float
    lat: float
    industries: tuple[str, ...]
    aliases: tuple[str, ...]   # normalised names the text may write


@dataclass
class Gazetteer:
    units: dict[str, Unit]
    forms: dict[str, tuple[str, ...]]          # surface form -> adcodes (several: ambiguous)
    contractions: dict[str, tuple[str, ...]]   # 沈大 -> (210100, 210200)
    district_contractions: dict[str, tuple[str, ...]]  # 金普 -> (210213, 210214), only before 新区
    known: list[KnownPlace] = field(default_factory=list)
    province: str = "210000"
    groups: list[GroupTerm] = field(default_factory=list)

    def unit(self, adcode: str) -> Unit:
        return self.units[adcode]

    def words(self) -> list[str]:
        """Every form, for the segmenter's user dictionary (so 浑南 is one token)."""
        # a group term's bare wording (五点一线) is one word; one ending in a place suffix
        # (五点一线沿海经济带) is left to the suffix reader
        groups = {w for term in self.groups for w in term.wordings if not re.search(PLACE_END, w)}
        return sorted(set(self.forms) | set(self.contractions) | set(REGIONS) | groups
                      | {f + "新区" for f in self.district_contractions})

    def known_by_alias(self) -> dict[str, list[KnownPlace]]:
        table: dict[str, list[KnownPlace]] = {}
        for place in self.known:
            for alias in place.aliases:
                table.setdefault(alias, []).append(place)
        return table


def normalise(name: str) -> str:
    """A name as compared: no whitespace or quotes, no level words, 高新技术产业开发区 -> 高新区."""
    text = re.sub(r"[\s“”\"'‘’《》「」]", "", name)
    text = re.sub(r"高新技术产业(?:开发区|园区)", "高新区", text)
    text = re.sub(r"国家级|国家|省级|市级", "", text)
    return text


def short_form(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return ""


def build(boundaries: dict[str, gpd.GeoDataFrame], seats: dict[str, tuple[float, float]],
          places: pd.DataFrame | None = None, groups: list[GroupTerm] | None = None) -> Gazetteer:
    """The gazetteer of the province (boundaries + seats + group terms) and, unless `places` is
    None, of the registry's known places (a frame with id, name_zh, plan_names, kind, level,
    city/district adcodes, location_precision and a point geometry)."""
    units: dict[str, Unit] = {}
    province = boundaries["province"].iloc[0]
    point = province.geometry.representative_point()
    units[str(province["adcode"])] = Unit(str(province["adcode"]), "province", str(province["name_zh"]),
                                          str(province["name_en"]), "", round(point.x, 6), round(point.y, 6))
    for level in ("city", "district"):
        frame = boundaries[level]
        for row, geom in zip(frame.to_dict("records"), frame.geometry):
            code = str(row["adcode"])
            if code in seats:
                lon, lat = seats[code]
            else:  # no seat on file: a point that is always inside the polygon
                p = geom.representative_point()
                lon, lat = round(p.x, 6), round(p.y, 6)
            units[code] = Unit(code, level, str(row["name_zh"]), str(row.get("name_en") or ""),
                               str(row["parent_adcode"]) if level == "district" else "", lon, lat)
    forms: dict[str, list[str]] = {}

    def add(form: str, code: str) -> None:
        if form and code not in forms.setdefault(form, []):
            forms[form].append(code)

    cities = [u for u in units.values() if u.level == "city"]
    city_shorts = {short_form(u.name_zh) for u in cities}
    for unit in cities:
        add(unit.name_zh, unit.adcode)
        add(short_form(unit.name_zh), unit.adcode)
    for unit in (u for u in units.values() if u.level == "district"):
        add(unit.name_zh, unit.adcode)
        short = short_form(unit.name_zh)
        if short and short not in city_shorts and short not in COMMON_WORDS:
            add(short, unit.adcode)
            if short.endswith("口") and len(short) >= 3 and short[:-1] not in COMMON_WORDS:
                add(short[:-1], unit.adcode)   # 旅顺口区 -> 旅顺
    contractions = {a.name_zh[0] + b.name_zh[0]: (a.adcode, b.adcode)
                    for a, b in permutations(cities, 2)}
    contractions = {k: v for k, v in contractions.items() if k not in forms}
    district_contractions: dict[str, tuple[str, ...]] = {}
    for city in cities:
        members = [u for u in units.values() if u.parent == city.adcode]
        for a, b in permutations(members, 2):
            key = a.name_zh[0] + b.name_zh[0]
            if key not in forms and key not in contractions:
                district_contractions[key] = (a.adcode, b.adcode)
    gazetteer = Gazetteer(units, {k: tuple(v) for k, v in forms.items()}, contractions,
                          district_contractions, province=str(province["adcode"]), groups=list(groups or []))
    if places is not None:
        shorts = {u.adcode: (u.name_zh, short_form(u.name_zh)) for u in cities}
        gazetteer.known = known_places(places, shorts)
    return gazetteer


def known_places(places: pd.DataFrame, city_shorts: dict[str, tuple[str, ...]] | None = None) -> list[KnownPlace]:
    """`city_shorts`: city adcode -> the city's names (沈阳市, 沈阳), to add aliases without them."""
    city_shorts = city_shorts or {}
    result = []
    for row, geom in zip(places.to_dict("records"), places.geometry):
        if geom is None or geom.is_empty:
            continue
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        names = [str(row.get("name_zh") or "")]
        names += [n for n in str(row.get("plan_names") or "").split(";")]
        base = re.split(r"[（(]", names[0])[0]   # 丹东高新区（…） -> 丹东高新区
        # a name in brackets is another name of the place only when it is a place's name
        inner = [re.sub(r"^[今原即]", "", n) for n in re.findall(r"[（(]([^（）()]{4,})[）)]", names[0])
                 if re.search(PLACE_END, n)]
        aliases = {normalise(n) for n in names + [base] + inner if n.strip()}
        aliases |= {a[2:] for a in aliases if a.startswith("辽宁")}   # 辽宁葫芦岛高新区 -> 葫芦岛高新区
        city = str(row.get("city_adcode") or "")
        shorts = [s for s in city_shorts.get(city, ()) if s]
        # 大连长兴岛临港工业区 -> 长兴岛临港工业区: a city plan leaves out its own city (kept only
        # where what remains is a proper name: see the generic check below)
        bare = {a[len(s):] for a in aliases for s in shorts if a.startswith(s) and len(a) - len(s) >= 5}
        aliases |= {f"~{b}" for b in bare}
        # A bare city name in plan_names (the plan's 鞍山、本溪…国家高新区) names the place only
        # together with its kind: that pairing is made when linking, not here.
        aliases = {a for a in aliases if len(a) >= 4}
        result.append(KnownPlace(
            id=str(row["id"]), name_zh=names[0], name_en=str(row.get("name_en") or ""),
            kind=str(row.get("kind") or ""), level=str(row.get("level") or ""),
            city_adcode=str(row.get("city_adcode") or ""), district_adcode=str(row.get("district_adcode") or ""),
            location_precision=str(row.get("location_precision") or ""),
            lon=round(point.x, 6), lat=round(point.y, 6),
            industries=tuple(c for c in str(row.get("industries") or "").split(";") if c),
            aliases=tuple(sorted(aliases))))
    # A name left without its city is generic when several places share it (沈阳/大连生物医药产业基地
    # -> 生物医药产业基地) or it starts with an industry word: drop those, keep 长兴岛临港工业区.
    owners: dict[str, set[str]] = {}
    for place in result:
        for alias in place.aliases:
            if alias.startswith("~"):
                owners.setdefault(alias[1:], set()).add(place.id)
    generic = {a for a, ids in owners.items() if len(ids) > 1 or re.match(GENERIC_START, a)}
    for n, place in enumerate(result):
        kept = tuple(sorted({a.lstrip("~") for a in place.aliases if not (a.startswith("~") and a[1:] in generic)}))
        result[n] = KnownPlace(**{**place.__dict__, "aliases": kept})
    return result
