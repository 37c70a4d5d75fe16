"""Statistics of the plan's spatial tasks: /stats (HTML, charts as server-side SVG), JSON at
/api/distribution and /api/coverage, CSV downloads under /stats/*.csv (UTF-8 with BOM, for Excel).

Thin: parse the request (filter, lang, belt width), call geoapp.analysis, shape for the page.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from geoapp import vocab
from geoapp.analysis import belt as belt_analysis
from geoapp.analysis.corridor import DEFAULT_HALF_WIDTH_KM
from geoapp.analysis.coverage import STATUSES, Coverage, coverage, plan_figures, targets_vs_mapped
from geoapp.analysis.distribution import INDUSTRY_COLUMNS, METRIC_LABELS, METRICS, city_table
from geoapp.analysis.places import mapped_places
from geoapp.filters import Filter, FilterError
from geoapp.geo import EQUAL_AREA, project
from geoapp.web.context import current_filter, current_lang, registry

bp = Blueprint("stats", __name__)

HALF_WIDTH_RANGE = (1.0, 100.0)
CACHE_SIZE = 64
_cache_lock = threading.Lock()  # guards the cache dict and the per-key lock table

# Stacked bars: what each city hosts (each place once; htz split by level).
BAR_SERIES = [("htz_national", "#b2182b"), ("htz_provincial", "#ef8a62"),
              ("clusters_bases", "#2166ac"), ("laboratories", "#1b7837"),
              ("platforms", "#7fbf7b"), ("designations", "#999999")]
STATUS_COLOURS = {"located": "#1b7837", "partly_located": "#d6a100", "not_located": "#b2182b",
                  "city_level": "#4d7ea8", "counted_only": "#888888"}
GROUP_LABELS = {"high_tech_zones": ("高新区", "High-tech zones"),
                "clusters_bases": ("集群·基地·园区", "Clusters, bases, parks"),
                "laboratories": ("国家实验室", "National labs"),
                "platforms": ("创新平台", "Platforms"),
                "designations": ("规划区域", "Plan areas"), "all": ("全部", "All")}
RELATION_LABELS = {"inside": ("完全在带内", "wholly inside"), "partly": ("跨带边界", "straddles the edge"),
                   "outside": ("带外", "outside")}
PRECISION_LABELS = {k: (v[0].split("（")[0], v[1].split(" (")[0])
                    for k, v in vocab.LOCATION_PRECISION.items()}


def _t(lang: str):
    return lambda zh, en: en if lang == "en" else zh


def half_width() -> float:
    raw = request.args.get("half_width_km", "")
    if not raw:
        return DEFAULT_HALF_WIDTH_KM
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    low, high = HALF_WIDTH_RANGE
    if not low <= value <= high:
        raise FilterError("half_width_km", raw, [f"a number of km from {low:g} to {high:g}"])
    return value


@dataclass
class Report:
    cities: pd.DataFrame          # city_table (zh names) indexed by adcode
    coverage: Coverage
    figures: dict
    targets: pd.DataFrame
    belt: belt_analysis.Belt


def report(flt: Filter, width: float) -> Report:
    """Every figure the page, the JSON and the CSVs show, computed once per (filter, width).
    One lock per key: a slow report for one width does not hold up requests for another."""
    cache = current_app.extensions.setdefault("atlas.stats_cache", {})
    locks = current_app.extensions.setdefault("atlas.stats_locks", {})
    key = (flt.key(), width)
    with _cache_lock:
        if key in cache:
            return cache[key]
        key_lock = locks.setdefault(key, threading.Lock())
    with key_lock:
        with _cache_lock:
            if key in cache:  # built by another thread while this one waited
                return cache[key]
        built = _build_report(flt, width)
        with _cache_lock:
            while len(cache) >= CACHE_SIZE:
                stale = next(iter(cache))
                cache.pop(stale)
                locks.pop(stale, None)
            cache[key] = built
        return built


def _build_report(flt: Filter, width: float) -> Report:
    reg = registry()
    cities = reg.boundaries["city"]
    belt = belt_analysis.belt(reg.layers, reg.boundaries, flt, width)
    # every table answers for the corridor of the requested width, not the stored 30 km one
    layers = reg.layers if width == DEFAULT_HALF_WIDTH_KM else \
        belt_analysis.with_corridor(reg.layers, belt.shape)
    return Report(
        cities=city_table(layers, cities, flt),
        coverage=coverage(layers, cities, flt),
        figures=plan_figures(layers, cities, flt),
        targets=targets_vs_mapped(layers, cities, flt),
        belt=belt,
    )


# --- JSON -----------------------------------------------------------------------------------------

def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", force_ascii=False))


@bp.get("/api/distribution")
def api_distribution():
    flt = current_filter()
    data = report(flt, DEFAULT_HALF_WIDTH_KM)
    table = data.cities.reset_index()
    return jsonify(
        filter=flt.query_items(),
        columns={m: {"zh": METRIC_LABELS[m][0], "en": METRIC_LABELS[m][1]} for m in METRICS}
        | {c: {"zh": vocab.INDUSTRIES[c.removeprefix("industry_")][0],
               "en": vocab.INDUSTRIES[c.removeprefix("industry_")][1]} for c in INDUSTRY_COLUMNS},
        cities=_records(table),
    )


@bp.get("/api/coverage")
def api_coverage():
    flt = current_filter()
    data = report(flt, half_width())
    tasks = data.coverage.tasks.copy()
    tasks["cells"] = [data.coverage.counts.loc[i].to_dict() for i in tasks["id"]]
    tasks["cities_named"] = [data.coverage.named.columns[data.coverage.named.loc[i]].tolist()
                             for i in tasks["id"]]
    belt = data.belt
    return jsonify(
        filter=flt.query_items(),
        statuses={k: {"zh": v[0], "en": v[1]} for k, v in STATUSES.items()},
        figures=data.figures,
        tasks=_records(tasks),
        targets=_records(data.targets),
        belt={**belt.summary(), "cities": _records(belt.cities.reset_index()),
              "groups": _records(belt.groups.reset_index()),
              "places": _records(belt.places)},
    )


# --- CSV ------------------------------------------------------------------------------------------

def _csv(frame: pd.DataFrame, name: str) -> Response:
    body = "\ufeff" + frame.to_csv(index=False, lineterminator="\r\n")
    return Response(body.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}",
                             "Content-Type": "text/csv; charset=utf-8"})


@bp.get("/stats/distribution.csv")
def distribution_csv():
    return _csv(report(current_filter(), DEFAULT_HALF_WIDTH_KM).cities.reset_index(),
                "distribution.csv")


@bp.get("/stats/coverage.csv")
def coverage_csv():
    """Task × city: number of the task's places in the city; `cities_named` lists the cities
    the text names as the task's scope (city-level tasks have no places)."""
    result = report(current_filter(), DEFAULT_HALF_WIDTH_KM).coverage
    head = result.tasks[["id", "title_zh", "title_en", "section", "status"]]
    counts = result.counts.reset_index(drop=True)
    named = [";".join(result.named.columns[result.named.loc[i]]) for i in result.tasks["id"]]
    return _csv(pd.concat([head.reset_index(drop=True), counts], axis=1)
                .assign(cities_named=named), "coverage.csv")


