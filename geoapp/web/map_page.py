"""The map page `/` (a frame: base map, controls, legend, search box) and the endpoints its
script loads layers, search hits and popups from. Every body is built once per (what defines
it) and served from the body cache with ETag and gzip."""
from __future__ import annotations

import base64
import datetime
import hashlib
import re

import numpy as np
import pandas as pd

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup

from geoapp import vocab
from geoapp.analysis.corridor import DEFAULT_HALF_WIDTH_KM
from geoapp.analysis.coverage import STATUSES
from geoapp.analysis.distribution import industry_columns
from geoapp.analysis.facets import facet_counts
from geoapp.filters import Filter, FilterError
from geoapp.layers.build import LIAONING_BOUNDS, display_shift, layer_entry, shift_geometries
from geoapp.layers.features import (SHAPE_POINTS, SHAPES, Choropleth, point_collection, polygon_collection,
                                    shape_svg_points)
from geoapp.layers.popup import Names, popup_html
from geoapp.layers.tiles import TILES_ABOVE, PointIndex, SqlPointIndex, TileError
from geoapp.specs import LayerSpecError
from geoapp.web import context, place_list
from geoapp.web.context import current_filter, current_lang, registry
from geoapp.web.serving import cached_body, send_body
from geoapp.web.scorecard import city_rows
from geoapp.web.stats import city_metrics as stats_city_metrics
from geoapp.web.stats import report as stats_report
from geoapp.web.urls import link

bp = Blueprint("map", __name__)

# Above TILES_ABOVE features (after the filter) a point layer is not sent whole: the browser loads
# server-side clusters per tile and fetches popups when opened. (Search is always on the server.)
LAZY_POPUPS_ABOVE = 2000


def init_map(app) -> None:
    """The map's start-up checks on the default plan's layer specs (called by create_app): a
    marker shape the page cannot draw stops start-up, not the first page. The basemap frame and
    the display positions are part of the state (geoapp/state.py)."""
    reg = app.extensions["atlas"].bundle().registry
    for spec in reg.specs:
        for _, style in [("", spec.style), *spec.style.get("values", {}).items()]:
            shape = style.get("shape")
            if shape is not None and shape not in SHAPES:
                raise LayerSpecError(f"{spec.path.name}: shape '{shape}' not one of {', '.join(SHAPES)}")


def map_frame():
    """The basemap frame (tiles, scale): the same for every plan and version."""
    return context.atlas().map_frame


def specs() -> list:
    return registry().specs


def spec_or_404(layer_id: str):
    for spec in specs():
        if spec.id == layer_id:
            return spec
    response = jsonify({"error": "not_found", "message": f"no map layer '{layer_id}'",
                        "allowed": [s.id for s in specs()]})
    response.status_code = 404
    abort(response)


def swatch(style: dict) -> Markup:
    """A 16×16 SVG sample of a Leaflet path style or marker shape, for the legend."""
    stroke = style.get("color", "#3388ff")
    fill = style.get("fill_color", stroke) if style.get("fill", True) else "none"
    opacity = style.get("fill_opacity", 0.2)
    dash = style.get("dash_array", "")
    shape = style.get("shape", "circle" if "radius" in style else "rect")
    if shape in SHAPE_POINTS:
        element = Markup('<polygon points="{}"').format(shape_svg_points(shape, 8, 8, 6.2))
    elif shape in ("circle", "ring"):
        element = Markup('<circle cx="8" cy="8" r="{}"').format(min(style["radius"], 7) - 0.5)
    else:
        element = Markup('<rect x="1.5" y="1.5" width="13" height="13"')
    attributes = Markup(' stroke="{}" stroke-width="{}" fill="{}" fill-opacity="{}" stroke-dasharray="{}"/>').format(
        stroke, min(style.get("weight", 1), 3), fill, opacity, dash)
    return (Markup('<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">') + element
            + attributes + Markup("</svg>"))


def filtered(spec, flt: Filter):
    reg = registry()
    if spec.data.startswith("boundaries:"):
        return reg.display[spec.data.split(":", 1)[1]]
    frame = reg.layers[spec.data]
    return flt.apply(frame, reg.boundaries["city"]) if spec.filterable else frame


def sql_layer(spec):
    """The SqlLayer of a layer whose rows live in PostGIS (geoapp/postgis), else None."""
    return context.bundle().sql.get(spec.data)


def sql_groups(spec, flt: Filter):
    """(groups, bool per group: passes the filter) of a layer in PostGIS: its rows summarised
    by city, kind, level, precision and industries (geoapp.postgis.figures), no query per filter."""
    from geoapp.postgis.figures import layer_groups
    groups = layer_groups(sql_layer(spec))
    keep = flt.mask(groups, None) if spec.filterable else np.ones(len(groups), dtype=bool)
    return groups, keep


def filtered_count(spec, flt: Filter) -> int:
    """len(filtered(spec, flt)) without copying the rows (for a layer in PostGIS: from its
    groups, geoapp.postgis.figures)."""
    reg = registry()
    if sql_layer(spec) is not None:
        groups, keep = sql_groups(spec, flt)
        return int(groups["n"].to_numpy(dtype="int64")[keep].sum())
    if spec.data.startswith("boundaries:") or not spec.filterable:
        return len(filtered(spec, flt))
    return int(flt.mask(reg.layers[spec.data], reg.boundaries["city"]).sum())


