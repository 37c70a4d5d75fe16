"""Two plans side by side (issue 21): what each plan puts in each city, and what changed.

A plan's side (`Side`) is what it names: the places with a plan reference in its view of the
registry (plan_refs) and the places its tasks name or select by layer filter, passing the
filter; its tasks; its targets. `compare(a, b)` matches them:

    places      by registry id, then by short name (a plan-only place with its own id but the
                name of a place of the other plan): continued (in both), dropped (only in a),
                new (only in b)
    tasks       by task id, then by Chinese title; the same three statuses
    industries  an industry is continued when both plans give it places or tasks, dropped / new
                when only a / only b does
    targets     by target id, then by metric (Chinese) and industry

and counts per city (all cities, by adcode): tasks touching the city, places by group, targets of
the tasks touching it, in each plan and the change (b − a). Pure functions: no Flask.

Places of an imported layer that lives in PostGIS are not rows here: they come as groups
(geoapp.analysis.view, PlaceView.groups: one row per layer, city, kind, level, precision and
industries with its number of places `n`). A side's groups (`side_groups`) hold, per group, the
places the plan names: every place of the group when one of its tasks' layer filters selects it,
else those with a plan reference in its view (`named`, the same groups counted over those rows
only). They count in every figure (cities, groups of kinds, industries, tasks touching a city,
the summary); the places table lists places one by one and leaves them out (`unlisted` says how
many by city and status). The two sides' sets of a group are nested (none ⊂ named ⊂ all), so
the places in both are the smaller count: continued = min(n_a, n_b), dropped / new the rest.
Such places are matched by id only (never by name).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geoapp.analysis.coverage import coverage
from geoapp.analysis.view import PlaceView, place_view
from geoapp.data.tasks import Task
from geoapp.filters import Filter

STATUSES = {"continued": ("延续", "Continued"), "dropped": ("取消", "Dropped"), "new": ("新增", "New")}
# Long forms a plan may spell out where another writes the short one.
_SHORTER = [("高新技术产业开发区", "高新区"), ("经济技术开发区", "经开区"), ("国家级", ""), ("省级", ""),
            ("辽宁省", ""), ("辽宁", "")]


def short_name(name: str) -> str:
    """A name reduced for matching: no spaces, brackets or province prefix, long forms shortened."""
    text = re.sub(r"[\s（）()·•、“”\"']", "", str(name or ""))
    for long, short in _SHORTER:
        text = text.replace(long, short)
    return text


@dataclass(frozen=True)
class Side:
    """One plan as compared: `view` holds the places it names that pass the filter (PlaceView
    over the places it names), `groups` its groups of kinds (id -> ((zh, en), kinds))."""
    id: str
    title: tuple[str, str]
    tasks: tuple[Task, ...]
    view: PlaceView
    groups: dict[str, tuple[tuple[str, str], tuple[str, ...]]]
    industries: dict[str, tuple[str, str]]

    def group_places(self) -> pd.DataFrame | None:
        """The side's places summarised as groups (view.groups) with `in_view` (passes the
        filter), or None."""
        if not self.view.has_groups:
            return None
        return self.view.groups.assign(in_view=self.view.group_in_view)


def plan_place_ids(every: pd.DataFrame, tasks: tuple[Task, ...]) -> set[str]:
    """Ids of the places a plan names: a plan reference in its view, or named / selected by a task."""
    refs = every["plan_refs"].fillna("").astype(str).str.strip() if "plan_refs" in every else \
        pd.Series("", index=every.index)
    ids = set(every.loc[refs != "", "id"])
    for task in tasks:
        ids.update(task.places)
        for layer_filter in task.layers:
            ids.update(layer_filter.select(every)["id"])
    return ids & set(every["id"])


GROUP_KEYS = ["layer", "city_adcode", "kind", "level", "location_precision", "industries"]


def side_groups(place_groups: pd.DataFrame | None, named: pd.DataFrame | None,
                tasks: tuple[Task, ...]) -> pd.DataFrame | None:
    """The places of `place_groups` (every counted place kept as groups) a plan names: a whole
    group when a task's layer filter selects it, else the group's count in `named` (the same
    groups over the rows with a plan reference; None: none). Groups with no place left go."""
    if place_groups is None:
        return None
    selected = np.zeros(len(place_groups), dtype=bool)
    for task in tasks:
        for layer_filter in task.layers:
            mask = np.ones(len(place_groups), dtype=bool)
            for column, value in (("layer", layer_filter.layer), ("level", layer_filter.level),
                                  ("kind", layer_filter.kind)):
                if value:
                    mask &= (place_groups[column] == value).to_numpy(dtype=bool)
            selected |= mask
    if named is not None and len(named):
        cited = place_groups[GROUP_KEYS].merge(named[GROUP_KEYS + ["n"]], on=GROUP_KEYS, how="left")["n"]
        cited = cited.fillna(0).to_numpy(dtype=np.int64)
    else:
        cited = np.zeros(len(place_groups), dtype=np.int64)
    n = np.where(selected, place_groups["n"].to_numpy(dtype=np.int64), cited)
    out = place_groups.assign(n=n)
    return out[out["n"] > 0].reset_index(drop=True)


def make_side(plan_id: str, title: tuple[str, str], tasks: tuple[Task, ...], every: gpd.GeoDataFrame,
              boundaries: Mapping[str, gpd.GeoDataFrame], filter: Filter,
              groups: Mapping | None = None, industries: Mapping | None = None,
              place_groups: pd.DataFrame | None = None, named_groups: pd.DataFrame | None = None) -> Side:
    """`every`: the plan's view of the registry (registry.counted_places()); `groups`: the plan's
    groups (Group objects with .label and .kinds, or (label, kinds) pairs); `place_groups`: the
    counted places kept as groups (a layer in PostGIS), `named_groups` the same over those with a
    plan reference in this plan's view (see side_groups)."""
    ids = plan_place_ids(every, tasks)
    named = every[every["id"].isin(ids)]
    view = place_view(named, boundaries, filter, side_groups(place_groups, named_groups, tasks))
    normal = {}
    for gid, group in (groups or {}).items():
        label, kinds = (group.label, group.kinds) if hasattr(group, "kinds") else group
        normal[gid] = (tuple(label), tuple(kinds))
    return Side(plan_id, tuple(title), tuple(tasks), view, normal, dict(industries or {}))


