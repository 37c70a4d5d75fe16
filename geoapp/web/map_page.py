"""The map page `/`: filterable, bilingual, offline. Built once per (filter, lang, metric)."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from geoapp import vocab
from geoapp.filters import FilterError
from geoapp.layers.build import METRICS, build_map, configure_assets
from geoapp.layers.popup import Names
from geoapp.layers.spec import LayerSpecError, load_specs
from geoapp.web.context import current_filter, current_lang, registry
from geoapp.web.serving import cached_body, send_body

bp = Blueprint("map", __name__)


@bp.record_once
def setup(state):
    app = state.app
    # folium's asset lists are class-level: set the local URLs once, at start-up.
    configure_assets(app.static_url_path)
    specs = load_specs(app.config["ATLAS_LAYERS_DIR"])
    reg = app.extensions["atlas.registry"]
    known = set(reg.layers) | {f"boundaries:{level}" for level in reg.boundaries}
    for spec in specs:
        if spec.data not in known:
            raise LayerSpecError(f"{spec.path.name}: data '{spec.data}' is not a loaded layer; "
                                 f"known: {', '.join(sorted(known))}")
    app.extensions["atlas.layer_specs"] = specs


def swatch(style: dict) -> Markup:
    """A 16×16 SVG sample of a Leaflet path style, for the legend."""
    stroke = style.get("color", "#3388ff")
    fill = style.get("fill_color", stroke) if style.get("fill", True) else "none"
    opacity = style.get("fill_opacity", 0.2)
    dash = style.get("dash_array", "")
    shape = (f'<circle cx="8" cy="8" r="{min(style["radius"], 7) - 0.5}"' if "radius" in style
             else '<rect x="1.5" y="1.5" width="13" height="13"')
    return Markup(f'<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">{shape} '
                  f'stroke="{stroke}" stroke-width="{min(style.get("weight", 1), 3)}" fill="{fill}" '
                  f'fill-opacity="{opacity}" stroke-dasharray="{dash}"/></svg>')


def _link(path: str, **params) -> str:
    """A URL with only the given non-empty parameters. Built from the parsed filter, never from
    the raw request: the page is cached per filter, so it must not carry one visitor's query."""
    query = urlencode({k: v for k, v in params.items() if v}, safe=",")
    return f"{path}?{query}" if query else path


def render_page(flt, lang: str, metric: str) -> bytes:
    app = current_app
    reg = registry()
    view = build_map(reg, app.extensions["atlas.layer_specs"], flt, lang,
                     tiles=app.config["ATLAS_TILES"],
                     tiles_attribution=app.config["ATLAS_TILES_ATTRIBUTION"], metric=metric)
    figure = view.folium_map.get_root()
    figure.render()
    t = (lambda zh, en: en if lang == "en" else zh)
    names = Names(reg.boundaries["city"], reg.boundaries["district"])
    cities = reg.boundaries["city"]
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
    filter_items = flt.query_items()
    html = render_template(
        "map.html", lang=lang, t=t, selects=selects, chosen=chosen, metric=metric,
        metrics=[(k, v[1] if lang == "en" else v[0]) for k, v in METRICS.items()],
        chips=" · ".join(chip_parts), legend=view.legend, swatch=swatch,
        map_header=figure.header.render(), map_body=figure.html.render(),
        map_script=figure.script.render(), map_var=view.folium_map.get_name(),
        search_index=view.search_index, layer_vars=view.layer_vars, matched=view.matched,
        counts=view.counts,
        download_url=_link("/export/all.gpkg", **filter_items),
        stats_url=_link("/stats", **filter_items, lang=lang if lang == "en" else ""),
        other_lang_url=_link("/", **filter_items, metric=metric if metric != "places" else "",
                             lang="" if lang == "en" else "en"),
    )
    return html.encode("utf-8")


@bp.get("/")
def index():
    flt = current_filter()
    lang = current_lang()
    metric = request.args.get("metric", "places")
    if metric not in METRICS:
        raise FilterError("metric", metric, METRICS)
    body = cached_body(("map", flt.key(), lang, metric),
                       lambda: (render_page(flt, lang, metric), "text/html; charset=utf-8"))
    return send_body(body)
