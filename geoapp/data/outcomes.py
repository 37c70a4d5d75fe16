"""What the plan's targets reached: baselines and sourced outcomes (the plan folder's
outcomes.yaml, beside tasks.yaml), as plain objects, and their checks.

A baseline comes from the plan text itself (section + verbatim quote); an outcome from a named
published document (`sources`). Nothing here is computed: the scorecard
(geoapp.analysis.scorecard) compares them with the targets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from geoapp.data import plan_text
from geoapp.data.tasks import Task

OUTCOMES_NAME = "outcomes.yaml"
# Qualifiers a unit may carry in the text ("200 家以上", "60 余万人", "超过 1000 个") and counting
# words the text uses for the same thing (众创空间 "156家" then "200家以上"; 科技园 "14家" then "20个").
_QUALIFIERS = re.compile(r"以上|以下|余|多|超过|左右")
_SAME_COUNT = {"家": "个", "所": "个", "座": "个"}
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    publisher: str
    url: str
    date: str = ""
    note: str = ""


@dataclass(frozen=True)
class Baseline:
    year: int
    value: float
    unit_zh: str
    section: str
    quote: str
    period: str = ""
    parts: tuple[float, ...] = ()


@dataclass(frozen=True)
class Outcome:
    year: int
    value: float
    unit_zh: str
    source: str          # a Source id
    reference: str       # where in the document the figure is (never its sentence copied)
    city: str = ""       # a city's own figure (adcode), not the province's
    note: str = ""


@dataclass(frozen=True)
class TargetOutcomes:
    target: str          # target id in tasks.yaml
    baseline: Baseline | None = None
    outcomes: tuple[Outcome, ...] = ()
    searched: str = ""   # where we looked, when a figure was not found


@dataclass(frozen=True)
class Outcomes:
    sources: dict[str, Source] = field(default_factory=dict)
    targets: tuple[TargetOutcomes, ...] = ()

    def of(self, target_id: str) -> TargetOutcomes | None:
        return next((t for t in self.targets if t.target == target_id), None)


def unit_key(unit: str) -> str:
    """A unit without its qualifiers, counting words made one ('家以上' -> '个')."""
    base = _QUALIFIERS.sub("", "".join(unit.split()))
    return _SAME_COUNT.get(base, base)


def _number(raw, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"{where}: value must be a number, not {raw!r}")
    return float(raw)


def _year(raw, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"{where}: year must be a whole year such as 2020, not {raw!r}")
    return raw


def outcomes_from_dict(raw: dict | None) -> Outcomes:
    """Raises ValueError / KeyError / TypeError saying what is malformed."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ValueError("the file must be a mapping with `sources` and `targets`")
    sources = {}
    for sid, s in (raw.get("sources") or {}).items():
        sources[str(sid)] = Source(id=str(sid), title=str(s.get("title") or ""),
                                   publisher=str(s.get("publisher") or ""), url=str(s.get("url") or ""),
                                   date=str(s.get("date") or ""), note=str(s.get("note") or "").strip())
    targets = []
    for entry in raw.get("targets") or ():
        tid = str(entry["target"])
        baseline = None
        if b := entry.get("baseline"):
            where = f"target '{tid}', baseline"
            baseline = Baseline(year=_year(b.get("year"), where), value=_number(b.get("value"), where),
                                unit_zh=str(b.get("unit_zh") or ""), section=str(b.get("section") or ""),
                                quote=str(b.get("quote") or ""), period=str(b.get("period") or ""),
                                parts=tuple(_number(p, where) for p in b.get("parts") or ()))
        outcomes = []
        for o in entry.get("outcomes") or ():
            where = f"target '{tid}', outcome"
            outcomes.append(Outcome(year=_year(o.get("year"), where), value=_number(o.get("value"), where),
                                    unit_zh=str(o.get("unit_zh") or ""), source=str(o.get("source") or ""),
                                    reference=str(o.get("reference") or ""), city=str(o.get("city") or ""),
                                    note=str(o.get("note") or "").strip()))
        targets.append(TargetOutcomes(tid, baseline, tuple(outcomes),
                                      " ".join(str(entry.get("searched") or "").split())))
    return Outcomes(sources, tuple(targets))


