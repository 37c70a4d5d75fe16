"""The places the analysis counts, taken from the registry's layers once.

`mapped_places` joins the place layers into one frame with a `layer` column and leaves out rows
that only repeat another layer's place (a layer with a `member_id` column, e.g. demo_zone_core,
lists members of other layers): a place is counted once.

Rows without a city (the belt corridor) belong to every city their geometry overlaps.
"""
from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geoapp import vocab
from geoapp.geo import project

# Groups the distribution and the belt report on, by `kind`.
HTZ_KINDS = ("high_tech_zone",)
CLUSTER_BASE_KINDS = ("cluster", "industrial_base", "industrial_park", "software_cluster",
                      "service_cluster", "coastal_park", "innovation_area")
LAB_KINDS = ("laboratory",)
PLATFORM_KINDS = ("platform",)
DESIGNATION_KINDS = ("pilot_zone", "health_intervention", "corridor")

GROUPS = {
    "high_tech_zones": HTZ_KINDS,
    "clusters_bases": CLUSTER_BASE_KINDS,
    "laboratories": LAB_KINDS,
    "platforms": PLATFORM_KINDS,
}


def mapped_places(layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    frames = [frame.assign(layer=layer_id) for layer_id, frame in layers.items()
              if "id" in frame.columns and "member_id" not in frame.columns]
    if not frames:
        return gpd.GeoDataFrame({"id": [], "layer": []}, geometry=[], crs=4326)
    places = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
    for column in ("id", "kind", "level", "city_adcode", "district_adcode", "industries",
                   "location_precision"):
        if column not in places:
            places[column] = ""
        places[column] = places[column].fillna("").astype(str)
    return places


def place_cities(places: gpd.GeoDataFrame, cities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Long table (id, city_adcode): a place's own city, or every city its area overlaps."""
    rows = [(pid, code) for pid, code in zip(places["id"], places["city_adcode"]) if code]
    cityless = places[places["city_adcode"] == ""]
    if len(cityless):
        shapes = project(cityless)
        city_shapes = project(cities)
        for pid, geom in zip(shapes["id"], shapes.geometry):
            overlap = city_shapes.geometry.intersection(geom).area
            rows += [(pid, code) for code, area in zip(city_shapes["adcode"], overlap) if area > 0]
    return pd.DataFrame(rows, columns=["id", "city_adcode"])


industry_codes = vocab.split_codes
