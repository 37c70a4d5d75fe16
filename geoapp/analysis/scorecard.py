"""The target scorecard: every numeric target of the plan against its baseline and its latest
sourced outcome (the plan folder's outcomes.yaml), with a status and the gap. Pure functions, no Flask.

Which outcome decides (`decisive`): the province's figure for the target's year when there is
one, else the latest province figure (a city's own figure never decides: it is shown in that
city's panel). A target with a `counts` filter (e.g. national HTZs) also has the map's own count
of those places, labelled as the map's, used only when no document gives a figure.

Status (all targets here are "at least" goals: 达到, 以上, 超过):
    met       the decisive figure reaches the target
    not_met   it falls short, and it is from the target's year or later (or the target has no year)
    partly    it falls short but is from before the target's year (an interim figure), or it is
              the map's count of places and the map holds only some of them
    no_data   no document gives a figure (where we looked is in `searched`)
The deadline of a target without a year is the plan's last year when it is a goal (`target`),
none when the text reports it as achieved. `gap` = decisive figure − target, in the target's unit.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from geoapp.data.outcomes import Outcome, Outcomes, Source
from geoapp.data.tasks import Target, Task

STATUSES = {
    "met": ("达到", "Met"),
    "not_met": ("未达到", "Not met"),
    "partly": ("部分", "Partly"),
    "no_data": ("无数据", "No data"),
}
STATUS_NOTES = {
    "met": ("最新数字达到或超过目标", "the latest figure reaches the target"),
    "not_met": ("目标年份（或之后）的数字低于目标", "the figure for the target year (or later) falls short"),
    "partly": ("目标年份之前的期中数字，或地图上只有部分地点", "an interim figure from before the target year, or the map holds only some of the places"),
    "no_data": ("未找到公开来源的数字", "no published figure found"),
}
HEADLINE_SECTION = "二（三）2"  # the plan's 具体目标: listed first

COLUMNS = ["target_id", "task_id", "section", "also_sections", "metric_zh", "metric_en", "industry",
           "target_value", "unit_zh", "target_year", "period", "stated_as", "baseline_year",
           "baseline_value", "baseline_quote", "outcome_year", "outcome_value", "outcome_basis",
           "status", "gap", "source_id", "source_title", "source_publisher", "source_url",
           "reference", "map_count", "map_counts", "n_outcomes", "searched", "task_cities", "quote"]


@dataclass(frozen=True)
class Scorecard:
    """`rows`: one per numeric target (COLUMNS). `outcomes`: every outcome, long form, with its
    target id, city and source (the map's counts included, basis 'map')."""
    rows: pd.DataFrame
    outcomes: pd.DataFrame
    sources: dict[str, Source]
    period: tuple[int, int]

    def for_city(self, adcode: str, touched_tasks: set[str]) -> pd.DataFrame:
        """The rows of targets whose task touches the city, or with an outcome of the city's own."""
        own = set(self.outcomes.loc[self.outcomes["city"] == adcode, "target_id"])
        keep = self.rows["task_id"].isin(touched_tasks) | self.rows["target_id"].isin(own)
        return self.rows[keep]


def target_key(task: Task, index: int, target: Target) -> str:
    """The target's id, or `<task id>#<n>` (1-based) for a target without one."""
    return target.id or f"{task.id}#{index + 1}"


def _deadline(target: Target, period: tuple[int, int]) -> int | None:
    if target.year is not None:
        return int(target.year)
    return period[1] if target.stated_as == "target" else None


def decisive(outcomes: tuple[Outcome, ...] | list[Outcome], deadline: int | None) -> Outcome | None:
    """The province figure of the deadline year, else the latest province figure."""
    province = [o for o in outcomes if not o.city]
    if not province:
        return None
    on_time = [o for o in province if o.year == deadline]
    return on_time[0] if on_time else max(province, key=lambda o: o.year)


def status_of(value: float | None, target: float, year: int | None, deadline: int | None,
              basis: str) -> str:
    if value is None:
        return "no_data"
    if value >= target:
        return "met"
    if basis == "map":
        return "partly"
    if deadline is not None and year is not None and year < deadline:
        return "partly"
    return "not_met"


def _map_count(target: Target, places: pd.DataFrame, groups: pd.DataFrame | None = None
               ) -> tuple[int | None, dict[str, int]]:
    """The map's count of what the target counts, and that count per city adcode. `groups`:
    counted places summarised as groups (analysis.view; an imported layer in PostGIS), each
    counting its `n` places."""
    if target.counts is None or places is None:
        return None, {}
    selected = target.counts.select(places)
    by_city = selected["city_adcode"].astype(str).value_counts()
    total = len(selected)
    if groups is not None and len(groups):
        chosen = target.counts.select(groups)
        total += int(chosen["n"].sum())
        by_city = by_city.add(chosen.groupby(chosen["city_adcode"].astype(str))["n"].sum(), fill_value=0)
    # most places first, then by adcode (the same order however the places are held)
    ordered = sorted(((str(k), int(v)) for k, v in by_city.items() if k and v), key=lambda kv: (-kv[1], kv[0]))
    return total, dict(ordered)


def build_scorecard(tasks: tuple[Task, ...], outcomes: Outcomes, places: pd.DataFrame | None,
                    period: tuple[int, int], task_cities: dict[str, list[str]] | None = None,
                    groups: pd.DataFrame | None = None) -> Scorecard:
    """`places`: every counted place (registry.counted_places(); for the map's counts).
    `task_cities`: task id -> city adcodes it touches (from the coverage), shown per row.
    `groups`: counted places not in `places`, summarised (an imported layer in PostGIS)."""
    task_cities = task_cities or {}
    rows, long = [], []
    for task in tasks:
        for index, target in enumerate(task.targets):
            if target.value is None:
                continue
            key = target_key(task, index, target)
            entry = outcomes.of(target.id) if target.id else None
            deadline = _deadline(target, period)
            found = entry.outcomes if entry else ()
            for o in found:
                long.append({"target_id": key, "year": o.year, "value": o.value, "unit_zh": o.unit_zh,
                             "city": o.city, "basis": "source", "source_id": o.source,
                             "reference": o.reference, "note": o.note})
            map_count, per_city = _map_count(target, places, groups)
            if map_count is not None:
                long.append({"target_id": key, "year": None, "value": float(map_count),
                             "unit_zh": target.unit_zh, "city": "", "basis": "map", "source_id": "",
                             "reference": target.counts.describe(), "note": ""})
                for code, n in per_city.items():
                    long.append({"target_id": key, "year": None, "value": float(n),
                                 "unit_zh": target.unit_zh, "city": code, "basis": "map",
                                 "source_id": "", "reference": target.counts.describe(), "note": ""})
            chosen = decisive(found, deadline)
            basis = "source" if chosen else ("map" if map_count is not None else "")
            value = chosen.value if chosen else (float(map_count) if map_count is not None else None)
            year = chosen.year if chosen else None
            source = outcomes.sources.get(chosen.source) if chosen else None
            baseline = entry.baseline if entry else None
            status = status_of(value, float(target.value), year, deadline, basis)
            rows.append({
                "target_id": key, "task_id": task.id, "section": task.section,
                "also_sections": ";".join(m.section for m in target.also),
                "metric_zh": target.metric_zh, "metric_en": target.metric_en,
                "industry": target.industry, "target_value": float(target.value),
                "unit_zh": target.unit_zh, "target_year": target.year, "period": target.period,
                "stated_as": target.stated_as,
                "baseline_year": baseline.year if baseline else None,
                "baseline_value": baseline.value if baseline else None,
                "baseline_quote": baseline.quote if baseline else "",
                "outcome_year": year, "outcome_value": value, "outcome_basis": basis,
                "status": status,
                "gap": round(value - float(target.value), 6) if value is not None else None,
                "source_id": source.id if source else "",
                "source_title": source.title if source else "",
                "source_publisher": source.publisher if source else "",
                "source_url": source.url if source else "",
                "reference": chosen.reference if chosen else "",
                "map_count": map_count,
                "map_counts": ";".join(f"{c}:{n}" for c, n in sorted(per_city.items())),
                "n_outcomes": len(found),
                "searched": entry.searched if entry else "",
                "task_cities": ";".join(task_cities.get(task.id, [])),
                "quote": target.quote,
            })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    headline = (frame["section"] == HEADLINE_SECTION) | frame["also_sections"].str.contains(
        HEADLINE_SECTION, regex=False)
    frame = pd.concat([frame[headline], frame[~headline]], ignore_index=True)
    for column in ("target_year", "baseline_year", "outcome_year", "map_count", "n_outcomes"):
        frame[column] = frame[column].astype("Int64")
    for column in ("baseline_value", "outcome_value", "gap"):
        frame[column] = frame[column].astype("Float64")
    outcome_frame = pd.DataFrame(long, columns=["target_id", "year", "value", "unit_zh", "city", "basis",
                                                "source_id", "reference", "note"])
    outcome_frame["year"] = outcome_frame["year"].astype("Int64")
    return Scorecard(frame, outcome_frame, dict(outcomes.sources), period)
