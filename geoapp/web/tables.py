"""Tables for people: every table the pages show, as a `Sheet` (geoapp.export.spreadsheet) with
headers and labels in the page's language — what /stats/<name>.csv|.xlsx, the map's places list
and the city panel's downloads write. Codes (adcode, ids, kind codes) are kept in extra columns
at the right, for GIS users who join on them.

Also the download's file name: what the table is, the filter in words, the date
(各市分布_生物医药_2026-12-06.xlsx), with an ASCII twin for old clients.

No Flask here: the views pass the report, the language and the city names in.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Callable
from zoneinfo import ZoneInfo

import pandas as pd

from geoapp import vocab
from geoapp.analysis.coverage import STATUSES
from geoapp.analysis.distribution import industry_columns
from geoapp.export.spreadsheet import Sheet
from geoapp.filters import PARAMS, Filter
from geoapp.layers.popup import section_label

# The belt's place groups are the plan's (manifest `groups`); 'all' sums them.
ALL_GROUPS = ("全部", "All")
RELATION_LABELS = {"inside": ("完全在带内", "wholly inside"), "partly": ("跨带边界", "straddles the edge"),
                   "outside": ("带外", "outside")}
PRECISION_LABELS = {k: (v[0].split("（")[0], v[1].split(" (")[0])
                    for k, v in vocab.LOCATION_PRECISION.items()}
# The plan's units and periods (targets), in English; the Chinese is the plan's own wording.
# (个, 家, 项, 名 are counting words: the number alone says it in English)
UNIT_EN = {"个": "", "家": "", "项": "", "名": "", "家以上": "or more", "个/年": "per year",
           "余万人": "× 10,000 people, over", "万名": "× 10,000 people", "万人年": "× 10,000 person-years",
           "亿元": "× 100 million yuan", "%": "%", "%以上": "% or more", "件/万人": "per 10,000 people"}
# A plan's periods, “十N五”期间 (the Nth Five-Year Plan's years), in English: computed, not listed.
_FYP_PERIOD = re.compile(r"^“十([一二三四五六七八九])五”期间$")
_DIGITS = "一二三四五六七八九"
STATED_AS = {"target": ("目标", "target"), "achieved": ("已完成", "achieved")}
YES_NO = {True: ("是", "yes"), False: ("否", "no")}
TIMEZONE = ZoneInfo("Asia/Shanghai")  # the date in a file name is the reader's day


def unit_label(unit_zh: str, lang: str) -> str:
    return UNIT_EN.get(unit_zh, unit_zh) if lang == "en" else unit_zh


def period_label(period: str, lang: str) -> str:
    """The period as the plan states it; in English, “十N五”期间 becomes the (10+N)th Five-Year
    Plan period with its years (the 3rd plan began in 1966, each lasts five years)."""
    found = _FYP_PERIOD.match(period) if lang == "en" else None
    if not found:
        return period
    number = 10 + _DIGITS.index(found.group(1)) + 1
    start = 1966 + 5 * (number - 3)
    return f"{number}th FYP period ({start}–{start + 4})"


def group_label(plan, group: str, lang: str) -> str:
    """A belt group's label: the plan's (manifest `groups`), 'all' for the sum, else the id."""
    if group == "all":
        return vocab.pick(ALL_GROUPS, lang)
    found = plan.groups.get(group) if plan is not None else None
    return vocab.pick(found.label, lang) if found else group


@dataclass(frozen=True)
class Context:
    """What the table builders need besides the report: the language and the city names."""
    lang: str
    city_names: dict[str, tuple[str, str]]   # adcode -> (zh, en)
    industries: dict[str, tuple[str, str]] = field(default_factory=dict)   # the plan's vocabulary

    def t(self, zh: str, en: str) -> str:
        return vocab.pick((zh, en), self.lang)

    def city(self, code: str) -> str:
        pair = self.city_names.get(code)
        return vocab.pick(pair, self.lang) if pair else code

    def cities(self, codes) -> str:
        return self.t("、", ", ").join(self.city(c) for c in vocab.split_codes(codes))

    def label(self, table: dict, code) -> str:
        return vocab.label(table, code, self.lang) if code else ""


def _head(text: str) -> str:
    """A label as a column header: first letter upper case (English; Chinese unchanged)."""
    return text[:1].upper() + text[1:]


def _s(value) -> str:
    return "" if value is None or value != value else str(value)


# --- the /stats tables ----------------------------------------------------------------------------

def distribution(data, ctx: Context) -> tuple[list, list]:
    t = ctx.t
    cities = data.cities
    plan = data.plan
    metrics, industries = list(plan.metrics), plan.industries
    columns_of_industries = industry_columns(industries)
    columns = ([t("城市", "City")] + [vocab.pick(plan.metrics[m].label, ctx.lang) for m in metrics]
               + [t("产业：", "Industry: ") + ctx.label(industries, c.removeprefix("industry_"))
                  for c in columns_of_industries]
               + [t("涉及产业", "Industries"), t("城市代码", "City code (adcode)")])
    rows = []
    for code, rec in cities.iterrows():
        present = t("、", ", ").join(ctx.label(industries, c.removeprefix("industry_"))
                                    for c in columns_of_industries if rec[c] > 0)
        rows.append([ctx.city(code)] + [int(rec[m]) for m in metrics]
                    + [int(rec[c]) for c in columns_of_industries] + [present, code])
    return columns, rows


def coverage(data, ctx: Context) -> tuple[list, list]:
    t = ctx.t
    result = data.coverage
    city_codes = list(result.counts.columns)
    columns = ([t("章节", "Section"), t("任务", "Task"), t("状态", "Status")]
               + [ctx.city(c) for c in city_codes]
               + [t("规划点名的城市", "Cities the text names"), t("任务编号", "Task id"),
                  t("状态代码", "Status code")])
    rows = []
    for rec in result.tasks.itertuples():
        named = result.named.columns[result.named.loc[rec.id]]
        rows.append([section_label(_s(rec.section), ctx.lang), vocab.pick((rec.title_zh, rec.title_en), ctx.lang),
                     vocab.pick(STATUSES[rec.status], ctx.lang)]
                    + [int(result.counts.loc[rec.id, c]) for c in city_codes]
                    + [t("、", ", ").join(ctx.city(c) for c in named), rec.id, rec.status])
    return columns, rows


def tasks(data, ctx: Context) -> tuple[list, list]:
    t = ctx.t
    columns = [t("章节", "Section"), t("任务", "Task"), t("状态", "Status"), t("规划点名的地点", "Places named"),
               t("已落图", "Places mapped"), t("符合筛选", "Places in the filter"),
               t("位置精度（最粗）", "Precision (coarsest)"), t("涉及城市", "Cities"),
               t("未落图", "Not on the map"), t("数量目标", "Targets"), t("原文", "Quote (plan text)"),
               t("任务编号", "Task id"), t("城市代码", "City codes")]
    rows = []
    for r in data.coverage.tasks.itertuples():
        rows.append([section_label(_s(r.section), ctx.lang), vocab.pick((r.title_zh, r.title_en), ctx.lang),
                     vocab.pick(STATUSES[r.status], ctx.lang), int(r.places_named), int(r.places_mapped),
                     int(r.places_in_view),
                     vocab.pick(PRECISION_LABELS[r.precision], ctx.lang) if r.precision else "",
                     ctx.cities(r.cities), _s(r.missing), int(r.targets), _s(r.quote), r.id,
                     _s(r.cities)])
    return columns, rows


def targets(data, ctx: Context) -> tuple[list, list]:
    t = ctx.t
    columns = [t("章节", "Section"), t("指标", "Metric"), t("产业", "Industry"), t("规划数", "Plan figure"),
               t("单位", "Unit"), t("年份/时期", "Year / period"), t("性质", "Stated as"),
               t("已落图", "Mapped"), t("原文", "Quote (plan text)"), t("任务编号", "Task id"),
               t("产业代码", "Industry code")]
    rows = []
    for r in data.targets.itertuples():
        value = None if pd.isna(r.value) else float(r.value)
        year = None if pd.isna(r.year) else int(r.year)
        rows.append([section_label(_s(r.section), ctx.lang), vocab.pick((r.metric_zh, r.metric_en), ctx.lang),
                     ctx.label(data.plan.industries, _s(r.industry)),
                     int(value) if value is not None and value.is_integer() else value,
                     unit_label(_s(r.unit_zh), ctx.lang),
                     year if year is not None else period_label(_s(r.period), ctx.lang),
                     vocab.pick(STATED_AS.get(r.stated_as, (r.stated_as, r.stated_as)), ctx.lang),
                     None if pd.isna(r.mapped) else int(r.mapped), _s(r.quote), _s(r.task_id),
                     _s(r.industry)])
    return columns, rows


def belt_groups(data, ctx: Context) -> tuple[list, list]:
    t = ctx.t
    rel = {k: _head(vocab.pick(v, ctx.lang)) for k, v in RELATION_LABELS.items()}
    columns = [t("地点类别", "Group"), t("总数", "Total"), rel["inside"], rel["partly"], rel["outside"],
               t("按地图点在带内", "Inside by map point"), t("带内占比（下限）", "Share inside (at least)"),
               t("带内占比（上限）", "Share inside (at most)"), t("类别代码", "Group code")]
    rows = []
    for group, g in data.belt.groups.iterrows():
        if not g["total"]:
            continue
        rows.append([group_label(data.plan, group, ctx.lang), int(g["total"]), int(g["inside"]),
                     int(g["partly"]), int(g["outside"]), int(g["by_point"]),
                     None if pd.isna(g["share_min"]) else float(g["share_min"]),
                     None if pd.isna(g["share_max"]) else float(g["share_max"]), group])
    return columns, rows


def belt_cities(data, ctx: Context) -> tuple[list, list]:
    t = ctx.t
    columns = [t("城市", "City"), t("城市面积（平方公里）", "City area (km²)"),
               t("带内面积（平方公里）", "Area in the belt (km²)"), t("带内面积占城市", "Share of the city"),
               t("与产业带相交", "Crossed by the belt"), t("城市代码", "City code (adcode)")]
    rows = [[ctx.city(code), float(c["area_km2"]), float(c["area_in_belt_km2"]), float(c["share_of_city"]),
             vocab.pick(YES_NO[bool(c["in_belt"])], ctx.lang), code]
            for code, c in data.belt.cities.iterrows()]
    return columns, rows


def belt_city_counts(belt) -> pd.DataFrame:
    """Per city of the belt's cities (index: adcode, their order): the places wholly inside,
    straddling the edge and outside the belt, the total, and the places' ids in each relation."""
    places = belt.places
    counts = pd.crosstab(places["city_adcode"], places["relation"]).reindex(
        index=belt.cities.index, columns=list(RELATION_LABELS), fill_value=0)
    grouped = getattr(belt, "grouped", None)
    if grouped is not None and len(grouped):   # places of layers in PostGIS: counted, no ids
        counts = counts + grouped.pivot_table(index="city_adcode", columns="relation", values="n", aggfunc="sum").reindex(
            index=belt.cities.index, columns=list(RELATION_LABELS)).fillna(0).astype("int64")
    counts["total"] = counts.sum(axis=1)
    for relation in RELATION_LABELS:
        chosen = places[places["relation"] == relation]
        ids = chosen.groupby("city_adcode")["id"].agg(list)
        counts[f"{relation}_ids"] = [ids.get(code, []) for code in counts.index]
    return counts


