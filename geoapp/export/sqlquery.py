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
CASEI/LOWER/UPPER on text properties and label columns (SQL over their code columns, NULL where
the frame has None, compared as pandas compares a missing cell), and the spatial predicates and
BBOX on the geometry. Text is compared by code point (COLLATE "C"), as Python compares it. A
filter it does not translate (numbers compared with text, LIKE with an escape, arithmetic, …) is
answered by the in-memory evaluator itself, run over the rows the rest of the query selects,
streamed from the database a chunk at a time; only the matching rows' positions are kept (and
remembered for the next pages). Either way the answer is the in-memory one.
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
# Matching positions of queries answered by the in-memory evaluator, kept for their next pages.
FALLBACKS_KEPT = 8
COUNTS_KEPT = 256


class Unsupported(Exception):
    """The filter or sortby is not translated to SQL (the in-memory evaluator answers it)."""


@dataclass(frozen=True)
class Sql:
    """A SQL expression with its parameters; `kind`: text, bool or geom; `null`: text that can be
    NULL (a label column: None for an empty code, as in the published frame)."""
    text: str
    params: tuple = ()
    kind: str = "bool"
    null: bool = False


def _param(value) -> Sql:
    return Sql("%s", (value,), "text")


class _SqlEvaluator(Evaluator):
    """pygeofilter AST -> Sql. Literals stay Python values until an operator places them."""

    def __init__(self, swap: bool, labels: dict | None = None):
        self.swap = swap
        self.labels = labels or {}

    def _geometry(self, geometry):
        return query.swap_axes(np.array([geometry]))[0] if self.swap else geometry

    @handle(ast.Attribute)
    def attribute(self, node):
        if node.name in query.GEOMETRY_NAMES:
            return Sql("geom", (), "geom")
        if node.name in self.labels:
            return label_sql(*self.labels[node.name])
        if node.name not in TEXT_SQL:
            raise Unsupported(node.name)
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
                return Sql(f"{'upper' if name == 'upper' else 'lower'}({value.text})", value.params, "text",
                           value.null)
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
        text = f"({lhs.text}{collate} {op} {rhs.text})"
        if lhs.null or rhs.null:   # pandas: a missing cell is unequal to anything, and not less or more
            text = f"COALESCE({text}, {'TRUE' if op == '<>' else 'FALSE'})"
        return Sql(text, lhs.params + rhs.params)

    @handle(ast.Between)
    def between(self, node, lhs, low, high):
        if not (isinstance(low, str) and isinstance(high, str)):
            raise Unsupported("BETWEEN of non-text")
        lhs = _text(lhs)
        if lhs.null:   # a missing cell is not between (and so NOT BETWEEN is true for it)
            return Sql(f"({'NOT ' if node.not_ else ''}COALESCE({lhs.text} COLLATE \"C\" BETWEEN %s AND %s, FALSE))",
                       lhs.params + (low, high))
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
        text = f"({lhs.text} {operator} %s)"
        if lhs.null:   # in memory a missing cell matches neither LIKE nor NOT LIKE
            text = f"COALESCE({text}, FALSE)"
        return Sql(text, lhs.params + (pattern,))

    @handle(ast.In)
    def in_(self, node, lhs, *options):
        if not all(isinstance(o, str) for o in options):
            raise Unsupported("IN of non-text")
        lhs = _text(lhs)
        inside = f"COALESCE({lhs.text} = ANY(%s), FALSE)" if lhs.null else f"({lhs.text} = ANY(%s))"
        return Sql(f"({'NOT ' if node.not_ else ''}{inside})", lhs.params + (list(options),))

    @handle(ast.IsNull)
    def null(self, node, lhs):
        if not isinstance(lhs, Sql) or lhs.kind == "bool":
            raise Unsupported("IS NULL of a literal")
        if lhs.null:
            return Sql(f"({lhs.text} IS {'NOT ' if node.not_ else ''}NULL)", lhs.params)
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


