"""The map page's frame: a folium base map (tiles, scale) plus the layer list the browser loads.

The page never contains data: folium gets only constants and the operator's tile settings, and
each layer is a URL the browser fetches (geoapp/layers/features.py builds those bodies). So the
page does not grow with the data, and no data text ever reaches branca, which compiles folium's
rendered script a second time as a Jinja template (data text there would run on the server).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import folium

from geoapp.layers.features import Choropleth, legend_entries
from geoapp.layers.spec import LayerSpec

LIAONING_CENTRE = (41.2, 122.6)
LIAONING_BOUNDS = [[38.7, 118.8], [43.5, 125.8]]
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#|%\}|\}\}")
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


class MapConfigError(ValueError):
    pass


@dataclass
class MapFrame:
    html: str        # the map <div>
    script: str      # folium's script creating the Leaflet map and its base layer
    map_var: str     # the JS variable holding the L.map


def tile_settings(tiles: str, attribution: str = "") -> tuple[str, str] | None:
    """(url template, attribution) of the basemap, or None for none (province outline only)."""
    if tiles in ("", "none"):
        return None
    if tiles == "osm":
        return OSM_URL, OSM_ATTRIBUTION
    for name, value in (("ATLAS_TILES", tiles), ("ATLAS_TILES_ATTRIBUTION", attribution)):
        if TEMPLATE_SYNTAX.search(value):
            raise MapConfigError(f"{name} must not contain template syntax ({{{{ }}}}, {{% %}}): {value!r}")
    if not tiles.startswith(("http://", "https://", "/")) or "{z}" not in tiles:
        raise MapConfigError(f"ATLAS_TILES must be none, osm or an http(s) URL template with "
                             f"{{z}}/{{x}}/{{y}}; got {tiles!r}")
    return tiles, attribution or "Internal tile server"


def build_frame(tiles: str = "none", attribution: str = "") -> MapFrame:
    m = folium.Map(location=LIAONING_CENTRE, zoom_start=7, tiles=None, control_scale=True,
                   minZoom=5, maxZoom=18, zoom_control=True)
    basemap = tile_settings(tiles, attribution)
    if basemap:
        folium.TileLayer(tiles=basemap[0], attr=basemap[1], name="basemap", control=False,
                         max_zoom=18).add_to(m)
    figure = m.get_root()
    figure.render()
    return MapFrame(figure.html.render(), figure.script.render(), m.get_name())


def layer_entry(spec: LayerSpec, lang: str, url: str, count: int,
                choropleth: Choropleth | None = None, mode: str = "geojson") -> dict:
    """What the browser needs to load, draw and explain one layer."""
    return {
        "id": spec.id, "title": spec.title_in(lang), "geometry": spec.geometry,
        "show": spec.show, "control": spec.control, "cluster": spec.cluster,
        "searchable": spec.searchable, "url": url, "count": count, "mode": mode,
        "legend": choropleth.legend() if choropleth is not None else legend_entries(spec, lang),
    }
