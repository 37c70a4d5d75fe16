"""The one registry: the single door to the data. Everything under one data folder (ATLAS_DATA_DIR)
plus the layer specs (ATLAS_LAYERS_DIR) is loaded once, validated and cross-checked here.

The province's places are shared by every plan:

    <data>/boundaries/liaoning_{province,city,district}[.display].geojson
    <data>/{parks,platforms}/<layer_id>.csv           point layers: lon/lat in WGS84
    <data>/zones/<layer_id>.geojson                   shared area geometries (none today)
    <data>/zones/<layer_id>.csv with member_id        members of other layers, by id (demo-zone core)
    <data>/*/SOURCE.md                                where the facts come from (shown on /about)

and each plan lives in its own folder (geoapp.data.plans, docs/plans.md):

    <data>/plans/<plan_id>/plan.yaml                  the manifest: titles, period, files, vocabulary...
    <data>/plans/<plan_id>/<text>                     the plan text (sections plan_refs cite)
    <data>/plans/<plan_id>/tasks.yaml                 the plan's spatial tasks
    <data>/plans/<plan_id>/<areas>.csv                designations only it defines, drawn as admin areas
    <data>/plans/<plan_id>/<corridor layer>.geojson   its derived corridor, when it has one
    <layers>/*.yaml                                   layer specs (geoapp.specs)

A Registry is one plan's view of the data: the shared places plus that plan's text, tasks,
layers and layer specs (`registry.plan`). `load_registry` checks every plan and returns the
default plan's view; `registry.for_plan(plan_id)` gives another plan's.

Every problem found in any of them is collected and raised together as DataValidationError,
each naming file, row and field (geoapp.data.validate.Problem): `python -m geoapp.data check`
prints them, and the app does not start. Code above the data layer asks the registry, never
the file system.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geoapp import DATA_DIR, LAYERS_DIR
from geoapp.data import plan_text
from geoapp.data.groups import GROUPS_FILE, check_group_rows, read_group_terms
from geoapp.data.outcomes import OUTCOMES_NAME, Outcomes, check_outcomes, load_outcomes
from geoapp.data.plans import Plan, load_plans
from geoapp.data.tasks import Task, check_tasks, load_tasks
from geoapp.data.validate import (DataValidationError, Problem, check_crs, check_places,
                                  check_plan_places, check_template_syntax, read_seats, relative)
from geoapp.specs import LayerSpec, LayerSpecError, load_specs

BOUNDARY_LEVELS = ("province", "city", "district")
# Folders of the shared registry whose CSVs are point layers (lon/lat).
POINT_LAYER_DIRS = ("parks", "platforms")
ZONES_DIR = "zones"
TEXT_COLUMNS = ["id", "name_zh", "name_en", "kind", "level", "city_adcode", "district_adcode",
                "industries", "plan_role", "location_precision", "plan_refs", "plan_names", "source",
                "note_zh", "note_en"]
# The shared data folders' SOURCE.md files, in the order /about shows them, with their titles;
# the plan's own SOURCE.md follows them.
SOURCE_FILES = [("parks", ("地点（高新区、集群、基地、园区、平台）", "Places")),
                ("zones", ("区域（产业带、试验区、示范区核心区）", "Zones")),
                ("boundaries", ("行政区划边界", "Boundaries"))]
PLAN_SOURCE_TITLE = ("规划任务", "Plan tasks")
# Columns every place frame has (as text) once joined: what the filter and the analysis read.
PLACE_COLUMNS = ("id", "kind", "level", "city_adcode", "district_adcode", "industries",
                 "location_precision")


@dataclass(frozen=True)
class SourceDocument:
    folder: str                  # e.g. 'parks'
    file: str                    # path shown to people, e.g. data/parks/SOURCE.md
    title: tuple[str, str]       # zh, en
    text: str                    # markdown
    text_zh: str | None = None   # SOURCE.zh.md, the same notes in Chinese, where the folder has one

    def for_lang(self, lang: str) -> tuple[str, str]:
        """(file shown, markdown) in the page's language; English where no Chinese version exists."""
        if lang != "en" and self.text_zh is not None:
            return self.file.replace("SOURCE.md", "SOURCE.zh.md"), self.text_zh
        return self.file, self.text


