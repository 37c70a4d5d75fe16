"""OGC API – Features query extras on a published collection (no Flask here):

    Part 3  filter / filter-lang / filter-crs (CQL2 text and JSON, parsed and evaluated against the
            GeoDataFrame with pygeofilter) and the queryables JSON Schema
    Part 1  sortby and properties (common extensions)
    Part 2  crs / bbox-crs: CRS84 (lon, lat; the storage CRS) and EPSG:4326 (lat, lon axis order)

Everything unsupported raises QueryError, whose message names what was unsupported and what is
allowed; the web layer answers it with 400.
"""
from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from lark.exceptions import LarkError
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import handle
from pygeofilter.backends.geopandas.evaluate import GeoPandasEvaluator
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from geoapp import vocab

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
# Accepted spellings of each CRS -> (canonical URI, axis order swapped against lon/lat?)
CRS_SPELLINGS = {
    CRS84: (CRS84, False), "CRS84": (CRS84, False), "OGC:CRS84": (CRS84, False),
    "[OGC:CRS84]": (CRS84, False),
    EPSG4326: (EPSG4326, True), "EPSG:4326": (EPSG4326, True), "[EPSG:4326]": (EPSG4326, True),
    "http://www.opengis.net/def/crs/EPSG/0/4326/": (EPSG4326, True),
}
SUPPORTED_CRS = [CRS84, EPSG4326]

# filter-lang values. `cql-text` is the pre-1.0 draft name GDAL < 3.8 sends (its grammar for the
# comparisons GDAL builds is the same as CQL2 text).
FILTER_LANGS = ("cql2-text", "cql2-json", "cql-text")
MAX_FILTER_CHARS = 4000

# Code columns whose values come from a vocabulary: the queryables list the allowed codes.
CODE_VOCABULARIES = {"kind": vocab.KINDS, "level": vocab.LEVELS,
                     "location_precision": vocab.LOCATION_PRECISION}
GEOMETRY_FORMATS = {"Point": "geometry-point", "Polygon": "geometry-polygon",
                    "MultiPolygon": "geometry-multipolygon"}
GEOMETRY_NAMES = ("geometry", "geom")
# Functions of CQL2 we evaluate. pygeofilter reads CASEI() as lower().
FUNCTIONS = {"lower", "upper", "casei", "bbox"}


class QueryError(ValueError):
    """A query parameter we cannot honour; the message says what is wrong and what is allowed."""

    def __init__(self, message: str, parameter: str = "filter"):
        super().__init__(message)
        self.parameter = parameter


# --- CRS ----------------------------------------------------------------------------------------

def parse_crs(raw: str | None, parameter: str) -> tuple[str, bool]:
    """(canonical CRS URI, swap axes?) of a crs / bbox-crs / filter-crs value; CRS84 by default."""
    if raw is None:
        return CRS84, False
    found = CRS_SPELLINGS.get(raw.strip())
    if found is None:
        raise QueryError(f"{parameter} '{raw}' is not supported; supported: {', '.join(SUPPORTED_CRS)} "
                         "(EPSG:4326 in latitude, longitude order)", parameter)
    return found


def swap_axes(geometries: np.ndarray) -> np.ndarray:
    return shapely.transform(np.asarray(geometries, dtype=object), lambda xy: xy[:, ::-1])


# --- queryables -------------------------------------------------------------------------------------

def property_columns(frame: gpd.GeoDataFrame) -> list[str]:
    geometry = frame.geometry.name   # once: each `frame.geometry` makes a GeoSeries
    return [c for c in frame.columns if c != geometry]


def _property_schema(frame: gpd.GeoDataFrame, column: str, industries=()) -> dict:
    series = frame[column]
    if pd.api.types.is_bool_dtype(series):
        schema = {"type": "boolean"}
    elif pd.api.types.is_integer_dtype(series):
        schema = {"type": "integer"}
    elif pd.api.types.is_numeric_dtype(series):
        schema = {"type": "number"}
    else:
        schema = {"type": "string"}
    if column in CODE_VOCABULARIES:
        schema["enum"] = list(CODE_VOCABULARIES[column])
    if column == "industries":
        schema["description"] = ("industry codes separated by ';' (" + ", ".join(industries)
                                 + "); use LIKE '%code%' or the industry parameter")
    return {"title": column, **schema}