def belt_by_city(data, ctx: Context) -> tuple[list, list]:
    """Per city: places in / straddling / out of the belt, with their names (item: the belt for
    researchers, no pivoting by hand)."""
    t = ctx.t
    rel = {k: _head(vocab.pick(v, ctx.lang)) for k, v in RELATION_LABELS.items()}
    counts = belt_city_counts(data.belt)
    names = dict(zip(data.belt.places["id"],
                     (data.belt.places["name_en"].where(data.belt.places["name_en"].fillna("") != "",
                                                        data.belt.places["name_zh"])
                      if ctx.lang == "en" else data.belt.places["name_zh"])))
    sep = t("；", "; ")
    columns = ([t("城市", "City"), rel["inside"], rel["partly"], rel["outside"], t("合计", "Total")]
               + [t("地点：", "Places: ") + vocab.pick(RELATION_LABELS[r], ctx.lang) for r in RELATION_LABELS]
               + [t("城市代码", "City code (adcode)")])
    rows = []
    for code, c in counts.iterrows():
        rows.append([ctx.city(code), int(c["inside"]), int(c["partly"]), int(c["outside"]), int(c["total"])]
                    + [sep.join(names[i] for i in c[f"{r}_ids"]) for r in RELATION_LABELS] + [code])
    return columns, rows