def cql2_sql(expression, swap: bool = False, labels: dict | None = None) -> tuple[str, list]:
    """The parsed filter as (SQL condition, parameters); Unsupported when it is not translated.
    Comparisons read COALESCE(column, '') (a cell is never NULL in the published frame), which
    no index serves; so a top-level conjunct `column = 'x'` or `column IN ('x', …)` on an indexed
    column is repeated first as `column = ANY(…)`, which implies nothing more (x is not empty)
    and lets the planner use the index on (data_version, column, position). `labels`: label
    column -> (code column, label table, 0 zh | 1 en) (Writer.labels); without, they are
    Unsupported."""
    result = _condition(_SqlEvaluator(swap, labels).evaluate(expression))
    hints, params = [], []
    for column, values_ in _indexed_conjuncts(expression):
        if isinstance(values_, str):     # a LIKE pattern that cannot match '' (trigram index)
            hints.append(f"{column} LIKE %s")
        elif len(values_) == 1:          # `= x`, not `= ANY('{x}')`: the index then gives position order
            hints.append(f"{column} = %s")
            values_ = values_[0]
        else:
            hints.append(f"{column} = ANY(%s)")
        params.append(values_)
    return " AND ".join([*hints, result.text]), [*params, *result.params]


def _indexed_conjuncts(node) -> list[tuple[str, list[str]]]:
    """(generated column, values) of the top-level AND terms `column = 'x'` / `column IN (…)`
    with non-empty text values, or (generated column, LIKE pattern) of `column LIKE 'p'` where p
    has a character that is not a wildcard (so it does not match an empty cell)."""
    if isinstance(node, ast.And):
        return _indexed_conjuncts(node.lhs) + _indexed_conjuncts(node.rhs)
    if isinstance(node, ast.Equal):
        sides = [(node.lhs, node.rhs), (node.rhs, node.lhs)]
        for attribute, value in sides:
            if isinstance(attribute, ast.Attribute) and attribute.name in GENERATED and isinstance(value, str) \
                    and value:
                return [(attribute.name, [value])]
    if isinstance(node, ast.Like) and not node.not_ and not node.nocase and isinstance(node.lhs, ast.Attribute) \
            and node.lhs.name in GENERATED and isinstance(node.pattern, str) \
            and (node.escapechar or "\\") not in node.pattern \
            and node.pattern.replace(node.wildcard, "").replace(node.singlechar, ""):
        return [(node.lhs.name, like_pattern(node.pattern, node.wildcard, node.singlechar))]
    if isinstance(node, ast.In) and not node.not_ and isinstance(node.lhs, ast.Attribute) \
            and node.lhs.name in GENERATED and node.sub_nodes \
            and all(isinstance(v, str) and v for v in node.sub_nodes):
        return [(node.lhs.name, list(node.sub_nodes))]
    return []


def order_sql(sortby, labels: dict | None = None) -> tuple[str, list]:
    """sortby [(column, ascending)] as ORDER BY (text, parameters), ties in layer order (a stable
    sort); label columns' missing cells last either way (pandas' na_position='last')."""
    keys, params = [], []
    labels = labels or {}
    for name, ascending in sortby:
        if name in labels:
            label = label_sql(*labels[name])
            keys.append(f'{label.text} COLLATE "C" {"ASC" if ascending else "DESC"} NULLS LAST')
            params.extend(label.params)
            continue
        if name not in TEXT_SQL:
            raise Unsupported(name)
        keys.append(f'{TEXT_SQL[name]} COLLATE "C" {"ASC" if ascending else "DESC"}')
    return ", ".join([*keys, "position"]), params


# White space Python's str.strip removes from a code that the label lookup trims too (ASCII).
_TRIM = "E' \\t\\n\\r\\f\\v'"


def label_sql(code: str, table: dict, index: int) -> Sql:
    """A label column as SQL over its code column: what with_labels writes — the codes of the
    cell (';'-separated, trimmed, empty ones left out) each replaced by its label (zh or en)
    when the table has it, joined by ';'; NULL for a cell without codes. The table travels as
    one jsonb parameter."""
    import json
    mapping = json.dumps({str(c): v[index] for c, v in table.items()}, ensure_ascii=False)
    cell = TEXT_SQL[code]
    listed = (f"(SELECT string_agg(COALESCE(%s::jsonb ->> t.c, t.c), ';' ORDER BY u.o) FROM "
              f"unnest(string_to_array({cell}, ';')) WITH ORDINALITY AS u(c0, o), "
              f"LATERAL (SELECT btrim(u.c0, {_TRIM}) AS c) t WHERE t.c <> '')")
    if code == "industries":
        return Sql(listed, (mapping,), "text", True)
    one = f"NULLIF(btrim({cell}, {_TRIM}), '')"
    return Sql(f"(CASE WHEN strpos({cell}, ';') > 0 THEN {listed} ELSE COALESCE(%s::jsonb ->> {one}, {one}) END)",
               (mapping, mapping), "text", True)


