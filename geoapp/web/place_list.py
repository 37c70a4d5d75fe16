"""The map's list of places when imported layers live in PostGIS: the list's in-memory rows (the
curated point layers, map_page.table_frame) merged with the database layers' rows, which are
filtered, sorted and paged in SQL (geoapp.postgis.places) — the same rows in the same order as
the list of an app that holds every layer in memory.

A page (offset o, limit k) of the merged list, with M in-memory rows: the database rows on it
are among its rows max(0, o - M) .. o + k + M (at most M in-memory rows come before any of
them), so one query of k + M rows and a sort of those with the M in-memory rows place every row
of the page exactly. Whole lists (the files, a city's places) merge the database rows, read
from a server-side cursor in chunks, with the in-memory rows as they come.
"""
from __future__ import annotations

from functools import total_ordering
from typing import Iterator

import numpy as np
import pandas as pd

from geoapp import vocab
from geoapp.filters import Filter
from geoapp.layers.popup import Names
from geoapp.postgis import places as sql_places
from geoapp.web import context
from geoapp.web.context import registry

TABLE_COLUMNS = ["id", "layer", "layer_title", "name", "name_other", "kind", "level", "city_adcode", "city",
                 "lon", "lat"]
# what the files add to a row (codes and WGS84 coordinates): kind, level, precision codes, lon, lat
STORED_COLUMNS = ["kind_code", "level_code", "precision", "x", "y"]


def list_specs() -> list:
    """The point layers the list shows (map_page.table_frame's), in the list's order."""
    return [spec for spec in registry().specs if spec.geometry == "point" and spec.counted]


def sql_layers() -> list:
    """The list's layers that live in PostGIS (SqlLayer), in the list's order."""
    sql = context.bundle().sql
    return [sql[spec.data] for spec in list_specs() if spec.data in sql]


def order_of(sort: str, desc: bool, lang: str) -> sql_places.PlaceOrder:
    reg = registry()
    names = Names(reg.boundaries["city"], reg.boundaries["district"], industries=reg.plan.industries)
    return sql_places.PlaceOrder(
        sort=sort, desc=desc, lang=lang,
        kinds={code: vocab.label(vocab.KINDS, code, lang) for code in vocab.KINDS},
        levels={code: vocab.label(vocab.LEVELS, code, lang) for code in vocab.LEVELS},
        cities={code: names.short(code, lang) for code in reg.boundaries["city"]["adcode"]})


def spec_positions() -> dict[str, int]:
    """layer id -> its place in the list's order (ties of the sort keep that order)."""
    return {spec.id: i for i, spec in enumerate(list_specs())}


def table_rows(rows: pd.DataFrame, lang: str, drawn_lonlat) -> pd.DataFrame:
    """Database rows (geoapp.postgis.places.ROW_COLUMNS) as rows of the list (TABLE_COLUMNS,
    as map_page.table_frame writes them) plus STORED_COLUMNS."""
    reg = registry()
    names = Names(reg.boundaries["city"], reg.boundaries["district"], industries=reg.plan.industries)
    titles = {spec.data: spec.title_in(lang) for spec in list_specs()}
    zh, en = rows["name_zh"].astype(str), rows["name_en"].astype(str)
    lon, lat = drawn_lonlat(rows["x"].to_numpy(dtype=float), rows["y"].to_numpy(dtype=float))
    return pd.DataFrame({
        "id": rows["fid"].astype(str).to_numpy(), "layer": rows["layer"].to_numpy(),
        "layer_title": [titles.get(layer, layer) for layer in rows["layer"]],
        "name": (en.where(en != "", zh) if lang == "en" else zh).to_numpy(),
        "name_other": (zh if lang == "en" else en).to_numpy(),
        "kind": [vocab.label(vocab.KINDS, k, lang) for k in rows["kind"]],
        "level": [vocab.label(vocab.LEVELS, k, lang) if k else "" for k in rows["level"]],
        "city_adcode": rows["city_adcode"].to_numpy(),
        "city": [names.short(c, lang) if c else "" for c in rows["city_adcode"]],
        "lon": np.round(lon, 5), "lat": np.round(lat, 5),
        "kind_code": rows["kind"].to_numpy(), "level_code": rows["level"].to_numpy(),
        "precision": rows["location_precision"].to_numpy(),
        "x": np.round(rows["x"].to_numpy(dtype=float), 6), "y": np.round(rows["y"].to_numpy(dtype=float), 6),
    })


@total_ordering
class OrderKey:
    """A row's place in the list: (k1, k2) ascending or descending, then (layer's place, row)
    ascending — pandas' stable sort_values as map_page sorts the in-memory list."""
    __slots__ = ("keys", "tail", "desc")

    def __init__(self, k1: str, k2: str, spec: int, row: int, desc: bool):
        self.keys, self.tail, self.desc = (k1, k2), (spec, row), desc

    def __eq__(self, other) -> bool:
        return self.keys == other.keys and self.tail == other.tail

    def __lt__(self, other) -> bool:
        if self.keys != other.keys:
            return (self.keys > other.keys) if self.desc else (self.keys < other.keys)
        return self.tail < other.tail


def memory_keys(table: pd.DataFrame, sort: str, desc: bool) -> list[OrderKey]:
    """OrderKeys of the in-memory list's rows (in table_frame's order)."""
    second = "id" if sort == "name" else "name"
    spec_of = spec_positions()
    rows = table.groupby("layer", sort=False).cumcount().to_numpy() if len(table) else []
    return [OrderKey(str(a), str(b), spec_of.get(layer, -1), int(r), desc)
            for a, b, layer, r in zip(table[sort], table[second], table["layer"], rows)]