def datum() -> str:
    return map_frame().datum


def drawn(frame):
    """The frame as drawn on the basemap: on a GCJ-02 basemap a copy with shifted geometry
    (display only: exports, OGC and /stats read the stored coordinates)."""
    if datum() == "wgs84" or frame.empty:
        return frame
    return frame.set_geometry(shift_geometries(frame.geometry.values, datum()), crs=frame.crs)


def drawn_lonlat(lon, lat) -> tuple[list[float], list[float]]:
    shift = display_shift(datum())
    if shift is None:
        return list(lon), list(lat)
    x, y = shift(lon, lat)
    return list(x), list(y)


def drawn_bounds(bounds: list[list[float]]) -> list[list[float]]:
    (y0, x0), (y1, x1) = bounds
    xs, ys = drawn_lonlat([x0, x1], [y0, y1])
    return [[round(ys[0], 5), round(xs[0], 5)], [round(ys[1], 5), round(xs[1], 5)]]


def choropleth(flt: Filter, metric: str, lang: str) -> Choropleth:
    # the per-city numbers /stats shows for this filter (the report's table when it is cached,
    # else the same functions without the belt): a new filter does not build a whole report
    table = stats_city_metrics(flt)
    return Choropleth({code: int(v) for code, v in table[metric].items()},
                      vocab.pick(registry().plan.metrics[metric].label, lang))


def current_metric() -> str:
    allowed = registry().plan.map_metrics  # the plan's (manifest `map_metrics`), the first by default
    metric = request.args.get("metric", allowed[0])
    if metric not in allowed:
        raise FilterError("metric", metric, allowed)
    return metric


