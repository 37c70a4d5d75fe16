"""Layer specs + GeoDataFrames -> the GeoJSON the browser draws (one FeatureCollection per layer).

Data text only ever leaves here inside JSON (never as template source, never as script): the
map page is a frame and its script (static/atlas/layers.js) fetches these collections from /map/layers/<id>.geojson.

Each feature carries what the browser needs to draw it and nothing it must interpret:
    id        the row's id (search and table select by it)
    tip       tooltip text, plain (the browser sets it as text, not HTML)
    popup     popup HTML, every value escaped in geoapp/layers/popup.py (omitted when lazy)
    style     Leaflet path options, camelCase, resolved from the spec and the row
"""
from __future__ import annotations

from dataclasses import dataclass

import branca.colormap as cm
import geopandas as gpd
import numpy as np
import shapely

from geoapp.layers.popup import Names, display_name, popup_html
from geoapp.specs import LayerSpec

# Display coordinates rounded to 1e-4° (~10 m), far below the boundaries' own generalisation;
# shared vertices round identically, so neighbouring polygons stay gap-free.
DISPLAY_GRID = 1e-4
POINT_DECIMALS = 5  # ~1 m: display only; exports keep the stored coordinates
# How a point's style says how well its location is known (the legend explains it).
PRECISION_STYLE = {
    "city": {"fill_opacity": 0.15, "dash_array": "3 3"},
}
PATH_KEYS = {"color", "weight", "fill_color", "fill_opacity", "dash_array", "radius", "opacity", "shape"}
# Marker shapes (layers/*.yaml `shape`): each point category has its own colour *and* shape, so
# the map reads in greyscale and for colour-blind readers; static/atlas/markers.js draws them as SVG icons.
SHAPES = ("circle", "square", "diamond", "triangle", "star", "ring")


def _star(points: int = 5, inner: float = 0.45) -> list[tuple[float, float]]:
    import math
    return [((1 if i % 2 == 0 else inner) * math.sin(i * math.pi / points),
             -(1 if i % 2 == 0 else inner) * math.cos(i * math.pi / points)) for i in range(2 * points)]


# Outline of each polygonal shape in unit coordinates (centre 0,0, radius 1, y down); the
# legend (server) and the markers (static/atlas/markers.js, from the page config) draw the same outlines.
SHAPE_POINTS = {
    "square": [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)],
    "diamond": [(0, -1.1), (1.1, 0), (0, 1.1), (-1.1, 0)],
    "triangle": [(0, -1.1), (1.05, 0.8), (-1.05, 0.8)],
    "star": [(round(x * 1.15, 3), round(y * 1.15, 3)) for x, y in _star()],
}


def shape_svg_points(shape: str, cx: float, cy: float, r: float) -> str:
    return " ".join(f"{cx + x * r:.2f},{cy + y * r:.2f}" for x, y in SHAPE_POINTS[shape])


def leaflet_options(style: dict) -> dict:
    """Spec style keys (snake_case) -> Leaflet path options (snake_case; see camel())."""
    options = {k: v for k, v in style.items() if k in PATH_KEYS}
    if "fill_color" in options or options.get("fill_opacity", 0) > 0:
        options["fill"] = True
    return options


def camel(style: dict) -> dict:
    out = {}
    for key, value in style.items():
        head, *rest = key.split("_")
        out[head + "".join(p.title() for p in rest)] = value
    return out


def point_style(spec: LayerSpec, record: dict) -> dict:
    style = {**spec.style_for(record), **PRECISION_STYLE.get(record.get("location_precision"), {})}
    return leaflet_options(style)


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


def color_scale(values: list[int]) -> StepScale:
    top = max(values) if values else 0
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


@dataclass
class Choropleth:
    """Per-city values of one metric (computed by analysis, handed in) and their colour scale."""
    values: dict[str, int]
    label: str

    def __post_init__(self):
        self.scale = color_scale(list(self.values.values()))

    def legend(self) -> list[dict]:
        """The classes some city is in (a class no city falls in is not drawn, so not explained)."""
        values = list(self.values.values())
        return [{"label": f"{self.label}: {lo:g}" + (f"–{hi - 1:g}" if hi - 1 > lo else ""),
                 "style": {"fill": True, "fill_color": color, "color": "#999",
                           "fill_opacity": 0.8, "weight": 1}}
                for lo, hi, color in self.scale.classes() if any(lo <= v < hi for v in values)]


def polygon_collection(spec: LayerSpec, frame: gpd.GeoDataFrame, lang: str, names: Names,
                       choropleth: Choropleth | None = None) -> dict:
    geometries = shapely.set_precision(frame.geometry.values, DISPLAY_GRID)
    records = frame.drop(columns="geometry").to_dict("records")
    features = []
    labels = shapely.point_on_surface(geometries) if spec.geometry == "choropleth" else None
    for i, (record, geom) in enumerate(zip(records, geometries)):
        style = leaflet_options(spec.style_for(record))
        props = {"id": record.get("id") or record.get("adcode"), "tip": display_name(record, lang)}
        if labels is not None:  # where the city's name is written on the map
            props["label"] = record.get("name_en") if lang == "en" else record.get("name_zh")
            props["label_at"] = [round(labels[i].y, 4), round(labels[i].x, 4)]
        if choropleth is not None:
            value = choropleth.values.get(record.get("adcode"), 0)
            style["fill_color"] = choropleth.scale(value)
            props["value"] = value
            props["tip"] += f"\n{choropleth.label}: {value}"
        if spec.popup:
            props["popup"] = popup_html(spec.popup, record, lang, names)
        props["style"] = camel(style)
        features.append({"type": "Feature", "properties": props,
                         "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": features}


def point_collection(spec: LayerSpec, frame: gpd.GeoDataFrame, lang: str, names: Names,
                     with_popups: bool = True, positions: dict | None = None) -> dict:
    """Points as GeoJSON; popups embedded for small layers, fetched when opened for large ones.
    `positions` (id -> lon, lat; geoapp/layers/offsets.py) moves places that share a point apart
    on the map only."""
    xs = frame.geometry.x.to_numpy(dtype=float)
    ys = frame.geometry.y.to_numpy(dtype=float)
    if positions:
        moved = [positions.get(i) for i in frame["id"]]
        xs = np.array([m[0] if m else x for m, x in zip(moved, xs)], dtype=float)
        ys = np.array([m[1] if m else y for m, y in zip(moved, ys)], dtype=float)
    xs, ys = np.round(xs, POINT_DECIMALS), np.round(ys, POINT_DECIMALS)
    features = []
    for record, x, y in zip(frame.drop(columns="geometry").to_dict("records"), xs, ys):
        props = {"id": record["id"], "tip": display_name(record, lang),
                 "style": camel(point_style(spec, record))}
        if with_popups and spec.popup:
            props["popup"] = popup_html(spec.popup, record, lang, names)
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "Point", "coordinates": [float(x), float(y)]}})
    return {"type": "FeatureCollection", "features": features}


def legend_entries(spec: LayerSpec, lang: str) -> list[dict]:
    return [{"label": label, "style": leaflet_options(style)}
            for label, style in spec.legend_entries(lang)]