def sql_keys(rows: pd.DataFrame, desc: bool) -> list[OrderKey]:
    return [OrderKey(a, b, int(s), int(p), desc)
            for a, b, s, p in zip(rows["k1"], rows["k2"], rows["spec"], rows["position"])]


def page(memory: pd.DataFrame, flt: Filter, lang: str, sort: str, desc: bool, box, offset: int, limit: int,
         drawn_lonlat, layers: list | None = None) -> tuple[int, pd.DataFrame]:
    """(rows of the whole list, rows offset .. offset+limit of it as TABLE_COLUMNS + STORED_COLUMNS).
    `memory`: the in-memory rows, sorted as the list sorts them (map_page.places)."""
    layers = sql_layers() if layers is None else layers
    order = order_of(sort, desc, lang)
    spec_of = spec_positions()
    m = len(memory)
    total_sql = count(flt, box, layers=layers)
    start = max(0, offset - m)
    fetched = sql_places.fetch(layers, flt, order, spec_of, sql_box(box), start, limit + m)
    candidates = [(key, 1, i) for i, key in enumerate(sql_keys(fetched, desc))] + \
                 [(key, 0, i) for i, key in enumerate(memory_keys(memory, sort, desc))]
    candidates.sort(key=lambda c: c[0])
    complete = len(fetched) < limit + m      # the query reached the end of the database rows
    chosen: list[tuple[int, int, int]] = []   # (place in the list, source, row)
    seen_sql = seen_memory = 0
    for _, source, i in candidates:
        if source == 1:
            where = start + i + seen_memory
            seen_sql += 1
        else:
            before_all = seen_sql == 0 and start > 0
            after_all = seen_sql == len(fetched) and not complete
            where = None if before_all or after_all else i + start + seen_sql
            seen_memory += 1
        if where is not None and offset <= where < offset + limit:
            chosen.append((where, source, i))
    chosen.sort()
    sql_table = table_rows(fetched, lang, drawn_lonlat) if len(fetched) else None
    parts = []
    for _, source, i in chosen:
        parts.append(sql_table.iloc[i] if source == 1 else memory.iloc[i])
    out = pd.DataFrame(parts, columns=[*TABLE_COLUMNS, *STORED_COLUMNS]) if parts else \
        pd.DataFrame(columns=[*TABLE_COLUMNS, *STORED_COLUMNS])
    return m + total_sql, out.reset_index(drop=True)


def count(flt: Filter, box, table_rows: int = 0, layers: list | None = None) -> int:
    """Rows of the database layers' list for the filter and box (+ `table_rows`, the in-memory
    list's): from their groups without a box (no query: geoapp.postgis.figures), else counted."""
    layers = sql_layers() if layers is None else layers
    if not layers:
        return table_rows
    if box is not None:
        return table_rows + sql_places.count(layers, flt, sql_box(box))
    from geoapp.postgis.figures import layer_groups
    total = table_rows
    for layer in layers:
        groups = layer_groups(layer)
        total += int(groups["n"].to_numpy(dtype="int64")[flt.mask(groups, None)].sum())
    return total


def every_row(memory: pd.DataFrame, flt: Filter, lang: str, sort: str, desc: bool, box, drawn_lonlat,
              extra=None, chunk: int = sql_places.CHUNK) -> Iterator[pd.DataFrame]:
    """The whole list in order (TABLE_COLUMNS + STORED_COLUMNS), one frame per chunk of database
    rows (from a server-side cursor) with the in-memory rows that sort among them put in place
    (bisected into the chunk: the chunk itself stays a frame, not rows)."""
    from bisect import bisect_left
    layers = sql_layers()
    order = order_of(sort, desc, lang)
    spec_of = spec_positions()
    columns = [*TABLE_COLUMNS, *STORED_COLUMNS]
    memory = memory.reindex(columns=columns)
    pending = memory_keys(memory, sort, desc)
    taken = 0
    for rows in sql_places.chunks(layers, flt, order, spec_of, sql_box(box), extra, chunk):
        table = table_rows(rows, lang, drawn_lonlat)[columns]
        keys = sql_keys(rows, desc)
        pieces, start = [], 0
        while taken < len(pending) and pending[taken] < keys[-1]:
            at = bisect_left(keys, pending[taken])
            pieces += [table.iloc[start:at], memory.iloc[taken:taken + 1]]
            start, taken = at, taken + 1
        pieces.append(table.iloc[start:])
        yield pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else table
    if taken < len(memory):
        yield memory.iloc[taken:].reset_index(drop=True)


def sql_box(box):
    """The list's `bbox` (in the coordinates the map draws) as the box of stored coordinates:
    the same on a WGS84 basemap; on a GCJ-02 one, moved back by the shift at its corners (a
    point within about a metre of the box's edge may fall on the other side than in memory)."""
    if box is None:
        return None
    from geoapp.layers.build import display_shift
    shift = display_shift(context.atlas().map_frame.datum)
    if shift is None:
        return box
    west, south, east, north = box
    xs, ys = shift(np.array([west, east]), np.array([south, north]))
    return (2 * west - xs[0], 2 * south - ys[0], 2 * east - xs[1], 2 * north - ys[1])
