"""Request helpers shared by blueprints: the request's Bundle (data of one plan at one version),
the parsed filter, the language.

A request binds the current Bundle ONCE, before its view runs (`init_app`), and every helper here
reads that one: a data switch during the request (geoapp/state.py) never mixes two versions in
one answer, and never makes the request wait. Web code reaches data only through these helpers.
"""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, request

from geoapp import vocab
from geoapp.data import Registry
from geoapp.export.catalog import Catalog
from geoapp.filters import PARAMS, Filter, parse_filter
from geoapp.state import Atlas, Bundle, UnknownPlan
from geoapp.web.plans import PLAN_ENVIRON, PlanPrefix

LANGS = ("zh", "en")


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


def place_groups():
    """The bundle's counted imported layers that live in PostGIS, summarised for the figures
    (geoapp.postgis.figures: one aggregate per layer and data version, kept with the bundle's
    SqlLayer), or None when every layer is in memory. Analysis functions take it as `groups`."""
    return catalog().place_groups()


def plan_prefix(plan: str) -> str:
    """The URL prefix of a plan's pages: "" for the default plan, else /plans/<id>."""
    return "" if plan == atlas().default_plan else f"/plans/{plan}"


def plans() -> list[dict]:
    """Every plan: id, titles, period, default flag (plan.summary(), geoapp.data), default first;
    what /api/plans lists and the plan switcher shows."""
    state = atlas()
    rows = [plan.summary() for plan in state.plans()]
    if not rows:  # a data folder without data/plans/: its one plan
        rows.append({"id": state.default_plan, "title": {"zh": "规划", "en": "Plan"}, "period": None,
                     "default": True})
    return rows


def plan_links(lang: str) -> list[dict]:
    """The plan switcher: each plan's title and the URL of this same page for that plan (the
    filter is left behind: another plan may not know its values)."""
    here = plan_id()
    return [{"id": p["id"], "title": vocab.pick(tuple((p.get("short_title") or p["title"])[k] for k in ("zh", "en")), lang),
             "period": p.get("period"), "current": p["id"] == here,
             "url": plan_prefix(p["id"]) + request.path + ("?lang=en" if lang == "en" else "")}
            for p in plans()]


def init_app(app: Flask) -> None:
    """Bind the Bundle at the start of every request; /plans/<id>/… chooses the plan."""
    state = app.extensions["atlas"]
    app.wsgi_app = PlanPrefix(app.wsgi_app)
    app.add_template_global(plan_links, "plan_links")

    @app.before_request
    def bind_bundle():
        state.refresh()    # at most starts a background switch: never waits
        bundle()

    @app.errorhandler(UnknownPlan)
    def unknown_plan(error: UnknownPlan):
        body = {"error": "not_found", "message": str(error), "plans": error.known}
        return jsonify(body), 404


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
        reg = registry()
        flt = parse_filter(request.args, reg.boundaries["city"], reg.plan.industries)
        memo.put(spelling, flt)
    return flt


def current_lang() -> str:
    lang = request.args.get("lang", "zh")
    return lang if lang in LANGS else "zh"


def translator(lang: str):
    """`t(zh, en)` for templates: the text in the page's language (vocab.pick)."""
    return lambda zh, en: vocab.pick((zh, en), lang)