def belt_places(data, ctx: Context) -> tuple[list, list]:
    t = ctx.t
    columns = [t("名称", "Name"), t("类型", "Kind"), t("地点类别", "Group"), t("城市", "City"),
               t("位置精度", "Location precision"), t("与产业带的关系", "Relation to the belt"),
               t("地图点在带内", "Map point inside"), t("编号", "Id"), t("类型代码", "Kind code"),
               t("城市代码", "City code (adcode)"), t("位置精度代码", "Precision code"),
               t("关系代码", "Relation code")]
    p = data.belt.places
    en = p["name_en"].fillna("")
    name = en.where(en != "", p["name_zh"]) if ctx.lang == "en" else p["name_zh"]
    kinds = {k: ctx.label(vocab.KINDS, k) for k in p["kind"].unique()}
    precisions = {k: vocab.pick(PRECISION_LABELS[k], ctx.lang) if k in PRECISION_LABELS else _s(k)
                  for k in p["precision"].unique()}
    groups = {k: group_label(data.plan, k, ctx.lang) for k in p["group"].unique()}
    rels = {k: vocab.pick(RELATION_LABELS.get(k, (k, k)), ctx.lang) for k in p["relation"].unique()}
    cities = {c: ctx.city(c) if c else "" for c in p["city_adcode"].fillna("").unique()}
    yes, no = vocab.pick(YES_NO[True], ctx.lang), vocab.pick(YES_NO[False], ctx.lang)
    rows = [[n, kinds[k], groups[g], cities[c if c == c and c is not None else ""], precisions[pr], rels[r],
             yes if inside else no, i, k, _s(c), _s(pr), r]
            for n, k, g, c, pr, r, inside, i in zip(name, p["kind"], p["group"], p["city_adcode"].fillna(""),
                                                     p["precision"], p["relation"], p["point_inside"], p["id"])]
    return columns, rows


