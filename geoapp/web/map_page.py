"""The map page `/` (a frame: base map, controls, legend, search box) and the endpoints its
script loads layers, search hits and popups from. Every body is built once per (what defines
it) and served from the body cache with ETag and gzip."""
from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from markupsafe import Markup

from geoapp import vocab
from geoapp.analysis.corridor import DEFAULT_HALF_WIDTH_KM
from geoapp.analysis.distribution import METRIC_LABELS
from geoapp.filters import Filter, FilterError
from geoapp.layers.build import LIAONING_BOUNDS, build_frame, layer_entry
from geoapp.layers.features import Choropleth, point_collection, polygon_collection
from geoapp.layers.popup import Names, popup_html
from geoapp.layers.offsets import display_offsets
from geoapp.layers.search import SearchIndex
from geoapp.layers.spec import LayerSpecError, load_specs
from geoapp.layers.tiles import PointIndex, TileError
from geoapp.web.context import current_filter, current_lang, registry
from geoapp.web.serving import cached_body, send_body
from geoapp.web.stats import report as stats_report

bp = Blueprint("map", __name__)

# Choropleth metrics: columns of analysis.distribution.per_city, the same numbers /stats shows.
METRICS = {m: METRIC_LABELS[m] for m in ("places", "htz_total", "htz_national", "clusters_bases",
                                         "laboratories", "platforms", "tasks", "industries_present")}
# Above this many features (after the filter) a point layer is not sent whole: the browser loads
# server-side clusters per tile and fetches popups when opened. (Search is always on the server.)
TILES_ABOVE = 2000
LAZY_POPUPS_ABOVE = 2000
POINT_INDEX_CACHE = 32
NOT_COUNTED = {"demo_zone_core"}  # a view of rows of other layers: counting it would count twice


@bp.record_once
def setup(state):
    app = state.app
    specs = load_specs(app.config["ATLAS_LAYERS_DIR"])
    reg = app.extensions["atlas.registry"]
    known = set(reg.layers) | {f"boundaries:{level}" for level in reg.boundaries}
    for spec in specs:
        if spec.data not in known:
            raise LayerSpecError(f"{spec.path.name}: data '{spec.data}' is not a loaded layer; "
                                 f"known: {', '.join(sorted(known))}")
    app.extensions["atlas.layer_specs"] = specs
    app.extensions["atlas.search_index"] = SearchIndex.build(specs, reg.layers)
    app.extensions["atlas.display_positions"] = display_positions(specs, reg)
    # Fail at start-up, not on the first page, when the tile settings are unusable.
    app.extensions["atlas.map_frame"] = build_frame(app.config["ATLAS_TILES"],
                                                     app.config["ATLAS_TILES_ATTRIBUTION"])


def display_positions(specs, reg) -> dict[str, dict[str, tuple[float, float]]]:
    """layer id -> {place id: display (lon, lat)} for places sharing a stored point (offsets.py).
    Computed once over the whole data, so a place does not jump when the filter changes; a layer
    that repeats places of other layers (counted: false, member_id) follows its members."""
    points = [s for s in specs if s.geometry == "point" and len(reg.layers[s.data]) <= TILES_ABOVE]
    moved = display_offsets([(s.id, reg.layers[s.data]) for s in points if s.counted])
    by_layer: dict[str, dict] = {}
    for (layer_id, place_id), where in moved.items():
        by_layer.setdefault(layer_id, {})[place_id] = where
    by_place = {place_id: where for (_, place_id), where in moved.items()}
    for spec in points:
        frame = reg.layers[spec.data]
        if not spec.counted and "member_id" in frame.columns:
            by_layer[spec.id] = {i: by_place[m] for i, m in zip(frame["id"], frame["member_id"])
                                 if m in by_place}
    return by_layer


def specs() -> list:
    return current_app.extensions["atlas.layer_specs"]


def spec_or_404(layer_id: str):
    for spec in specs():
        if spec.id == layer_id:
            return spec
    response = jsonify({"error": "not_found", "message": f"no map layer '{layer_id}'",
                        "allowed": [s.id for s in specs()]})
    response.status_code = 404
    abort(response)


