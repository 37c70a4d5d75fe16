"""Statistics of the plan's spatial tasks: /stats (HTML, charts as server-side SVG), JSON at
/api/distribution and /api/coverage, CSV downloads under /stats/*.csv (UTF-8 with BOM, for Excel).

Thin views: parse the request (filter, lang, belt width), get the analysis.report.Report for
(filter, width), shape it (charts: geoapp.web.charts), and serve the bytes through the shared
body cache (ETag, gzip, 304). A body's cache key holds only what changes it: the CSVs and
/api/distribution answer for the stored corridor, so the belt width is not in their key.

Bounded work per request: the width is 1–100 km in steps of 0.01 km (anything else is a 400
saying so); at most analysis.report.REPORT_CACHE_SIZE reports are kept, and one report is built at a time per
process, so a stream of new filters or widths queues behind one build instead of taking every
thread.
"""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import pandas as pd
from flask import Blueprint, abort, current_app, render_template, request

from geoapp import vocab
from geoapp.analysis.corridor import DEFAULT_HALF_WIDTH_KM
from geoapp.analysis.coverage import STATUSES
from geoapp.analysis.distribution import industry_columns
from geoapp.analysis.report import Report, build_report, corridor_figures
from geoapp.analysis.report import city_metrics as analysis_city_metrics
from geoapp.export.spreadsheet import CSV_TYPE, XLSX_TYPE, csv_bytes, xlsx_bytes
from geoapp.filters import Filter, FilterError
from geoapp.layers.popup import section_label
from geoapp.web.charts import STATUS_COLOURS, bar_chart, belt_map, heat_map, ink_on
from geoapp.web import context
from geoapp.web.context import current_filter, current_lang, registry, translator
from geoapp.web.serving import cached_body, send_body
from geoapp.web import tables
from geoapp.web.urls import link

bp = Blueprint("stats", __name__)

HALF_WIDTH_RANGE = (1.0, 100.0)
HALF_WIDTH_STEP = Decimal("0.01")
HALF_WIDTH_ALLOWED = "a number of km from 1 to 100 with at most two decimals, e.g. 30 or 12.5"

RELATION_LABELS, PRECISION_LABELS = tables.RELATION_LABELS, tables.PRECISION_LABELS


def half_width() -> float:
    """The belt half-width of the request: 1–100 km, at most two decimals (12.25, not 12.253).
    The precision bounds how many distinct reports requests can ask for."""
    raw = request.args.get("half_width_km", "")
    if not raw:
        return DEFAULT_HALF_WIDTH_KM
    try:
        value = Decimal(raw.strip())
        ok = value.is_finite() and value == value.quantize(HALF_WIDTH_STEP)
    except (InvalidOperation, ValueError):
        ok = False
    low, high = HALF_WIDTH_RANGE
    if not ok or not low <= float(value) <= high:
        raise FilterError("half_width_km", raw, [HALF_WIDTH_ALLOWED])
    return round(float(value), 2)


def belt_grouped(width: float):
    """For corridor_figures: the counted layers in PostGIS grouped against a corridor of `width`
    (geoapp.postgis.belt, one aggregate per layer, data version and width), or None."""
    cat = context.catalog()
    if not cat.sql:
        return None
    from geoapp.analysis.places import uncounted_layers
    from geoapp.postgis.belt import BELT_MAX_ROWS, belt_groups
    skip = uncounted_layers(registry().layers)
    layers = [layer for layer_id, layer in cat.sql.items() if layer_id not in skip]
    if not layers or sum(layer.rows for layer in layers) > BELT_MAX_ROWS:   # too many: left out, said so
        return None

    def grouped(shape, band):
        west, south, east, north = shape.total_bounds
        margin = 0.05   # degrees: the band's straight edges bend a little in lon/lat
        return belt_groups(layers, width, band,
                           (west - margin, south - margin, east + margin, north + margin))
    return grouped


def report(flt: Filter, width: float) -> Report:
    """Every figure the page, the JSON and the CSVs show, computed once per (filter, width)."""
    cache = context.bundle().reports
    reg = registry()

    def build() -> Report:
        figures = cache.corridor(width, lambda: corridor_figures(reg, width, belt_grouped(width)))
        return build_report(reg, flt, width, figures, groups=context.place_groups())
    return cache.get(flt, width, build)


