"""Every route also under /plans/<plan_id>/…: the same pages and data for another plan.

`PlanPrefix` (WSGI middleware, wrapped around the app by create_app) moves a leading
`/plans/<plan_id>` of the path into SCRIPT_NAME and names the plan in the environ. Flask then
routes the rest as usual (`/plans/p/stats` is the `/stats` view), `request.script_root` is
`/plans/p`, and every URL built by `url_for` or `urls.link` carries the prefix, so a page of a
plan links to that plan's pages, data and downloads. Unprefixed URLs are the default plan's.
The request's Bundle is chosen by the plan id (web/context.py); an unknown id answers 404 with
the list of plans. The browser scripts read the prefix once from `<body data-base>`.
"""
from __future__ import annotations

PREFIX = "/plans/"
PLAN_ENVIRON = "atlas.plan_id"


class PlanPrefix:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            plan_id, _, rest = path[len(PREFIX):].partition("/")
            if plan_id:
                environ[PLAN_ENVIRON] = plan_id   # an unknown id: 404 with the list (context.py)
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX + plan_id
                environ["PATH_INFO"] = "/" + rest
        return self.app(environ, start_response)
