"""The filter: parsed once from a query string, used alike by the map, the stats and the exports.

    industry=biomedicine,new_materials   city=210500 | 本溪 | 本溪市 | Benxi   level=national   kind=...

Several values per parameter (separated by , ， or 、, or repeated) are OR-ed; parameters are
AND-ed. Codes and English city names are case-insensitive.
An unknown value raises FilterError, whose message lists what is allowed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoapp import vocab

PARAMS = ("industry", "city", "level", "kind")


class FilterError(ValueError):
    def __init__(self, param: str, value: str, allowed: Iterable[str]):
        self.param, self.value, self.allowed = param, value, list(allowed)
        super().__init__(f"unknown {param} '{value}'; allowed: {', '.join(self.allowed)}")


@dataclass(frozen=True)
class Filter:
    industry: frozenset[str] = field(default_factory=frozenset)
    city: frozenset[str] = field(default_factory=frozenset)  # city adcodes
    level: frozenset[str] = field(default_factory=frozenset)
    kind: frozenset[str] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not (self.industry or self.city or self.level or self.kind)

    def key(self) -> str:
        """Canonical, order-independent form: a cache key and a shareable query string."""
        return "&".join(f"{p}={','.join(sorted(getattr(self, p)))}" for p in PARAMS if getattr(self, p))

    def query_items(self) -> dict[str, str]:
        return {p: ",".join(sorted(getattr(self, p))) for p in PARAMS if getattr(self, p)}

    def apply(self, frame: gpd.GeoDataFrame, cities: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
        """Rows of a place layer that match. Rows without a city (e.g. the belt corridor) match a
        city filter when their geometry intersects one of the chosen cities (needs `cities`)."""
        if self.empty:
            return frame[np.ones(len(frame), dtype=bool)]
        return frame[self.mask(frame, cities)]

    def mask(self, frame: gpd.GeoDataFrame, cities: gpd.GeoDataFrame | None = None) -> np.ndarray:
        """`apply` as a bool array over the rows of `frame`."""
        mask = np.ones(len(frame), dtype=bool)
        if self.industry and "industries" in frame:
            mask &= self.industry_mask(frame["industries"])
        if self.level and "level" in frame:
            mask &= frame["level"].isin(self.level).to_numpy(dtype=bool)
        if self.kind and "kind" in frame:
            mask &= frame["kind"].isin(self.kind).to_numpy(dtype=bool)
        if self.city and "city_adcode" in frame:
            in_city = frame["city_adcode"].isin(self.city).to_numpy(dtype=bool, copy=True)
            no_city = (frame["city_adcode"].fillna("") == "").to_numpy(dtype=bool)
            if cities is not None and no_city.any():  # only the rows without a city are tested
                chosen = cities[cities["adcode"].isin(self.city)].union_all()
                rows = np.flatnonzero(no_city)
                in_city[rows] = shapely.intersects(frame.geometry.values[rows], chosen)
            mask &= in_city
        return mask

    def industry_mask(self, cells: pd.Series) -> np.ndarray:
        """bool per ';'-separated industries cell: does it name one of the filter's industries.
        Each distinct cell is split once (a large layer has few distinct cells)."""
        positions, distinct = pd.factorize(cells.to_numpy(dtype=object), use_na_sentinel=True)
        # one entry per distinct cell, and a last one for empty/NaN cells (position -1)
        hit = np.array([bool(self.industry.intersection(vocab.split_codes(cell))) for cell in distinct]
                       + [False], dtype=bool)
        return hit[positions]


# Lists may be written as Chinese users type them: 本溪，大连 or 本溪、大连.
_SEPARATORS = re.compile(r"[,，、]")


def _values(args: Mapping, param: str) -> list[str]:
    raw = args.getlist(param) if hasattr(args, "getlist") else [args.get(param)] if args.get(param) else []
    return [v.strip() for item in raw if item for v in _SEPARATORS.split(str(item)) if v.strip()]


def city_lookup(cities: gpd.GeoDataFrame) -> dict[str, str]:
    """Every accepted spelling of a city (adcode, 沈阳市, 沈阳, shenyang) -> adcode."""
    table = {}
    for code, zh, en in zip(cities["adcode"], cities["name_zh"], cities["name_en"]):
        for spelling in (code, zh, zh.removesuffix("市"), en.lower()):
            table[spelling] = code
    return table


def parse_filter(args: Mapping, cities: gpd.GeoDataFrame, industries: Mapping[str, tuple[str, str]]) -> Filter:
    """Parse industry/city/level/kind from request args (a dict or werkzeug MultiDict);
    `industries`: the plan's industry vocabulary (its manifest's), the codes `industry` takes."""
    lookup = city_lookup(cities)
    found: dict[str, set[str]] = {p: set() for p in PARAMS}
    tables = {"industry": industries, "level": vocab.LEVELS, "kind": vocab.KINDS}
    for param in PARAMS:
        for value in _values(args, param):
            if param == "city":
                code = lookup.get(value) or lookup.get(value.lower())
                if code is None:
                    allowed = [f"{c} ({z}, {e})" for c, z, e in
                               zip(cities["adcode"], cities["name_zh"], cities["name_en"])]
                    raise FilterError(param, value, allowed)
                found[param].add(code)
            else:
                code = value.lower()  # codes are lower-case; Biomedicine means biomedicine
                if code not in tables[param]:
                    raise FilterError(param, value, tables[param])
                found[param].add(code)
    return Filter(**{p: frozenset(v) for p, v in found.items()})
