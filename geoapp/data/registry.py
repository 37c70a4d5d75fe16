"""The one registry: every data file loaded once into validated GeoDataFrames.

Layout it reads (see data/README.md):
    data/boundaries/liaoning_{province,city,district}[.display].geojson
    data/{parks,platforms,zones}/<layer_id>.csv       point layers: lon/lat in WGS84
    data/zones/<layer_id>.geojson                     derived geometries (e.g. the belt corridor)
    data/zones/plan_areas.csv                         plan designations drawn as admin areas
    data/zones/demo_zone_core.csv                     members of another layer, by id
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoapp import DATA_DIR
from geoapp.data.validate import (DataValidationError, Problem, check_crs, check_places, read_seats,
                                  relative)

BOUNDARY_LEVELS = ("province", "city", "district")
POINT_LAYER_DIRS = ("parks", "platforms")
TEXT_COLUMNS = ["id", "name_zh", "name_en", "kind", "level", "city_adcode", "district_adcode",
                "industries", "plan_role", "location_precision", "plan_refs", "plan_names", "source",
                "note_zh", "note_en"]


@dataclass
class Registry:
    boundaries: dict[str, gpd.GeoDataFrame]
    display: dict[str, gpd.GeoDataFrame]
    layers: dict[str, gpd.GeoDataFrame]
    files: dict[str, Path] = field(default_factory=dict)

    def layer(self, layer_id: str) -> gpd.GeoDataFrame:
        return self.layers[layer_id]

    def places(self) -> gpd.GeoDataFrame:
        """All point/area layers in one frame, with a `layer` column."""
        frames = [frame.assign(layer=layer_id) for layer_id, frame in self.layers.items()
                  if "id" in frame.columns]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)

    def summary(self) -> list[dict]:
        rows = []
        for level, frame in self.boundaries.items():
            rows.append({"layer": f"boundaries/{level}", "features": len(frame),
                         "geometry": ", ".join(sorted(frame.geom_type.unique())),
                         "file": relative(DATA_DIR / "boundaries" / f"liaoning_{level}.geojson")})
        for layer_id, frame in self.layers.items():
            rows.append({"layer": layer_id, "features": len(frame),
                         "geometry": ", ".join(sorted(frame.geom_type.unique())),
                         "file": relative(self.files[layer_id])})
        return rows


def read_boundaries(data_dir: Path, display: bool = False) -> dict[str, gpd.GeoDataFrame]:
    suffix = ".display" if display else ""
    result = {}
    for level in BOUNDARY_LEVELS:
        path = data_dir / "boundaries" / f"liaoning_{level}{suffix}.geojson"
        frame = gpd.read_file(path)
        if (problems := check_crs(frame, path)):
            raise DataValidationError(problems)
        frame["adcode"] = frame["adcode"].astype(str)
        frame["parent_adcode"] = frame["parent_adcode"].fillna("").astype(str)
        result[level] = frame.drop(columns=["id"], errors="ignore")
    return result


def read_point_csv(path: Path) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """A UTF-8 CSV with lon/lat (WGS84) columns as a GeoDataFrame, plus problems in lon/lat."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    problems = []
    if not {"lon", "lat"} <= set(table.columns):
        return gpd.GeoDataFrame(table), [Problem(relative(path), None, "lon/lat",
                                                 "columns 'lon' and 'lat' (WGS84 degrees) are required")]
    lon = pd.to_numeric(table["lon"], errors="coerce")
    lat = pd.to_numeric(table["lat"], errors="coerce")
    for position, (x, y, raw_x, raw_y) in enumerate(zip(lon, lat, table["lon"], table["lat"]), start=1):
        if pd.isna(x) or pd.isna(y):
            problems.append(Problem(relative(path), position, "lon/lat",
                                    f"'{raw_x}', '{raw_y}' are not decimal degrees"))
        elif not (-180 <= x <= 180 and -90 <= y <= 90):
            problems.append(Problem(relative(path), position, "lon/lat",
                                    f"({x}, {y}) is not a longitude/latitude pair"))
    frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    return frame, problems


def _areas_layer(path: Path, boundaries, seen_ids, seats) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Plan designations whose extent is an administrative area (column area_adcode)."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    admin = pd.concat([boundaries["city"], boundaries["district"]]).set_index("adcode").geometry
    problems = []
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
        problems += check_places(frame, path, boundaries, seen_ids, seats)
    return frame, problems


def _members_layer(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """A layer made of rows of other layers, listed by member_id (e.g. the demo-zone core)."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    everything = pd.concat([f.assign(layer=k) for k, f in layers.items() if "id" in f.columns],
                           ignore_index=True).set_index("id")
    problems, rows = [], []
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


def _normalise(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    for column in TEXT_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
        frame[column] = frame[column].fillna("").astype(str).str.strip()
    return frame


def load_registry(data_dir: Path = DATA_DIR) -> Registry:
    """Load and validate every layer; raise DataValidationError listing every problem found."""
    boundaries = read_boundaries(data_dir)
    display = read_boundaries(data_dir, display=True)
    layers: dict[str, gpd.GeoDataFrame] = {}
    files: dict[str, Path] = {}
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    seats = read_seats(data_dir / "boundaries")
    for folder in POINT_LAYER_DIRS:
        for path in sorted((data_dir / folder).glob("*.csv")):
            frame, read_problems = read_point_csv(path)
            problems += read_problems
            if not read_problems:
                problems += check_places(frame, path, boundaries, seen_ids, seats)
            layers[path.stem], files[path.stem] = _normalise(frame), path
    zones = data_dir / "zones"
    if (path := zones / "plan_areas.csv").exists():
        frame, area_problems = _areas_layer(path, boundaries, seen_ids, seats)
        problems += area_problems
        layers[path.stem], files[path.stem] = _normalise(frame), path
    for path in sorted(zones.glob("*.geojson")):
        frame = gpd.read_file(path)
        problems += check_crs(frame, path)
        if "id" in frame.columns:
            problems += [Problem(relative(path), i, "source", "empty")
                         for i, s in enumerate(frame.get("source", [""] * len(frame)), 1)
                         if not str(s or "").strip()]
        layers[path.stem], files[path.stem] = _normalise(frame), path
    if (path := zones / "demo_zone_core.csv").exists() and not problems:
        frame, member_problems = _members_layer(path, layers)
        problems += member_problems
        layers[path.stem], files[path.stem] = _normalise(frame), path
    if problems:
        raise DataValidationError(problems)
    return Registry(boundaries, display, layers, files)
