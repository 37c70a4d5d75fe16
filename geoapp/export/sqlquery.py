"""OGC API – Features queries and downloads of a collection whose rows stay in PostGIS
(Collection.sql, a geoapp.postgis.SqlLayer), answered with SQL and written by the same code as the
in-memory collections (Catalog.published_rows + the serialize writers), so both give the same
bytes for the same rows.

    cql2_sql(expression, swap)      a parsed CQL2 filter (pygeofilter AST) as a SQL condition
                                    with its parameters; Unsupported for what it does not translate
    order_sql(sortby)               sortby as ORDER BY over the same columns, then layer order
    Query(...).page(limit, offset)  (number matched, the page's published rows)
    Query(...).chunks()             the matching rows, published, a few thousand at a time

Values from the request always travel as query parameters; the SQL text is made only of the
fixed column expressions below and operators chosen from fixed tables.

The translation covers what the in-memory evaluator (geoapp.export.query, pygeopandas over the
published frame) answers the same way: comparisons, LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT,
CASEI/LOWER/UPPER on text properties, and the spatial predicates and BBOX on the geometry. Text is
compared by code point (COLLATE "C"), as Python compares it. A filter or sortby it does not
translate (a label column such as city_zh, numbers compared with text, arithmetic, …) is answered
by the in-memory evaluator itself, run over the rows the rest of the query selects, streamed from
the database a chunk at a time; only the matching feature ids are kept (and remembered for the
next pages). Either way the answer is the in-memory one.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle

from geoapp.export import query
from geoapp.export.catalog import Catalog, Collection
from geoapp.export.serialize import Columns
from geoapp.filters import Filter
from geoapp.postgis.layer import COLUMNS, STREAM_CHUNK

# Text properties of an imported layer's published rows and their SQL (never NULL, like the
# normalised frame's cells). The indexed generated columns are used where the store has them.
GENERATED = ("name_zh", "kind", "level", "city_adcode", "district_adcode", "location_precision")
TEXT_SQL = {c: f"COALESCE({c}, '')" if c in GENERATED else f"COALESCE(props->>'{c}', '')" for c in COLUMNS}
# Columns the registry adds to an imported layer (Registry.with_layers): always empty there.
TEXT_SQL.update({"plan_role": "''::text", "plan_names": "''::text"})
COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
SPATIAL = {"INTERSECTS": "ST_Intersects", "DISJOINT": "ST_Disjoint", "CONTAINS": "ST_Contains",
           "WITHIN": "ST_Within", "TOUCHES": "ST_Touches", "CROSSES": "ST_Crosses",
           "OVERLAPS": "ST_Overlaps", "EQUALS": "ST_Equals"}
# Matching feature ids of queries answered by the in-memory evaluator, kept for their next pages.
FALLBACKS_KEPT = 8


class Unsupported(Exception):
    """The filter or sortby is not translated to SQL (the in-memory evaluator answers it)."""


@dataclass(frozen=True)
class Sql:
    """A SQL expression with its parameters; `kind`: text, bool or geom."""
    text: str
    params: tuple = ()
    kind: str = "bool"


def _param(value) -> Sql:
    return Sql("%s", (value,), "text")


class _SqlEvaluator(Evaluator):
    """pygeofilter AST -> Sql. Literals stay Python values until an operator places them."""

    def __init__(self, swap: bool):
        self.swap = swap

    def _geometry(self, geometry):
        return query.swap_axes(np.array([geometry]))[0] if self.swap else geometry

    @handle(ast.Attribute)
    def attribute(self, node):
        if node.name in query.GEOMETRY_NAMES:
            return Sql("geom", (), "geom")
        if node.name not in TEXT_SQL:
            raise Unsupported(node.name)      # label columns (city_zh, …)
        return Sql(TEXT_SQL[node.name], (), "text")

    @handle(*values.LITERALS)
    def literal(self, node):
        return node

    @handle(values.Geometry)
    def geometry(self, node):
        return self._geometry(shapely.geometry.shape(node))

    @handle(values.Envelope)
    def envelope(self, node):
        return self._geometry(shapely.box(node.x1, node.y1, node.x2, node.y2))

    @handle(ast.Function)
    def function(self, node, *arguments):
        name = node.name.lower()
        if name == "bbox" and len(arguments) == 4 and all(_number(a) for a in arguments):
            return self._geometry(shapely.box(*arguments))
        if name in ("lower", "upper", "casei") and len(arguments) == 1:
            (value,) = arguments
            if isinstance(value, str):
                return value.upper() if name == "upper" else value.lower()
            if isinstance(value, Sql) and value.kind == "text":
                return Sql(f"{'upper' if name == 'upper' else 'lower'}({value.text})", value.params, "text")
        raise Unsupported(node.name)

    @handle(ast.Not)
    def not_(self, node, sub):
        return Sql(f"NOT ({_condition(sub).text})", _condition(sub).params)

    @handle(ast.And, ast.Or)
    def combination(self, node, lhs, rhs):
        lhs, rhs = _condition(lhs), _condition(rhs)
        return Sql(f"({lhs.text} {node.op.value} {rhs.text})", lhs.params + rhs.params)

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs, rhs):
        op = COMPARISONS[node.op.value]
        if isinstance(lhs, str) and isinstance(rhs, str):
            raise Unsupported("two literals")
        lhs, rhs = _text(lhs), _text(rhs)
        collate = ' COLLATE "C"' if op not in ("=", "<>") else ""
        return Sql(f"({lhs.text}{collate} {op} {rhs.text})", lhs.params + rhs.params)

    @handle(ast.Between)
    def between(self, node, lhs, low, high):
        if not (isinstance(low, str) and isinstance(high, str)):
            raise Unsupported("BETWEEN of non-text")
        lhs = _text(lhs)
        return Sql(f"({lhs.text} COLLATE \"C\" {'NOT ' if node.not_ else ''}BETWEEN %s AND %s)",
                   lhs.params + (low, high))

    @handle(ast.Like)
    def like(self, node, lhs):
        if (node.escapechar or "\\") in node.pattern:
            # pygeofilter's own reading of escapes (its regex) is what the in-memory path answers
            raise Unsupported("LIKE with an escape")
        lhs = _text(lhs)
        pattern = like_pattern(node.pattern, node.wildcard, node.singlechar)
        operator = ("NOT " if node.not_ else "") + ("ILIKE" if node.nocase else "LIKE")
        return Sql(f"({lhs.text} {operator} %s)", lhs.params + (pattern,))

    @handle(ast.In)
    def in_(self, node, lhs, *options):
        if not all(isinstance(o, str) for o in options):
            raise Unsupported("IN of non-text")
        lhs = _text(lhs)
        return Sql(f"({'NOT ' if node.not_ else ''}({lhs.text} = ANY(%s)))", lhs.params + (list(options),))

    @handle(ast.IsNull)
    def null(self, node, lhs):
        if not isinstance(lhs, Sql) or lhs.kind == "bool":
            raise Unsupported("IS NULL of a literal")
        return Sql("TRUE" if node.not_ else "FALSE")     # text and geometry cells are never null

    @handle(ast.SpatialComparisonPredicate, subclasses=True)
    def spatial(self, node, lhs, rhs):
        if not (isinstance(lhs, Sql) and lhs.kind == "geom" and isinstance(rhs, shapely.Geometry)):
            raise Unsupported("spatial predicate not of the geometry and a literal")
        return Sql(f"{SPATIAL[node.op.name]}(geom, ST_GeomFromWKB(%s, 4326))", (shapely.to_wkb(rhs),))

    @handle(ast.BBox)
    def bbox(self, node, lhs):
        if not (isinstance(lhs, Sql) and lhs.kind == "geom"):
            raise Unsupported("BBOX not of the geometry")
        box = self._geometry(shapely.box(node.minx, node.miny, node.maxx, node.maxy))
        return Sql("ST_Intersects(geom, ST_GeomFromWKB(%s, 4326))", (shapely.to_wkb(box),))

    def adopt(self, node, *sub_args):
        raise Unsupported(type(node).__name__)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value) -> Sql:
    if isinstance(value, str):
        return _param(value)
    if isinstance(value, Sql) and value.kind == "text":
        return value
    raise Unsupported(f"not text: {type(value).__name__}")


def _condition(value) -> Sql:
    if isinstance(value, Sql) and value.kind == "bool":
        return value
    raise Unsupported(f"not a condition: {type(value).__name__}")


def like_pattern(pattern: str, wildcard: str, singlechar: str) -> str:
    """A CQL2 LIKE pattern without escapes, with the AST's wildcard and single character, as a
    PostgreSQL LIKE pattern (escape '\\'): wildcards become %, single characters _, everything
    else literal. (pygeofilter's CQL2 text parser makes '.' the single character.)"""
    out = []
    for char in pattern:
        if char == wildcard:
            out.append("%")
        elif char == singlechar:
            out.append("_")
        else:
            out.append("\\" + char if char in "%_\\" else char)
    return "".join(out)


def cql2_sql(expression, swap: bool = False) -> tuple[str, list]:
    """The parsed filter as (SQL condition, parameters); Unsupported when it is not translated."""
    result = _SqlEvaluator(swap).evaluate(expression)
    result = _condition(result)
    return result.text, list(result.params)


def order_sql(sortby) -> str:
    """sortby [(column, ascending)] as ORDER BY text, ties in layer order (a stable sort)."""
    keys = []
    for name, ascending in sortby:
        if name not in TEXT_SQL:
            raise Unsupported(name)
        keys.append(f'{TEXT_SQL[name]} COLLATE "C" {"ASC" if ascending else "DESC"}')
    return ", ".join([*keys, "position"])


class _Kept:
    """A small thread-safe LRU of the feature ids of fallback queries."""

    def __init__(self, size: int):
        self.size, self.entries, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key, make):
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        value = make()
        with self.lock:
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value


