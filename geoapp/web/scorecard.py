"""The target scorecard (analysis.scorecard) on the web: GET /api/scorecard (JSON),
/stats/scorecard.csv (UTF-8 with BOM), the /stats section (template _scorecard.html, through the
Jinja global `scorecard_section`) and the rows the city panel shows (`city_rows`).

The scorecard is province-wide: it does not follow the /stats filter (its figures are the
province's), and says so on the page. The map's own counts are labelled as such.
"""
from __future__ import annotations

import pandas as pd
from flask import Blueprint, current_app

from geoapp import vocab
from geoapp.analysis.corridor import DEFAULT_HALF_WIDTH_KM
from geoapp.analysis.scorecard import STATUS_NOTES, STATUSES, Scorecard, build_scorecard
from geoapp.export.spreadsheet import CSV_TYPE, XLSX_TYPE, Sheet, csv_bytes, xlsx_bytes
from geoapp.filters import Filter
from geoapp.layers.popup import section_label
from geoapp.web.charts import SCORECARD_COLOURS, ink_on, target_chart
from geoapp.web import context
from geoapp.web.context import current_lang, registry, translator
from geoapp.web.serving import cached_body, send_body
from geoapp.web.tables import period_label, unit_label
from geoapp.web.urls import link

bp = Blueprint("scorecard", __name__)

BASIS_LABELS = {"source": ("公开文件", "published source"),
                "map": ("地图计数（本图现有地点，非统计数字）", "map count (places on this atlas, not a statistic)"),
                "": ("", "")}
STATED_LABELS = {"target": ("目标", "target"), "achieved": ("已完成（规划所述）", "achieved (as the plan states)")}
# The download's columns: (key, zh header, en header). Labels in the reader's language first, the
# codes (ids, status code, source id) at the right, as in every /stats download.
TABLE_COLUMNS = [
    ("section", "章节", "Section"), ("metric", "指标", "Metric"), ("target_value", "目标值", "Target"),
    ("unit_zh", "单位", "Unit"), ("target_year", "目标年份", "Target year"), ("period", "时期", "Period"),
    ("stated", "性质", "Stated as"), ("baseline_year", "基数年份", "Baseline year"),
    ("baseline_value", "基数", "Baseline"), ("outcome_year", "结果年份", "Outcome year"),
    ("outcome_value", "结果", "Outcome"), ("basis", "结果依据", "Outcome basis"),
    ("status_label", "状态", "Status"), ("gap", "差距（结果−目标）", "Gap (outcome − target)"),
    ("source_title", "来源", "Source"), ("source_publisher", "发布者", "Publisher"),
    ("source_url", "网址", "URL"), ("reference", "文中位置", "Where in the source"),
    ("map_count", "地图计数", "Map count"), ("map_counts", "地图计数（各市）", "Map count by city"),
    ("all_outcomes", "全部结果", "All outcomes"), ("searched", "查找过", "Searched"),
    ("quote", "规划原文", "Plan quote"), ("also_sections", "另见章节", "Also in sections"),
    ("target_id", "target_id", "target_id"), ("task_id", "task_id", "task_id"),
    ("status", "status", "status"), ("industry", "industry", "industry"), ("source_id", "source_id", "source_id"),
]
TABLE_TITLE = ("目标完成情况", "Target scorecard")
TABLE_FORMATS = {"csv": CSV_TYPE, "xlsx": XLSX_TYPE}


def plan_period(reg) -> tuple[int, int]:
    """The plan's (first, last) year, from its manifest."""
    return reg.plan.period



def scorecard() -> Scorecard:
    """The request's data as a scorecard; which cities each task touches comes from the /stats
    report without a filter (the coverage)."""
    from geoapp.web.stats import report  # the report cache lives there
    reg = registry()
    touches = report(Filter(), DEFAULT_HALF_WIDTH_KM).coverage.touches
    task_cities = {task: [c for c, hit in row.items() if hit] for task, row in touches.iterrows()}
    return build_scorecard(reg.tasks, reg.outcomes, reg.counted_places(), plan_period(reg), task_cities,
                           groups=context.place_groups())


