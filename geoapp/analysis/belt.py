"""What falls inside a plan's belt (its manifest's `corridor`, e.g. 沈大高新技术产业带).

The plan draws no boundary; the corridor comes from geoapp.analysis.corridor: the axis between
the two places the manifest names (`corridor.axis`), buffered `half_width_km` on each side
(default DEFAULT_HALF_WIDTH_KM = 30 km, i.e. a 60 km wide band), clipped to the province. Everything is
measured in geoapp.geo.EQUAL_AREA: areas in km², distances in km.

How places are counted. Most points only stand for a district or a city (location_precision):
a 'city' point is the city government seat and says nothing about where in the city the
place is. So each place is compared with the corridor through its *known extent*:
    source_coordinate   the point itself
    district            the polygon of its district (district_adcode); also for 'subdistrict'
                        points, whose subdistrict polygon the atlas does not have
    city                the polygon of its city (city_adcode)
    polygon rows        their own geometry (plan areas drawn as admin areas)
and gets a relation:
    inside    the whole extent lies in the corridor: in the belt wherever the site is
    partly    the extent straddles the corridor edge: in the belt or not, depending on the site
    outside   the extent does not reach the corridor: not in the belt
Shares inside are therefore a range: at least inside/total, at most (inside+partly)/total.
`by_point` also counts the map's points inside the corridor, as a reader of the map would, and
is only as good as the points are. Places are counted by the plan's groups of kinds
(manifest `groups`; a kind in no group counts in the last group).

A city is in the belt when part of its area lies inside the corridor (area_in_belt_km2 > 0);
`share_of_city` says how much.
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoapp.analysis.corridor import corridor
from geoapp.analysis.view import PlaceView
from geoapp.geo import project, project_xy

RELATIONS = ("inside", "partly", "outside")
# An extent counts as wholly inside when at most this share of its area lies outside (it absorbs
# the rounding between the clipped corridor and the boundary polygons, nothing more).
INSIDE_TOLERANCE = 1e-4


@dataclass
class Belt:
    half_width_km: float
    axis_length_km: float
    area_km2: float
    province_share: float          # corridor area / province area
    shape: gpd.GeoDataFrame        # the corridor, EPSG:4326
    cities: pd.DataFrame           # per city: area_km2, area_in_belt_km2, share_of_city, in_belt
    places: pd.DataFrame           # per place: group, precision, relation, point_inside
    groups: pd.DataFrame           # per group: total, inside, partly, outside, by_point, shares
    # per row of `places`: its map point in the equal-area CRS (x, y in m); NaN for an area
    xy: np.ndarray | None = None
    # places kept as groups (a layer in PostGIS), in the view: city_adcode, group, precision,
    # relation, point_inside and their number `n` (group_relations); not rows of `places`
    grouped: pd.DataFrame | None = None

    @property
    def grouped_total(self) -> int:
        return 0 if self.grouped is None else int(self.grouped["n"].sum())

    def summary(self) -> dict:
        return {
            "half_width_km": self.half_width_km, "axis_length_km": self.axis_length_km,
            "area_km2": self.area_km2, "province_share": self.province_share,
            "cities_in_belt": self.cities.index[self.cities["in_belt"]].tolist(),
        }


def _extent_source(places: gpd.GeoDataFrame, boundaries: dict[str, gpd.GeoDataFrame]
                   ) -> tuple[pd.Series, pd.Series]:
    """Where each place's known extent comes from: ('district' | 'city' | 'own', adcode).
    A point stands for its district ('district' and 'subdistrict' precision) or its city
    ('city') when that boundary exists; anything else (a source coordinate, a polygon row, a
    code without a boundary) is its own extent."""
    districts = pd.Index(boundaries["district"]["adcode"])
    cities = pd.Index(boundaries["city"]["adcode"])
    precision = places["location_precision"]
    point = pd.Series(shapely.get_type_id(places.geometry.values) == 0, index=places.index)
    by_district = point & precision.isin(("district", "subdistrict")) & places["district_adcode"].isin(districts)
    by_city = point & (precision == "city") & places["city_adcode"].isin(cities)
    source = pd.Series("own", index=places.index, dtype=object)
    source[by_city] = "city"
    source[by_district] = "district"
    code = pd.Series("", index=places.index, dtype=object)
    code[by_district] = places.loc[by_district, "district_adcode"]
    code[by_city] = places.loc[by_city, "city_adcode"]
    return source, code


def relation(extent, band) -> str:
    """'inside', 'partly' or 'outside' for one extent against the corridor (both projected)."""
    return str(relations(np.array([extent], dtype=object), band)[0])


def relations(extents, band) -> np.ndarray:
    """`relation` of every extent of an array (projected) against the corridor, vectorised:
    one intersects/covers test per extent against the prepared band, and the overlap area only
    for the polygons that touch it."""
    extents = np.asarray(extents, dtype=object)
    out = np.full(len(extents), "outside", dtype=object)
    if not len(extents):
        return out
    shapely.prepare(band)
    hits = shapely.intersects(band, extents)
    point = shapely.get_type_id(extents) == 0
    covered = point & hits
    covered[covered] = shapely.covers(band, extents[covered])
    out[covered] = "inside"
    areal = hits & ~point
    if areal.any():
        chosen = extents[areal]
        overlap = shapely.area(shapely.intersection(chosen, band))
        whole = shapely.area(chosen)
        verdict = np.where(overlap <= 0, "outside",
                           np.where(overlap >= whole * (1 - INSIDE_TOLERANCE), "inside", "partly"))
        out[areal] = verdict
    return out


def place_relations(places: gpd.GeoDataFrame, boundaries: dict[str, gpd.GeoDataFrame], band,
                    xy: np.ndarray | None = None) -> np.ndarray:
    """`relation` of every place's known extent to the (projected) corridor. A district or city
    extent is compared once per boundary, not once per place standing for it. `xy`: the places'
    points projected (point_xy), when the caller has them: a point that is its own extent is
    then tested by its coordinates (the same answer as `relations` gives a projected point)."""
    source, code = _extent_source(places, boundaries)
    out = np.empty(len(places), dtype=object)
    own = (source == "own").to_numpy().copy()
    if xy is not None:
        by_xy = own & ~np.isnan(xy[:, 0])
        if by_xy.any():
            shapely.prepare(band)
            hit = shapely.intersects_xy(band, xy[by_xy, 0], xy[by_xy, 1])
            out[by_xy] = np.where(hit, "inside", "outside")
        own &= ~by_xy
    if own.any():
        out[own] = relations(project(places.geometry[own]).values, band)
    for level in ("district", "city"):
        chosen = (source == level).to_numpy()
        if not chosen.any():
            continue
        frame = boundaries[level].drop_duplicates("adcode", keep="first")
        frame = frame[frame["adcode"].isin(set(code[chosen]))]
        verdicts = pd.Series(relations(project(frame.geometry).values, band), index=frame["adcode"].values)
        out[chosen] = verdicts.reindex(code[chosen]).values
    return out


def point_xy(places: gpd.GeoDataFrame) -> np.ndarray:
    """(n, 2) array: each point row's coordinates in the equal-area CRS; NaN for other
    geometries. Projected by coordinates (geo.project_xy), not geometry by geometry."""
    geometry = places.geometry.values
    out = np.full((len(places), 2), np.nan)
    point = shapely.get_type_id(geometry) == 0
    if point.any():
        x, y = project_xy(shapely.get_x(geometry[point]), shapely.get_y(geometry[point]))
        out[point, 0], out[point, 1] = x, y
    return out


@dataclass(frozen=True)
class CorridorFigures:
    """What a corridor width gives regardless of the filter: the corridor, every city's share
    and every counted place's relation. Computed once per width; belt() selects from it."""
    half_width_km: float
    axis_length_km: float
    area_km2: float
    province_share: float
    shape: gpd.GeoDataFrame
    cities: pd.DataFrame           # every city, in boundary order
    places: pd.DataFrame           # every counted place but the corridor, in place order
    xy: np.ndarray | None = None   # per row of `places`: point_xy
    grouped: pd.DataFrame | None = None   # places kept as groups, with their relations (group_relations)


