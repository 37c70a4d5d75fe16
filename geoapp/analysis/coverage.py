"""How far the map covers the plan's spatial tasks: task × city matrix, task status, targets.

Status of a task (computed on every place of the registry, not on a filtered view: it says what
the atlas holds, not what the current filter shows):
    located         it names places, and every one is on the map
    partly_located  some of the places it names are on the map, some are not
    not_located     it names places, none of which is on the map
    city_level      it names no place, only cities (the city is the finest scope the text gives)
    counted_only    it names neither places nor cities: a count for the whole province
"Located" says the place is on the map, not how precisely: `precision` gives the coarsest
`location_precision` among its places (a 'city' point only says which city).

A filter (geoapp.filters.Filter) keeps a task when one of its places passes the filter or, for
what the task itself carries, when its own cities / industries match; a level or kind filter
only keeps tasks through their places.

Everything here reads one PlaceView (geoapp.analysis.view): the filter is applied there, once,
and `coverage` runs once per report; plan_figures and targets_vs_mapped take its result.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geoapp.data.tasks import Task
from geoapp.analysis.view import PlaceView
from geoapp.filters import Filter

STATUSES = {
    "located": ("已落图", "Located"),
    "partly_located": ("部分落图", "Partly located"),
    "not_located": ("未落图", "Not located"),
    "city_level": ("仅到城市", "City level only"),
    "counted_only": ("仅有数量", "Counted only"),
}
PRECISION_RANK = {"source_coordinate": 0, "derived": 1, "district": 2, "city": 3}


def _placing(task: Task, places: pd.DataFrame, present: set[str]) -> tuple[list[str], list[str]]:
    """(ids of the task's places in `places`: named ones, then layer-filter ones; names of the
    places it names that are not there). Each layer filter is applied once."""
    ids = [pid for pid in task.places if pid in present]
    missing = [pid for pid in task.places if pid not in present]
    seen = set(ids)
    for layer_filter in task.layers:
        selected = layer_filter.select(places)["id"]
        if selected.empty:
            missing.append(f"[{layer_filter.describe()}]")
        for pid in selected:
            if pid not in seen:
                seen.add(pid)
                ids.append(pid)
    return ids, missing + [m.name_zh for m in task.missing_places]


def _status(task: Task, mapped, missing: list[str]) -> str:
    if len(mapped):
        return "partly_located" if missing else "located"
    if missing:
        return "not_located"
    return "city_level" if task.cities else "counted_only"


def task_place_ids(task: Task, places: pd.DataFrame) -> list[str]:
    """Ids of the task's places that are in `places`: named ones, then layer-filter ones."""
    return _placing(task, places, set(places["id"]))[0]


def task_status(task: Task, places: pd.DataFrame) -> str:
    return _status(task, *_placing(task, places, set(places["id"])))


def _coarsest_precision(ids: list[str], precision: dict[str, str]) -> str:
    values = [precision[i] for i in ids if precision.get(i) in PRECISION_RANK]
    return max(values, key=PRECISION_RANK.get) if values else ""


def task_selected(task: Task, mapped_ids: list[str], view_ids: set[str], filter: Filter) -> bool:
    if filter.empty or any(pid in view_ids for pid in mapped_ids):
        return True
    if filter.level or filter.kind:
        return False
    industry_ok = not filter.industry or bool(filter.industry.intersection(task.industries))
    city_ok = not filter.city or bool(filter.city.intersection(task.cities))
    return industry_ok and city_ok


@dataclass
class Coverage:
    """`counts`: task × city, number of the task's places (passing the filter) in the city.
    `named`: task × city, True where the text names the city as the task's scope.
    `tasks`: one row per task kept by the filter: status, places named / mapped / in view,
    missing places, coarsest precision, cities touched (';'-joined adcodes), number of targets."""
    counts: pd.DataFrame
    named: pd.DataFrame
    tasks: pd.DataFrame

    @property
    def touches(self) -> pd.DataFrame:
        return (self.counts > 0) | self.named