def csp_for(script: str) -> str:
    """The page's Content-Security-Policy: scripts only from here plus folium's one inline
    script (by hash); images from here and the configured tile server."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    img = " ".join(["'self' data: blob:", *map_frame().hosts])
    return (f"default-src 'self'; script-src 'self' 'sha256-{digest}'; style-src 'self'; "
            f"img-src {img}; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'")


def render_page(flt: Filter, lang: str, metric: str) -> bytes:
    reg = registry()
    t = (lambda zh, en: en if lang == "en" else zh)
    names = Names(reg.boundaries["city"], reg.boundaries["district"], industries=reg.plan.industries)
    cities = reg.boundaries["city"]
    filter_items = flt.query_items()
    layers, counts, matched, absent = [], {}, 0, {}
    for spec in specs():
        count = filtered_count(spec, flt)
        counts[spec.id] = count
        if spec.geometry == "polygon" and spec.filterable and count == 0:
            # not drawn (nothing to draw), but its on/off state is kept in the URL's layers=
            if spec.control:
                absent[spec.id] = spec.show
            continue
        params = {**(filter_items if spec.filterable or spec.geometry == "choropleth" else {}),
                  "lang": lang if lang == "en" else ""}
        shade = None
        if spec.geometry == "choropleth":
            shade = choropleth(flt, metric, lang)
            params["metric"] = metric
        if spec.geometry == "point" and count > TILES_ABOVE:
            # {z}/{x}/{y} stay literal for Leaflet to fill in
            url = link(f"/map/layers/{spec.id}/tiles/{{z}}/{{x}}/{{y}}.json", **params)
            layers.append(layer_entry(spec, lang, url, count, mode="tiles"))
        else:
            layers.append(layer_entry(spec, lang, link(f"/map/layers/{spec.id}.geojson", **params),
                                      count, shade))
        layers[-1]["legend"] = drawn_legend(spec, layers[-1]["legend"], flt, count)
        if spec.geometry == "point" and spec.counted:
            matched += count
    bounds = LIAONING_BOUNDS
    if flt.city:  # a city filter zooms to the chosen cities
        x0, y0, x1, y1 = cities[cities["adcode"].isin(flt.city)].total_bounds
        bounds = [[y0, x0], [y1, x1]]
    bounds = drawn_bounds(bounds)
    frame = map_frame()
    plan = reg.plan
    every = reg.counted_places()
    groups = context.place_groups()   # imported layers in PostGIS, summarised (or None)
    counts_by = facet_counts(every, cities, flt, plan.industries, groups)
    facets = []
    for name, label, options in (
        ("city", t("城市", "City"), [(c, names.short(c, lang)) for c in cities["adcode"]]),
        ("industry", t("产业", "Industry"),
         [(c, vocab.label(plan.industries, c, lang)) for c in plan.industries]),
        ("level", t("级别", "Level"), [(c, vocab.label(vocab.LEVELS, c, lang)) for c in ("national", "provincial")]),
        ("kind", t("类型", "Kind"), [(c, vocab.label(vocab.KINDS, c, lang)) for c in plan.kinds]),
    ):
        chosen = getattr(flt, name)
        facets.append({"name": name, "label": label, "chosen": [text for v, text in options if v in chosen],
                       "options": [{"value": v, "text": text, "count": counts_by[name].get(v, 0),
                                    "checked": v in chosen} for v, text in options]})
    colon, sep = t("：", ": "), t("、", ", ")
    chip_parts = [f"{f['label']}{colon}{sep.join(f['chosen'])}" for f in facets if f["chosen"]]
    filter_words = (t("筛选", "Filter") + colon + " · ".join(chip_parts)) if chip_parts else \
        t("筛选：全部地点", "Filter: all places")
    en = "en" if lang == "en" else ""
    clear_url = link("/", lang=en)
    areas = unlisted_areas(every, flt)
    empty, empty_fixes = "", []
    if matched == 0 and not areas:
        empty, empty_fixes = empty_reason(every, cities, flt, facets, lang, metric, groups)
    config = {
        "map": frame.map_var, "lang": lang, "bounds": bounds, "province": drawn_bounds(LIAONING_BOUNDS),
        "base": request.script_root + "/",   # the plan prefix (/plans/<id>/), read once by atlas/core.js
        "layers": layers, "absent": absent, "counts": counts, "matched": matched, "filter": filter_items,
        "search": link("/map/search", **filter_items, lang=lang if lang == "en" else ""),
        "places": link("/map/places.json", **filter_items, lang=lang if lang == "en" else ""),
        "cityUrl": link("/map/cities/{adcode}.json", **filter_items, lang=lang if lang == "en" else ""),
        "basemap": frame.basemap, "shapes": SHAPE_POINTS,
        "imageLibrary": url_for("static", filename="vendor/html-to-image-1.11.13/html-to-image.js"),
        "text": {"loading": t("正在加载图层…", "Loading layers…"),
                 "failed": t("图层加载失败：", "A layer failed to load: "),
                 "noHits": t("没有找到", "Nothing found"),
                 "tilesFailed": t("底图瓦片无法加载，现仅显示省界和市界轮廓。",
                                  "Basemap tiles could not be loaded; showing the province and city outlines only."),
                 "page": t("第 {page} / {pages} 页，共 {total} 处", "Page {page} of {pages}, {total} places"),
                 "none": t("当前范围内没有地点", "No places in this view"),
                 "close": t("关闭", "Close"),
                 "copyTable": t("复制表格", "Copy table"), "copied": t("已复制", "Copied"),
                 "sheetPlaces": t("地点列表 · {total} 处", "Places · {total}"),
                 "more": t("展开 / 收起", "More / less"),
                 "places": t("地点", "Places"), "tasks": t("涉及的规划任务", "Plan tasks naming it"),
                 "numbers": t("统计（与统计页同一分析）", "Figures (same analysis as Statistics)"),
                 "mapLink": t("地图上只看该市", "Map of this city"),
                 "statsLink": t("统计", "Statistics"),
                 "gpkgLink": t("下载 GeoPackage", "Download GeoPackage"),
                 "csvLink": t("城市统计 CSV", "City figures CSV"),
                 "xlsxLink": t("城市统计 Excel", "City figures Excel"),
                 "imageTitle": t(*plan.titles["atlas"]),
                 "imageFilter": t("筛选", "Filter"), "imageAll": t("全部地点", "All places"),
                 "imageSources": t(f"来源：{plan.title('sources', 'zh')}；行政区划与地点来源见 /about",
                                   f"Sources: {plan.title('sources', 'en')}; boundaries and places: see /about"),
                 "imageDate": t("制图日期", "Made on"), "colon": colon,
                 "cityButton": t("{tip}。按回车键打开城市面板", "{tip}. Press Enter to open the city panel"),
                 "areasNote": t("规划区域画在地图的区域图层中，计入地点数，不在地点列表里。",
                                "Plan areas are drawn in the map's area layer and counted, but not in the list of places."),
                 "cityMore": t("共 {total} 处，显示前 {shown} 处。", "Showing {shown} of {total}."),
                 "cityMoreLink": t("在地点列表中查看全部", "more in the places list"),
                 "zoomIn": t("放大", "Zoom in"), "zoomOut": t("缩小", "Zoom out"),
                 "layersControl": t("图层", "Layers")},
    }
    html = render_template(
        "map.html", lang=lang, t=t, facets=facets, metric=metric,
        metrics=[(m, vocab.pick(plan.metrics[m].label, lang)) for m in plan.map_metrics], plan=plan,
        chips=filter_words if chip_parts else "", filter_words=filter_words, legend=layers, swatch=swatch,
        map_body=frame.html, map_script=frame.script, config=config, matched=matched,
        empty=empty, empty_fixes=empty_fixes, clear_url=clear_url, index_url=link("/"),
        unlisted=unlisted_note(areas, lang),
        facet_note=t("括号里是与其他已选条件同时满足的地点数（含画成区域、不在地点列表里的规划区域）。",
                     "In brackets: places matching this and the other choices (plan areas included: "
                     "drawn as areas, not in the list of places)."),
        download_url=link("/export/all.gpkg", **filter_items),
        places_files={fmt: link(f"/map/places.{fmt}", **filter_items, lang=en) for fmt in ("xlsx", "csv")},
        stats_url=link("/stats", **filter_items, lang=en),
        about_url=link("/about", lang=en),
        sources_line=t(f"来源：{plan.title('sources', 'zh')}；行政区划与各地点的来源见本站“数据来源”页。",
                       f"Sources: {plan.title('sources', 'en')}; boundaries and each place's sources are on the "
                       "atlas's Sources page."),
        today=datetime.date.today().isoformat(),
        other_lang_url=link("/", **filter_items, metric=metric if metric != plan.map_metrics[0] else "",
                            lang="" if lang == "en" else "en"),
    )
    return html.encode("utf-8")


def drawn_legend(spec, legend: list[dict], flt: Filter, count: int) -> list[dict]:
    """The legend entries of what the filter draws: none for an empty layer, and for a layer
    styled by a column only the values its filtered rows have (on screen and on paper)."""
    if spec.geometry == "choropleth" or spec.data.startswith("boundaries:"):
        return legend
    if count == 0:
        return []
    by = spec.style.get("by")
    if not by or len(legend) != len(spec.style.get("values", {})):
        return legend
    reg = registry()
    frame = reg.layers[spec.data]
    if sql_layer(spec) is not None:   # rows in PostGIS: the values of its groups that have places
        groups, keep = sql_groups(spec, flt)
        if by not in groups.columns:
            return legend
        present = set(groups[by].to_numpy(dtype=object)[keep & (groups["n"].to_numpy() > 0)])
        return [entry for value, entry in zip(spec.style["values"], legend) if value in present]
    if by not in frame.columns:
        return legend
    column = frame[by].to_numpy(dtype=object)
    present = set(column[flt.mask(frame, reg.boundaries["city"])] if spec.filterable else column)
    return [entry for value, entry in zip(spec.style["values"], legend) if value in present]


def unlisted_areas(every, flt: Filter) -> int:
    """How many counted places the filter keeps are areas, not points: they are in the facet
    counts and the cities' shading but not in the list beside the map."""
    keep = flt.mask(every, None) & (every["city_adcode"].fillna("") != "").to_numpy(dtype=bool) \
        & (every.geometry.geom_type != "Point").to_numpy(dtype=bool)
    return int(keep.sum())