def _match(keys_a: list[str], names_a: list[str], keys_b: list[str], names_b: list[str]) -> tuple[list, list, list]:
    """(pairs matched (i, j, how), unmatched a rows, unmatched b rows): by key, then by short name."""
    pairs, b_by_key = [], {k: j for j, k in enumerate(keys_b)}
    used_a, used_b = set(), set()
    for i, key in enumerate(keys_a):
        j = b_by_key.get(key)
        if j is not None and j not in used_b:
            pairs.append((i, j, "id"))
            used_a.add(i)
            used_b.add(j)
    by_name: dict[str, list[int]] = {}
    for j, name in enumerate(names_b):
        if j not in used_b and name:
            by_name.setdefault(name, []).append(j)
    for i, name in enumerate(names_a):
        if i in used_a or not name or not by_name.get(name):
            continue
        j = by_name[name].pop(0)
        pairs.append((i, j, "name"))
        used_a.add(i)
        used_b.add(j)
    return pairs, [i for i in range(len(keys_a)) if i not in used_a], [j for j in range(len(keys_b)) if j not in used_b]


PLACE_COLUMNS = ["status", "matched_by", "id_a", "id_b", "name_zh", "name_en", "kind", "level",
                 "city_adcode", "industries", "layer"]


def compare_places(a: Side, b: Side) -> pd.DataFrame:
    pa, pb = a.view.places.reset_index(drop=True), b.view.places.reset_index(drop=True)
    pairs, only_a, only_b = _match(list(pa["id"]), [short_name(n) for n in pa["name_zh"]],
                                   list(pb["id"]), [short_name(n) for n in pb["name_zh"]])
    rows = []

    def row(status, how, ra, rb):
        rec = rb if rb is not None else ra
        return {"status": status, "matched_by": how,
                "id_a": ra["id"] if ra is not None else "", "id_b": rb["id"] if rb is not None else "",
                **{c: str(rec.get(c, "") or "") for c in PLACE_COLUMNS[4:]}}
    for i, j, how in pairs:
        rows.append(row("continued", how, pa.iloc[i], pb.iloc[j]))
    rows += [row("dropped", "", pa.iloc[i], None) for i in only_a]
    rows += [row("new", "", None, pb.iloc[j]) for j in only_b]
    frame = pd.DataFrame(rows, columns=PLACE_COLUMNS)
    order = {s: n for n, s in enumerate(STATUSES)}
    return frame.sort_values(["status", "city_adcode", "name_zh"], key=lambda c: c.map(order) if c.name == "status" else c,
                             kind="stable").reset_index(drop=True)