def join_places(layers: Mapping[str, gpd.GeoDataFrame], skip: Iterable[str] = ()) -> gpd.GeoDataFrame:
    """The place layers (those with an `id` column) in one frame with a `layer` column,
    leaving out the layers in `skip`; PLACE_COLUMNS as text."""
    skip = set(skip)
    frames = [frame.assign(layer=layer_id) for layer_id, frame in layers.items()
              if "id" in frame.columns and layer_id not in skip]
    if not frames:
        return gpd.GeoDataFrame({"id": [], "layer": []}, geometry=[], crs=4326)
    places = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
    places.attrs = {}
    for column in PLACE_COLUMNS:
        if column not in places:
            places[column] = ""
        places[column] = places[column].fillna("").astype(str)
    return places


@dataclass
class Registry:
    boundaries: dict[str, gpd.GeoDataFrame]
    display: dict[str, gpd.GeoDataFrame]
    layers: dict[str, gpd.GeoDataFrame]
    files: dict[str, Path] = field(default_factory=dict)
    specs: list[LayerSpec] = field(default_factory=list)
    tasks: tuple[Task, ...] = ()
    sections: dict[str, plan_text.Section] = field(default_factory=dict)
    sources: list[SourceDocument] = field(default_factory=list)
    data_dir: Path = DATA_DIR
    outcomes: Outcomes = field(default_factory=Outcomes)
    plan: Plan | None = None                                   # the plan of this view
    plans: dict[str, Plan] = field(default_factory=dict)       # every plan, the default first
    _views: dict[str, Registry] = field(default_factory=dict, repr=False)   # plan id -> view
    _added: tuple[dict, dict] = field(default_factory=lambda: ({}, {}), repr=False)  # with_layers
    _counted: gpd.GeoDataFrame | None = field(default=None, repr=False)

    def layer(self, layer_id: str) -> gpd.GeoDataFrame:
        return self.layers[layer_id]

    @property
    def default_plan(self) -> Plan | None:
        return next(iter(self.plans.values()), None)

    def for_plan(self, plan_id: str) -> Registry:
        """The view of plan `plan_id` (KeyError for an unknown id): the same shared places and
        boundaries, that plan's text, tasks, own layers and layer specs, plus the layers this
        registry was given with `with_layers` (imported lists)."""
        view = self._views[plan_id] if plan_id != getattr(self.plan, "id", None) else self
        if view is self or not self._added[0]:
            return view
        frames, files = self._added
        return replace(view, layers={**view.layers, **frames}, files={**view.files, **files},
                       _added=(frames, files), _counted=None)

    @property
    def uncounted(self) -> set[str]:
        """Layers whose spec says `counted: false` (their rows repeat other layers' places),
        whether or not this plan shows them."""
        return {spec.data for spec in self.specs if not spec.counted} | \
            {layer_id for layer_id, frame in self.layers.items() if frame.attrs.get("counted") is False}

    def with_layers(self, layers: dict[str, gpd.GeoDataFrame], source: Path) -> Registry:
        """This registry plus layers held elsewhere (imported lists from the store, already
        validated on import); `source` names where they come from in `summary`."""
        frames = {k: _normalise(f) for k, f in layers.items()}
        files = {k: source for k in layers}
        added = ({**self._added[0], **frames}, {**self._added[1], **files})
        return replace(self, layers={**self.layers, **frames}, files={**self.files, **files},
                       _added=added, _counted=None)

    def places(self) -> gpd.GeoDataFrame:
        """All point/area layers in one frame, with a `layer` column (a place listed by a
        `counted: false` layer too appears twice: see counted_places)."""
        return join_places(self.layers)

    def counted_places(self) -> gpd.GeoDataFrame:
        """Every place once, with a `layer` column (built once; do not modify the frame)."""
        if self._counted is None:
            self._counted = join_places(self.layers, self.uncounted)
        return self._counted

    def summary(self) -> list[dict]:
        rows = []
        for level, frame in self.boundaries.items():
            rows.append({"layer": f"boundaries/{level}", "features": len(frame),
                         "geometry": ", ".join(sorted(frame.geom_type.unique())),
                         "file": relative(self.files[f"boundaries:{level}"])})
        for layer_id, frame in self.layers.items():
            rows.append({"layer": layer_id, "features": len(frame),
                         "geometry": ", ".join(sorted(frame.geom_type.unique())),
                         "file": relative(self.files[layer_id])})
        return rows


