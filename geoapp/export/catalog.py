"""The published collections: every place layer of the registry plus the boundaries, each with
a stable id per feature, bilingual titles, and selection by the shared Filter and a bbox.

The same selection serves the downloads, /api/layers and OGC API – Features, so they agree.
"""
from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pandas.api.types import infer_dtype

from geoapp import vocab
from geoapp.analysis.distribution import city_columns
from geoapp.analysis.report import city_metrics
from geoapp.data import Registry
from geoapp.export import styles
from geoapp.export.serialize import GPKG_GEOMETRY_COLUMN, Columns, feature_texts, plain
from geoapp.export.tiles import Source, SqlSource, point_xy
from geoapp.filters import Filter
from geoapp.layers.features import color_scale
from geoapp.postgis import SqlLayer
from geoapp.postgis import tiles as sql_tiles
from geoapp.specs import LayerSpec, load_specs

# The cities' shading in GIS styles: the map's default choropleth metric.
CHOROPLETH_FIELD = "places"
# Boundary collections: published id -> registry boundary level.
BOUNDARY_COLLECTIONS = {"province": "province", "cities": "city", "districts": "district"}
BOUNDARY_LEVELS = {"province": ("省", "Province"), "city": ("地级市", "Prefecture-level city"),
                   "district": ("县级行政区", "County-level division")}
# Code column -> prefix of its label columns (<prefix>_zh, <prefix>_en), placed right after it.
LABELLED_CODES = {"kind": "kind", "level": "level", "city_adcode": "city", "district_adcode": "district",
                  "area_adcode": "area", "parent_adcode": "parent", "industries": "industries",
                  "location_precision": "location_precision"}

# The columns Filter.apply reads (Collection._match).
FILTER_COLUMNS = ("industries", "level", "kind", "city_adcode")

# Filters whose selection each collection remembers (row positions: 8 bytes a matching row, so
# at most 64 x 0.8 MB for a 100k-row layer).
SELECTIONS_KEPT = 64


