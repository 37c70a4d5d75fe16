"""The map page's frame: a folium base map (tiles, scale) plus the layer list the browser loads.

The page never contains data: folium gets only constants and the operator's tile settings, and
each layer is a URL the browser fetches (geoapp/layers/features.py builds those bodies). So the
page does not grow with the data, and no data text ever reaches branca, which compiles folium's
rendered script a second time as a Jinja template (data text there would run on the server).

Basemaps (ATLAS_TILES) and their datums:
    none       no tiles: the province and city outlines are the basemap
    osm        OpenStreetMap, WGS84
    tianditu   天地图 vector map + Chinese label layer, CGCS2000 (within ~1 m of WGS84 at map
               scales: drawn unshifted); needs ATLAS_TIANDITU_KEY (a browser key from tianditu.gov.cn)
    amap       高德 (AMap) road map, GCJ-02: what is *drawn* is shifted WGS84 -> GCJ-02 with
               prcoords (display_shift below); stored and exported coordinates are never shifted
    <url>      an internal tile server ({z}/{x}/{y}); ATLAS_TILES_DATUM says its datum (wgs84 | gcj02)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import folium
import numpy as np
import prcoords
import shapely

from geoapp.layers.features import Choropleth, legend_entries
from geoapp.specs import LayerSpec

LIAONING_CENTRE = (41.2, 122.6)
LIAONING_BOUNDS = [[38.7, 118.8], [43.5, 125.8]]
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#|%\}|\}\}")
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
TIANDITU_URL = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}")
TIANDITU_ATTRIBUTION = '&copy; <a href="https://www.tianditu.gov.cn/">天地图</a>'
AMAP_URL = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
AMAP_ATTRIBUTION = '&copy; <a href="https://www.amap.com/">高德地图</a>'
DATUMS = ("wgs84", "gcj02")
TIANDITU_KEY = re.compile(r"^[0-9A-Za-z]{16,64}$")


class MapConfigError(ValueError):
    pass


@dataclass
class Basemap:
    name: str                      # none | osm | tianditu | amap | custom
    datum: str = "wgs84"           # what the tiles are drawn in; gcj02 shifts what the atlas draws
    layers: list = field(default_factory=list)   # (url template, attribution, subdomains)
    hosts: list = field(default_factory=list)    # for the page's img-src

    def info(self, tile_vars: list[str]) -> dict:
        return {"name": self.name, "datum": self.datum, "tileLayers": tile_vars}


@dataclass
class MapFrame:
    html: str        # the map <div>
    script: str      # folium's script creating the Leaflet map and its base layer
    map_var: str     # the JS variable holding the L.map
    basemap: dict = field(default_factory=dict)   # name, datum, JS variables of the tile layers
    datum: str = "wgs84"
    hosts: list = field(default_factory=list)


def _host(url: str) -> str:
    return "/".join(url.split("/")[:3]).replace("{s}", "*")


def basemap_settings(tiles: str, attribution: str = "", datum: str = "wgs84",
                     tianditu_key: str = "") -> Basemap:
    if tiles in ("", "none"):
        return Basemap("none")
    if tiles == "osm":
        return Basemap("osm", "wgs84", [(OSM_URL, OSM_ATTRIBUTION, "abc")], [_host(OSM_URL)])
    if tiles == "tianditu":
        if not TIANDITU_KEY.match(tianditu_key or ""):
            raise MapConfigError("ATLAS_TILES=tianditu needs ATLAS_TIANDITU_KEY (the letters and digits "
                                 "of a browser key from https://console.tianditu.gov.cn/); "
                                 f"got {tianditu_key!r}")
        layers = [(TIANDITU_URL.replace("{layer}", name).replace("{key}", tianditu_key),
                   TIANDITU_ATTRIBUTION, "01234567") for name in ("vec", "cva")]
        return Basemap("tianditu", "wgs84", layers, ["https://*.tianditu.gov.cn"])
    if tiles == "amap":
        return Basemap("amap", "gcj02", [(AMAP_URL, AMAP_ATTRIBUTION, "1234")], ["https://*.is.autonavi.com"])
    for name, value in (("ATLAS_TILES", tiles), ("ATLAS_TILES_ATTRIBUTION", attribution)):
        if TEMPLATE_SYNTAX.search(value):
            raise MapConfigError(f"{name} must not contain template syntax ({{{{ }}}}, {{% %}}): {value!r}")
    if not tiles.startswith(("http://", "https://", "/")) or "{z}" not in tiles:
        raise MapConfigError(f"ATLAS_TILES must be none, osm, tianditu, amap or an http(s) URL template "
                             f"with {{z}}/{{x}}/{{y}}; got {tiles!r}")
    if datum not in DATUMS:
        raise MapConfigError(f"ATLAS_TILES_DATUM must be one of {', '.join(DATUMS)}; got {datum!r}")
    host = [] if tiles.startswith("/") else [_host(tiles)]
    return Basemap("custom", datum, [(tiles, attribution or "Internal tile server", "abc")], host)


def tile_settings(tiles: str, attribution: str = "") -> tuple[str, str] | None:
    """(url template, attribution) of the first basemap layer, or None for none."""
    layers = basemap_settings(tiles, attribution, tianditu_key="x" * 32 if tiles == "tianditu" else "").layers
    return (layers[0][0], layers[0][1]) if layers else None


def build_frame(tiles: str = "none", attribution: str = "", datum: str = "wgs84",
                tianditu_key: str = "") -> MapFrame:
    basemap = basemap_settings(tiles, attribution, datum, tianditu_key)
    m = folium.Map(location=LIAONING_CENTRE, zoom_start=7, tiles=None, control_scale=True,
                   minZoom=5, maxZoom=18, zoom_control=True)
    tile_vars = []
    for i, (url, attr, subdomains) in enumerate(basemap.layers):
        layer = folium.TileLayer(tiles=url, attr=attr, name=f"basemap{i}", control=False,
                                 max_zoom=18, subdomains=subdomains)
        layer.add_to(m)
        tile_vars.append(layer.get_name())
    figure = m.get_root()
    figure.render()
    return MapFrame(figure.html.render(), figure.script.render(), m.get_name(),
                    basemap.info(tile_vars), basemap.datum, basemap.hosts)


# --- what is drawn on a GCJ-02 basemap --------------------------------------------------------

def _to_gcj02(xy: np.ndarray) -> np.ndarray:
    out = np.empty_like(xy)
    for i, (lon, lat) in enumerate(xy):
        shifted = prcoords.wgs_gcj(prcoords.Coords(lat, lon), False)
        out[i] = (shifted.lon, shifted.lat)
    return out


def display_shift(datum: str):
    """A function (lon array, lat array) -> (lon, lat) into the basemap's datum, or None."""
    if datum != "gcj02":
        return None

    def shift(lon, lat):
        xy = _to_gcj02(np.column_stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)]))
        return xy[:, 0], xy[:, 1]
    return shift


def shift_geometries(geometries, datum: str):
    """Geometries as drawn on the basemap (a copy; the stored ones are left alone)."""
    if datum != "gcj02":
        return geometries
    return shapely.transform(geometries, _to_gcj02)


def layer_entry(spec: LayerSpec, lang: str, url: str, count: int,
                choropleth: Choropleth | None = None, mode: str = "geojson") -> dict:
    """What the browser needs to load, draw and explain one layer."""
    return {
        "id": spec.id, "title": spec.title_in(lang), "geometry": spec.geometry,
        "show": spec.show, "control": spec.control, "cluster": spec.cluster,
        "searchable": spec.searchable, "url": url, "count": count, "mode": mode,
        "legend": choropleth.legend() if choropleth is not None else legend_entries(spec, lang),
    }
