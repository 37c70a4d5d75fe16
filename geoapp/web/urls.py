"""The one URL builder for links in pages and documents.

`link(path, **params)` keeps only the non-empty parameters and leaves commas unescaped (lists
read as people type them: industry=biomedicine,marine). Build links from the parsed Filter
(`Filter.query_items()`), never from the raw request: bodies are cached per filter, so a link
must not carry one visitor's spelling of the query. Absolute URLs for OGC documents and
/api/layers come from flask.url_for(..., _external=True).
"""
from __future__ import annotations

from urllib.parse import urlencode


def link(path: str, **params) -> str:
    """`path` with the given non-empty parameters as its query string."""
    query = urlencode({k: v for k, v in params.items() if v}, safe=",")
    return f"{path}?{query}" if query else path
