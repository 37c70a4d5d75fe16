"""The map's list of places (and its files, and the city panel's list) for imported layers that
live in PostGIS: rows filtered, sorted and paged in SQL, in the order the in-memory list has.

The in-memory list (geoapp.web.map_page.table_frame) sorts by the text it shows — the name in
the page's language, the layer's id, the kind / level / city label — then by the name (or
the id when sorting by name), stably, so ties keep the layers' order and each layer's row order.
Here the same texts are SQL expressions (labels as CASE over the codes, passed as parameters)
compared with COLLATE "C" (code point order, as Python compares str), and the last tie-break
is the layer's place in the list then `position` (the row order of the import). So a page here
and the same page in memory hold the same rows in the same order; geoapp.web merges them with
the list's in-memory rows (the curated layers).

    PlaceOrder  what the list is sorted by, and the labels its texts are made of
    fetch()     one page (offset, limit) of the layers' rows
    chunks()    every row, in order, from a server-side cursor (the files)
    count()     how many rows the filter and the box keep
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator

import pandas as pd

from geoapp.filters import Filter
from geoapp.postgis.layer import SqlLayer, filter_sql

ROW_COLUMNS = ["fid", "layer", "position", "name_zh", "name_en", "kind", "level", "location_precision",
               "city_adcode", "x", "y", "k1", "k2", "spec"]
CHUNK = 5000
# The name shown in English: name_en where there is one, else the Chinese name (as in memory).
NAME_EN = "CASE WHEN coalesce(props->>'name_en', '') <> '' THEN props->>'name_en' ELSE coalesce(name_zh, '') END"


@dataclass(frozen=True)
class PlaceOrder:
    """The list's order: `sort` (name | layer | kind | level | city), descending or not, in the
    page's `lang`; the texts compared are the labels the list shows (code -> label; a code
    without a label shows as itself, as vocab.label does), or the layer's id."""
    sort: str
    desc: bool
    lang: str
    kinds: dict           # kind code -> label
    levels: dict          # level code -> label ("" stays "")
    cities: dict          # city adcode -> short name ("" stays "")

    def name(self) -> str:
        # name_zh is required of every imported row (never NULL): as is, the index serves it
        return NAME_EN if self.lang == "en" else "name_zh"

    def keys(self, layers: list[SqlLayer]) -> tuple[list[str], list]:
        """(SQL of k1, k2; their parameters in order)."""
        params: list = []

        def case(column: str, labels: dict, blank_stays: bool) -> str:
            parts = [f"CASE WHEN coalesce({column}, '') = '' THEN ''"] if blank_stays else ["CASE"]
            for code, label in labels.items():
                parts.append(f"WHEN {column} = %s THEN %s")
                params.extend([code, label])
            return " ".join(parts) + f" ELSE coalesce({column}, '') END"

        if self.sort == "name":
            return [self.name(), "fid"], params
        if self.sort == "layer":   # the list sorts by the layer's id (its `layer` column)
            parts = ["CASE"]
            for layer in layers:
                parts.append("WHEN data_version = %s THEN %s")
                params.extend([layer.data_version, layer.layer])
            first = " ".join(parts) + " ELSE '' END"
        else:
            column = {"kind": "kind", "level": "level", "city": "city_adcode"}[self.sort]
            labels = {"kind": self.kinds, "level": self.levels, "city": self.cities}[self.sort]
            first = case(column, labels, blank_stays=self.sort != "kind")
        return [first, self.name()], params