def queryables(frame: gpd.GeoDataFrame, geometry_type: str, schema_id: str, title: str,
               industries=()) -> dict:
    """The collection's queryables as a JSON Schema (OGC API – Features Part 3, 2020-12 draft);
    `industries`: the plan's industry codes (described for the `industries` column)."""
    properties = {"geometry": {"title": "geometry",
                               "format": GEOMETRY_FORMATS.get(geometry_type, "geometry-any"),
                               "x-ogc-role": "primary-geometry"}}
    for column in property_columns(frame):
        properties[column] = _property_schema(frame, column, industries)
        if column in ("id", "adcode") and list(frame[column].astype(str)) == list(frame.index):
            properties[column]["x-ogc-role"] = "id"  # the feature id (as pygeoapi marks it)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id,
            "type": "object", "title": title, "properties": properties,
            "additionalProperties": False}


# --- filter -----------------------------------------------------------------------------------------

def parse_filter(text: str, lang: str | None):
    """CQL2 text or JSON -> pygeofilter AST."""
    lang = (lang or "cql2-text").strip()
    if lang not in FILTER_LANGS:
        raise QueryError(f"filter-lang '{lang}' is not supported; supported: {', '.join(FILTER_LANGS)}",
                         "filter-lang")
    if len(text) > MAX_FILTER_CHARS:
        raise QueryError(f"filter is {len(text)} characters; at most {MAX_FILTER_CHARS} are accepted")
    if not text.strip():
        raise QueryError("filter is empty; give a CQL2 expression, e.g. level = 'national'")
    try:
        if lang == "cql2-json":
            return parse_cql2_json(json.loads(text))
        return parse_cql2_text(text)
    except json.JSONDecodeError as error:
        raise QueryError(f"filter is not valid JSON (filter-lang=cql2-json): {error}") from None
    except LarkError as error:
        first = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise QueryError(f"filter is not valid CQL2 text: {first}. Supported: comparisons "
                         "(= <> < <= > >=), LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, CASEI(), "
                         "S_INTERSECTS/S_WITHIN/S_CONTAINS/S_DISJOINT and BBOX on geometry") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise QueryError(f"filter could not be read as {lang}: {error}") from None


class _Evaluator(GeoPandasEvaluator):
    """pygeofilter's GeoPandas evaluator, made strict: unknown properties, temporal and array
    predicates and unknown functions are errors naming what is unsupported (the stock evaluator
    returns None for temporal predicates and raises KeyError for the rest)."""

    def __init__(self, frame: gpd.GeoDataFrame, swap: bool):
        super().__init__(frame)
        self.swap = swap
        self.queryable = property_columns(frame)

    def _geometry(self, geometry):
        return swap_axes(np.array([geometry]))[0] if self.swap else geometry

    @handle(ast.Attribute)
    def attribute(self, node):
        if node.name in GEOMETRY_NAMES:
            return self.df.geometry
        if node.name not in self.queryable:
            raise QueryError(f"unknown property '{node.name}' in filter; queryable here: "
                             + ", ".join(["geometry", *self.queryable]))
        return self.df[node.name]

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node, lhs, rhs):
        raise QueryError(f"temporal predicate {node.op.value} is not supported: the features carry no time")

    @handle(ast.ArrayPredicate, subclasses=True)
    def array(self, node, lhs, rhs):
        raise QueryError(f"array predicate {node.op.value} is not supported: no property is an array "
                         "(industries is a ';'-separated text: use LIKE '%code%')")

    @handle(ast.Function)
    def function(self, node, *arguments):
        name = node.name.lower()
        if name not in FUNCTIONS:
            raise QueryError(f"function {node.name}() is not supported; supported: CASEI(), LOWER(), "
                             "UPPER(), BBOX()")
        if name == "bbox":
            if len(arguments) != 4 or not all(isinstance(a, (int, float)) for a in arguments):
                raise QueryError("BBOX() takes 4 numbers: minx, miny, maxx, maxy")
            x1, y1, x2, y2 = arguments
            return self._geometry(shapely.box(x1, y1, x2, y2))
        (value,) = arguments
        change = str.upper if name == "upper" else str.lower
        if isinstance(value, pd.Series):
            return value.map(lambda v: change(v) if isinstance(v, str) else v)
        return change(value) if isinstance(value, str) else value

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs, rhs):
        try:
            return super().comparison(node, lhs, rhs)
        except TypeError:
            raise QueryError(f"cannot compare {_describe(lhs)} with {_describe(rhs)} using "
                             f"{node.op.value}") from None

    @handle(ast.Like)
    def like(self, node, lhs):
        if not isinstance(lhs, pd.Series) or pd.api.types.is_numeric_dtype(lhs):
            raise QueryError("LIKE needs a text property on its left")
        text = lhs.map(lambda v: v if isinstance(v, str) else None).astype("string")
        return super().like(node, text).fillna(False).astype(bool)

    @handle(ast.BBox)
    def bbox(self, node, lhs):
        box = self._geometry(shapely.box(node.minx, node.miny, node.maxx, node.maxy))
        return lhs.intersects(box)

    @handle(values.Geometry)
    def geometry(self, node):
        return self._geometry(shapely.geometry.shape(node))

    @handle(values.Envelope)
    def envelope(self, node):
        return self._geometry(shapely.box(node.x1, node.y1, node.x2, node.y2))

    def adopt(self, node, *sub_args):
        raise QueryError(f"{type(node).__name__} is not supported in filters")


