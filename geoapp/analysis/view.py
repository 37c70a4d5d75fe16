"""The filtered view of the places: built once per filter, read by every figure of a report.

    every    every counted place of the registry, one row each (a layer whose spec says
             `counted: false`, e.g. the demo-zone core, only repeats rows of other layers)
    places   the rows of `every` that pass the filter (the filter is applied here, once)
    links    (id, city_adcode) for `places`: a place's own city, or every city its area overlaps
             (the belt corridor); with a city filter only the chosen cities

Task status and the belt's axis read `every` (they say what the atlas holds, whatever the
filter); counts read `places` and `links`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import pandas as pd

from geoapp.analysis.places import place_cities
from geoapp.filters import Filter


@dataclass(frozen=True)
class PlaceView:
    every: gpd.GeoDataFrame
    boundaries: Mapping[str, gpd.GeoDataFrame]
    filter: Filter
    places: gpd.GeoDataFrame
    links: pd.DataFrame

    @property
    def cities(self) -> gpd.GeoDataFrame:
        return self.boundaries["city"]

    @property
    def city_codes(self) -> list[str]:
        return list(self.cities["adcode"])

    @cached_property
    def ids(self) -> frozenset[str]:
        return frozenset(self.places["id"])


def place_view(every: gpd.GeoDataFrame, boundaries: Mapping[str, gpd.GeoDataFrame],
               filter: Filter = Filter()) -> PlaceView:
    """Apply the filter to the counted places once and link the survivors to their cities."""
    cities = boundaries["city"]
    places = filter.apply(every, cities)
    links = place_cities(places, cities)
    if filter.city:  # a place spanning several cities counts only in the chosen ones
        links = links[links["city_adcode"].isin(filter.city)]
    return PlaceView(every, boundaries, filter, places, links.reset_index(drop=True))