def _number(value) -> float | int | None:
    if value is None or pd.isna(value):
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


def _short(value) -> str:
    value = _number(value)
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4f}".rstrip("0").rstrip(".")


def _outcomes_of(card: Scorecard, target_id: str) -> pd.DataFrame:
    return card.outcomes[card.outcomes["target_id"] == target_id]


def _outcome_records(card: Scorecard, target_id: str, city_names: dict[str, str]) -> list[dict]:
    records = []
    for o in _outcomes_of(card, target_id).itertuples():
        source = card.sources.get(o.source_id)
        records.append({
            "year": _number(o.year), "value": _number(o.value), "unit_zh": o.unit_zh,
            "city": o.city or None, "city_name": city_names.get(o.city) if o.city else None,
            "basis": o.basis, "basis_label": dict(zip(("zh", "en"), BASIS_LABELS[o.basis])),
            "source": None if source is None else {"id": source.id, "title": source.title,
                                                   "publisher": source.publisher, "url": source.url,
                                                   "date": source.date},
            "reference": o.reference, "note": o.note or None})
    return records


def document(card: Scorecard, city_names: dict[str, str]) -> dict:
    """The /api/scorecard document: every numeric target with its baseline, every outcome with its
    source, the status and the gap; then the sources and the targets no document gave a figure for."""
    targets = []
    for r in card.rows.itertuples():
        targets.append({
            "id": r.target_id, "task_id": r.task_id, "section": r.section,
            "also_sections": [s for s in r.also_sections.split(";") if s],
            "metric": {"zh": r.metric_zh, "en": r.metric_en}, "industry": r.industry or None,
            "target": {"value": _number(r.target_value), "unit_zh": r.unit_zh,
                       "year": _number(r.target_year), "period": r.period or None,
                       "stated_as": r.stated_as, "quote": r.quote},
            "baseline": None if pd.isna(r.baseline_value) else {
                "year": _number(r.baseline_year), "value": _number(r.baseline_value),
                "source": "plan text", "quote": r.baseline_quote},
            "outcome": None if pd.isna(r.outcome_value) else {
                "year": _number(r.outcome_year), "value": _number(r.outcome_value),
                "basis": r.outcome_basis, "source_id": r.source_id or None, "reference": r.reference or None},
            "status": r.status, "status_label": dict(zip(("zh", "en"), STATUSES[r.status])),
            "gap": _number(r.gap),
            "map_count": _number(r.map_count),
            "outcomes": _outcome_records(card, r.target_id, city_names),
            "searched": r.searched or None,
            "cities": [c for c in r.task_cities.split(";") if c],
        })
    counts = card.rows["status"].value_counts()
    return {
        "period": {"start": card.period[0], "end": card.period[1]},
        "statuses": {k: {"zh": v[0], "en": v[1], "means_zh": STATUS_NOTES[k][0],
                         "means_en": STATUS_NOTES[k][1]} for k, v in STATUSES.items()},
        "summary": {"targets": len(card.rows), **{k: int(counts.get(k, 0)) for k in STATUSES},
                    "with_sourced_outcome": int((card.rows["n_outcomes"] > 0).sum())},
        "targets": targets,
        "sources": {sid: {"title": s.title, "publisher": s.publisher, "url": s.url, "date": s.date,
                          "note": s.note} for sid, s in card.sources.items()},
        "not_found": [{"id": r.target_id, "metric": {"zh": r.metric_zh, "en": r.metric_en},
                       "searched": r.searched or None}
                      for r in card.rows.itertuples() if r.n_outcomes == 0 and r.stated_as == "target"],
    }