def _task_rows(task: Task, index, masks: dict, view: PlaceView | None = None
               ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """The task's places as rows of the view's `every` (PlaceIndex): (named rows present, in
    the task's order; rows its layer filters add that it does not name; what it names that is
    not there; the view's groups its layer filters add, as a bool per group) — `_placing` as
    arrays. `masks` keeps each layer filter's masks for the report."""
    named = index.position.get_indexer(list(task.places)) if task.places else np.array([], dtype=np.intp)
    missing = [pid for pid, row in zip(task.places, named) if row < 0]
    named = named[named >= 0]
    added = np.array([], dtype=np.intp)
    n_groups = len(view.groups) if view is not None and view.groups is not None else 0
    group_sel = np.zeros(n_groups, dtype=bool)
    if task.layers:
        selected = np.zeros(len(index.position), dtype=bool)
        for layer_filter in task.layers:
            if layer_filter not in masks:
                values = {"layer": layer_filter.layer, "level": layer_filter.level, "kind": layer_filter.kind}
                masks[layer_filter] = (index.matching(**values),
                                       view.group_matching(**values) if n_groups else group_sel)
            mask, group_mask = masks[layer_filter]
            if not mask.any() and not (view is not None and (view.group_counts[group_mask] > 0).any()):
                missing.append(f"[{layer_filter.describe()}]")
            selected |= mask
            group_sel = group_sel | group_mask
        selected[named] = False
        added = np.flatnonzero(selected)
    return named, added, missing + [m.name_zh for m in task.missing_places], group_sel


RANKED = sorted(PRECISION_RANK, key=PRECISION_RANK.get)


def coverage(view: PlaceView, tasks: tuple[Task, ...]) -> Coverage:
    """Task × city coverage of the view, each task's places taken as rows of `every` and
    counted with array operations (PlaceIndex), never place by place."""
    index = view.index
    filter = view.filter
    city_codes = view.city_codes
    positions, distinct = pd.factorize(view.every["location_precision"].to_numpy(dtype=object))
    rank = np.array([PRECISION_RANK.get(p, -1) for p in distinct] + [-1], dtype=np.int64)[positions]
    masks: dict = {}
    counts, named, rows = {}, {}, []
    # the view's groups (places summarised by their columns, see analysis.view): how many places
    # each holds, and its precision's rank
    sizes = view.group_counts
    group_rank = np.zeros(0, dtype=np.int64)
    if view.groups is not None:
        group_rank = np.array([PRECISION_RANK.get(p, -1) for p in view.groups["location_precision"]],
                              dtype=np.int64)
    for task in tasks:
        named_rows, added, missing, group_sel = _task_rows(task, index, masks, view)
        group_sel = group_sel & (sizes > 0)
        mapped = np.concatenate([named_rows, added])
        n_mapped = len(mapped) + int(sizes[group_sel].sum())
        status = _status(task, range(n_mapped), missing)
        in_view = index.in_view[mapped].any() or (view.has_groups and (group_sel & view.group_in_view).any())
        if not (filter.empty or in_view):
            if not task_selected(task, [], set(), filter):
                continue
        shown = np.unique(mapped[index.linked[mapped]])
        in_city = index.city_counts(shown, len(city_codes))
        n_shown = len(shown)
        if group_sel.any():
            linked = group_sel & view.group_linked
            n_shown += int(sizes[linked].sum())
            linked &= view.group_cols >= 0
            in_city = in_city + np.bincount(view.group_cols[linked], weights=sizes[linked],
                                            minlength=len(city_codes))[:len(city_codes)].astype("int64")
        counts[task.id] = in_city.tolist()
        scope = set(task.cities) & (filter.city or set(city_codes))
        named[task.id] = [code in scope for code in city_codes]
        touched = [c for c, n, s in zip(city_codes, counts[task.id], named[task.id]) if n or s]
        ranks = np.concatenate([rank[mapped], group_rank[group_sel]])
        ranks = ranks[ranks >= 0]
        rows.append({
            "id": task.id, "title_zh": task.title_zh, "title_en": task.title_en,
            "section": task.section, "quote": task.quote,
            "status": status,
            "places_named": len(task.places) + len(task.missing_places) + len(added) + n_mapped - len(mapped),
            "places_mapped": n_mapped,
            "places_in_view": n_shown,
            "missing": "; ".join(missing),
            "precision": RANKED[ranks.max()] if len(ranks) else "",
            "cities": ";".join(touched),
            "n_cities": len(touched),
            "targets": len(task.targets),
        })
    columns = pd.Index(city_codes, name="city_adcode")
    index_ = pd.Index(list(counts), name="task_id")
    count_frame = pd.DataFrame(list(counts.values()), index=index_, columns=columns, dtype="int64")
    named_frame = pd.DataFrame(list(named.values()), index=index_, columns=columns, dtype=bool)
    task_frame = pd.DataFrame(rows, columns=TASK_COLUMNS)
    return Coverage(count_frame, named_frame, task_frame)


TASK_COLUMNS = ["id", "title_zh", "title_en", "section", "quote", "status", "places_named",
                "places_mapped", "places_in_view", "missing", "precision", "cities", "n_cities",
                "targets"]


def plan_figures(result: Coverage) -> dict:
    """Plan-wide figures: tasks by status, cities touched by at least one task and those not."""
    table = result.tasks
    touched = result.touches.any(axis=0) if len(table) else pd.Series(False, index=result.counts.columns)
    by_status = {status: int((table["status"] == status).sum()) for status in STATUSES}
    return {
        "tasks": len(table),
        "by_status": by_status,
        "tasks_with_places_on_map": by_status["located"] + by_status["partly_located"],
        "targets": int(table["targets"].sum()) if len(table) else 0,
        "cities_touched": [code for code, hit in touched.items() if hit],
        "cities_not_touched": [code for code, hit in touched.items() if not hit],
    }


def targets_vs_mapped(view: PlaceView, result: Coverage, tasks: tuple[Task, ...]) -> pd.DataFrame:
    """Every target of the tasks kept by the filter (those in `result`). `mapped` is how many
    places on the map (passing the filter) the number counts, for targets that say what they
    count (`counts`); empty where the plan's number has no place on the map."""
    kept = set(result.tasks["id"])
    index = view.index
    masks: dict = {}
    rows = []
    for task in tasks:
        if task.id not in kept:
            continue
        for target in task.targets:
            if view.filter.industry and target.industry and target.industry not in view.filter.industry:
                continue
            mapped = None
            if target.counts:
                counted = target.counts
                if counted not in masks:
                    values = {"layer": counted.layer, "level": counted.level, "kind": counted.kind}
                    masks[counted] = (index.matching(**values), view.group_matching(**values))
                mask, group_mask = masks[counted]
                mapped = int((mask & index.in_view).sum())
                if view.has_groups:
                    mapped += int(view.group_counts[group_mask & view.group_in_view].sum())
            rows.append({
                "task_id": task.id, "section": task.section, "industry": target.industry,
                "metric_zh": target.metric_zh, "metric_en": target.metric_en,
                "value": target.value, "unit_zh": target.unit_zh, "year": target.year,
                "period": target.period, "stated_as": target.stated_as,
                "mapped": mapped, "counted_by": target.counts.describe() if target.counts else "",
                "quote": target.quote,
            })
    frame = pd.DataFrame(rows, columns=TARGET_COLUMNS)
    frame["mapped"] = frame["mapped"].astype("Int64")
    frame["year"] = frame["year"].astype("Int64")
    frame["value"] = frame["value"].astype("Float64")
    return frame


TARGET_COLUMNS = ["task_id", "section", "industry", "metric_zh", "metric_en", "value", "unit_zh",
                  "year", "period", "stated_as", "mapped", "counted_by", "quote"]