def _touches(side: Side) -> pd.DataFrame:
    """task × city: does the task touch the city (its places in the filtered view, or named)."""
    return coverage(side.view, side.tasks).touches


TASK_COLUMNS = ["status", "matched_by", "id_a", "id_b", "title_zh", "title_en", "section_a", "section_b",
                "cities_a", "cities_b", "targets_a", "targets_b"]


def compare_tasks(a: Side, b: Side, touches_a: pd.DataFrame, touches_b: pd.DataFrame) -> pd.DataFrame:
    ta, tb = list(a.tasks), list(b.tasks)
    pairs, only_a, only_b = _match([t.id for t in ta], [short_name(t.title_zh) for t in ta],
                                   [t.id for t in tb], [short_name(t.title_zh) for t in tb])

    def cities(touches, task):
        if task is None or task.id not in touches.index:
            return ""
        row = touches.loc[task.id]
        return ";".join(c for c, hit in row.items() if hit)

    def row(status, how, x, y):
        rec = y or x
        return {"status": status, "matched_by": how, "id_a": x.id if x else "", "id_b": y.id if y else "",
                "title_zh": rec.title_zh, "title_en": rec.title_en,
                "section_a": x.section if x else "", "section_b": y.section if y else "",
                "cities_a": cities(touches_a, x), "cities_b": cities(touches_b, y),
                "targets_a": len(x.targets) if x else 0, "targets_b": len(y.targets) if y else 0}
    rows = [row("continued", how, ta[i], tb[j]) for i, j, how in pairs]
    rows += [row("dropped", "", ta[i], None) for i in only_a]
    rows += [row("new", "", None, tb[j]) for j in only_b]
    return pd.DataFrame(rows, columns=TASK_COLUMNS)


TARGET_COLUMNS = ["status", "matched_by", "task_a", "task_b", "metric_zh", "metric_en", "industry",
                  "value_a", "value_b", "unit_zh", "year_a", "year_b", "change"]


