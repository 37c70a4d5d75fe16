"""Declarative layer specs: layers/*.yaml, one file per map layer, read in file-name order.

Keys: id, data ('boundaries:<level>' or a registry layer id), title {zh, en}, geometry
(point | polygon | choropleth), show (default visibility), control (listed in the layer control,
default true), filterable (the page filter applies), searchable (in the search box), cluster
(marker clustering), counted (default true; false for a layer that only repeats places of other
layers, e.g. the demo-zone core: its rows are not counted again), style (base Leaflet path
options; optional `by: <field>` with `values: {code: {options..., label: {zh, en}}}`), legend
{zh, en} (for a single-style layer), popup (field names, see geoapp/layers/popup.py), imported
(the layer is filled by `python -m geoapp.data import FILE --layer ID` or /admin/import into the
versioned store, not by a file in data/; its value gives the kind/level used when the imported file
has no such column; its `data` is its own id).

Every problem is a LayerSpecError naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

GEOMETRIES = ("point", "polygon", "choropleth")
KEYS = {"id", "data", "title", "geometry", "show", "control", "filterable", "searchable",
        "cluster", "counted", "style", "legend", "popup", "imported"}


class LayerSpecError(ValueError):
    pass


@dataclass(frozen=True)
class LayerSpec:
    id: str
    data: str
    title: dict
    geometry: str
    show: bool = True
    control: bool = True
    filterable: bool = False
    searchable: bool = False
    cluster: bool = False
    counted: bool = True
    style: dict = field(default_factory=dict)
    legend: dict | None = None
    popup: tuple = ()
    imported: dict | None = None
    path: Path | None = None

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title["zh"]

    def base_style(self) -> dict:
        return {k: v for k, v in self.style.items() if k not in ("by", "values")}

    def style_for(self, record: dict) -> dict:
        """Base style overlaid with the style of the record's `by` value, without the label."""
        style = self.base_style()
        by = self.style.get("by")
        if by:
            style.update(self.style.get("values", {}).get(str(record.get(by, "")), {}))
        style.pop("label", None)
        return style

    def legend_entries(self, lang: str) -> list[tuple[str, dict]]:
        """(label, style) pairs: one per styled value, or the layer's single legend entry."""
        entries = []
        if self.style.get("by"):
            for value in self.style.get("values", {}).values():
                style = {**self.base_style(), **value}
                label = style.pop("label", {})
                entries.append((label.get(lang) or label.get("zh", ""), style))
        elif self.legend:
            entries.append((self.legend.get(lang) or self.legend["zh"], self.base_style()))
        return entries


def _read(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise LayerSpecError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise LayerSpecError(f"{path.name}: not valid YAML{where}: "
                             f"{getattr(error, 'problem', None) or error}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise LayerSpecError(f"{path.name}: must be a mapping of keys (id, data, title, ...), "
                             f"got {type(raw).__name__}")
    return raw


def load_specs(directory: Path) -> list[LayerSpec]:
    specs = []
    for path in sorted(Path(directory).glob("*.yaml")):
        raw = _read(path)
        unknown = set(raw) - KEYS
        if unknown:
            raise LayerSpecError(f"{path.name}: unknown key(s) {sorted(unknown)}; allowed: {sorted(KEYS)}")
        for key in ("id", "data", "title", "geometry"):
            if key not in raw:
                raise LayerSpecError(f"{path.name}: '{key}' is required")
        if raw["geometry"] not in GEOMETRIES:
            raise LayerSpecError(f"{path.name}: geometry '{raw['geometry']}' not one of {GEOMETRIES}")
        for key in ("title", "legend"):
            if key in raw and (not isinstance(raw[key], dict) or set(raw[key]) != {"zh", "en"}):
                raise LayerSpecError(f"{path.name}: {key} needs exactly zh and en, got {sorted(raw[key])} "
                                     "(quote values that contain commas)")
        for key in ("show", "control", "filterable", "searchable", "cluster", "counted"):
            if key in raw and not isinstance(raw[key], bool):
                raise LayerSpecError(f"{path.name}: {key} must be true or false, got {raw[key]!r}")
        if "style" in raw and not isinstance(raw["style"], dict):
            raise LayerSpecError(f"{path.name}: style must be a mapping of Leaflet path options")
        if "popup" in raw:
            if not isinstance(raw["popup"], list):
                raise LayerSpecError(f"{path.name}: popup must be a list of field names")
            raw["popup"] = tuple(raw["popup"])
        if "imported" in raw:
            imported = raw["imported"] or {}
            if not isinstance(imported, dict) or set(imported) - {"kind", "level"} or raw["data"] != raw["id"]:
                raise LayerSpecError(f"{path.name}: imported takes optional kind and level defaults "
                                     "(e.g. imported: {kind: platform}), and an imported layer's data is its own id")
            raw["imported"] = imported
        specs.append(LayerSpec(path=path, **raw))
    ids = [s.id for s in specs]
    if len(ids) != len(set(ids)):
        raise LayerSpecError(f"duplicate layer ids in {directory}: {ids}")
    return specs