@bp.get("/stats/tasks.csv")
def tasks_csv():
    return _csv(report(current_filter(), DEFAULT_HALF_WIDTH_KM).coverage.tasks, "tasks.csv")


@bp.get("/stats/targets.csv")
def targets_csv():
    return _csv(report(current_filter(), DEFAULT_HALF_WIDTH_KM).targets, "targets.csv")


@bp.get("/stats/belt_cities.csv")
def belt_cities_csv():
    return _csv(report(current_filter(), half_width()).belt.cities.reset_index(), "belt_cities.csv")


@bp.get("/stats/belt_places.csv")
def belt_places_csv():
    return _csv(report(current_filter(), half_width()).belt.places, "belt_places.csv")


# --- the page ----------------------------------------------------------------------------------

def bar_chart(cities: pd.DataFrame, lang: str) -> dict:
    """Horizontal stacked bars, one per city: geometry for the SVG in the template."""
    label_w, row_h, bar_max, top = 90, 24, 520, 10
    totals = cities[[s for s, _ in BAR_SERIES]].sum(axis=1)
    scale = bar_max / max(int(totals.max()), 1)
    rows = []
    for i, (code, rec) in enumerate(cities.iterrows()):
        x, segments = label_w, []
        for series, colour in BAR_SERIES:
            n = int(rec[series])
            if n:
                segments.append({"x": x, "w": n * scale, "colour": colour, "n": n,
                                 "label": METRIC_LABELS[series][lang == "en"]})
                x += n * scale
        rows.append({"y": top + i * row_h, "name": rec["name_en" if lang == "en" else "name_zh"],
                     "segments": segments, "total": int(totals[code]), "end": x})
    return {"rows": rows, "width": label_w + bar_max + 40, "height": top + len(rows) * row_h + 8,
            "row_h": row_h, "label_w": label_w,
            "legend": [(METRIC_LABELS[s][lang == "en"], c) for s, c in BAR_SERIES]}


