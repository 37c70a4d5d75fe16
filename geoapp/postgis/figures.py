"""What the figures need of a database layer, in one SQL aggregate per (layer, data version).

Every figure the atlas shows of its places — /stats and its tables, /api/distribution and
/api/coverage, the choropleth and the cities collection, the map's counts, facets and legend —
depends on a place only through its city, kind, level, location precision and industries (and its
layer). So a layer that lives in PostGIS is summarised by

    SELECT city_adcode, kind, level, location_precision, industries, count(*)
    FROM atlas_features WHERE data_version = %s GROUP BY 1, 2, 3, 4, 5

over the store's generated columns (an index-only scan of the store's atlas_features_figures,
which holds exactly these columns): a table of a few thousand rows even at a million places
(14 cities × kinds × levels × precisions × industry lists), read once per SqlLayer (one bundle,
one data version: prepare_figures starts it when the bundle is built) and kept with it. The
analysis (geoapp.analysis.view: PlaceView.groups) applies the filter to that table in memory
and adds each group's `n` wherever the in-memory path counts rows, so a filter costs no query at
all and the figures are those of the same rows in memory.
"""
from __future__ import annotations

import logging
import threading
import weakref

import pandas as pd

from geoapp.postgis.layer import SqlLayer

log = logging.getLogger(__name__)

GROUP_COLUMNS = ["layer", "city_adcode", "kind", "level", "location_precision", "industries", "n"]

_groups: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # SqlLayer -> its groups
_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cited: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()    # SqlLayer -> groups of cited rows
_guard = threading.Lock()
# A row the plan cites: plan_refs not blank (as analysis.compare.plan_place_ids strips it)
CITED_SQL = "btrim(coalesce(props->>'plan_refs', ''), E' \\t\\n\\r\\f\\v') <> ''"


def empty_groups() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n" else object) for c in GROUP_COLUMNS})


def layer_groups(layer: SqlLayer) -> pd.DataFrame:
    """The layer's rows grouped by what the figures read (GROUP_COLUMNS; `industries` as the
    ';'-joined codes, missing values as ""), computed by the first caller and then kept as long
    as the SqlLayer (its bundle) lives. Concurrent first callers wait for the one query."""
    return _kept(_groups, layer, lambda: _query(layer))


def cited_groups(layer: SqlLayer) -> pd.DataFrame:
    """layer_groups over the rows that carry a plan reference (plan_refs not blank): the places
    the default plan's view names (/compare), read on first use and kept like layer_groups."""
    return _kept(_cited, layer, lambda: _query(layer, CITED_SQL))


def _kept(kept, layer: SqlLayer, make) -> pd.DataFrame:
    """kept[layer], made by the first caller (the others wait for it) and then kept."""
    found = kept.get(layer)
    if found is not None:
        return found
    with _guard:
        lock = _locks.setdefault(layer, threading.Lock())
    with lock:
        found = kept.get(layer)
        if found is None:
            found = kept[layer] = make()
    return found


def prepare_figures(layer: SqlLayer) -> None:
    """Start reading the layer's groups in a background thread (a new bundle: the first /stats,
    map page or choropleth then finds them, or waits for this one query instead of running
    its own). A failure is logged; the first request that needs the groups asks again."""
    def read() -> None:
        try:
            layer_groups(layer)
        except Exception as error:   # the database away or behind: asked again on first use
            log.warning("figures of %s (data version %s) not read ahead: %s", layer.layer, layer.data_version, error)
    threading.Thread(target=read, daemon=True, name=f"atlas-figures-{layer.data_version}").start()


def _query(layer: SqlLayer, where: str = "") -> pd.DataFrame:
    """The GROUP BY over the generated columns themselves (industries as the array): an
    index-only scan of atlas_features_figures (store.py), no row read, ~70 ms per 100,000 rows
    (`where`: a fixed extra condition, e.g. CITED_SQL, which reads the rows)."""
    records = layer.query(
        "SELECT city_adcode, kind, level, location_precision, industries, count(*) FROM atlas_features "
        f"WHERE data_version = %s{' AND ' + where if where else ''} GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5",
        [layer.data_version])
    if not records:
        return empty_groups()
    frame = pd.DataFrame([(layer.layer, city or "", kind or "", level or "", precision or "",
                           ";".join(industries) if industries else "", n)
                          for city, kind, level, precision, industries, n in records], columns=GROUP_COLUMNS)
    frame["n"] = frame["n"].astype("int64")
    return frame


def groups(layers, cited: bool = False) -> pd.DataFrame | None:
    """The groups of several SqlLayers in one table (None for no layers); `cited`: of the rows
    with a plan reference only (cited_groups)."""
    layers = list(layers)
    if not layers:
        return None
    parts = [(cited_groups if cited else layer_groups)(layer) for layer in layers]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
