"""Place search on the server, so the map page does not carry an index that grows with the data.

Finds a place by the names people type: Chinese (full, short forms such as 大连高新区, or the
characters in order: 中科院丹东育成中心), English words, pinyin (shenyang, dalian gaoxin) and
pinyin initials (sygxq). Latin queries match whole-word prefixes, so "Shenyang" does not find a
name that merely contains s…h…e…n…y…a…n…g in order.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd

from geoapp.specs import LayerSpec

# pypinyin is imported when the index is first built, not with this module: its dictionaries are
# ~55 MB of every worker's memory, needed only once someone searches.

# The plan and everyday usage shorten zone names: 大连高新技术产业园区 -> 大连高新区.
SHORT_FORMS = (("高新技术产业开发区", "高新区"), ("高新技术产业园区", "高新区"),
               ("国家级", ""), ("中国科学院", "中科院"))
SEP = "\x1f"
CJK = re.compile(r"[\u3400-\u9fff]")
MAX_HITS = 12


def short_names(name_zh: str) -> list[str]:
    """Other spellings people search for (the search also matches these)."""
    names = set()
    for long, short in SHORT_FORMS:
        if long in name_zh:
            names.add(name_zh.replace(long, short))
    return sorted(names)


@lru_cache(maxsize=200_000)
def _word_pinyin(word: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin
    return tuple(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", str(text or "").lower())


def _words(text: str) -> str:
    """Lower-case words separated by single spaces (for word-prefix matching)."""
    return " ".join(re.findall(r"[0-9a-z]+", str(text or "").lower()))


NOT_CJK = re.compile(r"[^\u3400-\u9fff]+")


def pinyin_keys(name_zh: str) -> tuple[str, str]:
    """Pinyin of a Chinese name from every syllable on, and its initials:
    沈阳高新区 -> ('shenyanggaoxinqu yanggaoxinqu gaoxinqu xinqu qu', 'sygxq')."""
    return _pinyin_keys(NOT_CJK.sub("", str(name_zh)))


@lru_cache(maxsize=200_000)
def _pinyin_keys(chars: str) -> tuple[str, str]:
    from pypinyin.seg.mmseg import seg
    # pypinyin's own word segmentation, each word's pinyin remembered: the same output as
    # lazy_pinyin(name) (phrases keep their readings: 长兴岛 chang-xing-dao) at ~8x the speed on
    # long lists, whose names share most words (有限公司, 科技, city names).
    syllables = [p for word in seg.cut(chars) for p in _word_pinyin(word) if p]
    suffixes = " ".join("".join(syllables[i:]) for i in range(len(syllables)))
    return suffixes, "".join(p[0] for p in syllables)


class SearchIndex:
    """One row per searchable place (all searchable layers), in the registry's order.

    Built on the first search, not at start-up (for 100,000 names that took seconds of every
    worker's start), once per process and thread-safe. The Chinese-name keys (CJK text with short
    forms, pinyin, initials) are computed and held once per distinct name_zh: rows point at them
    by a code, so a list with repeated names neither computes nor stores them again."""

    def __init__(self, parts: list[tuple[str, gpd.GeoDataFrame]]):
        self._parts = parts          # (layer id, frame) of the searchable point layers
        self._built: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._lock = threading.Lock()

    @classmethod
    def build(cls, specs: list[LayerSpec], frames: dict[str, gpd.GeoDataFrame],
              boundaries: dict[str, gpd.GeoDataFrame] | None = None) -> "SearchIndex":
        """The index of the searchable point layers of `frames` (computed on first use), after
        the cities and districts of `boundaries` (adcode as id, a point inside the area), so a
        city is found by its name before the places named after it."""
        areas = []
        for spec in specs:
            level = spec.data.split(":", 1)[1] if spec.data.startswith("boundaries:") else ""
            if boundaries is not None and level in AREA_LEVELS and level in boundaries:
                areas.append((spec.id, area_points(boundaries[level])))
        return cls(areas + [(spec.id, frames[spec.data]) for spec in specs
                            if spec.searchable and spec.geometry == "point"])

    def layer_order(self) -> dict[str, int]:
        """layer id -> the place of its block of rows in the index (cities and districts first,
        then the searchable point layers in the specs' order): within a rank, hits come in this
        order, then in their layer's row order."""
        return {layer: i for i, (layer, _) in enumerate(self._parts)}

    @property
    def built(self) -> bool:
        return self._built is not None

    @property
    def table(self) -> pd.DataFrame:
        """layer, id, name_zh, name_en, lon, lat, latin, cjk, pinyin, initials per row."""
        rows, keys = self._index()
        return rows.join(keys.iloc[rows["key"].to_numpy()].reset_index(drop=True)).drop(columns="key")

    def _index(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = _build(self._parts)
        return self._built

    def search(self, query: str, allowed: dict[str, set[str]] | None = None,
               limit: int = MAX_HITS, with_rank: bool = False) -> pd.DataFrame:
        """Hits for `query`, best first (columns layer, id, name_zh, name_en, lon, lat; with
        `with_rank` also `rank`, 0 best, the frame's index being the row's place in the index).
        `allowed` maps layer id -> ids that pass the filter."""
        rows, keys = self._index()
        keep = np.ones(len(rows), dtype=bool)
        if allowed is not None:
            keep[:] = False
            for layer, ids in allowed.items():
                keep |= (rows["layer"] == layer).to_numpy() & rows["id"].isin(ids).to_numpy()
        q = _norm(query)
        if not q or not keep.any():
            return rows.iloc[0:0].drop(columns=["key", "latin"]).assign(**({"rank": 0} if with_rank else {}))
        key = rows["key"].to_numpy()
        if CJK.search(q):
            # each distinct name tested once, then spread over its rows
            exact = _contains(keys["cjk"], q)[key] & keep
            loose = np.zeros(len(rows), dtype=bool)
            if len(q) >= 4 and exact.sum() < limit:  # looser matches only when exact ones run short
                in_order = re.compile(".*".join(re.escape(c) for c in q))
                loose = np.fromiter((in_order.search(t) is not None for t in keys["cjk"]),
                                    dtype=bool, count=len(keys))[key] & keep & ~exact
            # the name itself first (沈阳市 -> the city, not the places named after it)
            same = (rows["name_zh"].to_numpy(dtype=object) == q) & keep
            rank = np.where(same, 0, np.where(exact, 1, np.where(loose, 2, 9)))
        else:
            words, squashed = _words(query), re.sub(r"[^0-9a-z]", "", q)
            if not squashed:
                return rows.iloc[0:0].drop(columns=["key", "latin"]).assign(**({"rank": 0} if with_rank else {}))
            starts_word = _contains(rows["latin"], " " + words)
            pinyin = _contains(keys["pinyin"], " " + squashed)[key]
            initials = _contains(keys["initials"], " " + squashed)[key]
            rank = np.where(starts_word, 0, np.where(pinyin, 1, np.where(initials, 2, 9)))
            rank[~keep] = 9
        hits = np.flatnonzero(rank < 9)
        order = hits[np.argsort(rank[hits], kind="stable")][:limit]
        found = rows.iloc[order].drop(columns=["key", "latin"])
        return found.assign(rank=rank[order]) if with_rank else found


AREA_LEVELS = ("city", "district")


def area_points(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Boundaries as search rows: id = adcode, the names, a point inside each area."""
    return gpd.GeoDataFrame({"id": frame["adcode"].astype(str).to_numpy(),
                             "name_zh": frame["name_zh"].to_numpy(), "name_en": frame["name_en"].to_numpy()},
                            geometry=frame.geometry.representative_point().to_numpy(), crs=frame.crs)


def _contains(texts: pd.Series, part: str) -> np.ndarray:
    """`part in text` for every text (plain Python: faster than .str.contains on this dtype)."""
    return np.fromiter((part in t for t in texts.tolist()), dtype=bool, count=len(texts))


WORDS = re.compile(r"[0-9a-z]+")
SPACES = re.compile(r"\s+")


def _build(parts: list[tuple[str, gpd.GeoDataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows, keys): a row per place with the code of its name_zh's keys, and the keys
    (cjk, pinyin, initials) of each distinct name_zh."""
    tables = []
    for layer, frame in parts:
        ids = frame["id"].fillna("").astype(str).tolist()
        en = frame["name_en"].fillna("").astype(str).tolist()
        tables.append(pd.DataFrame({
            "layer": layer, "id": ids, "name_zh": frame["name_zh"].fillna("").astype(str).tolist(),
            "name_en": en, "lon": frame.geometry.x.to_numpy(), "lat": frame.geometry.y.to_numpy(),
            # whole words of the English name and of the id, for word-prefix matching
            "latin": [" " + " ".join(WORDS.findall(e.lower())) + " " + " ".join(WORDS.findall(i.lower())) + " "
                      for e, i in zip(en, ids)],
        }))
    columns = ["layer", "id", "name_zh", "name_en", "lon", "lat", "latin"]
    rows = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
    codes, distinct = pd.factorize(rows["name_zh"].astype(object))
    cjk, pinyin, initials = [], [], []
    one: dict[str, str] = {}  # one object per distinct key text (names differing only in digits share pinyin)
    for name in distinct.tolist():
        alias = short_names(name)
        text = SPACES.sub("", (name + SEP + SEP.join(alias)).lower())
        cjk.append(name if text == name else text)
        keys = [pinyin_keys(n) for n in [name, *filter(None, alias)]]
        for column, text in ((pinyin, " " + " ".join(k[0] for k in keys)),
                             (initials, " " + " ".join(k[1] for k in keys))):
            column.append(one.setdefault(text, text))
    rows["key"] = codes.astype(np.int32)
    rows = rows[["key", *columns]]
    keys = pd.DataFrame({"cjk": cjk, "pinyin": pinyin, "initials": initials}, dtype=object)
    return rows, keys