def compare_targets(a: Side, b: Side) -> pd.DataFrame:
    def listing(side):
        out = []
        for task in side.tasks:
            for n, t in enumerate(task.targets):
                if t.value is not None:
                    out.append((task, t, t.id or f"{task.id}#{n + 1}"))
        return out
    la, lb = listing(a), listing(b)
    pairs, only_a, only_b = _match([k for _, _, k in la], [f"{t.metric_zh}|{t.industry}|{t.unit_zh}" for _, t, _ in la],
                                   [k for _, _, k in lb], [f"{t.metric_zh}|{t.industry}|{t.unit_zh}" for _, t, _ in lb])

    def row(status, how, x, y):
        (task_x, tx, _), (task_y, ty, _) = x or (None, None, None), y or (None, None, None)
        rec = ty or tx
        change = (ty.value - tx.value) if tx is not None and ty is not None else None
        return {"status": status, "matched_by": how, "task_a": task_x.id if task_x else "",
                "task_b": task_y.id if task_y else "", "metric_zh": rec.metric_zh, "metric_en": rec.metric_en,
                "industry": rec.industry, "value_a": tx.value if tx else None, "value_b": ty.value if ty else None,
                "unit_zh": rec.unit_zh, "year_a": tx.year if tx else None, "year_b": ty.year if ty else None,
                "change": change}
    rows = [row("continued", how, la[i], lb[j]) for i, j, how in pairs]
    rows += [row("dropped", "", la[i], None) for i in only_a]
    rows += [row("new", "", None, lb[j]) for j in only_b]
    frame = pd.DataFrame(rows, columns=TARGET_COLUMNS)
    for column in ("value_a", "value_b", "change"):
        frame[column] = frame[column].astype("Float64")
    for column in ("year_a", "year_b"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _group_counts(side: Side, groups: list[str], codes: list[str]) -> dict[str, np.ndarray]:
    """Places per city in each group (a place spanning cities counts in each)."""
    links = side.view.links.merge(side.view.places[["id", "kind"]].drop_duplicates("id"), on="id", how="left")
    out = {}
    for gid in groups:
        kinds = side.groups.get(gid, (None, ()))[1]
        picked = links[links["kind"].isin(kinds)]
        counts = picked["city_adcode"].value_counts()
        out[gid] = np.array([int(counts.get(c, 0)) for c in codes]) + _group_city_counts(side, codes, kinds=kinds)
    return out


def _group_city_counts(side: Side, codes: list[str], kinds=None) -> np.ndarray:
    """Per city (`codes` order): the side's places kept as groups, in the view (of `kinds`)."""
    groups = side.group_places()
    if groups is None:
        return np.zeros(len(codes), dtype=np.int64)
    chosen = groups[groups["in_view"] & (groups["kind"].isin(kinds) if kinds is not None else True)]
    return chosen.groupby("city_adcode")["n"].sum().reindex(codes, fill_value=0).to_numpy(dtype=np.int64)


def unlisted_places(a: Side, b: Side) -> pd.DataFrame:
    """The places kept as groups (not rows of the places table) by city and status: per group,
    continued = min(n_a, n_b), dropped = n_a − that, new = n_b − that (see the module's docstring);
    columns city_adcode, continued, dropped, new."""
    parts = []
    for tag, side in (("a", a), ("b", b)):
        groups = side.group_places()
        if groups is not None:
            parts.append(groups[groups["in_view"]][GROUP_KEYS + ["n"]].rename(columns={"n": tag}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "city_adcode" else "int64")
                             for c in ["city_adcode", *STATUSES]})
    joined = parts[0] if len(parts) == 1 else parts[0].merge(parts[1], on=GROUP_KEYS, how="outer")
    n_a = joined["a"].fillna(0).to_numpy(dtype=np.int64) if "a" in joined else np.zeros(len(joined), dtype=np.int64)
    n_b = joined["b"].fillna(0).to_numpy(dtype=np.int64) if "b" in joined else np.zeros(len(joined), dtype=np.int64)
    both = np.minimum(n_a, n_b)
    frame = pd.DataFrame({"city_adcode": joined["city_adcode"].to_numpy(dtype=object), "continued": both,
                          "dropped": n_a - both, "new": n_b - both})
    return frame.groupby("city_adcode", as_index=False).sum()


def compare_cities(a: Side, b: Side, places: pd.DataFrame, touches_a: pd.DataFrame,
                   touches_b: pd.DataFrame, cities: gpd.GeoDataFrame,
                   unlisted: pd.DataFrame | None = None) -> pd.DataFrame:
    codes = list(cities["adcode"])
    frame = pd.DataFrame({"city_adcode": codes, "name_zh": list(cities["name_zh"]),
                          "name_en": list(cities["name_en"])})
    for tag, side, touches in (("a", a, touches_a), ("b", b, touches_b)):
        touched = touches.reindex(columns=codes, fill_value=False)
        frame[f"tasks_{tag}"] = touched.sum(axis=0).astype(int).to_numpy() if len(touched) else 0
        n_targets = pd.Series({t.id: sum(x.value is not None for x in t.targets) for t in side.tasks})
        frame[f"targets_{tag}"] = (touched.mul(n_targets.reindex(touched.index).fillna(0), axis=0)
                                   .sum(axis=0).astype(int).to_numpy()) if len(touched) else 0
        frame[f"places_{tag}"] = [int(n) for n in side.view.links["city_adcode"].value_counts()
                                  .reindex(codes, fill_value=0) + _group_city_counts(side, codes)]
    groups = list(dict.fromkeys(list(a.groups) + list(b.groups)))
    counts_a, counts_b = _group_counts(a, groups, codes), _group_counts(b, groups, codes)
    for gid in groups:
        frame[f"{gid}_a"], frame[f"{gid}_b"] = counts_a[gid], counts_b[gid]
        frame[f"{gid}_change"] = counts_b[gid] - counts_a[gid]
    for measure in ("tasks", "targets", "places"):
        frame[f"{measure}_change"] = frame[f"{measure}_b"] - frame[f"{measure}_a"]
    for status in STATUSES:
        chosen = places[places["status"] == status]
        counts = chosen["city_adcode"].value_counts()
        extra = (unlisted.set_index("city_adcode")[status] if unlisted is not None and len(unlisted)
                 else pd.Series(dtype="int64"))
        frame[f"places_{status}"] = [int(counts.get(c, 0)) + int(extra.get(c, 0)) for c in codes]
    return frame