def table_rows(card: Scorecard, lang: str, names: dict[str, str]) -> list[list]:
    """One row per target, TABLE_COLUMNS order; every outcome in one cell ("2020 645.1 (source id)",
    a city's own figure with its city)."""
    every = {}
    for o in card.outcomes.itertuples():
        year = "" if pd.isna(o.year) else f"{int(o.year)} "
        where = f" [{names.get(o.city, o.city)} {o.city}]" if o.city else ""
        said = o.source_id if o.basis == "source" else vocab.pick(("地图计数", "map count"), lang)
        every.setdefault(o.target_id, []).append(f"{year}{_short(o.value)}{where} ({said})")
    rows = []
    for r in card.rows.itertuples():
        cells = {
            **r._asdict(),
            "metric": vocab.pick((r.metric_zh, r.metric_en), lang),
            "stated": vocab.pick(STATED_LABELS.get(r.stated_as, ("", "")), lang),
            "basis": vocab.pick(BASIS_LABELS[r.outcome_basis], lang),
            "status_label": vocab.pick(STATUSES[r.status], lang),
            "all_outcomes": "; ".join(every.get(r.target_id, [])),
        }
        rows.append([cells[k] if isinstance(cells[k], str) else _number(cells[k]) for k, _, _ in TABLE_COLUMNS])
    return rows


def table_body(fmt: str, lang: str) -> tuple[bytes, str]:
    card = scorecard()
    t = translator(lang)
    sheet = Sheet(vocab.pick(TABLE_TITLE, lang), [vocab.pick((zh, en), lang) for _, zh, en in TABLE_COLUMNS],
                  table_rows(card, lang, _city_names(lang)),
                  notes=[t("全省数字，不随筛选变化；基数引自规划原文，结果注明来源文件；“地图计数”是本图现有地点数，不是统计数字。",
                           "Province-wide figures, not filtered; baselines quoted from the plan text, outcomes name "
                           "their document; a map count is the number of places on this atlas, not a statistic."),
                         t("来源：辽宁创新地图（每个数字的来源文件见本表；查找记录见“数据来源”页）",
                           "Source: Liaoning Innovation Atlas (each figure's document is in the table; how they were found is on the Sources page)")])
    return (csv_bytes(sheet) if fmt == "csv" else xlsx_bytes([sheet])), TABLE_FORMATS[fmt]


def _city_names(lang: str = "zh") -> dict[str, str]:
    cities = registry().boundaries["city"]
    return dict(zip(cities["adcode"], cities[vocab.pick(("name_zh", "name_en"), lang)]))


@bp.get("/api/scorecard")
def api_scorecard():
    def build():
        body = current_app.json.dumps(document(scorecard(), _city_names())) + "\n"
        return body.encode("utf-8"), "application/json"
    return send_body(cached_body(("scorecard", "json"), build))


@bp.get("/stats/scorecard.<any(csv, xlsx):fmt>")
def scorecard_table(fmt: str):
    """The scorecard as CSV (UTF-8 with BOM) or XLSX through the one spreadsheet writer, headers in
    the page's language (Chinese; lang=en), codes at the right."""
    lang = current_lang()
    body = cached_body(("scorecard", fmt, lang), lambda: table_body(fmt, lang))
    from geoapp.web import tables  # file names: what, which day
    from geoapp.web.stats import table_context
    return send_body(body, download_name=tables.download_names(TABLE_TITLE, "scorecard", Filter(),
                                                               table_context(lang), fmt))