def read_table(path: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """A UTF-8 CSV as text cells; a file that cannot be read gives problems naming the row."""
    name = relative(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig"), []
    except UnicodeDecodeError as error:
        raw = path.read_bytes()
        line = raw[:error.start].count(b"\n")  # 0 = the header
        return None, [Problem(name, line or None, None,
                              f"not UTF-8 text (byte 0x{raw[error.start]:02x} "
                              f"{'in the header' if line == 0 else 'in this row'}): save the file as "
                              "UTF-8, e.g. a GBK/GB18030 file from Excel as 'CSV UTF-8'")]
    except pd.errors.EmptyDataError:
        return None, [Problem(name, None, None, "empty file: a header row and data rows are needed")]
    except (pd.errors.ParserError, ValueError) as error:
        text = str(error)
        if m := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text):
            expected, line, seen = (int(g) for g in m.groups())
            return None, [Problem(name, line - 1, None,
                                  f"has {seen} cells, the header has {expected} (a comma inside a "
                                  "value needs the value in double quotes)")]
        return None, [Problem(name, None, None, f"cannot be read as CSV: {text.strip()}")]


def read_geojson(path: Path) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """A GeoJSON file, or problems saying why it cannot be read."""
    name = relative(path)
    if not path.exists():
        return None, [Problem(name, None, None, "file is missing")]
    try:
        frame = gpd.read_file(path)
    except Exception as error:  # pyogrio/GDAL raise several types for unreadable input
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, [Problem(name, None, None, f"cannot be read as GeoJSON ({message})")]
    return frame, check_crs(frame, path)


def read_boundaries(data_dir: Path, display: bool = False,
                    files: dict[str, Path] | None = None) -> tuple[dict[str, gpd.GeoDataFrame], list[Problem]]:
    suffix = ".display" if display else ""
    result, problems = {}, []
    for level in BOUNDARY_LEVELS:
        path = data_dir / "boundaries" / f"liaoning_{level}{suffix}.geojson"
        frame, read_problems = read_geojson(path)
        problems += read_problems
        if frame is None:
            continue
        missing = [c for c in ("adcode", "name_zh", "name_en", "parent_adcode") if c not in frame.columns]
        problems += [Problem(relative(path), None, c, "required property is missing") for c in missing]
        broken = [i for i, g in enumerate(frame.geometry, start=1) if g is None or g.is_empty]
        problems += [Problem(relative(path), i, "geometry", "missing or empty") for i in broken]
        if missing or broken or read_problems:
            continue
        frame["adcode"] = frame["adcode"].astype(str)
        frame["parent_adcode"] = frame["parent_adcode"].fillna("").astype(str)
        result[level] = frame.drop(columns=["id"], errors="ignore")
        if files is not None:
            files[f"boundaries:{level}"] = path
    return result, problems


def read_point_csv(path: Path) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """A UTF-8 CSV with lon/lat (WGS84) columns as a GeoDataFrame, plus problems in lon/lat."""
    table, problems = read_table(path)
    if table is None:
        return None, problems
    if not {"lon", "lat"} <= set(table.columns):
        return None, [Problem(relative(path), None, "lon/lat",
                              "columns 'lon' and 'lat' (WGS84 degrees) are required")]
    lon = pd.to_numeric(table["lon"], errors="coerce")
    lat = pd.to_numeric(table["lat"], errors="coerce")
    missing = (lon.isna() | lat.isna()).to_numpy()
    wrong = ~missing & ~(lon.between(-180, 180) & lat.between(-90, 90)).to_numpy()
    for i in np.flatnonzero(missing | wrong):  # only the bad rows are visited one by one
        x, y, raw_x, raw_y = lon.iat[i], lat.iat[i], table["lon"].iat[i], table["lat"].iat[i]
        if missing[i]:
            problems.append(Problem(relative(path), int(i) + 1, "lon/lat",
                                    f"'{raw_x}', '{raw_y}' are not decimal degrees"))
        else:
            problems.append(Problem(relative(path), int(i) + 1, "lon/lat",
                                    f"({x}, {y}) is not a longitude/latitude pair"))
    frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    return frame, problems


def _areas_layer(path: Path, boundaries, seen_ids, seats, sections,
                 industries=None) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """Plan designations whose extent is an administrative area (column area_adcode)."""
    table, problems = read_table(path)
    if table is None:
        return None, problems
    admin = pd.concat([boundaries["city"], boundaries["district"]]).set_index("adcode").geometry
    geoms = []
    for position, code in enumerate(table.get("area_adcode", pd.Series(dtype=str)), start=1):
        if code not in admin.index:
            problems.append(Problem(relative(path), position, "area_adcode",
                                    f"'{code}' is not a Liaoning city or district adcode"))
            geoms.append(None)
        else:
            geoms.append(admin.loc[code])
    frame = gpd.GeoDataFrame(table, geometry=geoms, crs=4326)
    if not problems:
        problems += check_places(frame, path, boundaries, seen_ids, seats, sections, industries=industries)
    return frame, problems


def _members_layer(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """A layer made of rows of other layers, listed by member_id (e.g. the demo-zone core)."""
    table, problems = read_table(path)
    if table is None:
        return None, problems
    everything = pd.concat([f.assign(layer=k) for k, f in layers.items() if "id" in f.columns],
                           ignore_index=True).set_index("id")
    rows = []
    for position, rec in enumerate(table.to_dict("records"), start=1):
        member = rec.get("member_id", "")
        if member not in everything.index:
            problems.append(Problem(relative(path), position, "member_id",
                                    f"'{member}' is not the id of any place"))
            continue
        base = everything.loc[member].to_dict()
        base.update({k: v for k, v in rec.items() if v != ""})
        base["id"] = rec.get("id") or f"{path.stem}_{member}"
        rows.append(base)
        if not str(rec.get("source", "")).strip():
            problems.append(Problem(relative(path), position, "source", "empty"))
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326) if rows else \
        gpd.GeoDataFrame(table, geometry=gpd.GeoSeries([], crs=4326))
    return frame, problems


def _empty_layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=str) for c in TEXT_COLUMNS},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def _normalise(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    for column in TEXT_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
        text = frame[column].fillna("").astype(str)
        # str.strip per cell in plain Python: pandas' .str.strip on this dtype is ~10x slower
        frame[column] = pd.Series([cell.strip() for cell in text.tolist()], index=text.index, dtype=text.dtype)
    return frame


def _read_plan(plan: Plan) -> tuple[dict[str, plan_text.Section], list[Problem]]:
    """The sections of the plan's text (its manifest names the file, which exists)."""
    try:
        return plan_text.sections(plan.text), []
    except UnicodeDecodeError:
        return {}, [Problem(relative(plan.text), None, None, "not UTF-8 text: save the plan text as UTF-8")]


def _read_tasks(path: Path) -> tuple[tuple[Task, ...], list[Problem]]:
    try:
        tasks = load_tasks(path)
    except UnicodeDecodeError:
        return (), [Problem(relative(path), None, None, "not UTF-8 text: save the file as UTF-8")]
    except Exception as error:  # YAML syntax, a missing key, a wrong type
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return (), [Problem(relative(path), None, None,
                            f"cannot be read as the task list{where}: {type(error).__name__}: {error}")]
    return tasks, []


def _read_outcomes(path: Path) -> tuple[Outcomes, list[Problem]]:
    try:
        return load_outcomes(path), []
    except UnicodeDecodeError:
        return Outcomes(), [Problem(relative(path), None, None, "not UTF-8 text: save the file as UTF-8")]
    except Exception as error:  # YAML syntax, a missing key, a wrong type
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return Outcomes(), [Problem(relative(path), None, None,
                                    f"cannot be read as outcomes{where}: {type(error).__name__}: {error}")]


def _source_document(folder: Path, key: str, title: tuple[str, str]
                     ) -> tuple[SourceDocument | None, list[Problem]]:
    path = folder / "SOURCE.md"
    if not path.exists():
        return None, []
    zh_path = folder / "SOURCE.zh.md"
    try:
        text = path.read_text(encoding="utf-8")
        text_zh = zh_path.read_text(encoding="utf-8") if zh_path.exists() else None
    except UnicodeDecodeError:
        return None, [Problem(relative(path), None, None, "not UTF-8 text: save it as UTF-8")]
    shown = relative(path)
    if shown == str(path):  # outside the project: show it from the data folder down
        shown = "data/" + "/".join(path.parts[-(len(Path(key).parts) + 1):])
    return SourceDocument(key, shown, title, text, text_zh), []


def _read_sources(data_dir: Path) -> tuple[list[SourceDocument], list[Problem]]:
    """The shared folders' SOURCE.md files."""
    documents, problems = [], []
    for folder, title in SOURCE_FILES:
        document, found = _source_document(data_dir / folder, folder, title)
        problems += found
        if document is not None:
            documents.append(document)
    return documents, problems


def _read_specs(layers_dir: Path | None) -> tuple[list[LayerSpec], list[Problem]]:
    if layers_dir is None:
        return [], []
    try:
        return load_specs(Path(layers_dir)), []
    except LayerSpecError as error:
        name, _, message = str(error).partition(": ")
        if message and (Path(layers_dir) / name).is_file():  # "<file>: what is wrong"
            return [], [Problem(relative(Path(layers_dir) / name), None, None, message)]
        return [], [Problem(relative(Path(layers_dir)), None, None, str(error))]


def _cross_check(registry: Registry, broken: set[str]) -> list[Problem]:
    """Specs against the loaded layers, tasks against places, layers, cities and plan sections,
    the corridor's ends against the places. Layers in `broken` were found but could not be read
    (already reported)."""
    problems = []
    plan = registry.plan
    known = set(registry.layers) | {f"boundaries:{level}" for level in registry.boundaries}
    for spec in registry.specs:
        if spec.data not in known and spec.data not in broken:
            expected = "" if spec.data.startswith("boundaries:") else \
                (f" (no data/*/{spec.data}.csv, data/zones/{spec.data}.geojson or a file of "
                 f"{relative(plan.folder)}/ named by its plan.yaml)")
            problems.append(Problem(relative(spec.path), None, "data",
                                    f"'{spec.data}' is not a loaded layer{expected}; "
                                    f"known: {', '.join(sorted(known))}"))
    place_ids = set(registry.places()["id"]) if registry.layers else set()
    if plan.corridor is not None and not broken:
        for end in plan.corridor.axis:
            if end not in place_ids:
                problems.append(Problem(relative(plan.manifest), None, "corridor.axis",
                                        f"'{end}' is not the id of any place in the registry"))
    if registry.tasks and registry.sections and not broken:
        city_codes = set(registry.boundaries["city"]["adcode"]) if "city" in registry.boundaries else set()
        for message in check_tasks(registry.tasks, place_ids, set(registry.layers), city_codes,
                                   registry.sections, plan.industries):
            task = re.match(r"task '([^']*)'", message)
            problems.append(Problem(relative(plan.tasks_file), None,
                                    f"task {task.group(1)}" if task else None,
                                    message.split(": ", 1)[1] if task else message))
        for message in check_outcomes(registry.outcomes, registry.tasks, plan.period, city_codes,
                                      registry.sections):
            problems.append(Problem(relative(plan.folder / OUTCOMES_NAME), None, None, message))
    return problems


def _plan_specs(plan: Plan, specs: list[LayerSpec], others: set[str]) -> tuple[list[LayerSpec], list[Problem]]:
    """The layer specs the plan shows: those its manifest lists, in spec order; without a list,
    every spec but those drawing another plan's own layers (`others`)."""
    if plan.layers is None:
        return [s for s in specs if s.data not in others], []
    ids = [s.id for s in specs]
    problems = [Problem(relative(plan.manifest), None, "layers",
                        f"unknown layer '{layer}'; known (layers/*.yaml): {', '.join(ids)}")
                for layer in plan.layers if layer not in ids]
    return [s for s in specs if s.id in plan.layers], problems


PLAN_COLUMNS = ("plan_refs", "plan_names", "plan_role")


def _plan_places(plan: Plan, layers: dict[str, gpd.GeoDataFrame], sections, broken: set[str] = frozenset()
                 ) -> tuple[dict[str, gpd.GeoDataFrame], list[Problem]]:
    """The shared layers with the plan's own columns (PLAN_COLUMNS) from its places.csv: what
    the plan cites for each place it names. Rows the plan does not list keep the columns they
    carry (imported or synthetic lists cite the default plan) in the default plan's view, and
    have them empty in any other plan's."""
    table, problems = (read_table(plan.places_file) if plan.places_file is not None
                       else (pd.DataFrame(columns=["id", *PLAN_COLUMNS]), []))
    if table is None:
        return layers, problems
    names = {}
    for frame in layers.values():
        if "id" in frame.columns and len(frame):
            names.update(zip(frame["id"], frame["name_zh"]))
    if plan.places_file is not None:
        problems += check_plan_places(table, plan.places_file, names, sections, plan.industries,
                                      check_ids=not broken)
    table = table.fillna("").astype(str)
    given = {column: dict(zip(table["id"].str.strip(), table[column].str.strip()))
             for column in PLAN_COLUMNS if column in table.columns}
    result = {}
    for layer_id, frame in layers.items():
        if "id" not in frame.columns or not len(frame):
            result[layer_id] = frame
            continue
        listed = frame["id"].isin(given.get("plan_refs", {}).keys())
        if not listed.any() and plan.default:
            result[layer_id] = frame  # nothing to change: the same frame, not a copy
            continue
        frame = frame.copy()
        frame.attrs = dict(frame.attrs)
        for column in PLAN_COLUMNS:
            mine = frame["id"].map(given.get(column, {}))
            keep = frame[column] if plan.default else pd.Series("", index=frame.index, dtype=object)
            frame[column] = mine.where(listed, keep).fillna("").astype(str)
        result[layer_id] = frame
    return result, problems


def _read_plan_specs(plan: Plan, specs: list[LayerSpec]) -> tuple[list[LayerSpec], list[Problem]]:
    """The layer specs with those only this plan has (<plan folder>/layers/*.yaml), in file-name
    order among the shared ones; an id used twice is a problem."""
    folder = plan.folder / "layers"
    if not folder.is_dir():
        return specs, []
    own, problems = _read_specs(folder)
    ids = {s.id for s in specs}
    problems += [Problem(relative(s.path), None, "id", f"'{s.id}' is already a layer id in layers/; "
                         "a plan's own layer needs an id of its own") for s in own if s.id in ids]
    merged = specs + [s for s in own if s.id not in ids]
    return sorted(merged, key=lambda s: s.path.name if s.path else ""), problems


def _plan_view(plan: Plan, shared: Registry, specs: list[LayerSpec], seats, others: set[str],
               shared_broken: set[str], members: list[tuple[str, gpd.GeoDataFrame, Path]]
               ) -> tuple[Registry | None, list[Problem]]:
    """One plan's view: the shared registry plus the plan's text, tasks, own layers and specs."""
    sections, problems = _read_plan(plan)
    tasks, task_problems = _read_tasks(plan.tasks_file)
    outcomes, outcome_problems = _read_outcomes(plan.folder / OUTCOMES_NAME)
    problems += task_problems + outcome_problems
    layers = dict(shared.layers)
    files = dict(shared.files)
    broken = set(shared_broken)
    seen_ids = {i: relative(files[k]) for k, f in shared.layers.items() if "id" in f.columns for i in f["id"]}
    layers, place_problems = _plan_places(plan, layers, sections, shared_broken)
    problems += place_problems
    own: dict[str, gpd.GeoDataFrame] = {}
    for path in plan.points:
        frame, read_problems = read_point_csv(path)
        problems += read_problems
        if frame is None:
            broken.add(path.stem)
            continue
        if not read_problems:
            problems += check_places(frame, path, shared.boundaries, seen_ids, seats or None, sections,
                                     industries=plan.industries)
        own[path.stem], files[path.stem] = _normalise(frame), path
    for path in plan.areas:
        frame, area_problems = _areas_layer(path, shared.boundaries, seen_ids, seats, sections,
                                            plan.industries)
        problems += area_problems
        if frame is not None:
            own[path.stem], files[path.stem] = _normalise(frame), path
        else:
            broken.add(path.stem)
    if plan.corridor is not None:
        path = plan.folder / f"{plan.corridor.layer}.geojson"
        frame, read_problems = read_geojson(path)
        problems += read_problems
        if frame is None or read_problems:
            broken.add(path.stem)
        else:
            if "id" in frame.columns:
                problems += [Problem(relative(path), i, "source", "empty")
                             for i, s in enumerate(frame.get("source", [""] * len(frame)), 1)
                             if not str(s or "").strip()]
                if plan.corridor.place not in set(frame["id"]):
                    problems.append(Problem(relative(plan.manifest), None, "corridor.place",
                                            f"'{plan.corridor.place}' is not the id of a row of {relative(path)}"))
            own[path.stem], files[path.stem] = _normalise(frame), path
    # the layer order of the one-plan data folder: point layers, areas, geometries, members
    member_ids = {m[0] for m in members}
    ordered = {k: f for k, f in layers.items() if k not in member_ids and str(files[k]).endswith(".csv")}
    ordered.update({k: own[k] for k in own if not str(files[k]).endswith(".geojson")})
    geometry = {k: f for k, f in {**layers, **own}.items() if str(files[k]).endswith(".geojson")}
    ordered.update(dict(sorted(geometry.items())))
    ordered.update({k: layers[k] for k in member_ids if k in layers})
    ordered.update({k: f for k, f in layers.items() if k not in ordered})
    plan_specs, spec_problems = _read_plan_specs(plan, specs)
    problems += spec_problems
    view_specs, spec_problems = _plan_specs(plan, plan_specs, others)
    problems += spec_problems
    document, source_problems = _source_document(plan.folder, f"plans/{plan.id}", PLAN_SOURCE_TITLE)
    problems += source_problems
    sources = list(shared.sources) + ([document] if document is not None else [])
    view = Registry(shared.boundaries, shared.display, ordered, files, view_specs, tasks, sections,
                    sources, shared.data_dir, outcomes, plan)
    for layer_id in {spec.data for spec in plan_specs if not spec.counted} & set(own):
        own[layer_id].attrs["counted"] = False  # read by analysis.places.counted_places
    problems += _cross_check(view, broken)
    return view, problems


def load_registry(data_dir: Path = DATA_DIR, layers_dir: Path | None = LAYERS_DIR,
                  check_text: bool = True) -> Registry:
    """Load, validate and cross-check the shared places, every plan in <data_dir>/plans/ and
    the layer specs in `layers_dir` (None: no specs); raise DataValidationError listing every
    problem found. Returns the default plan's view (Registry.for_plan gives the others).
    `check_text=False` skips the template-syntax check (defence in depth; only tests of the
    map's literal rendering turn it off)."""
    data_dir = Path(data_dir)
    files: dict[str, Path] = {}
    plans, problems = load_plans(data_dir)
    default = next((p for p in plans.values() if p.default), None)
    # Shared place rows that carry plan_refs (imported and synthetic lists) cite the default
    # plan's text; their industry codes are those of any plan.
    sections = _read_plan(default)[0] if default is not None else {}
    industries = {code: label for plan in plans.values() for code, label in plan.industries.items()} \
        or None
    boundaries, boundary_problems = read_boundaries(data_dir, files=files)
    display, display_problems = read_boundaries(data_dir, display=True)
    problems += boundary_problems + display_problems
    if boundary_problems:  # places are checked against the boundaries: stop here
        raise DataValidationError(problems)
    layers: dict[str, gpd.GeoDataFrame] = {}
    broken: set[str] = set()  # files present but unreadable: reported once, not again as missing
    seen_ids: dict[str, str] = {}
    seats, seat_problems = read_seats(data_dir / "boundaries")
    problems += seat_problems
    # group terms (五点一线 …): province data the plan drafter expands (geoapp/data/groups.py)
    group_terms, group_problems = read_group_terms(data_dir / "boundaries", boundaries)
    problems += group_problems
    for folder in POINT_LAYER_DIRS:
        for path in sorted((data_dir / folder).glob("*.csv")):
            frame, read_problems = read_point_csv(path)
            problems += read_problems
            if frame is None:
                broken.add(path.stem)
                continue
            if not read_problems:  # plan_refs: a plan's places.csv says which places it names
                problems += check_places(frame, path, boundaries, seen_ids, seats or None,
                                         sections if default is not None else None,
                                         optional=("plan_refs",), industries=industries)
            layers[path.stem], files[path.stem] = _normalise(frame), path
    zones = data_dir / ZONES_DIR
    for path in sorted(zones.glob("*.geojson")):
        frame, read_problems = read_geojson(path)
        problems += read_problems
        if frame is None or read_problems:
            broken.add(path.stem)
            continue
        if "id" in frame.columns:
            problems += [Problem(relative(path), i, "source", "empty")
                         for i, s in enumerate(frame.get("source", [""] * len(frame)), 1)
                         if not str(s or "").strip()]
        layers[path.stem], files[path.stem] = _normalise(frame), path
    members: list[tuple[str, gpd.GeoDataFrame, Path]] = []
    for path in sorted(zones.glob("*.csv")):
        if problems:  # its rows are copies of other layers' rows: check it once those are sound
            broken.add(path.stem)
            continue
        frame, member_problems = _members_layer(path, layers)
        problems += member_problems
        if frame is not None:
            layers[path.stem], files[path.stem] = _normalise(frame), path
            members.append((path.stem, layers[path.stem], path))
        else:
            broken.add(path.stem)
    specs, spec_problems = _read_specs(layers_dir)
    for spec in specs:
        if spec.imported is not None and spec.data not in layers:
            # Filled from the versioned store (geoapp.ingest, Registry.with_layers); empty here.
            layers[spec.data], files[spec.data] = _empty_layer(), spec.path
    sources, source_problems = _read_sources(data_dir)
    problems += spec_problems + source_problems
    if group_terms:
        rows = {str(r["id"]): r for frame in layers.values() if "id" in frame.columns
                for r in frame[[c for c in ("id", "name_zh", "city_adcode", "district_adcode")
                                if c in frame.columns]].to_dict("records")}
        problems += check_group_rows(group_terms, rows, data_dir / "boundaries" / GROUPS_FILE)
    for layer_id in {spec.data for spec in specs if not spec.counted} & set(layers):
        layers[layer_id].attrs["counted"] = False  # read by analysis.places.counted_places
    shared = Registry(boundaries, display, layers, files, specs, (), {}, sources, data_dir)
    own_layers = {pid: set(p.layer_files) for pid, p in plans.items()}
    views: dict[str, Registry] = {}
    for plan_id, plan in plans.items():
        others = set().union(*(ids for pid, ids in own_layers.items() if pid != plan_id)) \
            - set(layers) - own_layers[plan_id]
        view, view_problems = _plan_view(plan, shared, specs, seats, others, broken, members)
        problems += view_problems
        if view is not None:
            views[plan_id] = view
    for view in views.values():
        view.plans = dict(plans)
        view._views = views
    if check_text:
        problems += check_template_syntax(data_dir, layers_dir)
    if problems:
        raise DataValidationError(problems)
    return views[default.id]
