"""The /stats charts as geometry for server-side SVG: pure functions of analysis results (no
Flask). The template draws what they return; nothing here reads a request or the registry.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geoapp import vocab
from geoapp.analysis.belt import RELATIONS, Belt
from geoapp.analysis.coverage import Coverage
from geoapp.geo import project

STATUS_COLOURS = {"located": "#1b7837", "partly_located": "#d6a100", "not_located": "#b2182b",
                  "city_level": "#3f6f96", "counted_only": "#767676"}  # AA with white text
RELATION_COLOURS = {"inside": "#b2182b", "partly": "#d6a100", "outside": "#555555"}
INK_DARK, INK_LIGHT = "#222222", "#ffffff"


def _rgb(colour: str) -> tuple[float, float, float]:
    """'#rrggbb' or 'rgba(r,g,b,a)' (over white) as 0–255 floats."""
    if colour.startswith("#"):
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    r, g, b, a = (float(v) for v in colour[colour.index("(") + 1:-1].split(","))
    return tuple(255 - a * (255 - c) for c in (r, g, b))


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance."""
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def ink_on(fill: str) -> str:
    """Text colour for a filled cell or badge: dark or white, whichever contrasts more (WCAG AA
    asks 4.5:1 for text)."""
    return INK_LIGHT if contrast(fill, INK_LIGHT) > contrast(fill, INK_DARK) else INK_DARK


def bar_chart(cities: pd.DataFrame, plan, lang: str) -> dict:
    """Horizontal stacked bars, one per city: geometry for the SVG in the template. The series
    are the plan's (manifest `bars`: what each city hosts, each place once, one colour each)."""
    label_w, row_h, bar_max, top = 90, 24, 520, 10
    series_colours = list(plan.bars)
    labels = {m: vocab.pick(plan.metrics[m].label, lang) for m, _ in series_colours}
    totals = cities[[s for s, _ in series_colours]].sum(axis=1)
    scale = bar_max / max(int(totals.max()), 1)
    rows = []
    for i, (code, rec) in enumerate(cities.iterrows()):
        x, segments = label_w, []
        for series, colour in series_colours:
            n = int(rec[series])
            if n:
                segments.append({"x": x, "w": n * scale, "colour": colour, "n": n, "label": labels[series]})
                x += n * scale
        rows.append({"y": top + i * row_h, "name": rec[vocab.pick(("name_zh", "name_en"), lang)],
                     "segments": segments, "total": int(totals[code]), "end": x})
    return {"rows": rows, "width": label_w + bar_max + 40, "height": top + len(rows) * row_h + 8,
            "row_h": row_h, "label_w": label_w, "bar_max": bar_max,
            "legend": [(labels[s], c) for s, c in series_colours]}


def heat_map(result: Coverage, cities: pd.DataFrame, lang: str) -> dict:
    """Task × city cells; only tasks that touch a city (counted-only tasks are in the table)."""
    touching = result.touches.any(axis=1)
    tasks = result.tasks.set_index("id")
    rows_ids = [i for i in result.counts.index if touching[i]]
    label_w, cell, top = 330, 30, 70
    top_count = max(int(result.counts.values.max()) if result.counts.size else 1, 1)
    columns = [{"x": label_w + j * cell + cell / 2,
                "name": cities.loc[code, vocab.pick(("name_zh", "name_en"), lang)]}
               for j, code in enumerate(result.counts.columns)]
    rows = []
    for i, task_id in enumerate(rows_ids):
        cells = []
        for j, code in enumerate(result.counts.columns):
            n = int(result.counts.loc[task_id, code])
            named = bool(result.named.loc[task_id, code])
            if n:
                shade = 0.25 + 0.75 * n / top_count
                fill = f"rgba(178,24,43,{shade:.2f})"
                cells.append({"x": label_w + j * cell, "n": n, "fill": fill, "ink": ink_on(fill)})
            elif named:
                cells.append({"x": label_w + j * cell, "n": "○", "fill": "#dbe6f1", "ink": "#1f4e79"})
            else:
                cells.append({"x": label_w + j * cell, "n": "", "fill": "#f4f4f4", "ink": INK_DARK})
        title = tasks.loc[task_id, vocab.pick(("title_zh", "title_en"), lang)]
        rows.append({"y": top + i * cell, "title": title if len(title) <= 26 or lang == "en"
                     else title[:25] + "…", "full_title": title, "cells": cells,
                     "status_colour": STATUS_COLOURS[tasks.loc[task_id, "status"]]})
    return {"rows": rows, "columns": columns, "cell": cell, "label_w": label_w, "top": top,
            "width": label_w + cell * len(columns) + 50, "height": top + cell * len(rows) + 10,
            "max": top_count}


# Above this many points the belt map draws grid cells (counts per cell and relation) instead of
# one circle per place: the page stays the same size whatever the data (the CSV/JSON have every row).
BELT_POINTS_MAX = 2000
BELT_CELL_PX = 8


