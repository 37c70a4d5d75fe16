"""The map page's tables as files: the places list beside the map (/map/places.xlsx|.csv, the
same filter, sort and `bbox` as /map/places.json, every row rather than a page) and a city panel's
figures (/map/cities/<adcode>.xlsx|.csv: that city only). Headers and labels in the page's
language, codes and WGS84 coordinates in extra columns; written by geoapp.export.spreadsheet."""
from __future__ import annotations

from typing import Iterator

import numpy as np
from flask import Blueprint, jsonify, stream_with_context

from geoapp import vocab
from geoapp.analysis.corridor import DEFAULT_HALF_WIDTH_KM
from geoapp.analysis.distribution import industry_columns
from geoapp.export.spreadsheet import CSV_TYPE, XLSX_TYPE, Sheet, csv_bytes, csv_chunks, xlsx_bytes
from geoapp.filters import Filter
from geoapp.web import place_list, tables
from geoapp.web.context import current_filter, current_lang, registry
from geoapp.web.map_page import _bbox_arg, city_filter, city_places, drawn_lonlat, filtered, sort_args, sorted_table, specs
from geoapp.web.serving import cached_body, send_body, send_stream
from geoapp.web.stats import report as stats_report
from geoapp.web.stats import table_context, table_notes

bp = Blueprint("map_tables", __name__)

FORMATS = {"csv": CSV_TYPE, "xlsx": XLSX_TYPE}
# An XLSX is built whole in the worker's memory (openpyxl): a places list longer than this (rows
# of a layer in PostGIS) is refused as XLSX (413, saying to take the CSV, which is streamed), not cut.
XLSX_MAX_ROWS = 100_000


def _write(sheets: list[Sheet], fmt: str) -> tuple[bytes, str]:
    return (csv_bytes(sheets[0]) if fmt == "csv" else xlsx_bytes(sheets)), FORMATS[fmt]


def places_columns(lang: str) -> list[str]:
    t = table_context(lang).t
    return [t("名称", "Name"), t("图层", "Layer"), t("类型", "Kind"), t("级别", "Level"), t("城市", "City"),
            t("位置精度", "Location precision"), t("英文名称", "Chinese name"),
            t("经度（WGS84）", "Longitude (WGS84)"), t("纬度（WGS84）", "Latitude (WGS84)"),
            t("编号", "Id"), t("图层代码", "Layer code"), t("类型代码", "Kind code"), t("级别代码", "Level code"),
            t("城市代码", "City code (adcode)")]


def _precision(precision: str, lang: str) -> str:
    return vocab.pick(tables.PRECISION_LABELS[precision], lang) if precision in tables.PRECISION_LABELS else ""


def places_batches(flt: Filter, lang: str, sort: str, order: str, box) -> Iterator[list[list]]:
    """The places list as the page sorts it, every row, with WGS84 coordinates (the list's own
    lon/lat are where the map draws, shifted for a GCJ-02 basemap) and the codes, in batches
    of rows (the rows of layers in PostGIS come from a server-side cursor, merged in order:
    geoapp.web.place_list)."""
    table = sorted_table(flt, lang, sort, order, box)
    stored = {}
    for spec in specs():
        if spec.geometry != "point" or not spec.counted:
            continue
        frame = filtered(spec, flt)
        if frame.empty:
            continue
        lon = np.round(frame.geometry.x.to_numpy(dtype=float), 6)
        lat = np.round(frame.geometry.y.to_numpy(dtype=float), 6)
        for pid, kind, level, precision, x, y in zip(frame["id"], frame["kind"].fillna(""),
                                                     frame["level"].fillna(""),
                                                     frame["location_precision"].fillna(""), lon, lat):
            stored.setdefault((spec.id, str(pid)), (kind, level, precision, float(x), float(y)))

    def row(r) -> list:
        if (r.layer, r.id) in stored:
            kind, level, precision, x, y = stored[(r.layer, r.id)]
        elif isinstance(getattr(r, "kind_code", None), str):   # a row of a layer in PostGIS
            kind, level, precision, x, y = r.kind_code, r.level_code, r.precision, float(r.x), float(r.y)
        else:
            kind, level, precision, x, y = "", "", "", None, None
        return [r.name, r.layer_title, r.kind, r.level, r.city, _precision(precision, lang),
                r.name_other, x, y, r.id, r.layer, kind, level, r.city_adcode]

    if not place_list.sql_layers():
        yield [row(r) for r in table.itertuples()]
        return
    for part in place_list.every_row(table, flt, lang, sort, order == "desc", box, drawn_lonlat):
        yield [row(r) for r in part.itertuples()]


def places_rows(flt: Filter, lang: str, sort: str, order: str, box) -> tuple[list, list]:
    """places_batches as (columns, every row)."""
    return places_columns(lang), [r for batch in places_batches(flt, lang, sort, order, box) for r in batch]


