"""Per-city distribution of the plan's places and tasks over the 14 prefecture-level cities."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd

from geoapp import vocab
from geoapp.analysis.coverage import coverage
from geoapp.analysis.places import (CLUSTER_BASE_KINDS, DESIGNATION_KINDS, HTZ_KINDS, LAB_KINDS,
                                    PLATFORM_KINDS, industry_codes, mapped_places, place_cities)
from geoapp.filters import Filter

# Column -> (zh, en) label; the order is the column order of per_city().
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
INDUSTRY_COLUMNS = [f"industry_{code}" for code in vocab.INDUSTRIES]


def per_city(layers: dict[str, gpd.GeoDataFrame], cities: gpd.GeoDataFrame,
             filter: Filter = Filter(), tasks=None) -> pd.DataFrame:
    """One row per city (index: city adcode, all cities, in `cities` order), integer columns:

    htz_national, htz_provincial, htz_total   high-tech zones by level (htz_total: any level)
    clusters_bases          clusters, bases, parks, software / service clusters, coastal parks,
                            innovation areas (kinds in places.CLUSTER_BASE_KINDS)
    laboratories, platforms national laboratories; other innovation platforms
    designations            plan areas drawn as admin areas (pilot zone, health interventions)
    places                  every place above (each place once)
    city_precision_places   of those, places whose location is only known to the city
    tasks                   plan tasks touching the city (a place in it, or the text names it)
    industries_present      how many of the 10 industry codes occur among the city's places
    industry_<code>         places tagged with that industry (one column per code in vocab)

    The belt corridor has no city of its own and is not counted as a place here (its share of
    each city is in geoapp.analysis.belt); the belt *task* does count in `tasks` for every city
    the corridor overlaps. Places pass through `filter` first, so every column answers for the filtered view; a
    filtered-out city keeps its row with zeros.
    """
    codes = list(cities["adcode"])
    places = filter.apply(mapped_places(layers), cities)
    places = places[places["city_adcode"] != ""]  # the belt corridor: see geoapp.analysis.belt
    links = place_cities(places, cities).merge(
        places.drop(columns="geometry").drop(columns="city_adcode"), on="id")
    if filter.city:  # a place spanning several cities counts only in the chosen ones
        links = links[links["city_adcode"].isin(filter.city)]
    table = pd.DataFrame(0, index=pd.Index(codes, name="city_adcode"),
                         columns=METRICS + INDUSTRY_COLUMNS, dtype="int64")

    def count(mask) -> pd.Series:
        return links[mask.astype(bool)].groupby("city_adcode")["id"].nunique().reindex(codes, fill_value=0)

    htz = links["kind"].isin(HTZ_KINDS)
    table["htz_national"] = count(htz & (links["level"] == "national"))
    table["htz_provincial"] = count(htz & (links["level"] == "provincial"))
    table["htz_total"] = count(htz)
    table["clusters_bases"] = count(links["kind"].isin(CLUSTER_BASE_KINDS))
    table["laboratories"] = count(links["kind"].isin(LAB_KINDS))
    table["platforms"] = count(links["kind"].isin(PLATFORM_KINDS))
    table["designations"] = count(links["kind"].isin(DESIGNATION_KINDS))
    table["places"] = count(pd.Series(True, index=links.index))
    table["city_precision_places"] = count(links["location_precision"] == "city")
    tagged = links["industries"].map(industry_codes)
    for code, column in zip(vocab.INDUSTRIES, INDUSTRY_COLUMNS):
        table[column] = count(tagged.map(lambda cs, c=code: c in cs))
    table["industries_present"] = (table[INDUSTRY_COLUMNS] > 0).sum(axis=1)
    touches = coverage(layers, cities, filter, tasks).touches
    table["tasks"] = touches.sum(axis=0).reindex(codes, fill_value=0).astype("int64")
    return table.astype("int64")


def city_table(layers, cities: gpd.GeoDataFrame, filter: Filter = Filter(), tasks=None,
               lang: str = "zh") -> pd.DataFrame:
    """`per_city` with the city names first and the industries present spelled out, for
    people (the web table and the CSV download)."""
    metrics = per_city(layers, cities, filter, tasks)
    names = cities.set_index("adcode")[["name_zh", "name_en"]].reindex(metrics.index)
    present = metrics[INDUSTRY_COLUMNS].apply(
        lambda row: ("、" if lang == "zh" else ", ").join(vocab.label(vocab.INDUSTRIES, c.removeprefix("industry_"), lang)
                             for c, n in row.items() if n > 0), axis=1)
    return pd.concat([names, metrics, present.rename("industry_names")], axis=1)
