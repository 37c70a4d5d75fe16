"""Place search on the server, so the map page does not carry an index that grows with the data.

Finds a place by the names people type: Chinese (full, short forms such as 大连高新区, or the
characters in order: 中科院丹东育成中心), English words, pinyin (shenyang, dalian gaoxin) and
pinyin initials (sygxq). Latin queries match whole-word prefixes, so "Shenyang" does not find a
name that merely contains s…h…e…n…y…a…n…g in order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from pypinyin.seg.mmseg import seg

from geoapp.layers.spec import LayerSpec

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
    # pypinyin's own word segmentation, each word's pinyin remembered: the same output as
    # lazy_pinyin(name) (phrases keep their readings: 长兴岛 chang-xing-dao) at ~8x the speed on
    # long lists, whose names share most words (有限公司, 科技, city names).
    syllables = [p for word in seg.cut(chars) for p in _word_pinyin(word) if p]
    suffixes = " ".join("".join(syllables[i:]) for i in range(len(syllables)))
    return suffixes, "".join(p[0] for p in syllables)


@dataclass
class SearchIndex:
    """One row per searchable place (all searchable layers), in the registry's order."""
    table: pd.DataFrame  # layer, id, name_zh, name_en, lon, lat, cjk, latin, pinyin, initials

    @classmethod
    def build(cls, specs: list[LayerSpec], frames: dict[str, gpd.GeoDataFrame]) -> "SearchIndex":
        parts = []
        for spec in specs:
            if not spec.searchable or spec.geometry != "point":
                continue
            frame = frames[spec.data]
            zh = frame["name_zh"].fillna("").astype(str)
            en = frame["name_en"].fillna("").astype(str)
            alias = zh.map(lambda n: SEP.join(short_names(n)))
            names = [[z, *filter(None, a.split(SEP))] for z, a in zip(zh, alias)]
            keys = [[pinyin_keys(n) for n in row] for row in names]
            parts.append(pd.DataFrame({
                "layer": spec.id, "id": frame["id"].astype(str).to_numpy(),
                "name_zh": zh.to_numpy(), "name_en": en.to_numpy(),
                "lon": frame.geometry.x.to_numpy(), "lat": frame.geometry.y.to_numpy(),
                "cjk": (zh + SEP + alias).map(_norm).to_numpy(),
                "latin": (" " + en.map(_words) + " " + frame["id"].astype(str).map(_words) + " ").to_numpy(),
                "pinyin": [" " + " ".join(k[0] for k in row) for row in keys],
                "initials": [" " + " ".join(k[1] for k in row) for row in keys],
            }))
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["layer", "id", "name_zh", "name_en", "lon", "lat", "cjk", "latin", "pinyin", "initials"])
        return cls(table)

    def search(self, query: str, allowed: dict[str, set[str]] | None = None,
               limit: int = MAX_HITS) -> pd.DataFrame:
        """Hits for `query`, best first. `allowed` maps layer id -> ids that pass the filter."""
        table = self.table
        if allowed is not None:
            keep = np.zeros(len(table), dtype=bool)
            for layer, ids in allowed.items():
                keep |= (table["layer"] == layer).to_numpy() & table["id"].isin(ids).to_numpy()
            table = table[keep]
        q = _norm(query)
        if not q or table.empty:
            return table.iloc[0:0]
        if CJK.search(q):
            exact = table["cjk"].str.contains(q, regex=False).to_numpy()
            loose = np.zeros(len(table), dtype=bool)
            if len(q) >= 4 and exact.sum() < limit:  # looser matches only when exact ones run short
                in_order = ".*".join(re.escape(c) for c in q)
                loose = ~exact & table["cjk"].str.contains(in_order, regex=True).to_numpy()
            rank = np.where(exact, 0, np.where(loose, 1, 9))
        else:
            words, squashed = _words(query), re.sub(r"[^0-9a-z]", "", q)
            if not squashed:
                return table.iloc[0:0]
            starts_word = table["latin"].str.contains(" " + words, regex=False)
            pinyin = table["pinyin"].str.contains(" " + squashed, regex=False)
            initials = table["initials"].str.contains(" " + squashed, regex=False)
            rank = np.where(starts_word, 0, np.where(pinyin, 1, np.where(initials, 2, 9)))
        table = table.assign(_rank=rank)
        return table[table["_rank"] < 9].sort_values("_rank", kind="stable").head(limit)
