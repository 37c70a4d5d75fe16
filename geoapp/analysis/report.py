"""Every /stats figure for one (filter, belt width), computed once: a `Report`.

    view      the places, filtered once (analysis.view.PlaceView); for a belt width other than
              the stored corridor's, the corridor row carries the corridor of that width, so
              coverage and distribution answer for the same corridor as the belt figures
    belt      analysis.belt.Belt (selected by the filter from the width's CorridorFigures), or
              None for a plan without a corridor (its manifest has no `corridor`)
    coverage  task × city coverage, computed once and handed to what derives from it
    cities    per-city table (distribution.city_table)
    figures   plan-wide figures (coverage.plan_figures)
    targets   the plan's numbers against the map (coverage.targets_vs_mapped)

`registry` is anything with `counted_places()`, `boundaries`, `tasks` and `plan` (a
geoapp.data.Registry: one plan's view); the plan says what is counted (metrics, industries,
groups) and whether there is a belt.
`ReportCache` keeps the most recent reports (and the per-city tables the map's choropleth shades
by) of one data version: geoapp.state holds one per Bundle.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
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
    belt: belt_analysis.Belt | None
    coverage: Coverage
    cities: pd.DataFrame
    figures: dict
    targets: pd.DataFrame
    plan: object = None            # the plan of the registry the report was built from (data.plans.Plan)


def corridor_figures(registry, half_width_km: float, grouped=None) -> belt_analysis.CorridorFigures | None:
    """The plan's corridor at `half_width_km` (belt.corridor_figures), None without a corridor.
    `grouped(shape, band)`: counted places kept as groups against that corridor (a layer in
    PostGIS: geoapp.postgis.belt, given by the caller), or None."""
    corridor = registry.plan.corridor
    if corridor is None:
        return None
    return belt_analysis.corridor_figures(registry.counted_places(), registry.boundaries, half_width_km,
                                          corridor.axis, belt_analysis.plan_groups(registry.plan), grouped)


def build_report(registry, filter: Filter = Filter(), half_width_km: float = DEFAULT_HALF_WIDTH_KM,
                 figures: belt_analysis.CorridorFigures | None = None, groups: pd.DataFrame | None = None) -> Report:
    """`figures`: corridor_figures for this width, when the caller keeps them (they do not
    depend on the filter). Without a corridor in the plan, `half_width_km` is ignored and the
    report has no belt. `groups`: counted places that are not in the registry's frames (an
    imported layer in PostGIS, summarised: analysis.view); they count in every figure, the belt's
    through `figures.grouped` (the same places grouped against the corridor)."""
    plan = registry.plan
    every = registry.counted_places()
    view = place_view(every, registry.boundaries, filter, groups)
    belt = None
    if plan.corridor is not None:
        if figures is None:
            figures = corridor_figures(registry, half_width_km)
        belt = belt_analysis.belt(view, half_width_km, plan.corridor.axis, belt_analysis.plan_groups(plan),
                                  figures=figures)
        if half_width_km != plan.corridor.half_width_km:  # the stored corridor has the plan's width
            view = place_view(belt_analysis.with_corridor(every, belt.shape), registry.boundaries, filter, groups)
    result = coverage(view, registry.tasks)
    return Report(
        filter=filter, half_width_km=half_width_km, view=view, belt=belt, coverage=result,
        cities=city_table(view, result, plan), figures=plan_figures(result),
        targets=targets_vs_mapped(view, result, registry.tasks), plan=plan,
    )


def city_metrics(registry, filter: Filter = Filter(), groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-city table of every metric (the plan's metrics and industry columns,
    distribution.city_columns) for the filter, with the stored corridor: the numbers /stats
    shows by default. `groups`: as for build_report."""
    view = place_view(registry.counted_places(), registry.boundaries, filter, groups)
    return city_counts(view, coverage(view, registry.tasks), registry.plan)


REPORT_CACHE_SIZE = 64
CORRIDOR_CACHE_SIZE = 16


class ReportCache:
    """Reports by (filter key, width), least recently used dropped beyond `size`. One build at
    a time (a lock per cache): concurrent requests for the same report wait for the one build.
    The corridor figures of a width (the filter-independent part of the belt) are kept too, so
    a new filter at a known width skips the geometry."""

    def __init__(self, size: int = REPORT_CACHE_SIZE, corridors: int = CORRIDOR_CACHE_SIZE):
        self.size, self.corridor_size = size, corridors
        self._reports: OrderedDict[tuple, Report] = OrderedDict()
        self._metrics: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._corridors: OrderedDict[float, belt_analysis.CorridorFigures] = OrderedDict()
        self._lock = threading.Lock()      # guards _reports
        self._build = threading.Lock()     # one build at a time; guards _corridors

    def corridor(self, width: float, compute) -> belt_analysis.CorridorFigures:
        """The corridor figures of a width (call while building: under the build lock)."""
        if width in self._corridors:
            self._corridors.move_to_end(width)
            return self._corridors[width]
        figures = self._corridors[width] = compute()
        while len(self._corridors) > self.corridor_size:
            self._corridors.popitem(last=False)
        return figures

    def get(self, flt: Filter, width: float, build) -> Report:
        return self._cached(self._reports, (flt.key(), width), build)

    def metrics(self, flt: Filter, build) -> pd.DataFrame:
        """The per-city metric table of a filter with the stored corridor (what the map's
        choropleth shades by): the cached report's own table when there is one, else `build()`
        (analysis.report.city_metrics: the same functions without the belt), kept like a report."""
        with self._lock:
            cached = self._reports.get((flt.key(), DEFAULT_HALF_WIDTH_KM))
        if cached is not None:
            return cached.cities
        return self._cached(self._metrics, flt.key(), build)

    def _cached(self, store: OrderedDict, key, build):
        """`store[key]`, built once by `build()` when missing (under the build lock, checked again
        there: another thread may have built it meanwhile); least recently used dropped."""
        with self._lock:
            if key in store:
                store.move_to_end(key)
                return store[key]
        with self._build:
            with self._lock:
                if key in store:
                    return store[key]
            built = build()
            with self._lock:
                store[key] = built
                while len(store) > self.size:
                    store.popitem(last=False)
            return built