def _row_view(card: Scorecard, r, lang: str, names: dict[str, str]) -> dict:
    found = _outcomes_of(card, r.target_id)
    dated = found[(found["basis"] == "source") & (found["city"] == "")]
    baseline = None if pd.isna(r.baseline_value) else (int(r.baseline_year), float(r.baseline_value))
    chart = target_chart(float(r.target_value), None if pd.isna(r.target_year) else int(r.target_year),
                         baseline, [(int(y), float(v)) for y, v in zip(dated["year"], dated["value"])],
                         r.status, lang)
    later = dated[dated["year"] > (r.outcome_year if not pd.isna(r.outcome_year) else 9999)]
    own = found[found["city"] != ""]
    source = card.sources.get(r.source_id) if r.source_id else None
    when = str(int(r.target_year)) if not pd.isna(r.target_year) else period_label(r.period or "", lang)
    unit = unit_label(r.unit_zh or "", lang)   # units, periods, sections in the page's language
    return {
        "id": r.target_id, "section": section_label(r.section, lang),
        "also": [section_label(s, lang) for s in r.also_sections.split(";") if s],
        "metric": vocab.pick((r.metric_zh, r.metric_en), lang),
        "target": f"{_short(r.target_value)} {unit}".strip(), "when": when,
        "stated_as": r.stated_as,
        "stated": vocab.pick(STATED_LABELS.get(r.stated_as, ("", "")), lang),
        "baseline": "" if baseline is None else f"{_short(r.baseline_value)}（{int(r.baseline_year)}）"
        if lang != "en" else f"{_short(r.baseline_value)} ({int(r.baseline_year)})",
        "outcome": "" if pd.isna(r.outcome_value) else _short(r.outcome_value),
        "outcome_year": "" if pd.isna(r.outcome_year) else int(r.outcome_year),
        "basis": r.outcome_basis, "basis_label": vocab.pick(BASIS_LABELS[r.outcome_basis], lang),
        "later": [f"{int(y)}: {_short(v)}" for y, v in zip(later["year"], later["value"])],
        "status": r.status, "status_label": vocab.pick(STATUSES[r.status], lang),
        "colour": SCORECARD_COLOURS[r.status], "ink": ink_on(SCORECARD_COLOURS[r.status]),  # AA contrast
        "gap": "" if pd.isna(r.gap) else (("+" if r.gap > 0 else "") + _short(r.gap)),
        "source": source, "reference": r.reference,
        "city_figures": [
            {"city": names.get(o.city, o.city), "adcode": o.city,
             "text": (f"{int(o.year)}: " if not pd.isna(o.year) else "")
             + f"{_short(o.value)} {unit_label(o.unit_zh or '', lang)}".strip(),
             "basis": vocab.pick(BASIS_LABELS[o.basis], lang),
             "source": card.sources.get(o.source_id)} for o in own.itertuples()],
        "searched": r.searched, "chart": chart, "unit": unit,
        "map_count": "" if pd.isna(r.map_count) else int(r.map_count),
    }


def section_context(lang: str) -> dict:
    """What _scorecard.html draws on /stats."""
    card = scorecard()
    names = _city_names(lang)
    rows = [_row_view(card, r, lang, names) for r in card.rows.itertuples()]
    counts = card.rows["status"].value_counts()
    return {
        "rows": rows,
        "statuses": [(k, vocab.pick(v, lang), SCORECARD_COLOURS[k], int(counts.get(k, 0)),
                      vocab.pick(STATUS_NOTES[k], lang)) for k, v in STATUSES.items()],
        "sourced": int((card.rows["n_outcomes"] > 0).sum()),
        "not_found": [r for r in rows if r["status"] == "no_data" and r["searched"]],
        "period": card.period,
        "csv": link("/stats/scorecard.csv", lang=lang if lang == "en" else ""),
        "xlsx": link("/stats/scorecard.xlsx", lang=lang if lang == "en" else ""),
        "json": link("/api/scorecard"),
    }


def city_rows(adcode: str, lang: str, touched_tasks: set[str]) -> list[dict]:
    """The scorecard rows the city panel shows: targets of tasks touching the city, and targets
    with a figure of the city's own (a city's outcome, the map's count in the city)."""
    card = scorecard()
    names = _city_names(lang)
    rows = []
    for r in card.for_city(adcode, touched_tasks).itertuples():
        view = _row_view(card, r, lang, names)
        rows.append({
            "id": view["id"], "metric": view["metric"], "target": view["target"], "when": view["when"],
            "outcome": view["outcome"], "outcome_year": view["outcome_year"],
            "basis_label": view["basis_label"], "status": view["status"],
            "status_label": view["status_label"], "colour": view["colour"],
            "city_figures": [{"text": f["text"], "basis": f["basis"],
                              "source": f["source"].title if f["source"] else None}
                             for f in view["city_figures"] if f["adcode"] == adcode],
        })
    return rows


def init_scorecard(app) -> None:
    app.add_template_global(section_context, "scorecard_section")
