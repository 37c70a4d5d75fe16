"""Per-city distribution of the plan's places and tasks over the 14 prefecture-level cities."""
from __future__ import annotations

import numpy as np
import pandas as pd

from geoapp import vocab
from geoapp.analysis.coverage import Coverage
from geoapp.analysis.places import (CLUSTER_BASE_KINDS, DESIGNATION_KINDS, HTZ_KINDS, LAB_KINDS,
                                    PLATFORM_KINDS, industry_codes)
from geoapp.analysis.view import PlaceView

# Column -> (zh, en) label; the order is the column order of city_counts().
METRIC_LABELS = {
    "htz_national": ("国家级高新区", "National HTZs"),
    "htz_provincial": ("省级高新区", "Provincial HTZs"),
    "htz_total": ("高新区合计", "HTZs, all"),
    "clusters_bases": ("集群·基地·园区", "Clusters, bases, parks"),
    "laboratories": ("国家实验室", "National labs"),
    "platforms": ("创新平台", "Platforms"),
    "designations": ("规划区域", "Plan areas"),
    "places": ("地点合计", "Places"),
    "city_precision_places": ("仅知城市的地点", "Located to city only"),
    "tasks": ("涉及的规划任务", "Plan tasks touching"),
    "industries_present": ("产业数", "Industries present"),
}
METRICS = list(METRIC_LABELS)
# The metrics the map can shade its cities by (choropleth), in the order its menu lists them.
MAP_METRICS = ("places", "htz_total", "htz_national", "clusters_bases", "laboratories", "platforms",
               "tasks", "industries_present")
INDUSTRY_COLUMNS = [f"industry_{code}" for code in vocab.INDUSTRIES]


def industry_flags(cells: pd.Series) -> pd.DataFrame:
    """One boolean column per industry code of vocab.INDUSTRIES: is the code in the cell's
    ';'-separated list. Each distinct cell is split once (a large layer has few distinct cells)."""
    positions, distinct = pd.factorize(cells, use_na_sentinel=True)
    # one row per distinct cell, and a last row for empty/NaN cells (position -1)
    tags = [set(industry_codes(cell)) for cell in distinct] + [set()]
    table = np.array([[code in cs for code in vocab.INDUSTRIES] for cs in tags], dtype=bool)
    table = table.reshape(len(tags), len(vocab.INDUSTRIES))
    return pd.DataFrame(table[positions], index=cells.index, columns=list(vocab.INDUSTRIES))


def city_counts(view: PlaceView, result: Coverage) -> pd.DataFrame:
    """One row per city (index: city adcode, all cities, in `cities` order), integer columns:

    htz_national, htz_provincial, htz_total   high-tech zones by level (htz_total: any level)
    clusters_bases          clusters, bases, parks, software / service clusters, coastal parks,
                            innovation areas (kinds in places.CLUSTER_BASE_KINDS)
    laboratories, platforms national laboratories; other innovation platforms
    designations            plan areas drawn as admin areas (pilot zone, health interventions)
    places                  every place above (each place once)
    city_precision_places   of those, places whose location is only known to the city
    tasks                   plan tasks touching the city (a place in it, or the text names it),
                            from the coverage `result` of the same view
    industries_present      how many of the 10 industry codes occur among the city's places
    industry_<code>         places tagged with that industry (one column per code in vocab)

    The belt corridor has no city of its own and is not counted as a place here (its share of
    each city is in geoapp.analysis.belt); the belt *task* does count in `tasks` for every city
    the corridor overlaps. Every column answers for the view's filtered places; a filtered-out
    city keeps its row with zeros.
    """
    codes = view.city_codes
    index = view.index
    every = view.every
    # one entry per (place, city) link: a place counts once in each city it belongs to; the
    # belt corridor (no city of its own, see geoapp.analysis.belt) is not counted here
    rows, cols = index.link_rows, index.link_cols
    keep = (rows >= 0) & (cols >= 0)
    rows, cols = rows[keep], cols[keep]
    if len(rows):
        own_city = every["city_adcode"].to_numpy(dtype=object)[rows]
        keep = own_city != ""
        rows, cols = rows[keep], cols[keep]
    def one_of(column: str, values) -> np.ndarray:  # column in values, by its integer codes
        return index.matching_any(column, values)[rows]

    htz = one_of("kind", HTZ_KINDS)
    tagged = industry_flags(pd.Series(every["industries"].to_numpy(dtype=object)[rows]))
    flags = {
        "htz_national": htz & one_of("level", ("national",)),
        "htz_provincial": htz & one_of("level", ("provincial",)),
        "htz_total": htz,
        "clusters_bases": one_of("kind", CLUSTER_BASE_KINDS),
        "laboratories": one_of("kind", LAB_KINDS),
        "platforms": one_of("kind", PLATFORM_KINDS),
        "designations": one_of("kind", DESIGNATION_KINDS),
        "places": np.ones(len(rows), dtype=bool),
        "city_precision_places": one_of("location_precision", ("city",)),
        **{column: tagged[code].to_numpy(dtype=bool) for code, column in zip(vocab.INDUSTRIES, INDUSTRY_COLUMNS)},
    }
    table = pd.DataFrame({name: np.bincount(cols[flag], minlength=len(codes))[:len(codes)]
                          for name, flag in flags.items()},
                         index=pd.Index(codes, name="city_adcode"))
    table["industries_present"] = (table[INDUSTRY_COLUMNS] > 0).sum(axis=1)
    table["tasks"] = result.touches.sum(axis=0).reindex(codes, fill_value=0).astype("int64")
    return table[METRICS + INDUSTRY_COLUMNS].astype("int64")


def city_table(view: PlaceView, result: Coverage, lang: str = "zh") -> pd.DataFrame:
    """`city_counts` with the city names first and the industries present spelled out, for
    people (the web table and the CSV download)."""
    metrics = city_counts(view, result)
    names = view.cities.set_index("adcode")[["name_zh", "name_en"]].reindex(metrics.index)
    present = metrics[INDUSTRY_COLUMNS].apply(
        lambda row: ("、" if lang == "zh" else ", ").join(vocab.label(vocab.INDUSTRIES, c.removeprefix("industry_"), lang)
                             for c, n in row.items() if n > 0), axis=1)
    return pd.concat([names, metrics, present.rename("industry_names")], axis=1)