def unlisted_note(areas: int, lang: str) -> str:
    """Said under the list (names stay out of the page frame: it carries no data text)."""
    if not areas:
        return ""
    if lang == "en":
        return (f"The counts in the filter and the cities' shading include {areas} plan area{'s' if areas > 1 else ''}: "
                "drawn as areas on the map (the area layer), not in this list.")
    return f"筛选项和城市设色的计数含 {areas} 处规划区域：画在地图的区域图层中，不在本列表里。"


def empty_reason(every, cities, flt: Filter, facets: list[dict], lang: str, metric: str,
                 groups=None) -> tuple[str, list[dict]]:
    """Why nothing matches, in words: for each choice, how many places there would be without it
    (the other choices kept), with a link that drops it. `groups`: imported layers in PostGIS,
    summarised (geoapp.postgis.figures), counted too."""
    t = (lambda zh, en: en if lang == "en" else zh)
    counted = (every["city_adcode"].fillna("") != "").to_numpy(dtype=bool)
    fixes, culprits = [], []
    en = "en" if lang == "en" else ""
    for facet in facets:
        if not facet["chosen"]:
            continue
        name = facet["name"]
        without = Filter(**{p: getattr(flt, p) for p in ("industry", "city", "level", "kind") if p != name})
        n = int((without.mask(every, None) & counted).sum())
        if groups is not None and len(groups):
            n += int(groups["n"].to_numpy(dtype="int64")[without.mask(groups, None)
                                                        & (groups["city_adcode"] != "").to_numpy(dtype=bool)].sum())
        words = facet["label"] + t("：", ": ") + t("、", ", ").join(facet["chosen"])
        if n:
            culprits.append(words)
            fixes.append({"url": link("/", **without.query_items(),
                                      metric=metric if metric != "places" else "", lang=en),
                          "text": t(f"去掉“{words}”（{n} 处）", f"Drop “{words}” ({n} place{'' if n == 1 else 's'})")})
    if len(culprits) == 1:
        why = t(f"是“{culprits[0]}”使结果为空：其余条件下有地点，但都不符合它。",
                f"“{culprits[0]}” emptied the result: the other choices match places, none of them this one.")
    elif culprits:
        why = t(f"没有地点同时符合“{'”和“'.join(culprits)}”：去掉其中任何一个都有地点。",
                f"No place matches “{'” and “'.join(culprits)}” together: drop any one of them to see places.")
    else:
        why = t("没有符合筛选条件的地点。", "No places match this filter.")
    return why, fixes


AT = re.compile(r"^(\d{1,2}(?:\.\d{1,2})?)/(-?\d{1,2}(?:\.\d{1,6})?)/(-?\d{1,3}(?:\.\d{1,6})?)$")
AT_ALLOWED = "zoom/lat/lon with zoom 5–18, e.g. 7/41.2/122.6"


