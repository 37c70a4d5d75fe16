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

from geoapp.analysis.distribution import industry_flags
from geoapp.filters import PARAMS, Filter


def facet_counts(every: gpd.GeoDataFrame, cities: gpd.GeoDataFrame, flt: Filter) -> dict[str, dict[str, int]]:
    """{param: {value: places}} for industry, city, level and kind."""
    places = every[(every["city_adcode"].fillna("") != "").to_numpy(dtype=bool)]
    # rows matching each parameter alone (all rows where the filter leaves it open)
    alone = {p: Filter(**{p: getattr(flt, p)}).mask(places, cities) for p in PARAMS}
    out: dict[str, dict[str, int]] = {}
    for param in PARAMS:
        keep = np.ones(len(places), dtype=bool)
        for other in PARAMS:
            if other != param:
                keep &= alone[other]
        if param == "industry":  # a place counts once per industry it names
            flags = industry_flags(places["industries"][keep])
            out[param] = {code: int(n) for code, n in flags.sum().items() if n}
            continue
        values = places[{"city": "city_adcode", "level": "level", "kind": "kind"}[param]][keep]
        out[param] = {str(k): int(v) for k, v in values.value_counts().items()}
    return out