def heat_map(result: Coverage, cities: pd.DataFrame, lang: str) -> dict:
    """Task × city cells; only tasks that touch a city (counted-only tasks are in the table)."""
    touching = result.touches.any(axis=1)
    tasks = result.tasks.set_index("id")
    rows_ids = [i for i in result.counts.index if touching[i]]
    label_w, cell, top = 330, 30, 70
    top_count = max(int(result.counts.values.max()) if result.counts.size else 1, 1)
    columns = [{"x": label_w + j * cell + cell / 2,
                "name": cities.loc[code, "name_en" if lang == "en" else "name_zh"]}
               for j, code in enumerate(result.counts.columns)]
    rows = []
    for i, task_id in enumerate(rows_ids):
        cells = []
        for j, code in enumerate(result.counts.columns):
            n = int(result.counts.loc[task_id, code])
            named = bool(result.named.loc[task_id, code])
            if n:
                shade = 0.25 + 0.75 * n / top_count
                cells.append({"x": label_w + j * cell, "n": n, "fill": f"rgba(178,24,43,{shade:.2f})"})
            elif named:
                cells.append({"x": label_w + j * cell, "n": "○", "fill": "#dbe6f1"})
            else:
                cells.append({"x": label_w + j * cell, "n": "", "fill": "#f4f4f4"})
        title = tasks.loc[task_id, "title_en" if lang == "en" else "title_zh"]
        rows.append({"y": top + i * cell, "title": title if len(title) <= 26 or lang == "en"
                     else title[:25] + "…", "full_title": title, "cells": cells,
                     "status_colour": STATUS_COLOURS[tasks.loc[task_id, "status"]]})
    return {"rows": rows, "columns": columns, "cell": cell, "label_w": label_w, "top": top,
            "width": label_w + cell * len(columns) + 50, "height": top + cell * len(rows) + 10,
            "max": top_count}


def belt_map(belt: belt_analysis.Belt, display_cities: gpd.GeoDataFrame, places: pd.DataFrame,
             lang: str) -> dict:
    """City outlines, the corridor and the places' map points, projected to the equal-area CRS
    and scaled into an SVG box (north up)."""
    width = 420
    cities = project(display_cities)
    corridor = project(belt.shape)
    minx, miny, maxx, maxy = cities.total_bounds
    scale = width / (maxx - minx)
    height = (maxy - miny) * scale

    def path(geom) -> str:
        polygons = getattr(geom, "geoms", [geom])
        parts = []
        for polygon in polygons:
            for ring in [polygon.exterior, *polygon.interiors]:
                pts = " L".join(f"{(x - minx) * scale:.1f},{(maxy - y) * scale:.1f}"
                                for x, y in ring.coords)
                parts.append(f"M{pts}Z")
        return " ".join(parts)

    in_belt = belt.cities["in_belt"].to_dict()
    outlines = [{"d": path(g.simplify(1500)), "in_belt": in_belt.get(code, False),
                 "name": name_en if lang == "en" else name_zh,
                 "label_x": (g.representative_point().x - minx) * scale,
                 "label_y": (maxy - g.representative_point().y) * scale}
                for code, name_zh, name_en, g in zip(cities["adcode"], cities["name_zh"],
                                                     cities["name_en"], cities.geometry)]
    relation = belt.places.set_index("id")["relation"].to_dict()
    colours = {"inside": "#b2182b", "partly": "#d6a100", "outside": "#555555"}
    points = []
    projected = places.to_crs(EQUAL_AREA)
    for pid, geom in zip(projected["id"], projected.geometry):
        if pid in relation and geom.geom_type == "Point":
            points.append({"x": (geom.x - minx) * scale, "y": (maxy - geom.y) * scale,
                           "colour": colours[relation[pid]], "id": pid})
    return {"width": width, "height": height, "cities": outlines,
            "corridor": path(corridor.geometry.iloc[0]), "points": points}