class Memo:
    """A small thread-safe LRU: key -> value, computed by `make` on a miss (outside the lock; two
    threads may both compute a missing value, which is harmless for pure functions)."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make):
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = make()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)


class FeatureTexts:
    """The GeoJSON Feature text of every feature of a published frame, by feature id, written
    when first asked for instead of all at start-up (a 100k-row layer took most of start-up and
    hundreds of MB to hold as text). Reads like the Series it replaces: `index`, `loc[id]` (one
    text; KeyError for an unknown id), `loc[ids]` (a list, in the order asked), iteration.
    Texts of small selections (pages, single items) are kept; a large selection (a whole-layer
    export, whose body is cached anyway) is written in bulk and not kept."""

    KEEP_AT_MOST = 1000  # texts written at once that are kept for next time

    def __init__(self, frame: gpd.GeoDataFrame):
        self.frame = frame
        self.index = frame.index
        self._texts = np.full(len(frame), None, dtype=object)

    @cached_property
    def _columns(self) -> Columns:
        return Columns(self.frame)

    def write(self, positions: np.ndarray) -> list[str]:
        """The texts of the rows at `positions`, written now and not kept (a streamed download)."""
        return self._columns.feature_texts(positions)

    @property
    def loc(self) -> "FeatureTexts":
        return self

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self):
        return iter(self._at(np.arange(len(self.index))))

    def __getitem__(self, key):
        if isinstance(key, (str, bytes)) or np.isscalar(key):
            return self._at(np.array([self.index.get_loc(key)]))[0]
        positions = self.index.get_indexer(pd.Index(key))
        if (positions < 0).any():
            raise KeyError([k for k, p in zip(key, positions) if p < 0])
        return self._at(positions)

    def _at(self, positions: np.ndarray) -> list[str]:
        texts = self._texts[positions]
        todo = np.flatnonzero(pd.isna(texts))
        if len(todo):
            written = np.empty(len(todo), dtype=object)
            written[:] = self._columns.feature_texts(positions[todo])
            texts[todo] = written
            if len(todo) <= self.KEEP_AT_MOST:
                self._texts[positions[todo]] = written
        return list(texts)


def frame_digest(frame: gpd.GeoDataFrame) -> bytes:
    """A hash of everything published of a frame: column names and types, every cell, the feature
    ids and the geometries (WKB), so the catalog version changes whenever a published byte does."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    properties = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    for column in properties.columns:
        cells = properties[column]
        # mixed Python values: hash their JSON-ready text; text and empty cells (the label
        # columns) as they are (hashing 1.2M repr() texts was a third of start-up at 100k)
        if cells.dtype == object and infer_dtype(cells, skipna=True) not in ("string", "empty"):
            cells = cells.map(lambda v: repr(plain(v)))
        digest.update(pd.util.hash_pandas_object(cells, index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(frame.index.to_series(), index=False).to_numpy().tobytes())
    digest.update(b"".join(w or b"" for w in shapely.to_wkb(frame.geometry.values)))
    return digest.digest()


@dataclass
class Collection:
    id: str
    title_zh: str
    title_en: str
    frame: gpd.GeoDataFrame        # published properties + geometry; index = feature id (str)
    features: FeatureTexts         # GeoJSON Feature text per feature id, written on demand
    geometry_type: str             # Point, Polygon, MultiPolygon, or Unknown if mixed
    is_boundary: bool
    _match: gpd.GeoDataFrame       # the columns Filter.apply reads
    spec: LayerSpec | None = None  # the map's layer spec (styles for GIS files), if there is one
    region: tuple | None = None    # bounds of the province: the extent of a collection with no rows
    plan_title: tuple[str, str] | None = None        # the plan's `sources` title (zh, en)
    choropleth_label: tuple[str, str] | None = None  # label of the plan's `places` metric
    sql: SqlLayer | None = None    # the rows live in PostGIS (geoapp/postgis): `frame` is empty
    sql_columns: list | None = None  # its published properties as the database reads them (sql_columns)
    _selections: "Memo" = field(default_factory=lambda: Memo(SELECTIONS_KEPT), repr=False)

    @property
    def title(self) -> str:
        return f"{self.title_zh} / {self.title_en}"

    def bbox(self) -> list[float]:
        """The features' bounds; for an empty collection (an imported layer before its first
        import, whose rows can only lie in Liaoning) the province's, never NaN."""
        bounds = self.frame.total_bounds if len(self.frame) else self.region
        if self.sql is not None:
            bounds = self.sql.bounds() or self.region
        return [round(float(v), 6) for v in bounds]

    @property
    def feature_count(self) -> int:
        """How many features the collection has (a database layer's rows included)."""
        return self.sql.rows if self.sql is not None else len(self.frame)

    def count(self, flt: Filter, cities: gpd.GeoDataFrame) -> int:
        """How many features match the filter (counted in SQL for a database layer)."""
        if self.sql is not None:
            return self.sql.count(flt)
        return len(self.positions(flt, cities))

    def positions(self, flt: Filter, cities: gpd.GeoDataFrame) -> np.ndarray:
        """Row positions (ascending, read-only) of the features matching the filter. Boundaries
        have no industry, level or kind: only the city part of the filter applies to them.
        Remembered per filter (Filter.apply reads every row: 40+ ms at 100k); the collection
        belongs to one catalog, which is replaced when the data version changes, so a remembered
        selection is never of other data."""
        if self.is_boundary:
            flt = Filter(city=flt.city)
        return self._selections.get(flt, lambda: self._select_positions(flt, cities))

    def _select_positions(self, flt: Filter, cities: gpd.GeoDataFrame) -> np.ndarray:
        found = np.flatnonzero(flt.mask(self._match, cities))
        found.flags.writeable = False  # shared by every request with this filter
        return found

    def select(self, flt: Filter, cities: gpd.GeoDataFrame) -> pd.Index:
        """Feature ids matching the filter, in layer order (see `positions`)."""
        return self.frame.index[self.positions(flt, cities)]

    @cached_property
    def mercator(self) -> gpd.GeoSeries:
        """The geometries in EPSG:3857 (vector tiles), projected once on first use."""
        return self.frame.geometry.to_crs(3857)

    @cached_property
    def mercator_points(self) -> tuple[np.ndarray, np.ndarray] | None:
        """x/y arrays of `mercator` when every geometry is a point (vector tiles of large point
        layers compare numbers instead of querying geometries), else None."""
        return point_xy(self.mercator)

    def tile_source(self, frame: gpd.GeoDataFrame, flt: Filter, cities: gpd.GeoDataFrame) -> Source | SqlSource:
        """What export.tiles encodes for this collection under a filter (`frame`: Catalog.frame_for);
        a collection whose rows live in PostGIS is encoded by the database."""
        if self.sql is not None:
            return SqlSource(self.id, self.sql, self.sql_columns, flt)
        return Source(self.id, frame, self.mercator, self.positions(flt, cities), self.mercator_points)

    def description(self) -> str:
        return styles.description(self.spec, self.plan_title) if self.spec else self.title

    def style_row(self, table: str | None = None) -> dict | None:
        """This layer's row of a GeoPackage `layer_styles` table (QML + SLD from its map spec).
        The cities are shaded by `places` in the classes of the map's choropleth."""
        if self.spec is None:
            return None
        choropleth = None
        if self.spec.geometry == "choropleth" and CHOROPLETH_FIELD in self.frame:
            scale = color_scale([int(v) for v in self.frame[CHOROPLETH_FIELD]])
            label = " / ".join(self.choropleth_label or (CHOROPLETH_FIELD, CHOROPLETH_FIELD))
            choropleth = styles.Choropleth(CHOROPLETH_FIELD, label, scale.classes())
        return styles.style_row(table or self.id, GPKG_GEOMETRY_COLUMN, self.spec,
                                point=self.geometry_type in ("Point", "MultiPoint"), choropleth=choropleth)

    def within_bbox(self, positions: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
        """Those of `positions` whose geometry intersects any of the boxes (lon/lat), in the
        same order. Queries the whole collection's spatial index (built once, kept by geopandas)
        and intersects the hits with `positions` through a mask (no sorting, no id lookups)."""
        hits = self.frame.sindex.query(shapely.union_all([shapely.box(*b) for b in boxes]),
                                       predicate="intersects")
        inside = np.zeros(len(self.frame), dtype=bool)
        inside[hits] = True
        return positions[inside[positions]]


def _published(frame: gpd.GeoDataFrame, id_column: str) -> gpd.GeoDataFrame:
    """Columns published for a layer: lon/lat are in the geometry, and all-empty columns left by
    joining layers (e.g. in demo_zone_core) are dropped."""
    frame = frame.drop(columns=[c for c in ("lon", "lat") if c in frame.columns])
    empty = [c for c in frame.columns if c != frame.geometry.name and frame[c].isna().all()] \
        if len(frame) else []   # an imported layer before its first import keeps its columns
    frame = frame.drop(columns=empty)
    frame.index = pd.Index(frame[id_column].astype(str), name="fid")
    if not frame.index.is_unique:
        raise ValueError(f"feature ids of column {id_column!r} are not unique")
    return frame


def _names_by_adcode(registry: Registry) -> dict[str, tuple[str, str]]:
    names = {}
    for frame in registry.boundaries.values():
        names.update({code: (zh, en) for code, zh, en in
                      zip(frame["adcode"], frame["name_zh"], frame["name_en"])})
    return names


def label_tables(boundary: bool, industries: dict[str, tuple[str, str]] | None = None) -> dict:
    """Code column -> its labels {code: (zh, en)}; the adcode columns are labelled by the names."""
    return {"kind": vocab.KINDS, "level": BOUNDARY_LEVELS if boundary else vocab.LEVELS,
            "industries": industries or {}, "location_precision": vocab.LOCATION_PRECISION}


def sql_columns(frame: gpd.GeoDataFrame, names: dict[str, tuple[str, str]],
                industries: dict[str, tuple[str, str]] | None = None) -> list[sql_tiles.Column]:
    """The published properties of an imported layer served from PostGIS, said as the database
    reads them (geoapp.postgis.tiles.Column): the row's own values, and each label column
    (with_labels) as its code column looked up in the same table."""
    tables = label_tables(False, industries)
    sources = {f"{prefix}_{lang}": (code, index) for code, prefix in LABELLED_CODES.items()
               for index, lang in enumerate(("zh", "en"))}
    columns = []
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        if column in sources and sources[column][0] in frame.columns:
            code, index = sources[column]
            table = tables.get(code, names)
            columns.append(sql_tiles.Column(column, code, {c: pair[index] for c, pair in table.items()}))
        else:
            columns.append(sql_tiles.Column(column, column))
    return columns


def with_labels(frame: gpd.GeoDataFrame, names: dict[str, tuple[str, str]], boundary: bool,
                industries: dict[str, tuple[str, str]] | None = None) -> gpd.GeoDataFrame:
    """`frame` with <name>_zh and <name>_en label columns right after each code column (see
    LABELLED_CODES). Lists (industries, labelled by `industries`, the plan's vocabulary) are
    labelled item by item, joined with ';'; a code without a label stays as it is, an empty cell
    stays empty."""
    tables = label_tables(boundary, industries)
    columns = {}
    for column in frame.columns:
        columns[column] = frame[column]
        prefix = LABELLED_CODES.get(column)
        if prefix is None:
            continue
        table = tables.get(column, names)
        for index, lang in enumerate(("zh", "en")):
            def label(cell, index=index):
                codes = vocab.split_codes(cell)
                if not codes:
                    return None
                return ";".join(table[c][index] if c in table else c for c in codes)
            # label each distinct cell once (a 100k-row layer has a few dozen distinct codes)
            distinct = {cell: label(cell) for cell in frame[column].dropna().unique()}
            columns[f"{prefix}_{lang}"] = frame[column].map(distinct).astype(object)
    labelled = pd.DataFrame(columns, index=frame.index)
    return gpd.GeoDataFrame(labelled, geometry=frame.geometry.name, crs=frame.crs)


def with_city_figures(frame: gpd.GeoDataFrame, registry: Registry, flt: Filter = Filter(),
                      groups: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """The cities layer with the per-city figures of /stats for the filter
    (analysis.report.city_metrics, the numbers /api/distribution answers) as integer columns
    after the properties; columns of an earlier filter are replaced. The figures are the
    plan's (distribution.city_columns). `groups`: the imported layers in PostGIS, summarised
    (geoapp.postgis.figures), counted like the rest."""
    columns = city_columns(registry.plan)
    figures = city_metrics(registry, flt, groups)[columns]
    frame = frame.drop(columns=[c for c in columns if c in frame.columns])
    joined = frame.join(figures, on="adcode")
    geometry = joined.pop(frame.geometry.name)
    return gpd.GeoDataFrame(joined.assign(**{frame.geometry.name: geometry}),
                            geometry=frame.geometry.name, crs=frame.crs)


# A layer spec's geometry -> the type of an empty collection (an imported list before its first
# import): written as "Unknown" (GEOMETRY), a GPKG/Shapefile layer gives GIS clients no type to
# style and QGIS no geometry to show.
SPEC_GEOMETRY_TYPES = {"point": "Point", "polygon": "MultiPolygon", "choropleth": "MultiPolygon"}


def _geometry_type(frame: gpd.GeoDataFrame, spec: LayerSpec | None = None) -> str:
    types = set(frame.geom_type.dropna())
    if not types and spec is not None and spec.geometry in SPEC_GEOMETRY_TYPES:
        return SPEC_GEOMETRY_TYPES[spec.geometry]
    return types.pop() if len(types) == 1 else "Unknown"


def layer_specs(layers_dir: Path | None) -> dict[str, LayerSpec]:
    """Collection id -> the map's layer spec (layers/*.yaml)."""
    if layers_dir is None or not Path(layers_dir).is_dir():
        return {}
    return {spec.id: spec for spec in load_specs(Path(layers_dir))}


def layer_titles(layers_dir: Path | None) -> dict[str, tuple[str, str]]:
    """Collection id -> (title zh, title en), from the map's layer specs (layers/*.yaml); a layer
    without a spec is titled by its id."""
    return {spec_id: (spec.title["zh"], spec.title["en"]) for spec_id, spec in layer_specs(layers_dir).items()}


class Catalog:
    """Every published collection, built once from the registry."""

    def __init__(self, registry: Registry, layers_dir: Path | None = None, sql: dict | None = None):
        """`sql`: layer id -> SqlLayer for the imported layers whose rows stay in PostGIS."""
        self.sql = dict(sql or {})
        self.specs = layer_specs(layers_dir)
        titles = {i: (spec.title["zh"], spec.title["en"]) for i, spec in self.specs.items()}
        names = self._names = _names_by_adcode(registry)
        self.registry = registry
        self.cities = registry.boundaries["city"]
        self.region = tuple(registry.boundaries["province"].total_bounds)
        self.collections: dict[str, Collection] = {}
        for layer_id, frame in registry.layers.items():
            published = with_labels(_published(frame, "id"), names, boundary=False,
                                    industries=registry.plan.industries)
            self._add(layer_id, published, titles, match=frame, is_boundary=False)
        for collection_id, level in BOUNDARY_COLLECTIONS.items():
            frame = registry.boundaries[level]
            published = with_labels(_published(frame, "adcode"), names, boundary=True)
            if collection_id == "cities":
                published = with_city_figures(published, registry)
            city_of = {"province": "", "city": frame["adcode"], "district": frame["parent_adcode"]}[level]
            match = gpd.GeoDataFrame({"city_adcode": city_of}, index=frame.index,
                                     geometry=frame.geometry, crs=frame.crs)
            self._add(collection_id, published, titles, match=match, is_boundary=True)
        digest = hashlib.sha256()
        for collection in self.collections.values():
            digest.update(collection.id.encode())
            digest.update(frame_digest(collection.frame))
            # the writer's output too: a change in how features are written changes the version
            digest.update("".join(collection.features.loc[collection.frame.index[:1]]).encode())
            if collection.sql is not None:   # rows in the database: their data version names them
                digest.update(repr(collection.sql.key).encode())
        # Changes whenever any published byte changes: part of every ETag.
        self.version = digest.hexdigest()[:16]

    def _add(self, collection_id, published, titles, match, is_boundary):
        # only what the filter reads, not a second copy of the layer's frame
        match = match[[c for c in (*FILTER_COLUMNS, match.geometry.name) if c in match.columns]].copy()
        match.index = published.index
        zh, en = titles.get(collection_id, (collection_id, collection_id))
        self.collections[collection_id] = Collection(
            id=collection_id, title_zh=zh, title_en=en, frame=published,
            features=FeatureTexts(published),
            geometry_type=_geometry_type(published, self.specs.get(collection_id)), is_boundary=is_boundary, _match=match,
            spec=self.specs.get(collection_id), region=self.region,
            plan_title=self.registry.plan.titles["sources"],
            choropleth_label=getattr(self.registry.plan.metrics.get(CHOROPLETH_FIELD), "label", None),
            sql=None if is_boundary else self.sql.get(collection_id),
            sql_columns=None if is_boundary or collection_id not in self.sql else
            sql_columns(published, self._names, self.registry.plan.industries))

    def published_rows(self, collection: Collection, rows: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Rows of a collection served from PostGIS (SqlLayer.frame/stream: the store's columns,
        index = fid) as the collection publishes them: the registry's normalisation of an imported
        layer (Registry.with_layers) and the labels (with_labels), the same steps its in-memory
        frame goes through, so the existing writers give the same bytes."""
        frame = self.registry.with_layers({collection.id: rows.reset_index(drop=True)},
                                          Path("store")).layers[collection.id]
        return with_labels(_published(frame, "id"), self._names, boundary=False,
                           industries=self.registry.plan.industries)

    def frame_for(self, collection: Collection, flt: Filter) -> gpd.GeoDataFrame:
        """The collection's published frame, except the cities' figures follow the filter (the
        stored frame has the figures of the whole atlas). With imported layers in PostGIS, the
        stored frame counts only the places in memory (the catalog is built at every switch
        without asking the database): their figures are added here, on first use (one
        aggregate per layer and data version, geoapp.postgis.figures)."""
        if collection.id != "cities" or (flt.empty and not self.sql):
            return collection.frame
        return self._filtered_cities(flt)

    @functools.lru_cache(maxsize=64)  # noqa: B019 (the catalog lives as long as the process)
    def _filtered_cities(self, flt: Filter) -> gpd.GeoDataFrame:
        return with_city_figures(self["cities"].frame, self.registry, flt, self.place_groups())

    def place_groups(self, cited: bool = False) -> pd.DataFrame | None:
        """The counted imported layers in PostGIS, summarised for the figures (None: none);
        `cited`: only their rows with a plan reference (postgis.figures.cited_groups)."""
        if not self.sql:
            return None
        from geoapp.analysis.places import uncounted_layers
        from geoapp.postgis.figures import groups
        skip = uncounted_layers(self.registry.layers)
        return groups((layer for layer_id, layer in self.sql.items() if layer_id not in skip), cited=cited)

    def feature_writer(self, collection: Collection, flt: Filter):
        """positions -> GeoJSON Feature texts of those rows, written and not kept (streamed
        downloads): the collection's Columns unless the filter changes the frame."""
        frame = self.frame_for(collection, flt)
        if frame is collection.frame:
            return collection.features.write
        return lambda positions: feature_texts(frame.iloc[positions])

    def feature_texts(self, collection: Collection, flt: Filter, ids: pd.Index) -> list[str]:
        """GeoJSON Feature texts of `ids`: the collection's own (FeatureTexts) unless the filter changes them."""
        frame = self.frame_for(collection, flt)
        if frame is collection.frame:
            return list(collection.features.loc[ids])
        return feature_texts(frame.loc[ids])

    def __contains__(self, collection_id: str) -> bool:
        return collection_id in self.collections

    def __getitem__(self, collection_id: str) -> Collection:
        return self.collections[collection_id]

    def ids(self) -> list[str]:
        return list(self.collections)
