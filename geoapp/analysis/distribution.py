"""Per-city distribution of a plan's places and tasks over the 14 prefecture-level cities.

What is counted per city is the plan's (its manifest's `metrics`, in column order, plus one
column per industry of its vocabulary): geoapp.data.plans.Plan is passed in, nothing here is
a constant of one plan.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from geoapp import vocab
from geoapp.analysis.coverage import Coverage
from geoapp.analysis.places import industry_codes
from geoapp.analysis.view import PlaceView
from geoapp.data.plans import COMPUTED_METRICS


def industry_columns(industries) -> list[str]:
    """The per-industry columns of the city table: industry_<code> for each code, in order."""
    return [f"industry_{code}" for code in industries]


def metric_labels(plan) -> dict[str, tuple[str, str]]:
    """Column -> (zh, en) label of the plan's metrics, in column order."""
    return {metric_id: metric.label for metric_id, metric in plan.metrics.items()}


def city_columns(plan) -> list[str]:
    """Every integer column of `city_counts` for the plan: its metrics, then its industries."""
    return list(plan.metrics) + industry_columns(plan.industries)


def industry_flags(cells: pd.Series, industries) -> pd.DataFrame:
    """One boolean column per industry code of `industries` (a plan's vocabulary): is the code
    in the cell's ';'-separated list. Each distinct cell is split once (a large layer has few
    distinct cells)."""
    codes = list(industries)
    positions, distinct = pd.factorize(cells, use_na_sentinel=True)
    # one row per distinct cell, and a last row for empty/NaN cells (position -1)
    tags = [set(industry_codes(cell)) for cell in distinct] + [set()]
    table = np.array([[code in cs for code in codes] for cs in tags], dtype=bool)
    table = table.reshape(len(tags), len(codes))
    return pd.DataFrame(table[positions], index=cells.index, columns=codes)


def city_counts(view: PlaceView, result: Coverage, plan) -> pd.DataFrame:
    """One row per city (index: city adcode, all cities, in `cities` order), integer columns:
    the plan's metrics (manifest `metrics`, e.g. htz_national: places of kind high_tech_zone and
    level national), in order, then industry_<code> per industry of the plan's vocabulary.
    A metric with kinds / levels / precision counts the places matching all of them; the
    computed ones are
        places                  every place (each place once per city it belongs to)
        tasks                   plan tasks touching the city (a place in it, or the text names
                                it), from the coverage `result` of the same view
        industries_present      how many of the plan's industry codes occur among its places

    A place without a city of its own (a corridor) is not counted here (its share of each city
    is in geoapp.analysis.belt); a task naming it does count in `tasks` for every city the
    corridor overlaps. Every column answers for the view's filtered places; a filtered-out city
    keeps its row with zeros.
    """
    codes = view.city_codes
    index = view.index
    every = view.every
    # one entry per (place, city) link: a place counts once in each city it belongs to; the
    # belt corridor (no city of its own, see geoapp.analysis.belt) is not counted here
    rows, cols = index.link_rows, index.link_cols
    keep = (rows >= 0) & (cols >= 0)
    rows, cols = rows[keep], cols[keep]
    if len(rows):
        own_city = every["city_adcode"].to_numpy(dtype=object)[rows]
        keep = own_city != ""
        rows, cols = rows[keep], cols[keep]
    def one_of(column: str, values) -> np.ndarray:  # column in values, by its integer codes
        return index.matching_any(column, values)[rows]

    columns = industry_columns(plan.industries)
    tagged = industry_flags(pd.Series(every["industries"].to_numpy(dtype=object)[rows]), plan.industries)
    flags = {}
    for metric_id, metric in plan.metrics.items():
        if metric_id in COMPUTED_METRICS:
            continue
        flag = np.ones(len(rows), dtype=bool)
        for column, values in metric.selects().items():
            flag &= one_of(column, values)
        flags[metric_id] = flag
    flags["places"] = np.ones(len(rows), dtype=bool)
    flags.update({column: tagged[code].to_numpy(dtype=bool) for code, column in zip(plan.industries, columns)})
    table = pd.DataFrame({name: np.bincount(cols[flag], minlength=len(codes))[:len(codes)]
                          for name, flag in flags.items()},
                         index=pd.Index(codes, name="city_adcode"))
    if view.has_groups:   # places summarised as groups (a layer in PostGIS): each counts n times
        for name, counts in group_city_counts(view, plan).items():
            table[name] = table[name] + counts
    table["industries_present"] = (table[columns] > 0).sum(axis=1)
    table["tasks"] = result.touches.sum(axis=0).reindex(codes, fill_value=0).astype("int64")
    return table[city_columns(plan)].astype("int64")


def group_city_counts(view: PlaceView, plan) -> dict[str, np.ndarray]:
    """`city_counts`' place columns (metrics with selectors, places, industry_<code>) for the
    view's groups: per city, the places of the groups in the view that match, as an int64
    array in `view.city_codes` order."""
    codes = view.city_codes
    keep = view.group_linked & (view.group_cols >= 0)
    groups = view.groups[keep]
    cols, n = view.group_cols[keep], view.group_counts[keep]

    def tally(flag: np.ndarray) -> np.ndarray:
        return np.bincount(cols[flag], weights=n[flag], minlength=len(codes))[:len(codes)].astype("int64")

    out = {}
    for metric_id, metric in plan.metrics.items():
        if metric_id in COMPUTED_METRICS:
            continue
        flag = np.ones(len(groups), dtype=bool)
        for column, values in metric.selects().items():
            flag &= groups[column].isin(list(values)).to_numpy(dtype=bool)
        out[metric_id] = tally(flag)
    out["places"] = tally(np.ones(len(groups), dtype=bool))
    tagged = industry_flags(groups["industries"].reset_index(drop=True), plan.industries)
    for code, column in zip(plan.industries, industry_columns(plan.industries)):
        out[column] = tally(tagged[code].to_numpy(dtype=bool))
    return out


def city_table(view: PlaceView, result: Coverage, plan, lang: str = "zh") -> pd.DataFrame:
    """`city_counts` with the city names first and the industries present spelled out, for
    people (the web table and the CSV download)."""
    metrics = city_counts(view, result, plan)
    names = view.cities.set_index("adcode")[["name_zh", "name_en"]].reindex(metrics.index)
    present = metrics[industry_columns(plan.industries)].apply(
        lambda row: ("、" if lang == "zh" else ", ").join(
            vocab.label(plan.industries, c.removeprefix("industry_"), lang) for c, n in row.items() if n > 0),
        axis=1)
    return pd.concat([names, metrics, present.rename("industry_names")], axis=1)
