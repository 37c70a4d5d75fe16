"""Plans as data: one folder per plan under <data>/plans/<plan_id>/, described by its manifest
`plan.yaml` (docs/plans.md). The province's places are shared by every plan (the registry);
a plan brings its text, its tasks, what it says about the places it names, and anything only it
defines (designations drawn as admin areas, a corridor derived between two of its places).

    load_plans(data_dir) -> ({plan_id: Plan}, problems)    every manifest, checked key by key

Every problem names the manifest file and the key (field) and says what is allowed, in the
file/row/field style of geoapp.data.validate.Problem. What the manifest points at (the text,
the tasks, the places, the corridor ends) is checked by the registry, which loads it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from geoapp import vocab
from geoapp.data.validate import ID_PATTERN, Problem, relative

PLANS_DIR = "plans"
MANIFEST = "plan.yaml"
TITLE_KEYS = ("full", "short", "atlas", "stats", "sources")
# Metrics the analysis computes rather than counts by kind / level / precision.
COMPUTED_METRICS = ("places", "tasks", "industries_present")
METRIC_SELECTORS = {"kinds": ("kind", vocab.KINDS), "levels": ("level", vocab.LEVELS),
                    "precision": ("location_precision", vocab.LOCATION_PRECISION)}
KEYS = {"id", "default", "titles", "period", "text", "tasks", "places", "areas", "points", "corridor",
        "industries", "kinds", "levels", "groups", "metrics", "map_metrics", "panel_metrics", "bars",
        "layers"}
REQUIRED = ("id", "titles", "period", "text", "tasks", "industries", "metrics")
CORRIDOR_KEYS = {"axis", "half_width_km", "layer", "place", "title"}
HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"
YEARS = (1949, 2100)


@dataclass(frozen=True)
class Corridor:
    """A belt the plan names but does not draw: the corridor `half_width_km` either side of the
    straight axis between two places of the registry (geoapp.analysis.corridor)."""
    axis: tuple[str, str]
    half_width_km: float
    layer: str                 # layer id of its derived geometry: <plan folder>/<layer>.geojson
    place: str                 # the id of the corridor's row in that layer (tasks name it)
    title: tuple[str, str]     # zh, en


@dataclass(frozen=True)
class Group:
    label: tuple[str, str]
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Metric:
    """A per-city figure: places with one of `kinds` / `levels` / `precision` (an empty tuple
    does not narrow), or, for COMPUTED_METRICS, what the analysis computes."""
    label: tuple[str, str]
    kinds: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    precision: tuple[str, ...] = ()

    def selects(self) -> dict[str, tuple[str, ...]]:
        """{place column: allowed values} for the non-empty selectors."""
        return {column: getattr(self, key) for key, (column, _) in METRIC_SELECTORS.items()
                if getattr(self, key)}


@dataclass(frozen=True)
class Plan:
    id: str
    folder: Path
    titles: dict[str, tuple[str, str]]
    period: tuple[int, int]
    text: Path                               # the plan text (absolute)
    tasks_file: Path                         # its tasks (absolute)
    industries: dict[str, tuple[str, str]]   # the plan's industry vocabulary, in menu order
    metrics: dict[str, Metric]               # per-city figures, in column order
    default: bool = False
    places_file: Path | None = None          # id, plan_refs, plan_names, plan_role of shared places
    areas: tuple[Path, ...] = ()             # designations drawn as admin areas (layer = stem)
    points: tuple[Path, ...] = ()            # point places only this plan names (layer = stem)
    corridor: Corridor | None = None
    kinds: tuple[str, ...] = tuple(vocab.KINDS)
    levels: tuple[str, ...] = tuple(vocab.LEVELS)
    groups: dict[str, Group] = field(default_factory=dict)
    map_metrics: tuple[str, ...] = ()
    panel_metrics: tuple[str, ...] = ()      # the map's city panel figures (default: every metric)
    bars: tuple[tuple[str, str], ...] = ()   # (metric, colour)
    layers: tuple[str, ...] | None = None    # layer spec ids shown; None: every spec
    manifest: Path | None = None

    def title(self, key: str = "full", lang: str = "zh") -> str:
        return vocab.pick(self.titles[key], lang)

    @property
    def layer_files(self) -> dict[str, Path]:
        """Layers only this plan defines: {layer id: file}."""
        files = {path.stem: path for path in (*self.areas, *self.points)}
        if self.corridor is not None:
            files[self.corridor.layer] = self.folder / f"{self.corridor.layer}.geojson"
        return files

    def summary(self) -> dict:
        """What /api/plans lists for the plan."""
        return {"id": self.id,
                "title": {"zh": self.titles["full"][0], "en": self.titles["full"][1]},
                "short_title": {"zh": self.titles["short"][0], "en": self.titles["short"][1]},
                "period": {"start": self.period[0], "end": self.period[1]},
                "default": self.default, "corridor": self.corridor is not None}


class _Reader:
    """Reads one manifest, collecting a Problem per wrong key instead of stopping at the first."""

    def __init__(self, path: Path):
        self.path = path
        self.name = relative(path)
        self.problems: list[Problem] = []

    def problem(self, key: str | None, message: str) -> None:
        self.problems.append(Problem(self.name, None, key, message))

    def bilingual(self, value, key: str) -> tuple[str, str] | None:
        if not isinstance(value, dict) or not {"zh", "en"} <= set(value) \
                or not all(isinstance(value[k], str) and value[k].strip() for k in ("zh", "en")):
            self.problem(key, f"needs a Chinese and an English text, e.g. {{zh: 中文, en: English}}; got {value!r}")
            return None
        return value["zh"].strip(), value["en"].strip()

    def codes(self, value, key: str, allowed) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, f"must be a list of codes, e.g. [{', '.join(list(allowed)[:2])}]; got {value!r}")
            return ()
        for code in value:
            if code not in allowed:
                self.problem(key, f"unknown code '{code}'; allowed: {', '.join(allowed)}")
        return tuple(v for v in value if v in allowed)

    def file(self, value, key: str, folder: Path, suffix: str) -> Path | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(key, f"must name a {suffix} file in {relative(folder)}/; got {value!r}")
            return None
        path = (folder / value.strip())
        if ".." in Path(value).parts or Path(value).is_absolute():
            self.problem(key, f"'{value}' must be a path inside the plan folder {relative(folder)}/")
            return None
        if not value.endswith(suffix):
            self.problem(key, f"'{value}' must be a {suffix} file")
            return None
        if not path.is_file():
            self.problem(key, f"'{value}' does not exist in {relative(folder)}/")
            return None
        return path


def read_manifest(folder: Path) -> tuple[Plan | None, list[Problem]]:
    """The folder's plan.yaml as a Plan, or None and the problems saying what is wrong."""
    path = folder / MANIFEST
    r = _Reader(path)
    if not path.is_file():
        r.problem(None, f"missing: every folder in data/{PLANS_DIR}/ needs a {MANIFEST} (see docs/plans.md)")
        return None, r.problems
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        r.problem(None, "not UTF-8 text: save the manifest as UTF-8")
        return None, r.problems
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        r.problem(None, f"not valid YAML{where}: {getattr(error, 'problem', None) or error}")
        return None, r.problems
    if not isinstance(raw, dict):
        r.problem(None, f"must be a mapping of keys ({', '.join(REQUIRED)}, ...); got {type(raw).__name__}")
        return None, r.problems
    for key in sorted(set(raw) - KEYS, key=str):
        r.problem(str(key), f"unknown key; allowed: {', '.join(sorted(KEYS))}")
    for key in REQUIRED:
        if key not in raw:
            r.problem(key, "required key is missing (see docs/plans.md)")
    if r.problems:
        return None, r.problems

    plan_id = raw["id"]
    if not isinstance(plan_id, str) or not ID_PATTERN.match(plan_id):
        r.problem("id", f"'{plan_id}' is not a slug (lower-case letters, digits, single underscores)")
    elif plan_id != folder.name:
        r.problem("id", f"'{plan_id}' differs from its folder name '{folder.name}'; they must be the same")
    default = raw.get("default", False)
    if not isinstance(default, bool):
        r.problem("default", f"must be true or false; got {default!r}")

    titles: dict[str, tuple[str, str]] = {}
    if not isinstance(raw["titles"], dict):
        r.problem("titles", f"must be a mapping with {', '.join(TITLE_KEYS)}, each {{zh, en}}")
    else:
        for key in sorted(set(raw["titles"]) - set(TITLE_KEYS), key=str):
            r.problem(f"titles.{key}", f"unknown title; allowed: {', '.join(TITLE_KEYS)}")
        for key in TITLE_KEYS:
            if key not in raw["titles"]:
                r.problem(f"titles.{key}", "missing; every plan gives titles "
                          f"{', '.join(TITLE_KEYS)}, each {{zh, en}}")
            elif (pair := r.bilingual(raw["titles"][key], f"titles.{key}")) is not None:
                titles[key] = pair

    period = raw["period"]
    years: tuple[int, int] = (0, 0)
    if not isinstance(period, dict) or set(period) != {"start", "end"}:
        r.problem("period", f"must be {{start: YEAR, end: YEAR}}; got {period!r}")
    elif not all(isinstance(period[k], int) and not isinstance(period[k], bool)
                 and YEARS[0] <= period[k] <= YEARS[1] for k in ("start", "end")):
        r.problem("period", f"start and end must be years ({YEARS[0]}–{YEARS[1]}); got {period!r}")
    elif period["start"] > period["end"]:
        r.problem("period", f"start {period['start']} is after end {period['end']}")
    else:
        years = (period["start"], period["end"])

    text = r.file(raw["text"], "text", folder, ".txt")
    tasks_file = r.file(raw["tasks"], "tasks", folder, ".yaml")
    places_file = r.file(raw["places"], "places", folder, ".csv") if "places" in raw else None
    own_files: dict[str, list[Path]] = {"areas": [], "points": []}
    for key, files in own_files.items():
        if key not in raw:
            continue
        if not isinstance(raw[key], list):
            r.problem(key, f"must be a list of CSV files in this folder; got {raw[key]!r}")
            continue
        for index, value in enumerate(raw[key], start=1):
            if (found := r.file(value, f"{key}[{index}]", folder, ".csv")) is not None:
                files.append(found)
    stems = [p.stem for files in own_files.values() for p in files]
    for stem in sorted({s for s in stems if stems.count(s) > 1}):
        r.problem("areas", f"two files give the layer '{stem}'; a layer id (file stem) is used once")
    areas, points = own_files["areas"], own_files["points"]

    industries: dict[str, tuple[str, str]] = {}
    if not isinstance(raw["industries"], dict) or not raw["industries"]:
        r.problem("industries", "must map industry codes to {zh, en} labels, e.g. "
                  "{biomedicine: {zh: 生物医药, en: Biomedicine}}")
    else:
        for code, value in raw["industries"].items():
            if not isinstance(code, str) or not ID_PATTERN.match(code):
                r.problem(f"industries.{code}", "an industry code must be a slug (lower-case letters, "
                          "digits, single underscores)")
            elif (pair := r.bilingual(value, f"industries.{code}")) is not None:
                industries[code] = pair

    kinds = r.codes(raw["kinds"], "kinds", vocab.KINDS) if "kinds" in raw else tuple(vocab.KINDS)
    levels = r.codes(raw["levels"], "levels", vocab.LEVELS) if "levels" in raw else tuple(vocab.LEVELS)

    groups: dict[str, Group] = {}
    if "groups" in raw:
        if not isinstance(raw["groups"], dict):
            r.problem("groups", "must map group ids to {zh, en, kinds: [...]}")
        else:
            for gid, value in raw["groups"].items():
                key = f"groups.{gid}"
                if not isinstance(value, dict) or set(value) - {"zh", "en", "kinds"}:
                    r.problem(key, f"must be {{zh, en, kinds: [kind codes]}}; got {value!r}")
                    continue
                label = r.bilingual(value, key)
                group_kinds = r.codes(value.get("kinds", []), f"{key}.kinds", vocab.KINDS)
                if label is not None:
                    groups[str(gid)] = Group(label, group_kinds)

    metrics: dict[str, Metric] = {}
    if not isinstance(raw["metrics"], dict) or not raw["metrics"]:
        r.problem("metrics", "must map metric ids to {zh, en} and optional kinds/levels/precision lists")
    else:
        for mid, value in raw["metrics"].items():
            key = f"metrics.{mid}"
            allowed = {"zh", "en", *METRIC_SELECTORS}
            if not isinstance(mid, str) or not ID_PATTERN.match(mid):
                r.problem(key, "a metric id must be a slug (lower-case letters, digits, single underscores)")
                continue
            if mid.startswith("industry_"):
                r.problem(key, "ids starting with industry_ are the per-industry columns; choose another id")
                continue
            if not isinstance(value, dict) or set(value) - allowed:
                r.problem(key, f"must be {{zh, en}} with optional {', '.join(METRIC_SELECTORS)} lists; "
                          f"got {value!r}")
                continue
            if mid in COMPUTED_METRICS and set(value) & set(METRIC_SELECTORS):
                r.problem(key, f"'{mid}' is computed ({', '.join(COMPUTED_METRICS)} are); "
                          "it takes only zh and en")
                continue
            label = r.bilingual(value, key)
            selectors = {k: r.codes(value[k], f"{key}.{k}", table) for k, (_, table) in
                         METRIC_SELECTORS.items() if k in value}
            if label is not None:
                metrics[mid] = Metric(label, **selectors)

    map_metrics: tuple[str, ...] = ()
    if "map_metrics" in raw:
        map_metrics = r.codes(raw["map_metrics"], "map_metrics", list(metrics) or ["places"])
    panel_metrics: tuple[str, ...] = ()
    if "panel_metrics" in raw:
        panel_metrics = r.codes(raw["panel_metrics"], "panel_metrics", list(metrics) or ["places"])
    bars: list[tuple[str, str]] = []
    if "bars" in raw:
        if not isinstance(raw["bars"], list):
            r.problem("bars", "must be a list of {metric, colour}")
        else:
            for index, value in enumerate(raw["bars"], start=1):
                key = f"bars[{index}]"
                if not isinstance(value, dict) or set(value) != {"metric", "colour"}:
                    r.problem(key, f"must be {{metric: <metric id>, colour: '#rrggbb'}}; got {value!r}")
                elif value["metric"] not in metrics:
                    r.problem(f"{key}.metric", f"unknown metric '{value['metric']}'; allowed: "
                              f"{', '.join(metrics)}")
                elif not isinstance(value["colour"], str) or not re.match(HEX_COLOUR, value["colour"]):
                    r.problem(f"{key}.colour", f"must be a colour '#rrggbb'; got {value['colour']!r}")
                else:
                    bars.append((value["metric"], value["colour"]))

    layers = None
    if "layers" in raw:
        if not isinstance(raw["layers"], list) or not all(isinstance(v, str) for v in raw["layers"]):
            r.problem("layers", f"must be a list of layer ids (layers/*.yaml); got {raw['layers']!r}")
        else:
            layers = tuple(raw["layers"])  # checked against the specs by the registry

    corridor = None
    if raw.get("corridor") is not None:
        corridor = _corridor(r, raw["corridor"], folder)

    if r.problems:
        return None, r.problems
    return Plan(id=plan_id, folder=folder, titles=titles, period=years, text=text, tasks_file=tasks_file,
                industries=industries, metrics=metrics, default=default, places_file=places_file,
                areas=tuple(areas), points=tuple(points), corridor=corridor, kinds=kinds, levels=levels, groups=groups,
                map_metrics=map_metrics or tuple(metrics)[:1], panel_metrics=panel_metrics or tuple(metrics),
                bars=tuple(bars), layers=layers,
                manifest=path), []


