"""Counts beside the filter's options (Datasette-style facets): for each parameter, how many
places each of its values would give with the *other* parameters as they are.

The places counted are those /stats counts per city (analysis.distribution.city_counts):
every counted place that has a city of its own (the belt corridor, which has none, is in the
belt figures instead). So "大连 (12)" next to the city option is the number /stats shows in
大连's row for the same filter.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np

from geoapp import vocab
from geoapp.filters import PARAMS, Filter


def facet_counts(every: gpd.GeoDataFrame, cities: gpd.GeoDataFrame, flt: Filter) -> dict[str, dict[str, int]]:
    """{param: {value: places}} for industry, city, level and kind."""
    places = every[every["city_adcode"].fillna("") != ""]
    # rows matching each parameter alone (all rows where the filter leaves it open)
    alone = {p: places.index.isin(Filter(**{p: getattr(flt, p)}).apply(places, cities).index)
             for p in PARAMS}
    out: dict[str, dict[str, int]] = {}
    for param in PARAMS:
        keep = np.ones(len(places), dtype=bool)
        for other in PARAMS:
            if other != param:
                keep &= alone[other]
        rows = places[keep]
        if param == "industry":
            values = rows["industries"].map(vocab.split_codes).explode().dropna()
        else:
            values = rows[{"city": "city_adcode", "level": "level", "kind": "kind"}[param]]
        out[param] = {str(k): int(v) for k, v in values.value_counts().items()}
    return out