def swatch(style: dict) -> Markup:
    """A 16×16 SVG sample of a Leaflet path style, for the legend."""
    stroke = style.get("color", "#3388ff")
    fill = style.get("fill_color", stroke) if style.get("fill", True) else "none"
    opacity = style.get("fill_opacity", 0.2)
    dash = style.get("dash_array", "")
    shape = (f'<circle cx="8" cy="8" r="{min(style["radius"], 7) - 0.5}"' if "radius" in style
             else '<rect x="1.5" y="1.5" width="13" height="13"')
    return Markup('<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">'
                  + shape + ' stroke="{}" stroke-width="{}" fill="{}" fill-opacity="{}" '
                  'stroke-dasharray="{}"/></svg>').format(stroke, min(style.get("weight", 1), 3), fill,
                                                          opacity, dash)


def link(path: str, **params) -> str:
    """A URL with only the given non-empty parameters. Built from the parsed filter, never from
    the raw request: bodies are cached per filter, so they must not carry one visitor's query."""
    query = urlencode({k: v for k, v in params.items() if v}, safe=",")
    return f"{path}?{query}" if query else path


def filtered(spec, flt: Filter):
    reg = registry()
    if spec.data.startswith("boundaries:"):
        return reg.display[spec.data.split(":", 1)[1]]
    frame = reg.layers[spec.data]
    return flt.apply(frame, reg.boundaries["city"]) if spec.filterable else frame


def choropleth(flt: Filter, metric: str, lang: str) -> Choropleth:
    # the /stats report of this filter (same cache): the map shades by the numbers /stats shows
    table = stats_report(flt, DEFAULT_HALF_WIDTH_KM).cities
    return Choropleth({code: int(v) for code, v in table[metric].items()},
                      vocab.label({metric: METRICS[metric]}, metric, lang))


def current_metric() -> str:
    metric = request.args.get("metric", "places")
    if metric not in METRICS:
        raise FilterError("metric", metric, METRICS)
    return metric