def city_metrics(flt: Filter) -> pd.DataFrame:
    """Per-city metrics for the filter (index: city adcode; the plan's metric columns), the
    numbers /stats shows for it, without building the belt (the map's choropleth)."""
    reg = registry()
    return context.bundle().reports.metrics(flt, lambda: analysis_city_metrics(reg, flt, context.place_groups()))


# --- JSON -----------------------------------------------------------------------------------------

def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def _column(values: pd.Series) -> list:
    """A column's cells as JSON takes them: missing (None, NaN, pd.NA) is null."""
    if pd.api.types.is_bool_dtype(values.dtype) and not values.hasnans:
        return values.to_numpy(dtype=bool).tolist()
    if values.dtype.kind in "iu":
        return values.to_numpy().tolist()
    cells = values.to_numpy(dtype=object, copy=True)
    cells[values.isna().to_numpy()] = None
    return cells.tolist()


def _rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of a frame of text, bool and int columns as JSON records, built from the columns
    (the same records as _records, without writing and re-reading the whole frame as JSON: the
    belt's places are one row per place, 100k at scale). Any other column dtype (floats: pandas
    writes them at 10 digits) goes the _records way."""
    if not all(pd.api.types.is_bool_dtype(t) or t.kind in "iu" or pd.api.types.is_string_dtype(t)
               for t in frame.dtypes) or not frame.columns.is_unique:
        return _records(frame)
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, row)) for row in zip(*(_column(frame[c]) for c in frame.columns))]


def _json(key: tuple, document) -> object:
    """A JSON document (built by `document()` on a cache miss) through the body cache."""
    def build():
        return (current_app.json.dumps(document()) + "\n").encode("utf-8"), "application/json"
    return send_body(cached_body(("stats", "json", *key), build))


@bp.get("/api/distribution")
def api_distribution():
    flt = current_filter()

    def document():
        table = report(flt, DEFAULT_HALF_WIDTH_KM).cities.reset_index()
        plan = registry().plan
        return {
            "filter": flt.query_items(),
            "columns": {m: {"zh": metric.label[0], "en": metric.label[1]} for m, metric in plan.metrics.items()}
            | {column: {"zh": zh, "en": en}
               for column, (zh, en) in zip(industry_columns(plan.industries), plan.industries.values())},
            "cities": _records(table),
        }
    return _json(("distribution", flt.key()), document)


def coverage_document(flt: Filter, width: float) -> dict:
    """The /api/coverage document for the filter and belt half-width."""
    data = report(flt, width)
    tasks = data.coverage.tasks.copy()
    tasks["cells"] = [data.coverage.counts.loc[i].to_dict() for i in tasks["id"]]
    tasks["cities_named"] = [data.coverage.named.columns[data.coverage.named.loc[i]].tolist()
                             for i in tasks["id"]]
    belt = data.belt
    return {
        "filter": flt.query_items(),
        "statuses": {k: {"zh": v[0], "en": v[1]} for k, v in STATUSES.items()},
        "figures": data.figures,
        "tasks": _records(tasks),
        "targets": _records(data.targets),
        # null for a plan without a corridor (its manifest has none)
        "belt": None if belt is None else {**belt.summary(), "cities": _records(belt.cities.reset_index()),
                                           "groups": _records(belt.groups.reset_index()),
                                           "places": _rows(belt.places),
                                           # places of layers in PostGIS: in the groups and cities,
                                           # not rows of `places`
                                           **({} if belt.grouped is None else
                                              {"places_not_listed": belt.grouped_total})},
    }


@bp.get("/api/coverage")
def api_coverage():
    flt, width = current_filter(), half_width()
    return _json(("coverage", flt.key(), width), lambda: coverage_document(flt, width))


# --- CSV and XLSX: the page's tables for people (geoapp.web.tables), one writer ----------------

TABLE_FORMATS = {"csv": CSV_TYPE, "xlsx": XLSX_TYPE}


def table_context(lang: str) -> tables.Context:
    reg = registry()
    cities = reg.boundaries["city"]
    return tables.Context(lang, {c: (z, e) for c, z, e in zip(cities["adcode"], cities["name_zh"], cities["name_en"])},
                          reg.plan.industries)


def table_notes(flt: Filter, width: float | None, ctx: tables.Context) -> list[str]:
    """The lines under a table in the XLSX: the filter, the belt width, where the data comes from."""
    t = ctx.t
    notes = [t("筛选：", "Filter: ") + (t("、", ", ").join(tables.filter_words(flt, ctx)) or t("无（全部）", "none (all)"))]
    if width is not None:
        notes.append(t(f"产业带半宽：{width:g} 公里", f"Belt half-width: {width:g} km"))
    notes.append(t("来源：辽宁创新地图（每个地点的来源见“数据来源”页）",
                   "Source: Liaoning Innovation Atlas (each place's sources are on the Sources page)"))
    return notes


def table_body(name: str, fmt: str, flt: Filter, width: float, lang: str) -> tuple[bytes, str]:
    ctx = table_context(lang)
    uses_width = tables.STATS_TABLES[name].uses_width
    sheet = tables.stats_sheet(name, report(flt, width), ctx, table_notes(flt, width if uses_width else None, ctx))
    return (csv_bytes(sheet) if fmt == "csv" else xlsx_bytes([sheet])), TABLE_FORMATS[fmt]


@bp.get("/stats/<any(" + ", ".join(tables.STATS_TABLES) + "):name>.<any(csv, xlsx):fmt>")
def stats_table(name: str, fmt: str):
    """One /stats table as CSV or XLSX, headers and labels in the page's language (Chinese by
    default, `lang=en`), codes in extra columns; the file name says what, which filter, which day."""
    flt, lang = current_filter(), current_lang()
    table = tables.STATS_TABLES[name]
    if table.uses_width and registry().plan.corridor is None:
        abort(404, description=f"this plan has no belt (no corridor in its plan.yaml), so no /stats/{name} "
                               f"table; its tables: {', '.join(n for n, t in tables.STATS_TABLES.items() if not t.uses_width)}")
    width = half_width() if table.uses_width else DEFAULT_HALF_WIDTH_KM
    body = cached_body(("stats", fmt, name, flt.key(), width, lang),
                       lambda: table_body(name, fmt, flt, width, lang))
    ctx = table_context(lang)
    extra = ((ctx.t(f"半宽{width:g}公里", f"half-width {width:g} km"), f"half-width-{width:g}km")
             if table.uses_width and width != DEFAULT_HALF_WIDTH_KM else None)
    return send_body(body, download_name=tables.download_names(table.title, table.ascii_name, flt, ctx, fmt, extra))


# --- the page ----------------------------------------------------------------------------------

@bp.get("/stats")
def stats_page():
    flt, lang = current_filter(), current_lang()
    try:
        width = half_width()
    except FilterError as error:
        # the page with the default belt and the mistake said where the width is typed (400:
        # the request was wrong), not a bare error page
        t = translator(lang)
        message = t(f"产业带半宽“{error.value}”无效：请填写 1 到 100 之间的公里数，最多两位小数（如 30 或 12.5）。"
                    f"下面按默认 {DEFAULT_HALF_WIDTH_KM:g} 公里计算。",
                    f"Belt half-width \"{error.value}\" is not valid: {HALF_WIDTH_ALLOWED}. "
                    f"The figures below use the default {DEFAULT_HALF_WIDTH_KM:g} km.")
        html = render_page(flt, DEFAULT_HALF_WIDTH_KM, lang, width_error=message, width_raw=error.value)
        return current_app.response_class(html, status=400, content_type="text/html; charset=utf-8",
                                          headers={"Cache-Control": "no-store"})
    body = cached_body(("stats", "page", flt.key(), width, lang),
                       lambda: (render_page(flt, width, lang), "text/html; charset=utf-8"))
    return send_body(body)


def render_page(flt: Filter, width: float, lang: str, width_error: str = "", width_raw: str = "") -> bytes:
    data = report(flt, width)
    reg = registry()
    t = translator(lang)
    cities = data.cities
    names = cities[vocab.pick(("name_zh", "name_en"), lang)].to_dict()
    plan = reg.plan
    selects = [
        ("industry", t("产业", "Industry"),
         [(c, vocab.label(plan.industries, c, lang)) for c in plan.industries]),
        ("city", t("城市", "City"), list(names.items())),
        ("level", t("级别", "Level"), [(c, vocab.label(vocab.LEVELS, c, lang)) for c in plan.levels]),
        ("kind", t("类型", "Kind"), [(c, vocab.label(vocab.KINDS, c, lang)) for c in plan.kinds]),
    ]
    query = flt.query_items()
    if width != DEFAULT_HALF_WIDTH_KM:
        query["half_width_km"] = f"{width:g}"
    tasks = data.coverage.tasks.copy()
    tasks["title"] = tasks[vocab.pick(("title_zh", "title_en"), lang)]
    tasks["status_label"] = tasks["status"].map(lambda s: vocab.pick(STATUSES[s], lang))
    tasks["status_colour"] = tasks["status"].map(STATUS_COLOURS)
    tasks["status_ink"] = tasks["status_colour"].map(ink_on)
    tasks["section_label"] = tasks["section"].fillna("").map(lambda sec: section_label(sec, lang))
    tasks["city_names"] = tasks["cities"].map(
        lambda s: t("、", ", ").join(names.get(c, c) for c in vocab.split_codes(s)))
    tasks["precision_label"] = tasks["precision"].map(
        lambda p: vocab.pick(PRECISION_LABELS[p], lang) if p else "")
    targets = data.targets.copy()
    targets["metric"] = targets[vocab.pick(("metric_zh", "metric_en"), lang)]
    targets["industry_label"] = targets["industry"].map(
        lambda c: vocab.label(plan.industries, c, lang) if c else "")
    targets["section_label"] = targets["section"].fillna("").map(lambda sec: section_label(sec, lang))
    targets["unit_label"] = targets["unit_zh"].fillna("").map(lambda u: tables.unit_label(u, lang))
    targets["period_label"] = targets["period"].fillna("").map(lambda p: tables.period_label(p, lang))
    ctx = table_context(lang)
    belt = data.belt  # None: the plan has no corridor, the page has no belt section
    belt_by_city = [] if belt is None else [
        {"name": ctx.city(code), **{k: int(c[k]) for k in ("inside", "partly", "outside", "total")}}
        for code, c in tables.belt_city_counts(belt).iterrows() if c["total"]]
    axis_names = []
    if plan.corridor is not None:
        every = reg.counted_places().set_index("id")
        for end in plan.corridor.axis:
            row = every.loc[end]
            alias = vocab.split_codes(row.get("plan_names", ""))
            axis_names.append((alias[0] if alias else row["name_zh"], row["name_en"] or row["name_zh"]))
    html = render_template(
        "stats.html", lang=lang, t=t, flt=flt, selects=selects, query=query,
        flt_query=flt.query_items(), dl_query={**query, **({"lang": "en"} if lang == "en" else {})},
        width_error=width_error, width_raw=width_raw, belt_by_city=belt_by_city,
        width=width, default_width=DEFAULT_HALF_WIDTH_KM,
        other_lang_query={**query, **({} if lang == "en" else {"lang": "en"})},
        map_query={"lang": lang if lang == "en" else ""}, link=link,
        plan=plan, axis_names=axis_names,
        metrics=[(m, vocab.pick(metric.label, lang)) for m, metric in plan.metrics.items()], cities=cities,
        figures=data.figures, statuses=[(k, vocab.pick(v, lang), STATUS_COLOURS[k])
                                        for k, v in STATUSES.items()],
        bars=bar_chart(cities, plan, lang), heat=heat_map(data.coverage, cities, lang),
        tasks=tasks.to_dict("records"), targets=_records(targets),
        belt=belt, belt_svg=belt_map(belt, reg.display["city"], lang) if belt is not None else None,
        # places of layers in PostGIS: in the belt's figures, not on its map or in its place lists
        belt_grouped=0 if belt is None else belt.grouped_total,
        # … or, above postgis.belt.BELT_MAX_ROWS, in every figure but the belt's
        belt_unmeasured=0 if belt is None or belt.grouped is not None or not data.view.has_groups
        else int(data.view.group_counts[data.view.group_in_view].sum()),
        belt_cities=belt.cities.reset_index().to_dict("records") if belt is not None else [],
        belt_groups=[{**rec, "label": tables.group_label(plan, rec["group"], lang)}
                     for rec in belt.groups.reset_index().to_dict("records")] if belt is not None else [],
        relation_labels={k: vocab.pick(v, lang) for k, v in RELATION_LABELS.items()},
        names=names, industry_names={
            code: t("、", ", ").join(vocab.label(plan.industries, c.removeprefix("industry_"), lang)
                           for c in industry_columns(plan.industries) if rec[c] > 0)
            for code, rec in cities.iterrows()},
    )
    return html.encode("utf-8")
