"""Layer specs + GeoDataFrames -> a folium map, plus what the page around it needs
(legend, search index, counts). No Flask here: the web layer passes plain arguments."""
from __future__ import annotations

from dataclasses import dataclass, field

import branca.colormap as cm
import folium
import folium.plugins
import geopandas as gpd
import shapely

from branca.element import MacroElement
from folium.template import Template

from geoapp.analysis.distribution import METRIC_LABELS, per_city
from geoapp.data import Registry
from geoapp.filters import Filter
from geoapp.layers.popup import Names, popup_html, tooltip_text
from geoapp.layers.spec import LayerSpec

LIAONING_CENTRE = (41.2, 122.6)
LIAONING_BOUNDS = [[38.7, 118.8], [43.5, 125.8]]
# Display coordinates rounded to 1e-4° (~10 m), far below the boundaries' own generalisation;
# shared vertices round identically, so neighbouring polygons stay gap-free.
DISPLAY_GRID = 1e-4
# How a point's style says how well its location is known (legend explains it).
PRECISION_STYLE = {
    "city": {"fill_opacity": 0.15, "dash_array": "3 3"},
    "district": {},
    "source_coordinate": {},
}
# Choropleth metrics: columns of analysis.distribution.per_city, the same numbers /stats shows.
CHOROPLETH_METRICS = ("places", "htz_total", "htz_national", "clusters_bases", "laboratories",
                      "platforms", "tasks", "industries_present")
METRICS = {m: METRIC_LABELS[m] for m in CHOROPLETH_METRICS}


@dataclass
class MapView:
    folium_map: folium.Map
    legend: list[dict]
    search_index: list[dict]
    counts: dict[str, int]
    matched: int
    layer_vars: dict[str, str] = field(default_factory=dict)


def configure_assets(static_url: str) -> None:
    """Point folium's class-level asset lists at the vendored copies. Call once at start-up:
    the lists are shared by every map in the process (folium issue: add_js_link is global)."""
    leaflet = f"{static_url}/vendor/leaflet-1.9.4"
    cluster = f"{static_url}/vendor/leaflet.markercluster-1.5.3"
    folium.Map.default_js = [("leaflet", f"{leaflet}/leaflet.js")]
    folium.Map.default_css = [("leaflet_css", f"{leaflet}/leaflet.css"),
                              ("atlas_css", f"{static_url}/atlas.css")]
    folium.plugins.MarkerCluster.default_js = [("markerclusterjs", f"{cluster}/leaflet.markercluster.js")]
    folium.plugins.MarkerCluster.default_css = [
        ("markerclustercss", f"{cluster}/MarkerCluster.css"),
        ("markerclusterdefaultcss", f"{cluster}/MarkerCluster.Default.css")]


