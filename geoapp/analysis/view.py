"""The filtered view of the places: built once per filter, read by every figure of a report.

    every    every counted place of the registry, one row each (a layer whose spec says
             `counted: false`, e.g. the demo-zone core, only repeats rows of other layers)
    places   the rows of `every` that pass the filter (the filter is applied here, once)
    links    (id, city_adcode) for `places`: a place's own city, or every city its area overlaps
             (the belt corridor); with a city filter only the chosen cities

Task status and the belt's axis read `every` (they say what the atlas holds, whatever the
filter); counts read `places` and `links`.

`index` (PlaceIndex) holds the same as arrays over the rows of `every`, for the vectorised
analysis (coverage, targets): row positions by id, which rows are in the view, each view row's
cities as column positions, and the layer/level/kind columns as integer codes.

`groups` are counted places that are not rows of `every`: an imported layer that lives in
PostGIS, summarised as one row per (layer, city_adcode, kind, level, location_precision,
industries) with its number of places `n` (geoapp.postgis.figures). Such a place always has a
city of its own and is never named by a task (ids of imported rows cannot be curated ids), so it
counts through its group alone: `group_in_view` is the filter applied to the groups, and every
figure adds the `n` of the matching groups where it counts rows (distribution, coverage, targets,
facets).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd

from geoapp.analysis.places import place_city_positions
from geoapp.filters import Filter


@dataclass(frozen=True)
class PlaceView:
    every: gpd.GeoDataFrame
    boundaries: Mapping[str, gpd.GeoDataFrame]
    filter: Filter
    places: gpd.GeoDataFrame
    links: pd.DataFrame
    link_positions: np.ndarray | None = None  # per link: its place's row position in `places`
    groups: pd.DataFrame | None = None        # counted places summarised as groups (see above)
    group_in_view: np.ndarray | None = None   # bool per group: passes the filter

    @property
    def has_groups(self) -> bool:
        return self.groups is not None and len(self.groups) > 0

    def group_matching(self, **values: str) -> np.ndarray:
        """bool per group: the column equals the value, for every non-empty value given
        (PlaceIndex.matching for the groups)."""
        if not self.has_groups:
            return np.zeros(0, dtype=bool)
        mask = np.ones(len(self.groups), dtype=bool)
        for column, value in values.items():
            if value:
                mask &= (self.groups[column] == value).to_numpy(dtype=bool)
        return mask

    @cached_property
    def group_counts(self) -> np.ndarray:
        """The number of places of each group (int64)."""
        return np.zeros(0, dtype=np.int64) if self.groups is None else self.groups["n"].to_numpy(dtype=np.int64)

    @cached_property
    def group_cols(self) -> np.ndarray:
        """Each group's city as a position in city_codes (-1: no city, or not one of them)."""
        if self.groups is None:
            return np.zeros(0, dtype=np.intp)
        return pd.Index(self.city_codes).get_indexer(self.groups["city_adcode"].to_numpy(dtype=object))

    @cached_property
    def group_linked(self) -> np.ndarray:
        """bool per group: in the view and with a city of its own (linked, as PlaceIndex.linked)."""
        if self.groups is None:
            return np.zeros(0, dtype=bool)
        return self.group_in_view & (self.groups["city_adcode"].to_numpy(dtype=object) != "")

    @property
    def cities(self) -> gpd.GeoDataFrame:
        return self.boundaries["city"]

    @property
    def city_codes(self) -> list[str]:
        return list(self.cities["adcode"])

    @cached_property
    def ids(self) -> frozenset[str]:
        return frozenset(self.places["id"].to_numpy(dtype=object))

    @cached_property
    def index(self) -> PlaceIndex:
        return PlaceIndex.build(self)