def group_relations(rows: pd.DataFrame, boundaries: dict[str, gpd.GeoDataFrame], band,
                    groups: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """The belt's relation of places kept as groups (geoapp.postgis.belt: one row per city, kind,
    level, precision, industries, district for district precision, and whether the point lies in
    the corridor, with `n`): `place_relations`' rule for points — a district or city point by its
    boundary's polygon (one test per boundary), any other point by itself (point_inside)."""
    rows = rows.reset_index(drop=True)
    districts = pd.Index(boundaries["district"]["adcode"])
    cities = pd.Index(boundaries["city"]["adcode"])
    precision = rows["location_precision"]
    by_district = (precision.isin(("district", "subdistrict")) & rows["district_adcode"].isin(districts)).to_numpy()
    by_city = ((precision == "city") & rows["city_adcode"].isin(cities)).to_numpy() & ~by_district
    point = rows["point_inside"].to_numpy(dtype=bool)
    relation = np.where(point, "inside", "outside").astype(object)
    for level, chosen, column in (("district", by_district, "district_adcode"), ("city", by_city, "city_adcode")):
        if not chosen.any():
            continue
        codes = rows.loc[chosen, column]
        frame = boundaries[level].drop_duplicates("adcode", keep="first")
        frame = frame[frame["adcode"].isin(set(codes))]
        verdicts = pd.Series(relations(project(frame.geometry).values, band), index=frame["adcode"].values)
        relation[chosen] = verdicts.reindex(codes).values
    group_of = {kind: group for group, kinds in groups.items() for kind in kinds}
    return rows.assign(group=rows["kind"].map(group_of).fillna(list(groups)[-1]).values,
                       precision=rows["location_precision"].values, relation=relation, point_inside=point)


def corridor_figures(every: gpd.GeoDataFrame, boundaries: dict[str, gpd.GeoDataFrame],
                     half_width_km: float, axis_ends: tuple[str, str],
                     groups: dict[str, tuple[str, ...]], grouped=None) -> CorridorFigures:
    """The corridor of `half_width_km` between the two named places, and how every city and every
    place of `every` (the unfiltered counted places) relates to it; `groups`: group id -> kinds
    (plan_groups), in report order. `grouped(shape, band)`: the places kept as groups against
    this corridor (`shape` in EPSG:4326, `band` projected; geoapp.postgis.belt), or None."""
    ends = every.set_index("id").geometry
    shape = corridor(ends[axis_ends[0]], ends[axis_ends[1]], boundaries["province"], half_width_km)
    band = project(shape).geometry.iloc[0]
    province_km2 = project(boundaries["province"]).area.sum() / 1e6
    area_km2 = band.area / 1e6

    cities = boundaries["city"]
    projected = project(cities)
    city_km2 = projected.area / 1e6
    inside_km2 = projected.geometry.intersection(band).area / 1e6
    city_frame = pd.DataFrame({
        "name_zh": cities["name_zh"].values, "name_en": cities["name_en"].values,
        "area_km2": city_km2.round(1).values,
        "area_in_belt_km2": inside_km2.round(1).values,
        "share_of_city": (inside_km2 / city_km2).round(4).values,
    }, index=pd.Index(cities["adcode"], name="city_adcode"))
    city_frame["in_belt"] = city_frame["area_in_belt_km2"] > 0

    places = every[every["kind"] != "corridor"]
    xy = point_xy(places)
    areal = np.isnan(xy[:, 0])
    shapely.prepare(band)
    point_inside = np.zeros(len(places), dtype=bool)
    if (~areal).any():  # a point is its own point on surface
        point_inside[~areal] = shapely.intersects_xy(band, xy[~areal, 0], xy[~areal, 1])
    if areal.any():
        surface = shapely.point_on_surface(project(places.geometry[areal]).values)
        point_inside[areal] = shapely.covers(band, surface)
    group_of = {kind: group for group, kinds in groups.items() for kind in kinds}
    place_frame = pd.DataFrame({
        "id": places["id"].values, "name_zh": places["name_zh"].values,
        "name_en": places["name_en"].values, "kind": places["kind"].values,
        "group": places["kind"].map(group_of).fillna(list(groups)[-1]).values,
        "city_adcode": places["city_adcode"].values,
        "precision": places["location_precision"].values,
        "relation": place_relations(places, boundaries, band, xy),
        "point_inside": point_inside,
    })
    rows = grouped(shape, band) if grouped is not None else None
    return CorridorFigures(half_width_km, round(shape["axis_length_km"].iloc[0], 1), round(area_km2, 1),
                           round(area_km2 / province_km2, 4), shape, city_frame, place_frame, xy,
                           None if rows is None else group_relations(rows, boundaries, band, groups))


def belt(view: PlaceView, half_width_km: float, axis_ends: tuple[str, str],
         groups: dict[str, tuple[str, ...]], figures: CorridorFigures | None = None) -> Belt:
    """The corridor of `half_width_km` and what of the view lies in it. The axis runs between
    the two named places whatever the filter (it is read from the unfiltered places).
    `figures`: corridor_figures for this width and these places, when already computed."""
    if figures is None:
        figures = corridor_figures(view.every, view.boundaries, half_width_km, axis_ends, groups)
    cities = figures.cities
    if view.filter.city:
        cities = cities[cities.index.isin(view.filter.city)]
    kept = figures.places["id"].isin(view.places["id"]).to_numpy()
    places = figures.places[kept].reset_index(drop=True)
    grouped = figures.grouped
    if grouped is not None:   # the filter applied to the groups (they have a city of their own)
        grouped = grouped[view.filter.mask(grouped, None)].reset_index(drop=True)
    counted = places if grouped is None else pd.concat(
        [places[["group", "relation", "point_inside"]].assign(n=1),
         grouped[["group", "relation", "point_inside", "n"]]], ignore_index=True)
    return Belt(figures.half_width_km, figures.axis_length_km, figures.area_km2,
                figures.province_share, figures.shape, cities, places, group_figures(counted, list(groups)),
                None if figures.xy is None else figures.xy[kept], grouped)


def with_corridor(places: gpd.GeoDataFrame, shape: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The places with the stored corridor's geometry (kind 'corridor') replaced by `shape` (a
    corridor of another width), so coverage and distribution answer for the same corridor as
    belt()."""
    corridors = places["kind"] == "corridor"
    if not corridors.any():
        return places
    places = places.copy()
    places.loc[corridors, "geometry"] = shape.geometry.iloc[0]
    return places


def plan_groups(plan) -> dict[str, tuple[str, ...]]:
    """The plan's groups of kinds (manifest `groups`), in report order: group id -> kinds. A plan
    without groups counts every place in one group, 'all_places'."""
    return {gid: group.kinds for gid, group in plan.groups.items()} or {"all_places": ()}


def group_figures(place_frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per group (`names`, in order, and 'all'): total, inside, partly, outside, by_point,
    share_min, share_max. One pass over the rows: counts by (group, relation) code, not a scan
    per group."""
    names = list(names)
    group = pd.Index(names).get_indexer(place_frame["group"].to_numpy(dtype=object))
    relation = pd.Index(RELATIONS).get_indexer(place_frame["relation"].to_numpy(dtype=object))
    # a row's weight: 1 for a place, `n` for places kept as a group (see belt())
    weight = (place_frame["n"].to_numpy(dtype=np.int64) if "n" in place_frame
              else np.ones(len(place_frame), dtype=np.int64))
    known = (group >= 0) & (relation >= 0)
    table = np.bincount(group[known] * len(RELATIONS) + relation[known], weights=weight[known],
                        minlength=len(names) * len(RELATIONS)).astype(np.int64).reshape(len(names), len(RELATIONS))
    point = place_frame["point_inside"].to_numpy(dtype=bool)
    chosen = (group >= 0) & point
    by_point = np.bincount(group[chosen], weights=weight[chosen], minlength=len(names)).astype(np.int64)
    totals = np.bincount(group[group >= 0], weights=weight[group >= 0], minlength=len(names)).astype(np.int64)
    rows = {}
    for i, name in enumerate(names + ["all"]):
        if name == "all":
            total, counts = int(weight.sum()), table.sum(axis=0)
            points = int(weight[point].sum())
        else:
            total, counts, points = int(totals[i]), table[i], int(by_point[i])
        counts = {r: int(n) for r, n in zip(RELATIONS, counts)}
        rows[name] = {
            "total": total, **counts, "by_point": points,
            "share_min": round(counts["inside"] / total, 4) if total else None,
            "share_max": round((counts["inside"] + counts["partly"]) / total, 4) if total else None,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "group"
    return frame