def _corridor(r: _Reader, raw, folder: Path) -> Corridor | None:
    if not isinstance(raw, dict):
        r.problem("corridor", "must be {axis: [place_a, place_b], half_width_km, layer, place, title: {zh, en}} "
                  "or left out (a plan without a corridor)")
        return None
    for key in sorted(set(raw) - CORRIDOR_KEYS, key=str):
        r.problem(f"corridor.{key}", f"unknown key; allowed: {', '.join(sorted(CORRIDOR_KEYS))}")
    for key in sorted(CORRIDOR_KEYS - set(raw)):
        r.problem(f"corridor.{key}", "required key is missing")
    if set(raw) != CORRIDOR_KEYS:
        return None
    ok = True
    axis = raw["axis"]
    if not isinstance(axis, list) or len(axis) != 2 or not all(isinstance(a, str) for a in axis) \
            or axis[0] == axis[1]:
        r.problem("corridor.axis", f"must be two different place ids, e.g. [htz_a, htz_b]; got {axis!r}")
        ok = False
    width = raw["half_width_km"]
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 1 <= width <= 100:
        r.problem("corridor.half_width_km", f"must be a number of km from 1 to 100; got {width!r}")
        ok = False
    for key in ("layer", "place"):
        if not isinstance(raw[key], str) or not ID_PATTERN.match(raw[key]):
            r.problem(f"corridor.{key}", f"must be a slug id; got {raw[key]!r}")
            ok = False
    if ok and not (folder / f"{raw['layer']}.geojson").is_file():
        r.problem("corridor.layer", f"{raw['layer']}.geojson does not exist in {relative(folder)}/ "
                  "(scripts/build_belt.py writes it: make data)")
        ok = False
    title = r.bilingual(raw["title"], "corridor.title")
    if not ok or title is None:
        return None
    return Corridor((axis[0], axis[1]), float(width), raw["layer"], raw["place"], title)


