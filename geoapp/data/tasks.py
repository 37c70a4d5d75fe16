"""A plan's spatial tasks (data/plans/<plan>/tasks.yaml) as plain objects, and their checks.

A task names what it covers in three ways, any of which may be empty:
    places   registry ids of places the plan names (e.g. platform_cas_dandong)
    layers   layer filters standing for places the plan names as a group (e.g. all coastal parks)
    cities   city adcodes the text itself names as the scope
plus `missing_places`: places the plan names that are not on the map (said, not hidden).
Targets are numbers exactly as the text states them, each with its own verbatim quote.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import re

import pandas as pd
import yaml

from geoapp import vocab
from geoapp.data import plan_text

STATED_AS = ("target", "achieved")
TARGET_ID = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


@dataclass(frozen=True)
class LayerFilter:
    """Rows of the place frame with this layer (and level / kind, when given)."""
    layer: str = ""
    level: str = ""
    kind: str = ""

    def select(self, places: pd.DataFrame) -> pd.DataFrame:
        mask = pd.Series(True, index=places.index)
        for column in ("layer", "level", "kind"):
            if value := getattr(self, column):
                mask &= places[column] == value
        return places[mask]

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in (("layer", self.layer), ("level", self.level),
                                                  ("kind", self.kind)) if v)


@dataclass(frozen=True)
class Mention:
    """The same target stated again in another section of the text (checked like `quote`)."""
    section: str
    quote: str


@dataclass(frozen=True)
class Target:
    metric_zh: str
    metric_en: str
    value: float | None
    unit_zh: str
    year: int | None
    stated_as: str
    quote: str
    period: str = ""
    industry: str = ""
    counts: LayerFilter | None = None
    id: str = ""                      # what outcomes.yaml refers to (unique in the plan)
    also: tuple[Mention, ...] = ()


@dataclass(frozen=True)
class MissingPlace:
    name_zh: str
    name_en: str
    why: str


@dataclass(frozen=True)
class Task:
    id: str
    title_zh: str
    title_en: str
    section: str
    quote: str
    places: tuple[str, ...] = ()
    layers: tuple[LayerFilter, ...] = ()
    cities: tuple[str, ...] = ()
    missing_places: tuple[MissingPlace, ...] = ()
    industries: tuple[str, ...] = ()
    targets: tuple[Target, ...] = field(default_factory=tuple)

    def title(self, lang: str = "zh") -> str:
        return self.title_en if lang == "en" else self.title_zh


def _layer_filter(raw: dict | None) -> LayerFilter | None:
    if not raw:
        return None
    return LayerFilter(**{k: str(v) for k, v in raw.items()})


TARGET_FIELDS = ("id", "metric_zh", "metric_en", "value", "unit_zh", "year", "period", "stated_as",
                 "quote", "industry", "counts", "also")


def _target(raw: dict) -> Target:
    unknown = [str(key) for key in raw if key not in TARGET_FIELDS]
    if unknown:
        # e.g. `{metric_en: per 10,000 people, ...}`: in a {…} mapping a comma ends an unquoted value
        raise ValueError(f"target '{raw.get('id') or raw.get('metric_zh')}': unknown field "
                         f"{', '.join(repr(k) for k in unknown)} (allowed: {', '.join(TARGET_FIELDS)}); "
                         "a value with a comma inside a {…} mapping needs quotes")
    return Target(metric_zh=raw["metric_zh"], metric_en=raw["metric_en"], value=raw.get("value"),
                  unit_zh=raw.get("unit_zh") or "", year=raw.get("year"),
                  stated_as=raw.get("stated_as", ""), quote=raw["quote"],
                  period=raw.get("period") or "", industry=raw.get("industry") or "",
                  counts=_layer_filter(raw.get("counts")), id=str(raw.get("id") or ""),
                  also=tuple(Mention(str(m["section"]), str(m["quote"])) for m in raw.get("also") or ()))


def task_from_dict(raw: dict) -> Task:
    return Task(
        id=raw["id"], title_zh=raw["title_zh"], title_en=raw["title_en"],
        section=raw["section"], quote=raw["quote"],
        places=tuple(raw.get("places") or ()),
        layers=tuple(_layer_filter(f) for f in raw.get("layers") or ()),
        cities=tuple(str(c) for c in raw.get("cities") or ()),
        missing_places=tuple(MissingPlace(**m) for m in raw.get("missing_places") or ()),
        industries=tuple(raw.get("industries") or ()),
        targets=tuple(_target(t) for t in raw.get("targets") or ()),
    )


@lru_cache(maxsize=4)
def load_tasks(path: Path) -> tuple[Task, ...]:
    with open(path, encoding="utf-8") as fh:
        return tuple(task_from_dict(raw) for raw in yaml.safe_load(fh))


def _digits(text: str) -> str:
    return "".join(text.split())


def check_tasks(tasks, place_ids: set[str], layer_ids: set[str], city_codes: set[str],
                sections: dict[str, plan_text.Section],
                industries: dict[str, tuple[str, str]] | None = None) -> list[str]:
    """Every problem found, as readable sentences; an empty list means the tasks are sound.
    `sections`: the plan text's sections; `industries`: the plan's industry vocabulary
    (default: vocab.INDUSTRIES)."""
    problems = []
    seen, target_ids = set(), set()
    industries = vocab.INDUSTRIES if industries is None else industries
    for task in tasks:
        where = f"task '{task.id}'"
        if task.id in seen:
            problems.append(f"{where}: id used twice")
        seen.add(task.id)
        if task.section not in sections:
            problems.append(f"{where}: section '{task.section}' does not exist in the plan text")
        elif not plan_text.quote_in_section(task.section, task.quote, sections):
            problems.append(f"{where}: quote not found in section {task.section}")
        for pid in task.places:
            if pid not in place_ids:
                problems.append(f"{where}: place '{pid}' is not in the registry")
        for code in task.cities:
            if code not in city_codes:
                problems.append(f"{where}: '{code}' is not a city adcode")
        for code in task.industries:
            if code not in industries:
                problems.append(f"{where}: unknown industry '{code}'; allowed: {', '.join(industries)}")
        filters = list(task.layers) + [t.counts for t in task.targets if t.counts]
        for f in filters:
            if f.layer and f.layer not in layer_ids:
                problems.append(f"{where}: layer '{f.layer}' does not exist")
            if f.level and f.level not in vocab.LEVELS:
                problems.append(f"{where}: unknown level '{f.level}'")
            if f.kind and f.kind not in vocab.KINDS:
                problems.append(f"{where}: unknown kind '{f.kind}'")
        for target in task.targets:
            label = f"{where}, target '{target.metric_zh}'"
            if not plan_text.quote_in_section(task.section, target.quote, sections):
                problems.append(f"{label}: quote not found in section {task.section}")
            if target.value is not None and _digits(_number(target.value)) not in _digits(target.quote):
                problems.append(f"{label}: value {target.value} is not written in its quote")
            if target.stated_as not in STATED_AS:
                problems.append(f"{label}: stated_as must be one of {', '.join(STATED_AS)}")
            if target.industry and target.industry not in industries:
                problems.append(f"{label}: unknown industry '{target.industry}'; allowed: {', '.join(industries)}")
            if target.id:
                if not TARGET_ID.match(target.id):
                    problems.append(f"{label}: id '{target.id}' must be lower-case letters, digits "
                                    "and single underscores")
                elif target.id in target_ids:
                    problems.append(f"{label}: target id '{target.id}' used twice")
                target_ids.add(target.id)
            for mention in target.also:
                if mention.section not in sections:
                    problems.append(f"{label}: also-section '{mention.section}' does not exist in "
                                    "the plan text")
                elif not plan_text.quote_in_section(mention.section, mention.quote, sections):
                    problems.append(f"{label}: also-quote not found in section {mention.section}")
                elif target.value is not None and \
                        _digits(_number(target.value)) not in _digits(mention.quote):
                    problems.append(f"{label}: value {target.value} is not written in its "
                                    f"also-quote in {mention.section}")
    return problems


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