def belt_map(belt: Belt, display_cities: gpd.GeoDataFrame, lang: str) -> dict:
    """City outlines, the corridor and the places' map points, projected to the equal-area CRS
    and scaled into an SVG box (north up). Up to BELT_POINTS_MAX points each place is a circle
    (`points`); above, the points are counted in square cells of BELT_CELL_PX pixels (`cells`:
    per cell the count per relation, coloured by the relation of most of its places, darker
    with more places), so the page does not grow with the data."""
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
                 "name": vocab.pick((name_zh, name_en), lang),
                 "label_x": (g.representative_point().x - minx) * scale,
                 "label_y": (maxy - g.representative_point().y) * scale}
                for code, name_zh, name_en, g in zip(cities["adcode"], cities["name_zh"],
                                                     cities["name_en"], cities.geometry)]
    xy = belt.xy if belt.xy is not None else np.full((len(belt.places), 2), np.nan)
    point = ~np.isnan(xy[:, 0])
    sx, sy = (xy[point, 0] - minx) * scale, (maxy - xy[point, 1]) * scale
    relation = belt.places["relation"].to_numpy(dtype=object)[point]
    ids = belt.places["id"].to_numpy(dtype=object)[point]
    # what a reader sees on hover: the place's name in the page's language, never its id
    zh = belt.places["name_zh"].fillna("").to_numpy(dtype=object)[point]
    en = belt.places["name_en"].fillna("").to_numpy(dtype=object)[point]
    labels = [(e or z) if lang == "en" else (z or e) for z, e in zip(zh, en)]
    drawing = {"width": width, "height": height, "cities": outlines,
               "corridor": path(corridor.geometry.iloc[0]), "points": [], "cells": [],
               "n_points": int(point.sum()), "cell_km": round(BELT_CELL_PX / scale / 1000, 1)}
    if len(ids) <= BELT_POINTS_MAX:
        drawing["points"] = [{"x": x, "y": y, "colour": RELATION_COLOURS[r], "relation": r, "name": name}
                             for x, y, r, name in zip(sx.tolist(), sy.tolist(), relation, labels)]
        return drawing
    drawing["cells"] = grid_cells(sx, sy, relation, BELT_CELL_PX)
    return drawing


def grid_cells(sx: np.ndarray, sy: np.ndarray, relation: np.ndarray, cell: float) -> list[dict]:
    """Points (SVG pixels) counted in square cells of `cell` pixels: one dict per non-empty cell
    with its corner, count, count per relation (RELATIONS order, zeros left out), the colour of
    the relation with most points (ties: the first in RELATIONS) and an opacity growing with
    the log of the count."""
    col = np.floor(sx / cell).astype(np.int64)
    row = np.floor(sy / cell).astype(np.int64)
    col0, row0 = int(col.min()), int(row.min())  # a point just outside the outlines' box
    col, row = col - col0, row - row0
    width = int(col.max()) + 1
    rel = pd.Index(RELATIONS).get_indexer(relation)
    known = rel >= 0
    keys = (row[known] * width + col[known]) * len(RELATIONS) + rel[known]
    unique, counts = np.unique(keys, return_counts=True)
    cell_key, rel_of = np.divmod(unique, len(RELATIONS))
    per_cell: dict[int, list[int]] = {}
    for key, r, n in zip(cell_key.tolist(), rel_of.tolist(), counts.tolist()):
        per_cell.setdefault(key, [0] * len(RELATIONS))[r] = n
    most = max(sum(v) for v in per_cell.values())
    span = float(np.log1p(most)) or 1.0
    out = []
    for key, by_relation in per_cell.items():
        r, c = divmod(key, width)
        total = sum(by_relation)
        top = max(range(len(RELATIONS)), key=lambda i: (by_relation[i], -i))
        out.append({"x": (c + col0) * cell, "y": (r + row0) * cell, "size": cell, "n": total,
                    "counts": [(RELATIONS[i], n) for i, n in enumerate(by_relation) if n],
                    "colour": RELATION_COLOURS[RELATIONS[top]],
                    "opacity": round(0.15 + 0.6 * float(np.log1p(total)) / span, 2)})
    return out


# Scorecard: one small chart per target with figures (baseline → outcomes against the target).
SCORECARD_COLOURS = {"met": "#1b7837", "not_met": "#b2182b", "partly": "#d6a100", "no_data": "#767676"}


def _short(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def target_chart(target: float, target_year: int | None, baseline: tuple[int, float] | None,
                 figures: list[tuple[int, float]], status: str, lang: str) -> dict | None:
    """Geometry of a small SVG: the target as a dashed line (and a tick at its year), the baseline
    (grey square) and the dated province figures (dots in the status colour) joined in year order,
    on a value axis from 0. None when there is nothing dated to draw (no baseline, no figure)."""
    if not figures and baseline is None:
        return None
    width, height, left, right, top, bottom = 230, 92, 8, 8, 16, 20
    points = ([(baseline[0], baseline[1], "baseline")] if baseline else []) + \
        [(year, value, "outcome") for year, value in sorted(figures)]
    years = [p[0] for p in points] + ([target_year] if target_year else [])
    first, last = min(years) - 0.5, max(years) + 0.5
    top_value = max([target] + [p[1] for p in points]) * 1.18 or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(year: float) -> float:
        return round(left + (year - first) / (last - first) * plot_w, 1)

    def y(value: float) -> float:
        return round(top + plot_h - value / top_value * plot_h, 1)

    colour = SCORECARD_COLOURS.get(status, "#888888")
    target_y = y(target)
    # a figure's label sits above its dot, or below it when the dot is close to the target line
    # (where the target's own label is)
    dots = [{"x": x(year), "y": y(value), "label": _short(value), "year": year, "kind": kind,
             "label_y": y(value) + 13 if abs(y(value) - target_y) < 12 else y(value) - 7,
             "colour": "#888888" if kind == "baseline" else colour} for year, value, kind in points]
    label = ("目标 " if lang != "en" else "target ") + _short(target)
    return {"width": width, "height": height, "axis_y": top + plot_h,
            "target_y": target_y, "target_label": label, "left": left, "right": width - right,
            "target_x": x(target_year) if target_year else None,
            "line": " ".join(f"{d['x']},{d['y']}" for d in dots), "dots": dots,
            "years": sorted({(x(v), v) for v in years})}
