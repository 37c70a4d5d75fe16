"""Request helpers shared by blueprints: the registry, the parsed filter, the language."""
from __future__ import annotations

from flask import current_app, request

from geoapp import vocab
from geoapp.data import Registry
from geoapp.filters import PARAMS, Filter, parse_filter

LANGS = ("zh", "en")


def registry() -> Registry:
    return current_app.extensions["atlas.registry"]


FILTER_MEMO_SIZE = 4096


def current_filter() -> Filter:
    """The request's filter, remembered per spelling of the filter parameters: parsing builds the
    city lookup from the boundary frame, which was half the time of a request served from cache.
    Unknown values still raise FilterError (errors are not remembered)."""
    spelling = tuple(tuple(request.args.getlist(param)) for param in PARAMS)
    if not any(spelling):
        return Filter()
    memo = current_app.extensions.setdefault("atlas.filter_memo", {})
    flt = memo.get(spelling)
    if flt is None:
        flt = parse_filter(request.args, registry().boundaries["city"])
        if len(memo) < FILTER_MEMO_SIZE:
            memo[spelling] = flt
    return flt


def current_lang() -> str:
    lang = request.args.get("lang", "zh")
    return lang if lang in LANGS else "zh"


def translator(lang: str):
    """`t(zh, en)` for templates: the text in the page's language (vocab.pick)."""
    return lambda zh, en: vocab.pick((zh, en), lang)
