"""CORS for the read-only data URLs (/ogc, /export, /api), so web GIS clients on another origin
(MapLibre, OpenLayers, Leaflet apps, notebooks in a browser) can read them.

ATLAS_CORS_ORIGINS (config or environment): `*` (default: the data is public) or a comma-separated
allow-list of origins, e.g. `https://gis.example.org,http://localhost:8080`. Only GET, HEAD and the
OPTIONS preflight are allowed. With `*` every answer is the same for every origin, so no
`Vary: Origin`; with an allow-list the answer depends on the Origin header and says so in Vary.

flask-cors does the protocol (preflight answers, echoing the allowed origin, Vary): it is the
maintained Flask extension for it, and a hand-written version gets Vary and preflight details wrong.
"""
from __future__ import annotations

import re

from flask import Flask, request
from flask_cors import CORS

PATHS = r"^/(ogc|export|api)(/.*)?$"
EXPOSED = ["ETag", "Content-Crs", "Content-Disposition", "Content-Length", "Link"]


def allowed_origins(setting: str | None) -> str | list[str]:
    origins = [o.strip().rstrip("/") for o in (setting or "*").split(",") if o.strip()]
    return "*" if not origins or "*" in origins else origins


def init_cors(app: Flask) -> None:
    origins = allowed_origins(app.config.get("ATLAS_CORS_ORIGINS"))
    paths = re.compile(PATHS)

    # Registered before flask-cors's own after_request, so it runs after it (Flask runs them in
    # reverse order). flask-cors adds a second Vary header line, and none at all when the Origin
    # is not on the list, although a shared cache must then still keep the answers apart.
    @app.after_request
    def _one_vary_header(response):
        if paths.match(request.path):
            values = [v.strip() for line in response.headers.getlist("Vary") for v in line.split(",")]
            if origins != "*":
                values.append("Origin")
            values = list(dict.fromkeys(v for v in values if v))
            if values:
                response.headers["Vary"] = ", ".join(values)
        return response

    CORS(app, resources={PATHS: {"origins": origins}}, methods=["GET", "HEAD", "OPTIONS"],
         expose_headers=EXPOSED, supports_credentials=False, max_age=86400, vary_header=True,
         always_send=False,
         send_wildcard=origins == "*")