def check_view_params() -> None:
    """`at` (zoom/lat/lon) and `layers` (ids of the layers switched on) are read by the page's
    script from the URL; the server only refuses values the script would have to ignore."""
    at = request.args.get("at", "")
    if at:
        match = AT.match(at)
        if not match or not 5 <= float(match.group(1)) <= 18 or abs(float(match.group(2))) > 85 \
                or abs(float(match.group(3))) > 180:
            raise FilterError("at", at, [AT_ALLOWED])
    panel = request.args.get("city_panel", "")
    if panel:
        codes = list(registry().boundaries["city"]["adcode"])
        if panel not in codes:
            raise FilterError("city_panel", panel, codes)
    wanted = request.args.get("layers")
    if wanted is not None:
        known = [s.id for s in specs() if s.control]
        for layer_id in filter(None, wanted.split(",")):
            if layer_id not in known:
                raise FilterError("layers", layer_id, known)


@bp.get("/")
def index():
    flt = current_filter()
    lang = current_lang()
    metric = current_metric()
    check_view_params()
    body = cached_body(("map", flt.key(), lang, metric),
                       lambda: (render_page(flt, lang, metric), "text/html; charset=utf-8"))
    frame = map_frame()
    return send_body(body, headers={"Content-Security-Policy": csp_for(frame.script)})


def _json(payload) -> bytes:
    return current_app.json.dumps(payload).encode("utf-8")


@bp.get("/map/layers/<layer_id>.geojson")
def layer(layer_id: str):
    spec = spec_or_404(layer_id)
    lang = current_lang()
    flt = current_filter() if spec.filterable or spec.geometry == "choropleth" else Filter()
    metric = current_metric() if spec.geometry == "choropleth" else ""
    reg = registry()
    names = Names(reg.boundaries["city"], reg.boundaries["district"], industries=reg.plan.industries)

    def build():
        frame = drawn(sql_filtered(spec, flt) if sql_layer(spec) is not None else filtered(spec, flt))
        if spec.geometry == "point":
            body = point_collection(spec, frame, lang, names,
                                    with_popups=len(frame) <= LAZY_POPUPS_ABOVE,
                                    positions=context.bundle().display_positions.get(spec.id))
        else:
            shade = choropleth(flt, metric, lang) if spec.geometry == "choropleth" else None
            body = polygon_collection(spec, frame, lang, names, shade)
        return _json(body), "application/geo+json"

    return send_body(cached_body(("map-layer", spec.id, flt.key(), lang, metric), build))


def point_index(spec, flt: Filter, lang: str) -> PointIndex | SqlPointIndex:
    """The filtered layer prepared for tiling, kept for the most recent filters (a layer in
    PostGIS: its tiles are asked of the database, only the filter's styles are kept)."""
    cache = context.bundle().point_index
    key = (spec.id, flt.key(), lang)
    index = cache.get(key)
    if index is None:
        sql = sql_layer(spec)
        if sql is not None:
            index = SqlPointIndex.build(spec, sql, flt if spec.filterable else Filter(), lang,
                                        display_shift(datum()))
        else:
            index = PointIndex.build(spec, drawn(filtered(spec, flt)), lang)
        cache.put(key, index)
    return index


# A point layer in PostGIS is sent whole (its .geojson) up to this many rows under the filter;
# the map asks for it only under TILES_ABOVE (more are drawn from tiles).
SQL_GEOJSON_MAX = 20000


def sql_filtered(spec, flt: Filter):
    """The rows of a layer in PostGIS that the filter keeps, as a frame (at most SQL_GEOJSON_MAX)."""
    sql = sql_layer(spec)
    flt = flt if spec.filterable else Filter()
    count = sql.count(flt)
    if count > SQL_GEOJSON_MAX:
        tiles = link(f"/map/layers/{spec.id}/tiles/{{z}}/{{x}}/{{y}}.json", **flt.query_items())
        response = jsonify({"error": "bad_request", "message": (
            f"'{spec.id}' has {count} places under this filter; at most {SQL_GEOJSON_MAX} are sent as "
            f"one GeoJSON: load its tiles ({tiles}) or narrow the filter (industry, city, level, kind)")})
        response.status_code = 400
        abort(response)
    frame = sql.frame(sql.where(flt))
    return frame.reset_index(drop=True)


@bp.get("/map/layers/<layer_id>/tiles/<int:z>/<int:x>/<int:y>.json")
def tile(layer_id: str, z: int, x: int, y: int):
    """Clusters and points of a large point layer in one Web Mercator tile."""
    spec = spec_or_404(layer_id)
    if spec.geometry != "point":
        response = jsonify({"error": "not_found", "message": f"'{layer_id}' is not a point layer"})
        response.status_code = 404
        return response
    flt = current_filter() if spec.filterable else Filter()
    lang = current_lang()

    def build():
        return _json(point_index(spec, flt, lang).tile(z, x, y)), "application/json"

    try:
        body = cached_body(("map-tile", spec.id, flt.key(), lang, z, x, y), build)
    except TileError as error:
        response = jsonify({"error": "bad_request", "message": str(error)})
        response.status_code = 400
        return response
    return send_body(body)