@dataclass(frozen=True)
class StatsTable:
    title: tuple[str, str]            # what the table is (file name, sheet name, caption)
    ascii_name: str                   # the file name's ASCII twin
    uses_width: bool                  # changes with the belt half-width
    build: Callable                   # (report, Context) -> (columns, rows)


STATS_TABLES: dict[str, StatsTable] = {
    "distribution": StatsTable(("各市分布", "Distribution by city"), "distribution", False, distribution),
    "coverage": StatsTable(("任务城市覆盖", "Task by city coverage"), "coverage", False, coverage),
    "tasks": StatsTable(("空间任务", "Spatial tasks"), "tasks", False, tasks),
    "targets": StatsTable(("规划目标与落图", "Targets vs mapped"), "targets", False, targets),
    "belt_groups": StatsTable(("产业带各类地点", "Belt by place group"), "belt_groups", True, belt_groups),
    "belt_by_city": StatsTable(("产业带各市地点", "Belt places by city"), "belt_by_city", True, belt_by_city),
    "belt_cities": StatsTable(("产业带与城市面积", "Belt and city areas"), "belt_cities", True, belt_cities),
    "belt_places": StatsTable(("产业带地点", "Belt places"), "belt_places", True, belt_places),
}


def stats_sheet(name: str, data, ctx: Context, notes=()) -> Sheet:
    table = STATS_TABLES[name]
    columns, rows = table.build(data, ctx)
    return Sheet(vocab.pick(table.title, ctx.lang), columns, rows, notes)


# --- file names -----------------------------------------------------------------------------------

def filter_words(flt: Filter, ctx: Context) -> list[str]:
    """The filter's values in words, one part per parameter (生物医药, 沈阳市+大连市, 国家级)."""
    tables = {"industry": ctx.industries, "level": vocab.LEVELS, "kind": vocab.KINDS}
    parts = []
    for param in PARAMS:
        values = sorted(getattr(flt, param))
        if not values:
            continue
        words = [ctx.city(v) if param == "city" else ctx.label(tables[param], v) for v in values]
        parts.append("+".join(words))
    return parts


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def download_names(title: tuple[str, str], ascii_name: str, flt: Filter, ctx: Context, ext: str,
                   extra: tuple[str, str] | None = None, today: dt.date | None = None) -> tuple[str, str]:
    """(file name in the page's language, ASCII file name): what, which filter, which day, e.g.
    各市分布_生物医药_2026-12-06.xlsx and distribution_industry-biomedicine_2026-12-06.xlsx.
    `extra` is a further qualifier in words (zh, en) and ASCII, e.g. the belt width."""
    day = (today or dt.datetime.now(TIMEZONE).date()).isoformat()
    words = [vocab.pick(title, ctx.lang), *filter_words(flt, ctx)]
    codes = [ascii_name] + [f"{p}-{'+'.join(sorted(getattr(flt, p)))}" for p in PARAMS if getattr(flt, p)]
    if extra:
        words.append(extra[0])
        codes.append(extra[1])
    name = _UNSAFE.sub("-", "_".join(words + [day]))[:150]
    fallback = re.sub(r"[^A-Za-z0-9_.+-]+", "-", "_".join(codes + [day]))[:150]
    return f"{name}.{ext}", f"{fallback}.{ext}"
