"""The places the analysis counts, taken from the registry's layers once.

`counted_places` joins the place layers into one frame with a `layer` column and leaves out the
layers that only repeat other layers' places (`counted: false` in their layer spec, e.g. the
demo-zone core lists members of other layers): a place is counted once.

Rows without a city (the belt corridor) belong to every city their geometry overlaps.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from geoapp import vocab
from geoapp.data.registry import join_places
from geoapp.geo import project

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
    positions, codes = place_city_positions(places, cities)
    ids = places["id"].to_numpy(dtype=object)[positions]
    return pd.DataFrame({"id": pd.array(ids, dtype=places["id"].dtype),
                         "city_adcode": pd.array(codes, dtype=places["city_adcode"].dtype)})


def place_city_positions(places: gpd.GeoDataFrame, cities: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """`place_cities` as (row position in `places`, city adcode) arrays, in the same order:
    the rows with a city of their own first, then each city-less row's overlapped cities."""
    coded = places["city_adcode"].astype(bool).to_numpy(dtype=bool)  # truthy codes, as `if code` would
    own = np.flatnonzero(coded)
    positions, codes = [own], [places["city_adcode"].to_numpy(dtype=object)[own]]
    cityless = np.flatnonzero((places["city_adcode"] == "").to_numpy(dtype=bool))
    if len(cityless):
        shapes = project(places.iloc[cityless])
        city_shapes = project(cities)
        for position, geom in zip(cityless, shapes.geometry):
            overlap = city_shapes.geometry.intersection(geom).area.to_numpy()
            hit = overlap > 0
            positions.append(np.full(int(hit.sum()), position, dtype=np.intp))
            codes.append(city_shapes["adcode"].to_numpy(dtype=object)[hit])
    return np.concatenate(positions).astype(np.intp), np.concatenate(codes).astype(object)


industry_codes = vocab.split_codes