def _describe(value) -> str:
    if isinstance(value, pd.Series):
        return f"property '{value.name}' ({'number' if pd.api.types.is_numeric_dtype(value) else 'text'})"
    return f"{type(value).__name__} {value!r}"


def evaluate(frame: gpd.GeoDataFrame, expression, swap_axes_of_literals: bool = False) -> pd.Series:
    """Boolean mask of the rows matching a parsed CQL2 expression."""
    try:
        result = _Evaluator(frame, swap_axes_of_literals).evaluate(expression)
    except QueryError:
        raise
    except (TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as error:
        raise QueryError(f"filter could not be evaluated: {error}") from None
    if isinstance(result, (bool, np.bool_)):
        return pd.Series(bool(result), index=frame.index)
    if not isinstance(result, pd.Series):
        raise QueryError(f"filter is not a condition (it evaluates to {type(result).__name__})")
    return result.fillna(False).astype(bool)


# --- sortby and properties ---------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_sortby(raw: str | None, frame: gpd.GeoDataFrame) -> list[tuple[str, bool]]:
    """sortby=+name_en,-level -> [(column, ascending)]; unknown properties raise QueryError."""
    if raw is None:
        return []
    keys = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        ascending = not part.startswith("-")
        name = part.lstrip("+-").strip()
        if name.endswith((" A", " D", " ASC", " DESC")):  # sortby=name_en DESC
            name, direction = name.rsplit(" ", 1)
            ascending = direction.startswith("A")
        if name not in property_columns(frame):
            raise QueryError(f"sortby: unknown property '{name}'; sortable: "
                             + ", ".join(property_columns(frame)), "sortby")
        keys.append((name, ascending))
    if not keys:
        raise QueryError("sortby is empty; give properties, e.g. sortby=-level,+name_en", "sortby")
    return keys


def sort_positions(frame: gpd.GeoDataFrame, positions: np.ndarray, keys: list[tuple[str, bool]]) -> np.ndarray:
    """Row positions of `frame` ordered by the sortby keys (stable: ties keep their order)."""
    if not keys:
        return positions
    part = pd.DataFrame({name: frame[name].iloc[positions].reset_index(drop=True) for name, _ in keys})
    ordered = part.sort_values([n for n, _ in keys], ascending=[a for _, a in keys], kind="stable",
                               na_position="last")
    return positions[ordered.index.to_numpy()]


def parse_properties(raw: str | None, frame: gpd.GeoDataFrame) -> list[str] | None:
    """properties=name_zh,level -> the columns to return (None: all)."""
    if raw is None:
        return None
    names = [p.strip() for p in raw.split(",") if p.strip()]
    unknown = [n for n in names if n not in property_columns(frame) or not _NAME.match(n)]
    if unknown:
        raise QueryError(f"properties: unknown {', '.join(repr(n) for n in unknown)}; available: "
                         + ", ".join(property_columns(frame)), "properties")
    return list(dict.fromkeys(names))
