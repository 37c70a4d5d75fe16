"""Request helpers shared by blueprints: the registry, the parsed filter, the language."""
from __future__ import annotations

from flask import current_app, request

from geoapp.data import Registry
from geoapp.filters import Filter, parse_filter

LANGS = ("zh", "en")


def registry() -> Registry:
    return current_app.extensions["atlas.registry"]


def current_filter() -> Filter:
    return parse_filter(request.args, registry().boundaries["city"])


def current_lang() -> str:
    lang = request.args.get("lang", "zh")
    return lang if lang in LANGS else "zh"
