"""Request helpers shared by blueprints: the request's Bundle (data of one plan at one version),
the parsed filter, the language.

A request binds the current Bundle ONCE, before its view runs (`init_app`), and every helper here
reads that one: a data switch during the request (geoapp/state.py) never mixes two versions in
one answer, and never makes the request wait. Web code reaches data only through these helpers.
"""
from __future__ import annotations

from flask import Flask, current_app, g, request

from geoapp import vocab
from geoapp.data import Registry
from geoapp.export.catalog import Catalog
from geoapp.filters import PARAMS, Filter, parse_filter
from geoapp.state import Atlas, Bundle

LANGS = ("zh", "en")
PLAN_ENVIRON = "atlas.plan_id"   # set by the /plans/<id> prefix middleware (web/plans.py)


def atlas() -> Atlas:
    """The app's state: the store, the basemap frame, the plans and their current bundles."""
    return current_app.extensions["atlas"]


def plan_id() -> str:
    """The request's plan: from its /plans/<id> prefix, else the default plan."""
    return request.environ.get(PLAN_ENVIRON) or atlas().default_plan


def bundle() -> Bundle:
    """The Bundle this request serves from (bound once per request)."""
    bound = g.get("atlas_bundle")
    if bound is None:
        bound = g.atlas_bundle = atlas().bundle(plan_id())
    return bound


def registry() -> Registry:
    return bundle().registry


def catalog() -> Catalog:
    return bundle().catalog


def init_app(app: Flask) -> None:
    state = app.extensions["atlas"]

    @app.before_request
    def bind_bundle():
        state.refresh()    # at most starts a background switch: never waits
        bundle()


def current_filter() -> Filter:
    """The request's filter, remembered per spelling of the filter parameters: parsing builds the
    city lookup from the boundary frame, which was half the time of a request served from cache.
    Unknown values still raise FilterError (errors are not remembered)."""
    spelling = tuple(tuple(request.args.getlist(param)) for param in PARAMS)
    if not any(spelling):
        return Filter()
    memo = bundle().filters
    flt = memo.get(spelling)
    if flt is None:
        flt = parse_filter(request.args, registry().boundaries["city"])
        memo.put(spelling, flt)
    return flt


def current_lang() -> str:
    lang = request.args.get("lang", "zh")
    return lang if lang in LANGS else "zh"


def translator(lang: str):
    """`t(zh, en)` for templates: the text in the page's language (vocab.pick)."""
    return lambda zh, en: vocab.pick((zh, en), lang)