_fallbacks = _Kept(FALLBACKS_KEPT)


@dataclass
class Query:
    """One selection of a PostGIS collection: the shared filter, boxes (lon/lat), a parsed CQL2
    expression (checked already against the collection, see `check`) and sortby."""
    cat: Catalog
    collection: Collection
    flt: Filter = Filter()
    boxes: tuple | None = None
    expression: object = None
    swap: bool = False
    sortby: tuple = ()
    _sql: tuple | None = field(default=None, repr=False)   # (where, order) or None: fallback

    def __post_init__(self):
        layer = self.collection.sql
        try:
            extra = cql2_sql(self.expression, self.swap) if self.expression is not None else None
            self._sql = (layer.where(self.flt, list(self.boxes or ()), extra), order_sql(self.sortby))
        except Unsupported:
            self._sql = None

    @property
    def in_sql(self) -> bool:
        return self._sql is not None

    def page(self, limit: int, offset: int) -> tuple[int, gpd.GeoDataFrame]:
        """(number matched, the page's rows as the collection publishes them)."""
        layer = self.collection.sql
        if self._sql is not None:
            where, order = self._sql
            plain = self.flt.empty and not self.boxes and self.expression is None
            matched = layer.rows if plain else int(layer.query(
                f"SELECT count(*) FROM atlas_features WHERE {where[0]}", where[1])[0][0])
            rows = layer.frame(where, order, limit, offset) if offset < matched else layer.frame(
                layer.where(extra=("FALSE", [])))
            return matched, self.cat.published_rows(self.collection, rows)
        ids = self._fallback_ids()
        return len(ids), self.rows_of(list(ids[offset:offset + limit]))

    def rows_of(self, ids: list[str]) -> gpd.GeoDataFrame:
        """The published rows of these feature ids, in this order."""
        layer = self.collection.sql
        rows = layer.frame(layer.where(extra=("fid = ANY(%s)", [ids])))
        return self.cat.published_rows(self.collection, rows.loc[ids])

    def chunks(self, size: int = STREAM_CHUNK) -> Iterator[gpd.GeoDataFrame]:
        """Every matching row, published, in order, `size` at a time (a server-side cursor); one
        empty frame with the published columns when no row matches."""
        layer = self.collection.sql
        written = 0
        if self._sql is not None:
            where, order = self._sql
            for rows in layer.stream(where, order, chunk=size):
                written += len(rows)
                yield self.cat.published_rows(self.collection, rows)
        else:
            ids = self._fallback_ids()
            for start in range(0, len(ids), size):
                written += len(ids[start:start + size])
                yield self.rows_of(list(ids[start:start + size]))
        if not written:   # no rows: the published columns, so that a file still has its table
            yield self.collection.frame

    def _fallback_ids(self) -> np.ndarray:
        """The matching feature ids in order, by the in-memory evaluator over streamed rows."""
        layer = self.collection.sql
        key = (layer.key, self.flt, self.boxes, repr(self.expression), self.swap, self.sortby)

        def make():
            ids, keys = [], []
            names = [n for n, _ in self.sortby]
            for rows in layer.stream(layer.where(self.flt, list(self.boxes or ()))):
                frame = self.cat.published_rows(self.collection, rows)
                if self.expression is not None:
                    frame = frame[query.evaluate(frame, self.expression, self.swap).to_numpy()]
                ids.append(frame.index.to_numpy())
                keys.append(pd.DataFrame(frame[names]).reset_index(drop=True))
            found = np.concatenate(ids) if ids else np.array([], dtype=object)
            if self.sortby and len(found):
                table = pd.concat(keys, ignore_index=True)
                positions = query.sort_positions(table, np.arange(len(found)), list(self.sortby))
                found = found[positions]
            found.flags.writeable = False
            return found
        return _fallbacks.get(key, make)


def check(collection: Collection, expression, swap: bool) -> None:
    """The errors the in-memory evaluator gives for this filter whatever the rows (unknown
    properties, unsupported functions and predicates): it is run on the collection's (empty)
    frame, which has the published columns."""
    if expression is not None:
        query.evaluate(collection.frame, expression, swap)


def is_points(collection: Collection, flt: Filter) -> bool:
    """Whether every selected geometry is a Point (CSV writes lon/lat then, else WKT)."""
    layer = collection.sql
    where = layer.where(flt)
    row = layer.query(f"SELECT count(*) > 0 AND bool_and(GeometryType(geom) = 'POINT') "
                      f"FROM atlas_features WHERE {where[0]}", where[1])[0]
    return bool(row[0])


def geojson_chunks(batches: Iterator[gpd.GeoDataFrame]) -> Iterator[bytes]:
    """feature_collection_chunks of published batches (the same bytes as the in-memory download)."""
    yield b'{"type":"FeatureCollection","features":['
    separator = ""
    for batch in batches:
        if len(batch):
            yield (separator + ",".join(Columns(batch).feature_texts(np.arange(len(batch))))).encode("utf-8")
            separator = ","
    yield b"]}"