def load_outcomes(path: Path) -> Outcomes:
    """The outcomes file at `path`; no file means no outcomes (a plan need not have any)."""
    if not path.exists():
        return Outcomes()
    with open(path, encoding="utf-8") as fh:
        return outcomes_from_dict(yaml.safe_load(fh))


def _written(value: float, text: str) -> bool:
    number = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return re.search(rf"(?<![0-9.]){re.escape(number)}(?![0-9])", "".join(text.split())) is not None


def check_outcomes(outcomes: Outcomes, tasks: tuple[Task, ...], period: tuple[int, int],
                   city_codes: set[str], sections: dict[str, plan_text.Section]) -> list[str]:
    """Every problem, as readable sentences (empty: sound). `period`: the plan's (first, last)
    year; `sections`: the plan text's sections."""
    problems = []
    targets = {t.id: t for task in tasks for t in task.targets if t.id}
    first, last = period
    for sid, source in outcomes.sources.items():
        for name in ("title", "publisher", "url"):
            if not getattr(source, name).strip():
                problems.append(f"source '{sid}': {name} is missing")
        if source.url and not _URL.match(source.url):
            problems.append(f"source '{sid}': url must start with http:// or https://")
    seen = set()
    used_sources = set()
    for entry in outcomes.targets:
        where = f"target '{entry.target}'"
        if entry.target in seen:
            problems.append(f"{where}: listed twice")
        seen.add(entry.target)
        target = targets.get(entry.target)
        if target is None:
            problems.append(f"{where}: no target with this id in tasks.yaml")
            continue
        if target.value is None and (entry.baseline or entry.outcomes):
            problems.append(f"{where}: the target has no number to compare with")
        if not entry.outcomes and not entry.baseline and not entry.searched:
            problems.append(f"{where}: give outcomes, a baseline, or `searched` (where we looked)")
        unit = unit_key(target.unit_zh)
        if b := entry.baseline:
            label = f"{where}, baseline {b.year}"
            if unit_key(b.unit_zh) != unit:
                problems.append(f"{label}: unit '{b.unit_zh}' does not agree with the target's '{target.unit_zh}'")
            if b.year > last:
                problems.append(f"{label}: a baseline must be from before the plan's period ends ({last})")
            if b.section not in sections:
                problems.append(f"{label}: section '{b.section}' does not exist in the plan text")
            elif not plan_text.quote_in_section(b.section, b.quote, sections):
                problems.append(f"{label}: quote not found in section {b.section}")
            elif b.parts:
                missing = [p for p in b.parts if not _written(p, b.quote)]
                if missing:
                    problems.append(f"{label}: parts {missing} are not written in its quote")
                if abs(sum(b.parts) - b.value) > 1e-9:
                    problems.append(f"{label}: value {b.value:g} is not the sum of its parts {list(b.parts)}")
            elif not _written(b.value, b.quote):
                problems.append(f"{label}: value {b.value:g} is not written in its quote")
        for o in entry.outcomes:
            label = f"{where}, outcome {o.year}"
            if unit_key(o.unit_zh) != unit:
                problems.append(f"{label}: unit '{o.unit_zh}' does not agree with the target's '{target.unit_zh}'")
            if o.year < first:
                problems.append(f"{label}: year {o.year} is before the plan's period ({first}–{last})")
            if not o.source:
                problems.append(f"{label}: no source (every outcome names one of `sources`)")
            elif o.source not in outcomes.sources:
                problems.append(f"{label}: source '{o.source}' is not listed under `sources`")
            used_sources.add(o.source)
            if not o.reference.strip():
                problems.append(f"{label}: say where in the source the figure is (`reference`)")
            if o.city and o.city not in city_codes:
                problems.append(f"{label}: '{o.city}' is not a city adcode")
        keys = [(o.year, o.city, o.source) for o in entry.outcomes]
        if len(keys) != len(set(keys)):
            problems.append(f"{where}: the same year, city and source twice")
    for sid in sorted(set(outcomes.sources) - used_sources):
        problems.append(f"source '{sid}': not used by any outcome")
    return problems
