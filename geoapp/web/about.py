"""/about: where every fact comes from — the data folders' SOURCE.md files and a table of every
place with its location precision and sources. Rendered once per language."""
from __future__ import annotations

import re

import markdown
from flask import Blueprint, render_template
from markupsafe import Markup

from geoapp import vocab
from geoapp.layers.popup import Names, popup_html
from geoapp.web import context
from geoapp.web.context import current_lang, registry, translator
from geoapp.web.serving import cached_body, send_body

bp = Blueprint("about", __name__)


class LiteralHtml(markdown.Extension):
    """Markdown without raw HTML: `<tag>` written in a SOURCE.md is shown as text, not rendered
    (data files are shown literally, never as markup or script)."""

    def extendMarkdown(self, md):
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def markdown_html(text: str) -> Markup:
    return Markup(markdown.markdown(text, extensions=["tables", LiteralHtml()]))


def render_about(lang: str) -> bytes:
    reg = registry()
    t = translator(lang)
    # the data folder's own SOURCE.md files (from the registry), written by the team;
    # rendered as markdown, any raw HTML in them shown as text (LiteralHtml)
    # (SOURCE.zh.md on the Chinese page where a folder has one)
    documents = [{"title": vocab.pick(doc.title, lang), "file": file,
                  "html": markdown_html(text)}
                 for doc in reg.sources for file, text in [doc.for_lang(lang)]]
    names = Names(reg.boundaries["city"], reg.boundaries["district"], industries=reg.plan.industries)
    places = reg.counted_places()  # each place once
    records = places.drop(columns="geometry").to_dict("records")
    # notes written by the maintainers refer to other rows by id ("see htz_anshan"): readers get
    # the place's name in the page's language instead
    named = {str(r["id"]): (r.get("name_en") or r["name_zh"]) if lang == "en" else r["name_zh"] for r in records}
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(named, key=len, reverse=True))) + r")\b")
    for rec in records:
        for field in ("note", "note_zh", "note_en", "source"):
            if isinstance(rec.get(field), str):
                rec[field] = pattern.sub(lambda m: named[m.group(1)], rec[field])
    rows = [Markup(popup_html(["name", "kind", "city", "district", "location_precision", "plan_refs",
                               "source", "note"], rec, lang, names)) for rec in records]
    precision = places["location_precision"].value_counts()
    n_places = len(places)
    groups = context.place_groups()   # imported layers in PostGIS: counted, not listed row by row
    if groups is not None and len(groups):
        precision = precision.add(groups.groupby("location_precision")["n"].sum(), fill_value=0)
        n_places += int(groups["n"].sum())
    summary = [(vocab.label(vocab.LOCATION_PRECISION, code, lang), int(precision.get(code, 0)))
               for code in vocab.LOCATION_PRECISION]
    counts = {code: int(precision.get(code, 0)) for code in vocab.LOCATION_PRECISION}
    return render_template("about.html", lang=lang, t=t, documents=documents, rows=rows,
                           summary=summary, n_places=n_places, counts=counts).encode("utf-8")


@bp.get("/about")
def about():
    lang = current_lang()
    body = cached_body(("about", lang), lambda: (render_about(lang), "text/html; charset=utf-8"))
    return send_body(body)