@dataclass(frozen=True)
class PlaceIndex:
    """The view as arrays over the rows of `every` (positions 0..n-1):

        position    pd.Index of the ids: id -> row (get_indexer gives -1 for an unknown id)
        in_view     bool per row: passes the filter
        link_rows   row of each link (view.links), and link_cols its city's position in
        link_cols   view.city_codes (-1 for a code that is not one of the cities)
        linked      bool per row: in the view and linked to at least one city
        codes       layer, level, kind and location_precision as (integer codes, uniques)
    """
    position: pd.Index
    in_view: np.ndarray
    link_rows: np.ndarray
    link_cols: np.ndarray
    linked: np.ndarray
    codes: dict[str, tuple[np.ndarray, pd.Index]]

    @classmethod
    def build(cls, view: PlaceView) -> PlaceIndex:
        position = pd.Index(view.every["id"].to_numpy(dtype=object))
        if view.every.index.is_unique:  # the view's rows are rows of `every`: by their labels
            rows = view.every.index.get_indexer(view.places.index)
        else:
            rows = position.get_indexer(view.places["id"].to_numpy(dtype=object))
        in_view = np.zeros(len(position), dtype=bool)
        in_view[rows[rows >= 0]] = True
        if view.link_positions is not None:
            link_rows = rows[view.link_positions]
        else:
            link_rows = position.get_indexer(view.links["id"].to_numpy(dtype=object))
        link_cols = pd.Index(view.city_codes).get_indexer(view.links["city_adcode"].to_numpy(dtype=object))
        linked = np.zeros(len(position), dtype=bool)
        linked[link_rows[link_rows >= 0]] = True
        codes = {}
        for column in ("layer", "level", "kind", "location_precision"):
            if column in view.every:
                values, uniques = pd.factorize(view.every[column].to_numpy(dtype=object))
                codes[column] = (values, pd.Index(uniques))
        return cls(position, in_view, link_rows, link_cols, linked & in_view, codes)

    def matching(self, **values: str) -> np.ndarray:
        """bool per row of `every`: the column equals the value, for every non-empty value given
        (LayerFilter.select as a mask)."""
        mask = np.ones(len(self.position), dtype=bool)
        for column, value in values.items():
            if not value:
                continue
            if column not in self.codes:
                return np.zeros(len(self.position), dtype=bool)
            codes, uniques = self.codes[column]
            found = uniques.get_indexer([value])[0] if len(uniques) else -1
            if found < 0:
                return np.zeros(len(self.position), dtype=bool)
            mask &= codes == found
        return mask

    def matching_any(self, column: str, values) -> np.ndarray:
        """bool per row of `every`: the column is one of `values`."""
        if column not in self.codes:
            return np.zeros(len(self.position), dtype=bool)
        codes, uniques = self.codes[column]
        wanted = uniques.get_indexer(list(values)) if len(uniques) else np.array([], dtype=np.intp)
        hit = np.zeros(len(uniques) + 1, dtype=bool)  # the last entry: missing values (-1)
        hit[wanted[wanted >= 0]] = True
        return hit[codes]

    def city_counts(self, rows: np.ndarray, n_cities: int) -> np.ndarray:
        """Per city (view.city_codes order): how many of `rows` (distinct rows of `every`) are
        linked to it; a place in several cities counts in each."""
        chosen = np.zeros(len(self.position), dtype=bool)
        chosen[rows] = True
        picked = chosen[np.maximum(self.link_rows, 0)] & (self.link_rows >= 0) & (self.link_cols >= 0)
        return np.bincount(self.link_cols[picked], minlength=n_cities)[:n_cities]


def place_view(every: gpd.GeoDataFrame, boundaries: Mapping[str, gpd.GeoDataFrame],
               filter: Filter = Filter(), groups: pd.DataFrame | None = None) -> PlaceView:
    """Apply the filter to the counted places once and link the survivors to their cities;
    `groups`: counted places summarised as groups (see the module's docstring), filtered too."""
    cities = boundaries["city"]
    places = filter.apply(every, cities)
    positions, codes = place_city_positions(places, cities)
    if filter.city:  # a place spanning several cities counts only in the chosen ones
        chosen = np.isin(codes, list(filter.city))
        positions, codes = positions[chosen], codes[chosen]
    links = pd.DataFrame({"id": pd.array(places["id"].to_numpy(dtype=object)[positions], dtype=places["id"].dtype),
                          "city_adcode": pd.array(codes, dtype=places["city_adcode"].dtype)})
    # a group's places have a city of their own: no geometry is needed to filter them
    in_view = None if groups is None else filter.mask(groups, None)
    return PlaceView(every, boundaries, filter, places, links, positions, groups, in_view)