INDUSTRY_COLUMNS = ["industry", "label_zh", "label_en", "status", "places_a", "places_b", "places_change",
                    "tasks_a", "tasks_b", "tasks_change"]


def compare_industries(a: Side, b: Side) -> pd.DataFrame:
    codes = list(dict.fromkeys(list(a.industries) + list(b.industries)))
    rows = []
    for code in codes:
        def places(side):
            cells = side.view.places["industries"].fillna("").astype(str)
            count = int(cells.map(lambda s: code in s.split(";")).sum())
            groups = side.group_places()
            if groups is not None:
                hit = groups["in_view"] & groups["industries"].map(lambda s: code in s.split(";"))
                count += int(groups.loc[hit, "n"].sum())
            return count

        def tasks(side):
            return sum(code in t.industries or any(x.industry == code for x in t.targets) for t in side.tasks)
        pa, pb, ta, tb = places(a), places(b), tasks(a), tasks(b)
        in_a, in_b = pa + ta > 0, pb + tb > 0
        if not (in_a or in_b):
            continue
        label = b.industries.get(code) or a.industries.get(code) or (code, code)
        rows.append({"industry": code, "label_zh": label[0], "label_en": label[1],
                     "status": "continued" if in_a and in_b else "dropped" if in_a else "new",
                     "places_a": pa, "places_b": pb, "places_change": pb - pa,
                     "tasks_a": ta, "tasks_b": tb, "tasks_change": tb - ta})
    return pd.DataFrame(rows, columns=INDUSTRY_COLUMNS)


@dataclass(frozen=True)
class Comparison:
    a: Side
    b: Side
    cities: pd.DataFrame       # one row per city (all of them), by adcode
    places: pd.DataFrame
    tasks: pd.DataFrame
    industries: pd.DataFrame
    targets: pd.DataFrame
    unlisted: pd.DataFrame | None = None   # places kept as groups, by city and status (not in `places`)

    def summary(self) -> dict:
        def counts(frame):
            return {s: int((frame["status"] == s).sum()) for s in STATUSES}
        places = counts(self.places)
        if self.unlisted is not None:
            places = {s: n + int(self.unlisted[s].sum()) for s, n in places.items()}
        return {"places": places, "tasks": counts(self.tasks),
                "industries": counts(self.industries), "targets": counts(self.targets)}

    def city_changes(self, adcode: str) -> dict:
        """What changed for one city: its places by status, tasks touching it only in a / only in
        b / in both (by the matched task rows)."""
        places = self.places[self.places["city_adcode"] == adcode]
        tasks = self.tasks
        in_a = tasks["cities_a"].map(lambda s: adcode in s.split(";"))
        in_b = tasks["cities_b"].map(lambda s: adcode in s.split(";"))
        return {
            "places": {s: places[places["status"] == s] for s in STATUSES},
            "tasks": {"continued": tasks[in_a & in_b], "dropped": tasks[in_a & ~in_b], "new": tasks[~in_a & in_b]},
        }


def compare(a: Side, b: Side, cities: gpd.GeoDataFrame) -> Comparison:
    touches_a, touches_b = _touches(a), _touches(b)
    places = compare_places(a, b)
    unlisted = unlisted_places(a, b) if a.view.has_groups or b.view.has_groups else None
    return Comparison(a, b, compare_cities(a, b, places, touches_a, touches_b, cities, unlisted), places,
                      compare_tasks(a, b, touches_a, touches_b), compare_industries(a, b), compare_targets(a, b),
                      unlisted)