@bp.get("/map/layers/<layer_id>/<place_id>/popup")
def popup(layer_id: str, place_id: str):
    """One place's popup HTML (escaped), for layers too large to embed every popup."""
    spec = spec_or_404(layer_id)
    lang = current_lang()
    reg = registry()
    if spec.geometry != "point":
        abort(404)
    sql = sql_layer(spec)
    if sql is not None:   # rows in PostGIS: the one row asked for
        rows = sql.feature(place_id)
    else:
        frame = reg.layers[spec.data]
        rows = frame[frame["id"] == place_id]
    if rows.empty:
        response = jsonify({"error": "not_found", "message": f"no place '{place_id}' in '{layer_id}'"})
        response.status_code = 404
        return response
    record = rows.drop(columns="geometry").iloc[0].to_dict()
    names = Names(reg.boundaries["city"], reg.boundaries["district"], industries=reg.plan.industries)
    body = cached_body(("map-popup", spec.id, place_id, lang),
                       lambda: (_json({"id": place_id, "popup": popup_html(spec.popup, record, lang, names)}),
                                "application/json"))
    return send_body(body)


MAX_QUERY = 100


@bp.get("/map/search")
def search():
    """Places whose name matches `q` (Chinese, English, pinyin, initials), within the filter."""
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY:
        response = jsonify({"error": "bad_request", "parameter": "q",
                            "message": f"q is {len(q)} characters long; at most {MAX_QUERY} allowed"})
        response.status_code = 400
        return response
    flt = current_filter()
    lang = current_lang()

    def build():
        allowed = None
        if not flt.empty:  # the filter narrows the places; cities and districts are always found
            reg = registry()
            allowed = {spec.id: set(filtered(spec, flt)["id"]) for spec in specs()
                       if spec.searchable and spec.geometry == "point"}
            allowed.update({spec.id: set(reg.boundaries[spec.data.split(":", 1)[1]]["adcode"]) for spec in specs()
                            if spec.data in ("boundaries:city", "boundaries:district")})
        hits = context.bundle().search.search(q, allowed, with_rank=True)
        hits = with_database_hits(hits, q, flt)
        titles = {spec.id: spec.title_in(lang) for spec in specs()}
        xs, ys = drawn_lonlat(hits["lon"].to_numpy(dtype=float), hits["lat"].to_numpy(dtype=float))
        return _json({"query": q, "hits": [
            {"layer": h.layer, "layer_title": titles[h.layer], "id": h.id, "name_zh": h.name_zh,
             "name_en": h.name_en, "lon": round(float(x), 6), "lat": round(float(y), 6)}
            for h, x, y in zip(hits.itertuples(), xs, ys)]}), "application/json"

    return send_body(cached_body(("map-search", q.strip().lower(), flt.key(), lang), build))


def with_database_hits(hits, q: str, flt: Filter):
    """The in-memory index's hits (with their rank) merged with those of the searchable layers
    in PostGIS (geoapp.postgis.search: the same ranks, without pinyin), in the index's order:
    rank, then the layer's block, then the row's order in it; at most MAX_HITS."""
    from geoapp.layers.search import CJK, MAX_HITS, SHORT_FORMS, _norm, _words
    from geoapp.postgis.search import search as sql_search
    sql = context.bundle().sql
    layers = [sql[spec.data] for spec in specs()
              if spec.searchable and spec.geometry == "point" and spec.data in sql]
    norm = _norm(q)
    if not layers or not norm:
        return hits
    cjk = bool(CJK.search(norm))
    found = sql_search(layers, norm, _words(q), cjk, flt, SHORT_FORMS, MAX_HITS)
    exact = int((hits["rank"] <= 1).sum()) + len(found)
    if cjk and len(norm) >= 4 and exact < MAX_HITS:   # looser matches only when exact ones run short
        found = sql_search(layers, norm, _words(q), cjk, flt, SHORT_FORMS, MAX_HITS, loose=True)
    if found.empty:
        return hits
    order = context.bundle().search.layer_order()
    by_layer = {layer.layer: spec.id for spec in specs() for layer in layers if spec.data == layer.layer}
    found = found.assign(layer=found["layer"].map(by_layer))
    merged = pd.concat([
        hits.assign(block=hits["layer"].map(order), row=hits.index.to_numpy()),
        found.assign(block=found["layer"].map(order), row=found["position"])], ignore_index=True)
    merged = merged.sort_values(["rank", "block", "row"], kind="stable").head(MAX_HITS)
    return merged[["layer", "id", "name_zh", "name_en", "lon", "lat"]].reset_index(drop=True)


# --- the table of places and the city panel -------------------------------------------------------

SORT_KEYS = ("name", "layer", "kind", "level", "city")
PER_PAGE_MAX = 500


