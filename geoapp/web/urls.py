"""The one URL builder for links in pages and documents.

`link(path, **params)` keeps only the non-empty parameters and leaves commas unescaped (lists
read as people type them: industry=biomedicine,marine). Build links from the parsed Filter
(`Filter.query_items()`), never from the raw request: bodies are cached per filter, so a link
must not carry one visitor's spelling of the query. Absolute URLs for OGC documents and
/api/layers come from flask.url_for(..., _external=True). Both carry the plan prefix of the
request (/plans/<id>: web/plans.py), so a plan's pages link to that plan.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import has_request_context, request


def link(path: str, **params) -> str:
    """`path` with the given non-empty parameters as its query string; a path from the site's
    root ("/stats") gets the request's plan prefix (/plans/<id>, web/plans.py) in front."""
    query = urlencode({k: v for k, v in params.items() if v}, safe=",")
    if path.startswith("/") and has_request_context():
        path = request.script_root + path
    return f"{path}?{query}" if query else path
