"""The vectorised forms of per-row code, on cases worked out by hand: the corridor relation of
many extents at once, industry flags from ';'-lists, and feature texts written on demand."""
import json

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import MultiPoint, Point, box

from geoapp.analysis import belt as belt_mod
from geoapp.analysis.distribution import industry_flags
from geoapp.export.catalog import FeatureTexts
from geoapp.export.serialize import feature_texts
from tests.plans_fixture import shipped_plan

INDUSTRIES = shipped_plan().industries


def test_relations_of_many_extents_at_once_match_the_hand_worked_answers():
    band = box(0, 0, 10, 10)
    extents = [
        Point(5, 5),            # inside the band
        Point(10, 5),           # on its edge: covered, so inside
        Point(20, 5),           # far away
        box(2, 2, 4, 4),        # wholly inside
        box(8, 2, 12, 4),       # half in, half out
        box(10, 0, 12, 2),      # touches the edge only: no overlap area
        box(30, 30, 31, 31),    # far away
        MultiPoint([(1, 1), (2, 2)]),  # not a Point and no area: never inside
    ]
    expected = ["inside", "inside", "outside", "inside", "partly", "outside", "outside", "outside"]
    assert list(belt_mod.relations(np.array(extents, dtype=object), band)) == expected
    # and one at a time, as before
    assert [belt_mod.relation(e, band) for e in extents] == expected
    assert list(belt_mod.relations(np.array([], dtype=object), band)) == []


def test_an_extent_within_the_tolerance_counts_as_inside():
    band = box(0, 0, 10, 10)
    # 1/100,000 of the area outside (less than INSIDE_TOLERANCE = 1/10,000): inside
    almost = box(0, 0, 10, 10.0001)
    # 1/1,000 outside: partly
    straddling = box(0, 0, 10, 10.01)
    assert list(belt_mod.relations(np.array([almost, straddling], dtype=object), band)) == ["inside", "partly"]


def test_industry_flags_split_each_list_cell():
    cells = pd.Series(["electronics;biomedicine", None, "", "biomedicine", " marine ; electronics",
                       float("nan"), "biomedicine"], index=[10, 11, 12, 13, 14, 15, 16])
    flags = industry_flags(cells, INDUSTRIES)
    assert list(flags.index) == [10, 11, 12, 13, 14, 15, 16]
    assert flags["electronics"].tolist() == [True, False, False, False, True, False, False]
    assert flags["biomedicine"].tolist() == [True, False, False, True, False, False, True]
    assert flags["marine"].tolist() == [False, False, False, False, True, False, False]
    assert not flags["equipment"].any()
    assert industry_flags(pd.Series([], dtype=object), INDUSTRIES).shape == (0, len(flags.columns))
    assert list(flags.columns) == list(INDUSTRIES)  # one column per code of the vocabulary, in order


def test_feature_texts_written_on_demand_equal_the_bulk_texts():
    frame = gpd.GeoDataFrame({"name_zh": ["甲", "乙", None], "n": [1, 2, 3], "x": [0.5, float("nan"), 2.0]},
                             geometry=[Point(123.1234567, 41.5), Point(122, 40), Point(121, 39)],
                             index=pd.Index(["a", "b", "c"], name="fid"), crs=4326)
    bulk = feature_texts(frame)
    lazy = FeatureTexts(frame)
    assert lazy.loc["b"] == bulk[1]
    assert lazy.loc[pd.Index(["c", "a"])] == [bulk[2], bulk[0]]
    assert list(lazy) == bulk
    assert "b" in lazy.index and "z" not in lazy.index
    assert json.loads(bulk[0]) == {"type": "Feature", "id": "a",
                                   "geometry": {"type": "Point", "coordinates": [123.123457, 41.5]},
                                   "properties": {"name_zh": "甲", "n": 1, "x": 0.5}}
    assert json.loads(bulk[1])["properties"] == {"name_zh": "乙", "n": 2, "x": None}
    assert json.loads(bulk[2])["properties"] == {"name_zh": None, "n": 3, "x": 2.0}
    try:
        lazy.loc["z"]
    except KeyError:
        pass
    else:
        raise AssertionError("an unknown id must raise KeyError")


def test_search_index_is_built_on_first_search_and_rows_sharing_a_name_share_its_keys():
    from types import SimpleNamespace

    from geoapp.layers.search import SearchIndex
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b", "c", "d"],
         "name_zh": ["沈阳高新技术产业开发区", "沈阳高新技术产业开发区", "大连高新技术产业园区", None],
         "name_en": ["Shenyang HTZ", "Shenyang HTZ (east)", "Dalian HTZ", "Nameless"]},
        geometry=[Point(123.4, 41.8), Point(123.5, 41.8), Point(121.6, 38.9), Point(122, 40)], crs=4326)
    spec = SimpleNamespace(id="zones", data="zones_data", searchable=True, geometry="point")
    hidden = SimpleNamespace(id="other", data="zones_data", searchable=False, geometry="point")
    index = SearchIndex.build([spec, hidden], {"zones_data": frame})
    assert not index.built  # nothing computed at start-up
    ids = lambda hits: list(hits["id"])  # noqa: E731
    assert ids(index.search("沈阳高新区")) == ["a", "b"]  # the short form, both rows of the name
    assert index.built
    assert ids(index.search("sygxq")) == ["a", "b"] and ids(index.search("dalian")) == ["c"]
    assert ids(index.search("east")) == ["b"] and ids(index.search("nameless")) == ["d"]
    assert ids(index.search("高新", allowed={"zones": {"b", "c"}})) == ["b", "c"]
    assert ids(index.search("shenyang", allowed={"zones": set()})) == [] and ids(index.search("  ")) == []
    assert list(index.search("大连").columns) == ["layer", "id", "name_zh", "name_en", "lon", "lat"]
    table = index.table
    assert list(table["id"]) == ["a", "b", "c", "d"] and set(table["layer"]) == {"zones"}
    assert table["pinyin"][0] == table["pinyin"][1] and "shenyanggaoxinqu" in table["pinyin"][0]