class BoundHtml(MacroElement):
    """Binds an HTML popup or tooltip to its parent layer, passed as a JSON string.

    folium.Popup parses its HTML with jQuery's $() (the atlas ships no jQuery), and both folium
    Popup and Tooltip paste text into JS template literals, where `${` would run. A JSON
    string literal is inert; the HTML itself was escaped field by field in geoapp/layers/popup.py.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bind{{ this.kind }}({{ this.html|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, html: str, kind: str = "Popup", **options):
        super().__init__()
        self._name = kind
        self.kind, self.html, self.options = kind, html, options


def leaflet_options(style: dict) -> dict:
    """Spec style keys (snake_case) -> folium path keyword arguments."""
    keys = {"color", "weight", "fill_color", "fill_opacity", "dash_array", "radius", "opacity"}
    options = {k: v for k, v in style.items() if k in keys}
    if "fill_color" in options or options.get("fill_opacity", 0) > 0:
        options["fill"] = True
    return options


def _frame_for(spec: LayerSpec, registry: Registry) -> gpd.GeoDataFrame:
    if spec.data.startswith("boundaries:"):
        return registry.display[spec.data.split(":", 1)[1]]
    return registry.layers[spec.data]


def city_metric(registry: Registry, flt: Filter, metric: str) -> dict[str, int]:
    """Per-city value of a choropleth metric, honouring the filter (analysis.distribution)."""
    table = per_city(registry.layers, registry.boundaries["city"], flt)
    return {code: int(value) for code, value in table[metric].items()}


@dataclass
class StepScale:
    """Discrete colour classes for small counts: [lower, upper) bins, 0 in its own grey class."""
    bins: list[int]
    colors: list[str]

    def __call__(self, value: float) -> str:
        for lower, upper, color in zip(self.bins[:-1], self.bins[1:], self.colors):
            if lower <= value < upper:
                return color
        return self.colors[-1]

    def classes(self) -> list[tuple[int, int, str]]:
        return list(zip(self.bins[:-1], self.bins[1:], self.colors))


def _color_scale(values: list[int]) -> StepScale:
    top = max(values)
    if top == 0:
        return StepScale([0, 1], ["#eef2f3"])
    bins = list(range(0, top + 2)) if top <= 6 else \
        sorted({0, 1, *[round(top * f) for f in (0.25, 0.5, 0.75)], top + 1})
    palette = [_hex(c) for c in cm.linear.YlGnBu_09.colors]  # ColorBrewer YlGnBu, 9 classes
    n = len(bins) - 2
    picks = [palette[1 + round(i * 7 / max(n - 1, 1))] for i in range(n)]
    return StepScale(bins, ["#eef2f3"] + picks)


def _hex(color) -> str:
    if isinstance(color, str):
        return color
    r, g, b = (int(round(v * 255)) for v in color[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _polygon_layer(spec, frame, lang, names, metric_values=None, scale=None, metric_label=""):
    frame = frame.copy()
    frame["geometry"] = shapely.set_precision(frame.geometry.values, DISPLAY_GRID)
    records = frame.drop(columns="geometry").to_dict("records")
    features = []
    for record, geom in zip(records, frame.geometry):
        style = spec.style_for(record)
        props = {"_tooltip": tooltip_text(record, lang)}
        if metric_values is not None:
            value = metric_values.get(record.get("adcode"), 0)
            style["fill_color"] = scale(value)
            props["_tooltip"] += f"<br>{metric_label}: {value}"
        if spec.popup:
            props["_popup"] = popup_html(spec.popup, record, lang, names)
        props["_style"] = leaflet_options(style)
        features.append({"type": "Feature", "properties": props,
                         "geometry": shapely.geometry.mapping(geom)})
    collection = {"type": "FeatureCollection", "features": features}
    return folium.GeoJson(
        collection, name=spec.title_in(lang), show=spec.show, control=spec.control,
        style_function=lambda f: _camel(f["properties"]["_style"]),
        highlight_function=(lambda f: {"weight": 3, "color": "#222"}) if spec.control else None,
        tooltip=folium.GeoJsonTooltip(fields=["_tooltip"], labels=False, sticky=True),
        popup=folium.GeoJsonPopup(fields=["_popup"], labels=False) if spec.popup else None,
        smooth_factor=0.5,
    )


def _camel(style: dict) -> dict:
    out = {}
    for key, value in style.items():
        head, *rest = key.split("_")
        out[head + "".join(p.title() for p in rest)] = value
    return out


def build_map(registry: Registry, specs: list[LayerSpec], flt: Filter, lang: str = "zh",
              tiles: str = "none", tiles_attribution: str = "", metric: str = "places") -> MapView:
    names = Names(registry.boundaries["city"], registry.boundaries["district"])
    cities = registry.boundaries["city"]
    m = folium.Map(location=LIAONING_CENTRE, zoom_start=7, tiles=None, control_scale=True,
                   prefer_canvas=False, minZoom=5, maxZoom=18)
    if tiles == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", control=False).add_to(m)
    elif tiles not in ("", "none"):
        folium.TileLayer(tiles=tiles, attr=tiles_attribution or "Internal tile server",
                         name="basemap", control=False).add_to(m)
    bounds = LIAONING_BOUNDS
    if flt.city:  # a city filter zooms to the chosen cities
        x0, y0, x1, y1 = cities[cities["adcode"].isin(flt.city)].total_bounds
        bounds = [[y0, x0], [y1, x1]]
    m.fit_bounds(bounds, padding_top_left=(300, 10), padding_bottom_right=(260, 10))

    legend, search, counts, layer_vars, matched = [], [], {}, {}, 0
    for spec in specs:
        frame = _frame_for(spec, registry)
        if spec.filterable:
            frame = flt.apply(frame, cities)
        counts[spec.id] = len(frame)
        entries = [{"label": label, "style": leaflet_options(style)}
                   for label, style in spec.legend_entries(lang)]
        if spec.geometry == "choropleth":
            values = city_metric(registry, flt, metric)
            scale = _color_scale(list(values.values()))
            label = METRICS[metric][1 if lang == "en" else 0]
            layer = _polygon_layer(spec, frame, lang, names, values, scale, label)
            entries = [{"label": f"{label}: {lo:g}" + (f"–{hi - 1:g}" if hi - 1 > lo else ""),
                        "style": {"fill": True, "fill_color": color, "color": "#999",
                                  "fill_opacity": 0.8, "weight": 1}}
                       for lo, hi, color in scale.classes()]
        elif spec.geometry == "polygon":
            if frame.empty:
                continue
            layer = _polygon_layer(spec, frame, lang, names)
        else:
            layer = _point_layer(spec, frame, lang, names, search)
            matched += len(frame) if spec.id != "demo_zone_core" else 0
        layer.add_to(m)
        layer_vars[spec.id] = layer.get_name()
        legend.append({"id": spec.id, "title": spec.title_in(lang), "layer_var": layer.get_name(),
                       "show": spec.show, "entries": entries})
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return MapView(m, legend, search, counts, matched, layer_vars)


# The plan and everyday usage shorten zone names: 大连高新技术产业园区 -> 大连高新区.
SHORT_FORMS = (("高新技术产业开发区", "高新区"), ("高新技术产业园区", "高新区"),
               ("国家级", ""), ("中国科学院", "中科院"))


def short_names(name_zh: str) -> list[str]:
    """Other spellings people search for (the search box also matches these)."""
    names = set()
    for long, short in SHORT_FORMS:
        if long in name_zh:
            names.add(name_zh.replace(long, short))
    return sorted(names)


def _point_layer(spec, frame, lang, names, search):
    group = folium.FeatureGroup(name=spec.title_in(lang), show=spec.show, control=spec.control)
    parent = folium.plugins.MarkerCluster(
        options={"maxClusterRadius": 40, "spiderfyOnMaxZoom": True, "showCoverageOnHover": False},
    ).add_to(group) if spec.cluster else group
    for record, geom in zip(frame.drop(columns="geometry").to_dict("records"), frame.geometry):
        style = {**spec.style_for(record), **PRECISION_STYLE.get(record.get("location_precision"), {})}
        marker = folium.CircleMarker(
            location=[geom.y, geom.x],
            className=f"atlas-marker atlas-{spec.id}",
            **leaflet_options(style),
        ).add_to(parent)
        marker.add_child(BoundHtml(popup_html(spec.popup, record, lang, names), "Popup", maxWidth=440))
        marker.add_child(BoundHtml(tooltip_text(record, lang), "Tooltip", sticky=True))
        if spec.searchable:
            search.append({"id": record["id"], "zh": record["name_zh"], "en": record["name_en"],
                           "aliases": short_names(record["name_zh"]),
                           "layer": spec.title_in(lang), "marker": marker.get_name(),
                           "cluster": parent.get_name() if spec.cluster else None,
                           "group": group.get_name()})
    return group