def _where(layers: list[SqlLayer], flt: Filter, box: tuple | None, extra: tuple[str, list] | None = None
           ) -> tuple[str, list]:
    """The layers' rows (their data versions) that pass the filter, inside the box (lon/lat of
    the points rounded to 5 decimals as the list shows them: float8 round() is rint(), numpy's
    rounding) and the `extra` condition."""
    parts, params = ["data_version = ANY(%s)"], [[layer.data_version for layer in layers]]
    if len(layers) == 1:
        parts, params = ["data_version = %s"], [layers[0].data_version]
    sql, values = filter_sql(flt)
    if sql != "TRUE":
        parts.append(f"({sql})")
        params.extend(values)
    if box is not None:
        west, south, east, north = (float(v) for v in box)
        margin = 1e-4   # the index finds the candidates; the rounded test decides
        parts.append("geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
        params.extend([west - margin, south - margin, east + margin, north + margin])
        parts.append("round(ST_X(geom) * 100000::float8) / 100000::float8 BETWEEN %s AND %s")
        parts.append("round(ST_Y(geom) * 100000::float8) / 100000::float8 BETWEEN %s AND %s")
        params.extend([west, east, south, north])
    if extra is not None:
        parts.append(f"({extra[0]})")
        params.extend(extra[1])
    return " AND ".join(parts), params


def _select(layers: list[SqlLayer], order: PlaceOrder, spec_of: dict, where: tuple[str, list]
            ) -> tuple[str, list]:
    """SELECT of ROW_COLUMNS in the list's order (without LIMIT). Sorting by name, the keys are
    (name, id): the id is unique in a layer, so the order is complete and an index on
    (data_version, name_zh, fid) in "C" order serves the first pages of the default list."""
    keys, key_params = order.keys(layers)
    layer_case, layer_params = ["CASE"], []
    spec_case, spec_params = ["CASE"], []
    for layer in layers:
        layer_case.append("WHEN data_version = %s THEN %s")
        layer_params.extend([layer.data_version, layer.layer])
        spec_case.append("WHEN data_version = %s THEN %s::int")
        spec_params.extend([layer.data_version, int(spec_of[layer.layer])])
    direction = " DESC" if order.desc else ""
    ordering = [f"k1{direction}", f"k2{direction}"]
    if len(layers) > 1:
        ordering.append("spec")
    if order.sort != "name" or len(layers) > 1:
        ordering.append("position")
    sql = (f"SELECT fid, {' '.join(layer_case)} END AS layer, position, coalesce(name_zh, ''), "
           "coalesce(props->>'name_en', ''), coalesce(kind, ''), coalesce(level, ''), "
           "coalesce(location_precision, ''), coalesce(city_adcode, ''), "
           "ST_X(geom), ST_Y(geom), "
           f"{keys[0]} COLLATE \"C\" AS k1, {keys[1]} COLLATE \"C\" AS k2, {' '.join(spec_case)} END AS spec "
           f"FROM atlas_features WHERE {where[0]} ORDER BY {', '.join(ordering)}")
    return sql, [*layer_params, *key_params, *spec_params, *where[1]]


def _frame(records: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=ROW_COLUMNS)
    frame["x"] = frame["x"].astype(float)
    frame["y"] = frame["y"].astype(float)
    return frame


def count(layers: list[SqlLayer], flt: Filter, box: tuple | None = None, extra=None) -> int:
    where = _where(layers, flt, box, extra)
    return int(layers[0].query(f"SELECT count(*) FROM atlas_features WHERE {where[0]}", where[1])[0][0])


def fetch(layers: list[SqlLayer], flt: Filter, order: PlaceOrder, spec_of: dict, box: tuple | None,
          offset: int, limit: int, extra=None) -> pd.DataFrame:
    """Rows offset .. offset+limit of the layers' list (ROW_COLUMNS)."""
    sql, params = _select(layers, order, spec_of, _where(layers, flt, box, extra))
    return _frame(layers[0].query(sql + " LIMIT %s OFFSET %s", [*params, int(limit), int(offset)]))


def chunks(layers: list[SqlLayer], flt: Filter, order: PlaceOrder, spec_of: dict, box: tuple | None,
           extra=None, size: int = CHUNK) -> Iterator[pd.DataFrame]:
    """Every row of the layers' list in order, `size` rows at a time, from a server-side cursor
    (a whole-list file never holds the list)."""
    sql, params = _select(layers, order, spec_of, _where(layers, flt, box, extra))
    with layers[0].connection() as conn:
        with conn.transaction():
            with conn.cursor(name=f"atlas_places_{id(order)}_{threading.get_ident()}") as cur:
                cur.itersize = size
                cur.execute(sql, params)
                while True:
                    records = cur.fetchmany(size)
                    if not records:
                        return
                    yield _frame(records)