def table_frame(flt: Filter, lang: str):
    """Every place the map draws for the filter (its point layers, each place once), one row
    each with what the table shows, in display coordinates. Kept for the most recent filters."""
    import pandas as pd
    cache = context.bundle().place_tables
    key = (flt.key(), lang)
    table = cache.get(key)
    if table is not None:
        return table
    reg = registry()
    names = Names(reg.boundaries["city"], reg.boundaries["district"], industries=reg.plan.industries)
    parts = []
    for spec in specs():
        if spec.geometry != "point" or not spec.counted:
            continue
        frame = filtered(spec, flt)
        if frame.empty:
            continue
        lon, lat = drawn_lonlat(frame.geometry.x.to_numpy(dtype=float), frame.geometry.y.to_numpy(dtype=float))
        zh, en = frame["name_zh"].fillna("").astype(str), frame["name_en"].fillna("").astype(str)
        parts.append(pd.DataFrame({
            "id": frame["id"].astype(str).to_numpy(), "layer": spec.id, "layer_title": spec.title_in(lang),
            "name": (en.where(en != "", zh) if lang == "en" else zh).to_numpy(),
            "name_other": (zh if lang == "en" else en).to_numpy(),
            "kind": [vocab.label(vocab.KINDS, k, lang) for k in frame["kind"].fillna("")],
            "level": [vocab.label(vocab.LEVELS, k, lang) if k else "" for k in frame["level"].fillna("")],
            "city_adcode": frame["city_adcode"].fillna("").astype(str).to_numpy(),
            "city": [names.short(c, lang) if c else "" for c in frame["city_adcode"].fillna("")],
            "lon": np.round(lon, 5), "lat": np.round(lat, 5),
        }))
    columns = ["id", "layer", "layer_title", "name", "name_other", "kind", "level", "city_adcode", "city", "lon", "lat"]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    cache.put(key, table)
    return table


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise FilterError(name, raw, [f"a whole number from {low} to {high}"])
    return int(raw)