class _Kept:
    """A small thread-safe LRU of the feature ids of fallback queries."""

    def __init__(self, size: int):
        self.size, self.entries, self.lock = size, OrderedDict(), threading.Lock()

    def peek(self, key):
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
            return self.entries.get(key)

    def put(self, key, value) -> None:
        with self.lock:
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

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
# numberMatched per (layer version, condition): the pages of one query count once
_counts = _Kept(COUNTS_KEPT)
_dense: dict[tuple, bool] = {}


def dense(layer) -> bool:
    """Whether the layer's positions are 0..rows-1 (the store writes them so): then page k of the
    whole layer is the position range [offset, offset + limit). Asked once per layer version."""
    if layer.key not in _dense:
        low, high, count = layer.query("SELECT min(position), max(position), count(*) FROM atlas_features "
                                       "WHERE data_version = %s", [layer.data_version])[0]
        _dense[layer.key] = low == 0 and high == count - 1 == layer.rows - 1
    return _dense[layer.key]


SELECT_ROWS = "SELECT fid, props, ST_AsBinary(geom) FROM atlas_features"


class Writer:
    """Published properties, Feature texts and frames of raw rows (fid, props, WKB) of a
    collection served from PostGIS — what Catalog.published_rows + the Columns writer give, cell
    for cell, without building a frame per page (pandas took ~60 ms a page): each published
    column is a store property (normalised as Registry.with_layers does: text, stripped) or the
    label of a code column (with_labels: labels of ';'-separated codes joined by ';', None for
    an empty cell, an unknown code as it is). tests/test_postgis_items.py compares the bytes."""

    def __init__(self, cat: Catalog, collection: Collection):
        from geoapp import vocab
        from geoapp.data.registry import TEXT_COLUMNS
        from geoapp.export.catalog import LABELLED_CODES
        self.cat, self.collection = cat, collection
        frame = collection.frame             # empty, with the published columns in order
        self.names = [c for c in frame.columns if c != frame.geometry.name]
        tables = {"kind": vocab.KINDS, "level": vocab.LEVELS, "industries": cat.registry.plan.industries or {},
                  "location_precision": vocab.LOCATION_PRECISION}
        labels = {f"{prefix}_{lang}": (code, index) for code, prefix in LABELLED_CODES.items()
                  for index, lang in enumerate(("zh", "en"))}
        self.columns = []   # (name, code column or None, labels memo, label table, index)
        for name in self.names:
            if name in labels and labels[name][0] in self.names:
                code, index = labels[name]
                self.columns.append((name, code, {}, tables.get(code, cat._names), index))
            else:
                self.columns.append((name, None, None, None, 0))
        text = set(TEXT_COLUMNS)
        self.base = [(name, name in text) for name, code, *_ in self.columns if code is None]
        # label column -> (code column, label table, index): their SQL (label_sql)
        self.labels = {name: (code, table, index) for name, code, _, table, index in self.columns
                       if code is not None and code in TEXT_SQL}

    @staticmethod
    def _label(table, index: int, cell: str):
        from geoapp import vocab
        codes = vocab.split_codes(cell)
        return ";".join(table[c][index] if c in table else c for c in codes) if codes else None

    def records(self, rows: list[tuple]) -> tuple[list[str], np.ndarray, list[dict]]:
        """(feature ids, geometries, published property records) of raw rows."""
        records = []
        for _, props, _ in rows:
            values = {}
            for name, strip in self.base:
                value = props.get(name)
                if value is None:
                    value = ""
                elif type(value) is not str:
                    value = str(value)
                values[name] = value.strip() if strip else value
            record = {}
            for name, code, memo, table, index in self.columns:
                if code is None:
                    record[name] = values[name]
                    continue
                cell = values[code]
                label = memo.get(cell, memo)
                if label is memo:
                    label = memo[cell] = self._label(table, index, cell)
                record[name] = label
            records.append(record)
        ids = [record.get("id", "") for record in records]
        geometries = shapely.from_wkb(np.array([bytes(r[2]) for r in rows], dtype=object)) if rows else \
            np.array([], dtype=object)
        return ids, geometries, records

    def texts(self, rows: list[tuple], properties=None, swap: bool = False, records=None) -> list[str]:
        """GeoJSON Feature texts of raw rows (only `properties`, in that order, when given;
        latitude first with `swap`); `records`: their `records` when made already."""
        from geoapp.export.serialize import _feature_texts
        ids, geometries, records = records or self.records(rows)
        if properties is not None:
            records = [{name: record[name] for name in properties} for record in records]
        return _feature_texts(ids, geometries, records, swap)

    def frame(self, rows: list[tuple]) -> gpd.GeoDataFrame:
        """The published frame of raw rows (HTML pages, GIS files)."""
        from geoapp.postgis.layer import to_frame
        return self.cat.published_rows(self.collection, to_frame(rows))