@bp.get("/stats")
def stats_page():
    flt = current_filter()
    lang = current_lang()
    width = half_width()
    data = report(flt, width)
    reg = registry()
    t = _t(lang)
    cities = data.cities
    names = cities["name_en" if lang == "en" else "name_zh"].to_dict()
    view_places = flt.apply(mapped_places(reg.layers), reg.boundaries["city"])
    selects = [
        ("industry", t("产业", "Industry"),
         [(c, vocab.label(vocab.INDUSTRIES, c, lang)) for c in vocab.INDUSTRIES]),
        ("city", t("城市", "City"), list(names.items())),
        ("level", t("级别", "Level"), [(c, vocab.label(vocab.LEVELS, c, lang)) for c in vocab.LEVELS]),
        ("kind", t("类型", "Kind"), [(c, vocab.label(vocab.KINDS, c, lang)) for c in vocab.KINDS]),
    ]
    query = flt.query_items()
    if width != DEFAULT_HALF_WIDTH_KM:
        query["half_width_km"] = f"{width:g}"
    tasks = data.coverage.tasks.copy()
    tasks["title"] = tasks["title_en" if lang == "en" else "title_zh"]
    tasks["status_label"] = tasks["status"].map(lambda s: STATUSES[s][lang == "en"])
    tasks["status_colour"] = tasks["status"].map(STATUS_COLOURS)
    tasks["city_names"] = tasks["cities"].map(
        lambda s: "、".join(names.get(c, c) for c in vocab.split_codes(s)))
    tasks["precision_label"] = tasks["precision"].map(
        lambda p: PRECISION_LABELS[p][lang == "en"] if p else "")
    targets = data.targets.copy()
    targets["metric"] = targets["metric_en" if lang == "en" else "metric_zh"]
    targets["industry_label"] = targets["industry"].map(
        lambda c: vocab.label(vocab.INDUSTRIES, c, lang) if c else "")
    return render_template(
        "stats.html", lang=lang, t=t, flt=flt, selects=selects, query=query,
        width=width, default_width=DEFAULT_HALF_WIDTH_KM,
        other_lang_query={**query, **({} if lang == "en" else {"lang": "en"})},
        metrics=[(m, METRIC_LABELS[m][lang == "en"]) for m in METRICS], cities=cities,
        figures=data.figures, statuses=[(k, v[lang == "en"], STATUS_COLOURS[k])
                                        for k, v in STATUSES.items()],
        bars=bar_chart(cities, lang), heat=heat_map(data.coverage, cities, lang),
        tasks=tasks.to_dict("records"), targets=_records(targets),
        belt=data.belt, belt_svg=belt_map(data.belt, reg.display["city"], view_places, lang),
        belt_cities=data.belt.cities.reset_index().to_dict("records"),
        belt_groups=[{**rec, "label": GROUP_LABELS[rec["group"]][lang == "en"]}
                     for rec in data.belt.groups.reset_index().to_dict("records")],
        relation_labels={k: v[lang == "en"] for k, v in RELATION_LABELS.items()},
        names=names, industry_names={
            code: t("、", ", ").join(vocab.label(vocab.INDUSTRIES, c.removeprefix("industry_"), lang)
                           for c in INDUSTRY_COLUMNS if rec[c] > 0)
            for code, rec in cities.iterrows()},
    )