def _bbox_arg() -> tuple[float, float, float, float] | None:
    raw = request.args.get("bbox", "")
    if not raw:
        return None
    try:
        box = tuple(round(float(v), 4) for v in raw.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (-180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90):
        raise FilterError("bbox", raw, ["west,south,east,north in degrees (as drawn), west <= east, south <= north"])
    return box


def sort_args() -> tuple[str, str]:
    """`sort` (one of SORT_KEYS, default name) and `order` (asc | desc) of the places list and its
    files; anything else raises FilterError (400 with the allowed values)."""
    sort = request.args.get("sort", "name")
    if sort not in SORT_KEYS:
        raise FilterError("sort", sort, SORT_KEYS)
    order = request.args.get("order", "asc")
    if order not in ("asc", "desc"):
        raise FilterError("order", order, ["asc", "desc"])
    return sort, order


def sorted_table(flt: Filter, lang: str, sort: str, order: str, box) -> "pd.DataFrame":
    """table_frame inside `box` (drawn coordinates), sorted as the list sorts: by `sort`, then
    the name (or the id when sorting by name), stably."""
    table = table_frame(flt, lang)
    if box is not None:
        table = table[(table["lon"] >= box[0]) & (table["lon"] <= box[2])
                      & (table["lat"] >= box[1]) & (table["lat"] <= box[3])]
    keys = [sort, "name"] if sort != "name" else ["name", "id"]
    return table.sort_values(keys, ascending=order == "asc", kind="stable")


def city_places(adcode: str, ids: set, flt: Filter, lang: str) -> "pd.DataFrame":
    """The city panel's places: the list's rows of the view's places in the city, by layer then
    name (stably); a layer in PostGIS adds its rows in the city (geoapp.web.place_list)."""
    table = table_frame(flt, lang)
    shown = table[table["id"].isin(ids)].sort_values(["layer", "name"])
    if not place_list.sql_layers():
        return shown
    parts = list(place_list.every_row(shown, flt, lang, "layer", False, None, drawn_lonlat,
                                      extra=("city_adcode = %s", [adcode])))
    return pd.concat(parts, ignore_index=True)[place_list.TABLE_COLUMNS] if parts else shown.iloc[0:0]


def list_page(flt: Filter, lang: str, sort: str, order: str, box, page: int, per_page: int):
    """(number of rows, the rows of page `page`) of the places list (/map/places.json): the
    in-memory rows sorted, plus a layer in PostGIS paged in SQL (geoapp.web.place_list)."""
    table = sorted_table(flt, lang, sort, order, box)
    if place_list.sql_layers():   # + the rows of the layers in PostGIS, paged in SQL
        total, rows = place_list.page(table, flt, lang, sort, order == "desc", box,
                                      (page - 1) * per_page, per_page, drawn_lonlat)
        return total, rows[place_list.TABLE_COLUMNS]
    return len(table), table.iloc[(page - 1) * per_page: page * per_page]


CITY_PAGE = 50   # the city panel lists this many of its places (the places list's page), then links


def city_filter(flt: Filter, adcode: str) -> Filter:
    """The filter with its city set to `adcode` (the city panel's links and list)."""
    return Filter(industry=flt.industry, city=frozenset({adcode}), level=flt.level, kind=flt.kind)


@bp.get("/map/places.json")
def places():
    """The table beside the map: the filter's places, sorted and paged (works for 100k rows:
    one sort per (filter, sort) on the server, pages of at most 500 rows). `bbox` keeps only
    places inside the map's view (in the coordinates the map draws)."""
    flt, lang = current_filter(), current_lang()
    sort, order = sort_args()
    page = _int_arg("page", 1, 1, 10**6)
    per_page = _int_arg("per_page", 50, 1, PER_PAGE_MAX)
    box = _bbox_arg()

    def build():
        total, rows = list_page(flt, lang, sort, order, box, page, per_page)
        return _json({
            "filter": flt.query_items(), "sort": sort, "order": order, "page": page,
            "per_page": per_page, "total": total, "pages": max(1, -(-total // per_page)),
            "rows": rows.drop(columns=["city_adcode"]).to_dict("records"),
        }), "application/json"

    return send_body(cached_body(("map-places", flt.key(), lang, sort, order, page, per_page, box), build))


@bp.get("/map/cities/<adcode>.json")
def city(adcode: str):
    """The city panel: the city's places and numbers for the filter (the same analysis.Report
    /stats shows), the plan tasks that touch it with their status, and links to the filtered
    map, statistics and downloads."""
    flt, lang = current_filter(), current_lang()
    reg = registry()
    cities = reg.boundaries["city"]
    if adcode not in set(cities["adcode"]):
        response = jsonify({"error": "not_found", "message": f"no city with adcode '{adcode}'",
                            "allowed": list(cities["adcode"])})
        response.status_code = 404
        return response

    def build():
        t = (lambda zh, en: en if lang == "en" else zh)
        names = Names(cities, reg.boundaries["district"], industries=reg.plan.industries)
        report = stats_report(flt, DEFAULT_HALF_WIDTH_KM)
        row = report.cities.loc[adcode]
        view = report.view
        ids = set(view.links.loc[view.links["city_adcode"] == adcode, "id"])
        own = city_filter(flt, adcode)
        # the first page of the places list filtered to the city (by layer, then name) and how
        # many there are: never the whole list (~70,000 rows for a city at 1M places)
        if flt.city and adcode not in flt.city:   # a city the filter leaves out: none
            total, shown = 0, table_frame(flt, lang).iloc[0:0]
        else:
            total, shown = list_page(own, lang, "layer", "asc", None, 1, CITY_PAGE)
        listed = set(table_frame(flt, lang)["id"])   # the list's places (point layers)
        other = view.places[view.places["id"].isin(ids) & ~view.places["id"].isin(listed)]
        tasks = report.coverage.tasks
        touching = tasks[tasks["cities"].map(lambda c: adcode in c.split(";"))]
        items = own.query_items()
        en = {"lang": "en"} if lang == "en" else {}
        listing = {**items, "sort": "layer"}
        return _json({
            "adcode": adcode, "name": names.short(adcode, lang), "name_zh": names.short(adcode, "zh"),
            "name_en": names.short(adcode, "en"), "filter": flt.query_items(),
            "numbers": [{"key": m, "label": t(*reg.plan.metrics[m].label), "value": int(row[m])}
                        for m in reg.plan.panel_metrics],
            # in the page's language (the report's industry_names column is Chinese)
            "industries": t("、", ", ").join(vocab.label(reg.plan.industries, c.removeprefix("industry_"), lang)
                                           for c in industry_columns(reg.plan.industries) if row[c] > 0),
            "places": shown.drop(columns=["city_adcode"]).to_dict("records"),
            "places_total": int(total), "places_shown": len(shown),
            # the whole list of the city's places: paged (JSON), as files, and on the map page
            "places_list": {"json": link("/map/places.json", **listing, **en),
                            "csv": link("/map/places.csv", **listing, **en),
                            "xlsx": link("/map/places.xlsx", **listing, **en),
                            "page": link("/", **items, **en) + "#atlas-list-title"},
            # plan areas of the city (counted in its figures), and areas crossing it (the belt)
            "areas": [{"id": pid, "name": (en_name or zh) if lang == "en" else zh}
                      for pid, zh, en_name, code in zip(other["id"], other["name_zh"], other["name_en"],
                                                        other["city_adcode"]) if code],
            "crossing": [{"id": pid, "name": (en_name or zh) if lang == "en" else zh}
                         for pid, zh, en_name, code in zip(other["id"], other["name_zh"], other["name_en"],
                                                           other["city_adcode"]) if not code],
            "tasks": [{"id": r.id, "title": r.title_en if lang == "en" else r.title_zh, "section": r.section,
                       "status": r.status, "status_label": t(*STATUSES[r.status]),
                       "places_in_view": int(r.places_in_view)}
                      for r in touching.itertuples()],
            # the plan's targets with a figure for this city or a task touching it (web/scorecard.py)
            "scorecard": {"title": t("目标完成情况", "Target scorecard"),
                          "rows": city_rows(adcode, lang, set(touching["id"])),
                          "link": link("/stats", **en) + "#scorecard"},
            "links": {"map": link("/", **items, **en), "stats": link("/stats", **items, **en),
                      "gpkg": link("/export/all.gpkg", **items),
                      # this city's figures only (geoapp.web.map_tables), in the page's language
                      "csv": link(f"/map/cities/{adcode}.csv", **flt.query_items(), **en),
                      "xlsx": link(f"/map/cities/{adcode}.xlsx", **flt.query_items(), **en)},
        }), "application/json"

    return send_body(cached_body(("map-city", adcode, flt.key(), lang), build))
