"""Place search (/map/search) over imported layers that live in PostGIS, ranked as the in-memory
index ranks (geoapp.layers.search.SearchIndex), so geoapp.web merges both into one list.

    Chinese query q (lower case, no white space):
        rank 0  the name is q
        rank 1  q is in the name or in one of its short forms (大连高新技术产业开发区 -> 大连高新区),
                white space removed
        rank 2  (only while ranks 0-1 give fewer than MAX_HITS) q's characters in order
    Latin query:
        rank 0  the words of q start a word of the English name or of the id
Within a rank, rows come in the import's order (`position`). The texts are the store's columns
normalised by SQL expressions that trigram indexes of the store serve (NAME_NORM, LATIN below;
geoapp/ingest/store.py SQL_READ_SCHEMA creates them with the same text — tests check it).

What the in-memory index finds and this does not: pinyin and pinyin initials (ranks 1-2 of a
Latin query; pypinyin has no SQL counterpart), and a Chinese query that runs from the end of a
name into the start of its short form (the in-memory key joins them with a separator its white
space removal deletes).
"""
from __future__ import annotations

import re

import pandas as pd

from geoapp.filters import Filter
from geoapp.postgis.layer import SqlLayer, filter_sql

# Python's str white space (re's \s), which SearchIndex removes from names: ASCII space and
# controls, the separators 0x1c-0x1f, NEL, NBSP and Unicode's space characters.
WHITE = r"[\s\u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
NAME_NORM = f"lower(regexp_replace(name_zh, '{WHITE}', '', 'g'))"
LATIN = ("(' ' || trim(regexp_replace(lower(coalesce(props->>'name_en', '')), '[^0-9a-z]+', ' ', 'g')) || ' ' "
         "|| trim(regexp_replace(lower(fid), '[^0-9a-z]+', ' ', 'g')) || ' ')")
COLUMNS = ["layer", "id", "name_zh", "name_en", "lon", "lat", "rank", "position"]


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching itself (\\ escapes % and _)."""
    return re.sub(r"([\\%_])", r"\\\1", text)


def search(layers: list[SqlLayer], q: str, words: str, cjk: bool, flt: Filter, short_forms,
           limit: int, loose: bool = False) -> pd.DataFrame:
    """Hits of the layers for the normalised query `q` (Chinese: `cjk`) or its Latin `words`,
    best first within each layer, at most `limit` per rank (COLUMNS; `position` is the row's
    place in its layer). `loose`: also rank 2 (characters in order) for a Chinese query."""
    frames = []
    for layer in layers:
        base, params = ["data_version = %s"], [layer.data_version]
        sql, values = filter_sql(flt)
        if sql != "TRUE":
            base.append(f"({sql})")
            params.extend(values)
        queries: list[tuple[int, str, list]] = []
        if cjk:
            # every rank-1/2 row has q's characters in order in its name (a short form keeps the
            # long form's characters in order): a cheap test done first, so a scan that finds
            # nothing does not normalise every name
            in_order = "%" + "%".join(_like(c) for c in q) + "%"
            base.append("name_zh LIKE %s" if q == q.upper() else "name_zh ILIKE %s")   # no case: plain LIKE
            params.append(in_order)
            # the trigram index finds names holding q when q has a trigram (3 characters); for a
            # shorter q it would hand every row to the normalising recheck: a scan that tests
            # the cheap condition first is faster (the expression then no longer matches the index)
            norm = NAME_NORM if len(q) >= 3 else f"({NAME_NORM} || '')"
            forms, form_params = [f"{norm} LIKE %s"], [f"%{_like(q)}%"]
            for long, short in short_forms:   # the name with a short form in place of the long one
                forms.append(f"(name_zh LIKE %s AND lower(regexp_replace(replace(name_zh, %s, %s), "
                             f"'{WHITE}', '', 'g')) LIKE %s)")
                form_params.extend([f"%{_like(long)}%", long, short, f"%{_like(q)}%"])
            queries.append((0, 'name_zh COLLATE "C" = %s', [q]))   # the name-order index finds it
            queries.append((1, f"name_zh <> %s AND ({' OR '.join(forms)})", [q, *form_params]))
            if loose:
                # characters in order have no trigrams to look up: a scan, the cheap test first
                queries.append((2, f"NOT ({' OR '.join(forms)}) AND name_zh <> %s AND ({NAME_NORM} || '') LIKE %s",
                                [*form_params, q, in_order]))
        elif words:
            # each word of the query is in the English name or the id (cheap, tested first)
            for word in words.split():
                base.append("(coalesce(props->>'name_en', '') ILIKE %s OR fid ILIKE %s)")
                params.extend([f"%{_like(word)}%"] * 2)
            queries.append((0, f"{LATIN} LIKE %s", [f"% {_like(words)}%"]))
        for rank, condition, extra in queries:
            records = layer.query(
                "SELECT fid, coalesce(name_zh, ''), coalesce(props->>'name_en', ''), ST_X(geom), ST_Y(geom), "
                f"position FROM atlas_features WHERE {' AND '.join(base)} AND {condition} "
                "ORDER BY position LIMIT %s", [*params, *extra, int(limit)])
            if records:
                frame = pd.DataFrame(records, columns=["id", "name_zh", "name_en", "lon", "lat", "position"])
                frame.insert(0, "layer", layer.layer)
                frame["rank"] = rank
                frames.append(frame[COLUMNS])
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return pd.concat(frames, ignore_index=True)
