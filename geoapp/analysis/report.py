"""Every /stats figure for one (filter, belt width), computed once: a `Report`.

    view      the places, filtered once (analysis.view.PlaceView); for a belt width other than
              the stored corridor's, the corridor row carries the corridor of that width, so
              coverage and distribution answer for the same corridor as the belt figures
    belt      analysis.belt.Belt (selected by the filter from the width's CorridorFigures)
    coverage  task × city coverage, computed once and handed to what derives from it
    cities    per-city table (distribution.city_table)
    figures   plan-wide figures (coverage.plan_figures)
    targets   the plan's numbers against the map (coverage.targets_vs_mapped)

`registry` is anything with `counted_places()`, `boundaries` and `tasks` (geoapp.data.Registry).
`city_metric_values` is what the map's choropleth needs: per-city values for a filter.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from geoapp.analysis import belt as belt_analysis
from geoapp.analysis.corridor import DEFAULT_HALF_WIDTH_KM
from geoapp.analysis.coverage import Coverage, coverage, plan_figures, targets_vs_mapped
from geoapp.analysis.distribution import city_counts, city_table
from geoapp.analysis.view import PlaceView, place_view
from geoapp.filters import Filter


@dataclass(frozen=True)
class Report:
    filter: Filter
    half_width_km: float
    view: PlaceView
    belt: belt_analysis.Belt
    coverage: Coverage
    cities: pd.DataFrame
    figures: dict
    targets: pd.DataFrame


def build_report(registry, filter: Filter = Filter(), half_width_km: float = DEFAULT_HALF_WIDTH_KM,
                 figures: belt_analysis.CorridorFigures | None = None) -> Report:
    """`figures`: belt_analysis.corridor_figures for this width, when the caller keeps them
    (they do not depend on the filter)."""
    every = registry.counted_places()
    view = place_view(every, registry.boundaries, filter)
    belt = belt_analysis.belt(view, half_width_km, figures=figures)
    if half_width_km != DEFAULT_HALF_WIDTH_KM:  # the stored corridor has the default width
        view = place_view(belt_analysis.with_corridor(every, belt.shape), registry.boundaries, filter)
    result = coverage(view, registry.tasks)
    return Report(
        filter=filter, half_width_km=half_width_km, view=view, belt=belt, coverage=result,
        cities=city_table(view, result), figures=plan_figures(result),
        targets=targets_vs_mapped(view, result, registry.tasks),
    )


def city_metrics(registry, filter: Filter = Filter()) -> pd.DataFrame:
    """Per-city table of every metric (distribution.METRIC_LABELS columns and the industry
    columns) for the filter, with the stored corridor: the numbers /stats shows by default."""
    view = place_view(registry.counted_places(), registry.boundaries, filter)
    return city_counts(view, coverage(view, registry.tasks))


def city_metric_values(registry, filter: Filter, metric: str) -> dict[str, int]:
    """{city adcode: value} of one metric for the filter (the map's choropleth)."""
    return {code: int(value) for code, value in city_metrics(registry, filter)[metric].items()}
