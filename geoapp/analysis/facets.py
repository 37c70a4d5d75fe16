"""Counts beside the filter's options (Datasette-style facets): for each parameter, how many
places each of its values would give with the *other* parameters as they are.

The places counted are those /stats counts per city (analysis.distribution.city_counts):
every counted place that has a city of its own (the belt corridor, which has none, is in the
belt figures instead). So "大连 (12)" next to the city option is the number /stats shows in
大连's row for the same filter.
"""
from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geoapp.analysis.distribution import industry_flags
from geoapp.filters import PARAMS, Filter


def facet_counts(every: gpd.GeoDataFrame, cities: gpd.GeoDataFrame, flt: Filter,
                 industries, groups: pd.DataFrame | None = None) -> dict[str, dict[str, int]]:
    """{param: {value: places}} for industry (codes of `industries`, the plan's vocabulary),
    city, level and kind. `groups`: counted places summarised as groups (analysis.view; an
    imported layer in PostGIS), each counting its `n` places."""
    counted = (every["city_adcode"].fillna("") != "").to_numpy(dtype=bool)
    # rows matching each parameter alone (all rows where the filter leaves it open); a row
    # without a city is never counted, so the city test on such rows does not matter
    alone = {p: Filter(**{p: getattr(flt, p)}).mask(every, None) for p in PARAMS}
    out: dict[str, dict[str, int]] = {}
    for param in PARAMS:
        keep = counted.copy()
        for other in PARAMS:
            if other != param:
                keep &= alone[other]
        if param == "industry":  # a place counts once per industry it names
            flags = industry_flags(every["industries"][keep], industries)
            out[param] = {code: int(n) for code, n in flags.sum().items() if n}
            continue
        column = every[{"city": "city_adcode", "level": "level", "kind": "kind"}[param]].to_numpy(dtype=object)
        out[param] = {str(k): int(v) for k, v in pd.Series(column[keep]).value_counts().items()}
    if groups is not None and len(groups):
        for param, counts in group_facet_counts(groups, flt, industries).items():
            for value, n in counts.items():
                out[param][value] = out[param].get(value, 0) + n
    return out


def group_facet_counts(groups: pd.DataFrame, flt: Filter, industries) -> dict[str, dict[str, int]]:
    """`facet_counts` of places summarised as groups (columns of analysis.view's groups)."""
    counted = (groups["city_adcode"] != "").to_numpy(dtype=bool)
    n = groups["n"].to_numpy(dtype="int64")
    alone = {p: Filter(**{p: getattr(flt, p)}).mask(groups, None) for p in PARAMS}
    out: dict[str, dict[str, int]] = {}
    for param in PARAMS:
        keep = counted.copy()
        for other in PARAMS:
            if other != param:
                keep &= alone[other]
        if param == "industry":
            flags = industry_flags(groups["industries"][keep], industries)
            out[param] = {code: int(n[keep][flags[code].to_numpy(dtype=bool)].sum()) for code in flags.columns}
            out[param] = {code: v for code, v in out[param].items() if v}
            continue
        column = {"city": "city_adcode", "level": "level", "kind": "kind"}[param]
        sums = pd.Series(n[keep]).groupby(groups[column].to_numpy(dtype=object)[keep]).sum()
        out[param] = {str(k): int(v) for k, v in sums.items() if v}
    return out