def load_plans(data_dir: Path) -> tuple[dict[str, Plan], list[Problem]]:
    """Every plan of <data_dir>/plans/, the default plan first, then by id; and the problems of
    their manifests (a manifest with problems gives no Plan). Exactly one plan is the default."""
    root = Path(data_dir) / PLANS_DIR
    problems: list[Problem] = []
    if not root.is_dir():
        return {}, [Problem(relative(root), None, None, "missing: the plans folder holds one folder "
                            "per plan, each with a plan.yaml (see docs/plans.md)")]
    plans: list[Plan] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        plan, found = read_manifest(folder)
        problems += found
        if plan is not None:
            plans.append(plan)
    if not plans and not problems:
        problems.append(Problem(relative(root), None, None, "no plan: add a folder with a plan.yaml "
                                "(see docs/plans.md)"))
    defaults = [p for p in plans if p.default]
    if plans and len(defaults) != 1 and not problems:
        names = ", ".join(relative(p.manifest) for p in defaults) or "none of " + \
            ", ".join(relative(p.manifest) for p in plans)
        problems.append(Problem(relative(root), None, "default",
                                f"exactly one plan must say `default: true`; found {len(defaults)} ({names})"))
    plans.sort(key=lambda p: (not p.default, p.id))
    return {p.id: p for p in plans}, problems