@bp.get("/map/places.<any(csv, xlsx):fmt>")
def places_table(fmt: str):
    """The places list beside the map, as a file (every row of the filter, sorted as asked)."""
    flt, lang = current_filter(), current_lang()
    sort, order = sort_args()
    box = _bbox_arg()
    ctx = table_context(lang)
    title = ("地点列表", "Places")

    def build():
        columns, rows = places_rows(flt, lang, sort, order, box)
        notes = table_notes(flt, None, ctx)
        if box is not None:
            notes.insert(1, ctx.t("范围：地图视野内（西、南、东、北）", "Extent: the map view (west, south, east, north)")
                         + " " + ", ".join(f"{v:g}" for v in box))
        return _write([Sheet(vocab.pick(title, lang), columns, rows, notes)], fmt)

    extra = (ctx.t("地图视野内", "map view"), "map-view") if box is not None else None
    names = tables.download_names(title, "places", flt, ctx, fmt, extra)
    key = ("map-places-file", fmt, flt.key(), lang, sort, order, box)
    if place_list.sql_layers():
        # rows in PostGIS: the CSV is written while it is sent (never held whole); an XLSX is
        # built in memory, so it is refused beyond what a worksheet holds
        if fmt == "csv":
            # written after the view returns: the request's context (its bundle) goes along
            chunks = stream_with_context(csv_chunks(places_columns(lang), places_batches(flt, lang, sort, order, box)))
            return send_stream(key, lambda: chunks, CSV_TYPE, download_name=names)
        rows = place_list.count(flt, box, table_rows=len(sorted_table(flt, lang, sort, order, box)))
        if rows > XLSX_MAX_ROWS:
            response = jsonify({"error": "too_large", "rows": rows, "allowed": XLSX_MAX_ROWS, "message": (
                f"the list has {rows} places; an XLSX file holds at most {XLSX_MAX_ROWS}: download "
                "it as CSV (/map/places.csv, same parameters) or narrow the filter or the map view (bbox)")})
            response.status_code = 413
            return response
    return send_body(cached_body(key, build), download_name=names)


def city_sheets(adcode: str, flt: Filter, lang: str) -> list[Sheet]:
    """The city panel's figures for the filter (指标, 数值, code) and, in the XLSX, its places."""
    ctx = table_context(lang)
    t = ctx.t
    data = stats_report(flt, DEFAULT_HALF_WIDTH_KM)
    row = data.cities.loc[adcode]
    plan = data.plan  # the figures are the plan's metrics and industries
    figures = [[vocab.pick(metric.label, lang), int(row[m]), m] for m, metric in plan.metrics.items()]
    figures += [[t("产业：", "Industry: ") + ctx.label(plan.industries, c.removeprefix("industry_")), int(row[c]), c]
                for c in industry_columns(plan.industries)]
    notes = table_notes(flt, None, ctx)
    name = ctx.city(adcode)
    sheets = [Sheet(name + t("统计", " figures"), [t("指标", "Figure"), t("数值", "Value"), t("指标代码", "Code")],
                    figures, notes)]
    ids = set(data.view.links.loc[data.view.links["city_adcode"] == adcode, "id"])
    shown = city_places(adcode, ids, flt, lang)
    sheets.append(Sheet(name + t("地点", " places"),
                        [t("名称", "Name"), t("图层", "Layer"), t("类型", "Kind"), t("级别", "Level"),
                         t("编号", "Id"), t("图层代码", "Layer code")],
                        [[r.name, r.layer_title, r.kind, r.level, r.id, r.layer] for r in shown.itertuples()]))
    return sheets


@bp.get("/map/cities/<adcode>.<any(csv, xlsx):fmt>")
def city_table(adcode: str, fmt: str):
    """One city's figures for the filter (the city panel's numbers): that city only. The XLSX
    has the city's places as a second sheet."""
    flt, lang = current_filter(), current_lang()
    cities = registry().boundaries["city"]
    if adcode not in set(cities["adcode"]):
        response = jsonify({"error": "not_found", "message": f"no city with adcode '{adcode}'",
                            "allowed": list(cities["adcode"])})
        response.status_code = 404
        return response
    ctx = table_context(lang)
    if fmt == "xlsx" and place_list.sql_layers() and not (flt.city and adcode not in flt.city):
        # the XLSX holds the city's places: refused beyond what a worksheet holds (review finding 5)
        own = city_filter(flt, adcode)
        rows = place_list.count(own, None, table_rows=len(sorted_table(own, lang, "layer", "asc", None)))
        if rows > XLSX_MAX_ROWS:
            response = jsonify({"error": "too_large", "rows": rows, "allowed": XLSX_MAX_ROWS, "message": (
                f"the city has {rows} places; an XLSX file holds at most {XLSX_MAX_ROWS}: download its "
                f"figures as CSV (/map/cities/{adcode}.csv) and its places as CSV (/map/places.csv?city={adcode}), "
                "or narrow the filter")})
            response.status_code = 413
            return response
    body = cached_body(("map-city-file", fmt, adcode, flt.key(), lang),
                       lambda: _write(city_sheets(adcode, flt, lang), fmt))
    name = ctx.city(adcode)
    title = (ctx.city_names[adcode][0] + "统计", ctx.city_names[adcode][1] + " figures")
    return send_body(body, download_name=tables.download_names(title, f"city-{adcode}", flt, ctx, fmt)
                     if name else None)
