"""The places the analysis counts, taken from the registry's layers once.

`counted_places` joins the place layers into one frame with a `layer` column and leaves out the
layers that only repeat other layers' places (`counted: false` in their layer spec, e.g. the
demo-zone core lists members of other layers): a place is counted once.

Rows without a city (the belt corridor) belong to every city their geometry overlaps.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import pandas as pd

from geoapp import vocab
from geoapp.data.registry import join_places
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


def uncounted_layers(layers: Mapping[str, gpd.GeoDataFrame]) -> set[str]:
    """Layers the registry marked `counted: false` (frame.attrs, set from the layer specs)."""
    return {layer_id for layer_id, frame in layers.items() if frame.attrs.get("counted") is False}


def counted_places(layers: Mapping[str, gpd.GeoDataFrame],
                   uncounted: Iterable[str] | None = None) -> gpd.GeoDataFrame:
    """Every place of the layers once, with a `layer` column. `uncounted`: layer ids left out
    (default: the layers marked `counted: false`). Registry.counted_places() is the same frame
    for the registry's layers, built once."""
    return join_places(layers, uncounted_layers(layers) if uncounted is None else uncounted)


def place_cities(places: gpd.GeoDataFrame, cities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Long table (id, city_adcode): a place's own city, or every city its area overlaps."""
    coded = places["city_adcode"].astype(bool)  # truthy codes, as `if code` would
    own = pd.DataFrame({"id": places.loc[coded, "id"].values,
                        "city_adcode": places.loc[coded, "city_adcode"].values})
    rows = []
    cityless = places[places["city_adcode"] == ""]
    if len(cityless):
        shapes = project(cityless)
        city_shapes = project(cities)
        for pid, geom in zip(shapes["id"], shapes.geometry):
            overlap = city_shapes.geometry.intersection(geom).area
            rows += [(pid, code) for code, area in zip(city_shapes["adcode"], overlap) if area > 0]
    if not rows:
        return own.reset_index(drop=True)
    return pd.concat([own, pd.DataFrame(rows, columns=["id", "city_adcode"])], ignore_index=True)


industry_codes = vocab.split_codes