def _queries(layer, statements: list[tuple[str, list]]) -> list[list[tuple]]:
    """The rows of each (sql, params), sent together (psycopg pipeline: one round trip) on one
    pooled connection, without parallel workers: a page or a count of a few thousand rows is
    done before workers start (the planner chose parallel bitmap scans that took 30 ms where the
    scan took 7 ms at 100k rows). A read the connection cannot finish goes to layer.query,
    which falls back from a replica to the primary (a statement over its time limit does not)."""
    import psycopg
    try:
        with layer.connection() as conn:
            with conn.pipeline(), conn.transaction():
                conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                cursors = [conn.execute(sql, params) for sql, params in statements]
            return [cur.fetchall() for cur in cursors]
    except psycopg.errors.QueryCanceled:    # over the statement time limit: not again
        raise
    except psycopg.OperationalError:
        return [layer.query(sql, params) for sql, params in statements]


def writer(cat: Catalog, collection: Collection) -> Writer:
    """The collection's Writer, kept on the collection (with its label memos) for the next
    requests; it goes with the collection when the catalog is replaced."""
    found = collection.__dict__.get("_sql_writer")
    if found is None or found.cat is not cat:
        found = collection.__dict__["_sql_writer"] = Writer(cat, collection)
    return found


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
            labels = self.writer.labels
            extra = cql2_sql(self.expression, self.swap, labels) if self.expression is not None else None
            self._sql = (layer.where(self.flt, list(self.boxes or ()), extra), order_sql(self.sortby, labels))
        except Unsupported:
            self._sql = None

    @property
    def in_sql(self) -> bool:
        return self._sql is not None

    @property
    def writer(self) -> Writer:
        return writer(self.cat, self.collection)

    def page(self, limit: int, offset: int) -> tuple[int, list[tuple]]:
        """(number matched, the page's raw rows (fid, props, WKB)) — see Writer."""
        layer = self.collection.sql
        if self._sql is None:
            positions = self._fallback_positions()
            return len(positions), self._at(positions[offset:offset + limit].tolist())
        where, order = self._sql
        plain = self.flt.empty and not self.boxes and self.expression is None
        count_key = (layer.key, where[0], repr(where[1]))
        matched = layer.rows if plain else _counts.peek(count_key)
        if plain and order[0] == "position" and dense(layer):
            # positions 0..rows-1 in layer order: the page is a range of the primary key
            page = (f"{SELECT_ROWS} WHERE data_version = %s AND position >= %s AND position < %s ORDER BY position",
                    [layer.data_version, int(offset), int(offset) + int(limit)])
        else:
            # the page's positions first (an index-only scan where an index covers the selection,
            # so the rows skipped by the offset are not read), then those rows, in that order
            page = (f"SELECT f.fid, f.props, ST_AsBinary(f.geom) FROM unnest(ARRAY(SELECT position FROM "
                    f"atlas_features WHERE {where[0]} ORDER BY {order[0]} LIMIT %s OFFSET %s)) WITH ORDINALITY "
                    "AS p(position, k) JOIN atlas_features f ON f.data_version = %s AND f.position = p.position "
                    "ORDER BY p.k", [*where[1], *order[1], int(limit), int(offset), layer.data_version])
        if matched is not None:
            return matched, _queries(layer, [page])[0]
        counted, rows = _queries(layer, [(f"SELECT count(*) FROM atlas_features WHERE {where[0]}", where[1]), page])
        matched = int(counted[0][0])
        _counts.put(count_key, matched)
        return matched, rows

    def _at(self, positions: list[int]) -> list[tuple]:
        layer = self.collection.sql
        rows = layer.query("SELECT position, fid, props, ST_AsBinary(geom) FROM atlas_features "
                           "WHERE data_version = %s AND position = ANY(%s)", [layer.data_version, positions])
        by_position = {r[0]: r[1:] for r in rows}
        return [by_position[p] for p in positions]

    def raw_chunks(self, size: int = STREAM_CHUNK) -> Iterator[list[tuple]]:
        """Every matching raw row, in order, `size` at a time (a server-side cursor)."""
        layer = self.collection.sql
        if self._sql is not None:
            where, order = self._sql
            with layer.connection() as conn:
                with conn.transaction():
                    with conn.cursor(name=f"atlas_items_{id(self)}_{threading.get_ident()}") as cur:
                        cur.itersize = size
                        cur.execute(f"{SELECT_ROWS} WHERE {where[0]} ORDER BY {order[0]}", [*where[1], *order[1]])
                        while rows := cur.fetchmany(size):
                            yield rows
            return
        positions = self._fallback_positions()
        for start in range(0, len(positions), size):
            yield self._at(positions[start:start + size].tolist())

    def chunks(self, size: int = STREAM_CHUNK) -> Iterator[gpd.GeoDataFrame]:
        """Every matching row, published, in order, `size` at a time; one empty frame with the
        published columns when no row matches (so that a file still has its table)."""
        writer, written = self.writer, 0
        for rows in self.raw_chunks(size):
            written += len(rows)
            yield writer.frame(rows)
        if not written:
            yield self.collection.frame

    def _fallback_positions(self) -> np.ndarray:
        """The positions of the matching rows in order, by the in-memory evaluator over the rows
        the filter and boxes select, streamed (8 bytes a match are kept, not the rows)."""
        layer = self.collection.sql
        key = (layer.key, self.flt, self.boxes, repr(self.expression), self.swap, self.sortby)

        def make():
            found, keys = [], []
            names = [n for n, _ in self.sortby]
            where = layer.where(self.flt, list(self.boxes or ()))
            writer = self.writer
            with layer.connection() as conn:
                with conn.transaction():
                    with conn.cursor(name=f"atlas_eval_{id(self)}_{threading.get_ident()}") as cur:
                        cur.itersize = STREAM_CHUNK
                        cur.execute("SELECT position, fid, props, ST_AsBinary(geom) FROM atlas_features "
                                    f"WHERE {where[0]} ORDER BY position", where[1])
                        while rows := cur.fetchmany(STREAM_CHUNK):
                            frame = writer.frame([r[1:] for r in rows])
                            mask = np.ones(len(rows), dtype=bool) if self.expression is None else \
                                query.evaluate(frame, self.expression, self.swap).to_numpy()
                            found.append(np.array([r[0] for r in rows], dtype=np.int64)[mask])
                            keys.append(pd.DataFrame(frame[names])[mask].reset_index(drop=True))
            positions = np.concatenate(found) if found else np.array([], dtype=np.int64)
            if self.sortby and len(positions):
                table = pd.concat(keys, ignore_index=True)
                positions = positions[query.sort_positions(table, np.arange(len(positions)), list(self.sortby))]
            positions.flags.writeable = False
            return positions
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


