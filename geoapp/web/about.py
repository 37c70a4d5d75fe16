"""/about: where every fact comes from — the data folders' SOURCE.md files and a table of every
place with its location precision and sources. Rendered once per language."""
from __future__ import annotations

import markdown
from flask import Blueprint, render_template
from markupsafe import Markup

from geoapp import DATA_DIR, vocab
from geoapp.layers.popup import Names, popup_html
from geoapp.web.context import current_lang, registry
from geoapp.web.serving import cached_body, send_body

bp = Blueprint("about", __name__)

SOURCE_FILES = [("data/parks/SOURCE.md", ("地点（高新区、集群、基地、园区、平台）", "Places")),
                ("data/zones/SOURCE.md", ("区域（产业带、试验区、示范区核心区）", "Zones")),
                ("data/boundaries/SOURCE.md", ("行政区划边界", "Boundaries")),
                ("data/plan/SOURCE.md", ("规划任务", "Plan tasks"))]


def render_about(lang: str) -> bytes:
    reg = registry()
    t = (lambda zh, en: en if lang == "en" else zh)
    documents = []
    for relative, title in SOURCE_FILES:
        path = DATA_DIR.parent / relative
        if path.exists():
            # our own files, written by the team; markdown's output is trusted as such
            html = markdown.markdown(path.read_text(encoding="utf-8"), extensions=["tables"])
            documents.append({"title": title[1] if lang == "en" else title[0], "file": relative,
                              "html": Markup(html)})
    names = Names(reg.boundaries["city"], reg.boundaries["district"])
    places = reg.places()
    places = places[places["layer"] != "demo_zone_core"]
    rows = [Markup(popup_html(["name", "kind", "city", "district", "location_precision", "source"],
                              rec, lang, names)) for rec in places.drop(columns="geometry").to_dict("records")]
    precision = places["location_precision"].value_counts()
    summary = [(vocab.label(vocab.LOCATION_PRECISION, code, lang), int(precision.get(code, 0)))
               for code in vocab.LOCATION_PRECISION]
    return render_template("about.html", lang=lang, t=t, documents=documents, rows=rows,
                           summary=summary).encode("utf-8")


@bp.get("/about")
def about():
    lang = current_lang()
    body = cached_body(("about", lang), lambda: (render_about(lang), "text/html; charset=utf-8"))
    return send_body(body)
