"""Declarative layer specs: layers/*.yaml, one file per map layer, read in file-name order.

Keys: id, data ('boundaries:<level>' or a registry layer id), title {zh, en}, geometry
(point | polygon | choropleth), show (default visibility), control (listed in the layer control,
default true), filterable (the page filter applies), searchable (in the search box), cluster
(marker clustering), style (base Leaflet path options; optional `by: <field>` with `values:
{code: {options..., label: {zh, en}}}`), legend {zh, en} (for a single-style layer), tooltip and
popup (field names, see geoapp/layers/popup.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

GEOMETRIES = ("point", "polygon", "choropleth")
KEYS = {"id", "data", "title", "geometry", "show", "control", "filterable", "searchable",
        "cluster", "style", "legend", "tooltip", "popup"}


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
    style: dict = field(default_factory=dict)
    legend: dict | None = None
    tooltip: tuple = ("name",)
    popup: tuple = ()
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


def load_specs(directory: Path) -> list[LayerSpec]:
    specs = []
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(raw) - KEYS
        if unknown:
            raise LayerSpecError(f"{path.name}: unknown key(s) {sorted(unknown)}; allowed: {sorted(KEYS)}")
        for key in ("id", "data", "title", "geometry"):
            if key not in raw:
                raise LayerSpecError(f"{path.name}: '{key}' is required")
        if raw["geometry"] not in GEOMETRIES:
            raise LayerSpecError(f"{path.name}: geometry '{raw['geometry']}' not one of {GEOMETRIES}")
        for key in ("title", "legend"):
            if key in raw and set(raw[key]) != {"zh", "en"}:
                raise LayerSpecError(f"{path.name}: {key} needs exactly zh and en, got {sorted(raw[key])} "
                                     "(quote values that contain commas)")
        for key in ("tooltip", "popup"):
            if key in raw:
                raw[key] = tuple(raw[key])
        specs.append(LayerSpec(path=path, **raw))
    ids = [s.id for s in specs]
    if len(ids) != len(set(ids)):
        raise LayerSpecError(f"duplicate layer ids in {directory}: {ids}")
    return specs