def csp_for(script: str) -> str:
    """The page's Content-Security-Policy: scripts only from here plus folium's one inline
    script (by hash); images from here and the configured tile server."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    tiles = current_app.config["ATLAS_TILES"]
    img = "'self' data:"
    if tiles == "osm":
        img += " https://tile.openstreetmap.org"
    elif tiles.startswith("http"):
        img += " " + "/".join(tiles.split("/")[:3]).replace("{s}", "*")
    return (f"default-src 'self'; script-src 'self' 'sha256-{digest}'; style-src 'self'; "
            f"img-src {img}; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'")


def render_page(flt: Filter, lang: str, metric: str) -> bytes:
    reg = registry()
    t = (lambda zh, en: en if lang == "en" else zh)
    names = Names(reg.boundaries["city"], reg.boundaries["district"])
    cities = reg.boundaries["city"]
    filter_items = flt.query_items()
    layers, counts, matched = [], {}, 0
    for spec in specs():
        count = len(filtered(spec, flt))
        counts[spec.id] = count
        if spec.geometry == "polygon" and spec.filterable and count == 0:
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
        if spec.geometry == "point" and spec.id not in NOT_COUNTED:
            matched += count
    bounds = LIAONING_BOUNDS
    if flt.city:  # a city filter zooms to the chosen cities
        x0, y0, x1, y1 = cities[cities["adcode"].isin(flt.city)].total_bounds
        bounds = [[y0, x0], [y1, x1]]
    frame = current_app.extensions["atlas.map_frame"]
    selects = [
        ("industry", t("产业", "Industry"),
         [(c, vocab.label(vocab.INDUSTRIES, c, lang)) for c in vocab.INDUSTRIES]),
        ("city", t("城市", "City"), [(c, names(c, lang)) for c in cities["adcode"]]),
        ("level", t("级别", "Level"), [(c, vocab.label(vocab.LEVELS, c, lang)) for c in ("national", "provincial")]),
        ("kind", t("类型", "Kind"), [(c, vocab.label(vocab.KINDS, c, lang)) for c in vocab.KINDS]),
    ]
    chosen = {p: set(getattr(flt, p)) for p in ("industry", "city", "level", "kind")}
    chip_parts = []
    for name, label, options in selects:
        picked = [text for value, text in options if value in chosen[name]]
        if picked:
            chip_parts.append(f"{label}: {'、'.join(picked)}")
    config = {
        "map": frame.map_var, "lang": lang, "bounds": bounds, "layers": layers,
        "counts": counts, "matched": matched,
        "search": link("/map/search", **filter_items, lang=lang if lang == "en" else ""),
        "text": {"loading": t("正在加载图层…", "Loading layers…"),
                 "failed": t("图层加载失败：", "A layer failed to load: "),
                 "noHits": t("没有找到", "Nothing found")},
    }
    html = render_template(
        "map.html", lang=lang, t=t, selects=selects, chosen=chosen, metric=metric,
        metrics=[(k, v[1] if lang == "en" else v[0]) for k, v in METRICS.items()],
        chips=" · ".join(chip_parts), legend=layers, swatch=swatch,
        map_body=frame.html, map_script=frame.script, config=config, matched=matched,
        download_url=link("/export/all.gpkg", **filter_items),
        stats_url=link("/stats", **filter_items, lang=lang if lang == "en" else ""),
        other_lang_url=link("/", **filter_items, metric=metric if metric != "places" else "",
                            lang="" if lang == "en" else "en"),
    )
    return html.encode("utf-8")


@bp.get("/")
def index():
    flt = current_filter()
    lang = current_lang()
    metric = current_metric()
    body = cached_body(("map", flt.key(), lang, metric),
                       lambda: (render_page(flt, lang, metric), "text/html; charset=utf-8"))
    frame = current_app.extensions["atlas.map_frame"]
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
    names = Names(reg.boundaries["city"], reg.boundaries["district"])

    def build():
        frame = filtered(spec, flt)
        if spec.geometry == "point":
            body = point_collection(spec, frame, lang, names,
                                    with_popups=len(frame) <= LAZY_POPUPS_ABOVE,
                                    positions=current_app.extensions["atlas.display_positions"].get(spec.id))
        else:
            shade = choropleth(flt, metric, lang) if spec.geometry == "choropleth" else None
            body = polygon_collection(spec, frame, lang, names, shade)
        return _json(body), "application/geo+json"

    return send_body(cached_body(("map-layer", spec.id, flt.key(), lang, metric), build))


def point_index(spec, flt: Filter, lang: str) -> PointIndex:
    """The filtered layer prepared for tiling, kept for the most recent filters."""
    cache = current_app.extensions.setdefault("atlas.point_index", {})
    key = (spec.id, flt.key(), lang)
    index = cache.get(key)
    if index is None:
        index = PointIndex.build(spec, filtered(spec, flt), lang)
        if len(cache) >= POINT_INDEX_CACHE:
            cache.pop(next(iter(cache)))
        cache[key] = index
    return index


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
    frame = reg.layers[spec.data]
    rows = frame[frame["id"] == place_id]
    if rows.empty:
        response = jsonify({"error": "not_found", "message": f"no place '{place_id}' in '{layer_id}'"})
        response.status_code = 404
        return response
    record = rows.drop(columns="geometry").iloc[0].to_dict()
    names = Names(reg.boundaries["city"], reg.boundaries["district"])
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
        if not flt.empty:
            allowed = {spec.id: set(filtered(spec, flt)["id"]) for spec in specs()
                       if spec.searchable and spec.geometry == "point"}
        hits = current_app.extensions["atlas.search_index"].search(q, allowed)
        titles = {spec.id: spec.title_in(lang) for spec in specs()}
        return _json({"query": q, "hits": [
            {"layer": h.layer, "layer_title": titles[h.layer], "id": h.id, "name_zh": h.name_zh,
             "name_en": h.name_en, "lon": round(float(h.lon), 6), "lat": round(float(h.lat), 6)}
            for h in hits.itertuples()]}), "application/json"

    return send_body(cached_body(("map-search", q.strip().lower(), flt.key(), lang), build))