def geojson_chunks(query_: Query) -> Iterator[bytes]:
    """The selection as one FeatureCollection, streamed: the bytes of the in-memory download."""
    writer = query_.writer
    yield b'{"type":"FeatureCollection","features":['
    separator = ""
    for rows in query_.raw_chunks():
        yield (separator + ",".join(writer.texts(rows))).encode("utf-8")
        separator = ","
    yield b"]}"


def csv_chunks(query_: Query) -> Iterator[bytes]:
    """The selection as CSV, streamed: the bytes of the in-memory download."""
    from geoapp.export.serialize import csv_batch_chunks
    writer = query_.writer
    batches = ((records, geometries) for _, geometries, records in map(writer.records, query_.raw_chunks()))
    return csv_batch_chunks(writer.names, is_points(query_.collection, query_.flt), batches)


class Page:
    """Raw rows of a page or a single feature with the writer that publishes them."""

    def __init__(self, writer: Writer, rows: list[tuple]):
        self.writer, self.rows = writer, rows
        self.records = writer.records(rows)
        self.ids = pd.Index(self.records[0], dtype=object)

    @classmethod
    def feature(cls, cat: Catalog, collection: Collection, fid: str) -> "Page":
        layer = collection.sql
        rows = layer.query(f"{SELECT_ROWS} WHERE data_version = %s AND fid = %s", [layer.data_version, str(fid)])
        return cls(writer(cat, collection), rows)

    def texts(self, properties=None, swap: bool = False) -> list[str]:
        return self.writer.texts(self.rows, properties, swap, self.records) if self.rows else []

    def frame(self) -> gpd.GeoDataFrame:
        return self.writer.frame(self.rows) if self.rows else self.writer.collection.frame
