"""Two plans side by side (analysis.compare): /compare?a=<plan>&b=<plan> (page with both plans'
places on one map, told apart by style), GET /api/compare (JSON), /compare/<table>.<csv|xlsx>
(one spreadsheet writer) and /compare/cities/<adcode> (a printable brief per city: its places,
tasks, scorecard rows and what changed).

`a` and `b` are plan ids of data/plans/ (default: the default plan, and the first other plan);
the filter (industry, city, level, kind) is applied to both plans alike.
"""
from __future__ import annotations

import pandas as pd
import shapely
from flask import Blueprint, current_app, jsonify, render_template, request
from shapely.geometry import mapping

from geoapp import vocab
from geoapp.analysis import compare as cmp
from geoapp.analysis.scorecard import STATUSES as SCORE_STATUSES
from geoapp.analysis.scorecard import build_scorecard
from geoapp.export.spreadsheet import CSV_TYPE, XLSX_TYPE, Sheet, csv_bytes, xlsx_bytes
from geoapp.filters import Filter
from geoapp.web.charts import SCORECARD_COLOURS
from geoapp.web.context import atlas, catalog, current_filter, current_lang, plan_id, registry, translator
from geoapp.web.serving import cached_body, send_body
from geoapp.web.tables import unit_label
from geoapp.web.urls import link

bp = Blueprint("compare", __name__)

STATUS_STYLE = {"continued": "#4d7ea8", "dropped": "#b2182b", "new": "#1b7837"}
TABLES = {
    "cities": ("各市对比", "Cities compared"),
    "places": ("地点对比", "Places compared"),
    "tasks": ("任务对比", "Tasks compared"),
    "industries": ("产业对比", "Industries compared"),
    "targets": ("目标对比", "Targets compared"),
}


class PlanError(ValueError):
    def __init__(self, param: str, value: str, allowed: list[str]):
        self.param, self.value, self.allowed = param, value, allowed
        super().__init__(f"unknown plan '{value}' for {param}; allowed: {', '.join(allowed)}")


def plan_ids() -> list[str]:
    """The plans of data/plans/, the default first."""
    ids = list(atlas().plan_ids)
    default = atlas().default_plan
    return [default] + [i for i in ids if i != default]


def plan_view(pid: str):
    """That plan's registry (with imported layers): the request's own, or the plan's bundle."""
    return registry() if pid == plan_id() else atlas().bundle(pid).registry


def _plan_meta(view) -> tuple[str, tuple[str, str], dict, dict, tuple[int, int] | None]:
    plan = view.plan  # the plan's manifest: id, titles, groups of kinds, industries, period
    groups = {gid: (group.label, tuple(group.kinds)) for gid, group in plan.groups.items()}
    return plan.id, tuple(plan.titles["short"]), groups, dict(plan.industries), tuple(plan.period)


def chosen_plans() -> tuple[str, str]:
    ids = plan_ids()
    a = request.args.get("a", "").strip() or ids[0]
    b = request.args.get("b", "").strip() or (ids[1] if len(ids) > 1 else ids[0])
    for param, value in (("a", a), ("b", b)):
        if value not in ids:
            raise PlanError(param, value, ids)
    return a, b


def plan_catalog(pid: str):
    """That plan's catalog (its imported layers in PostGIS: their figures' groups)."""
    return catalog() if pid == plan_id() else atlas().bundle(pid).catalog


def plan_place_groups(pid: str):
    """(every counted place of a layer in PostGIS as groups, those with a plan reference) or
    (None, None). An imported row keeps the plan references it carries in every plan's view (the
    imported layers join each plan's registry as they are: Registry.with_layers)."""
    if not catalog().sql:  # every plan reads the same store: no layer in PostGIS here, none there
        return None, None
    found = plan_catalog(pid).place_groups()
    if found is None:
        return None, None
    return found, plan_catalog(pid).place_groups(cited=True)


def comparison(a: str, b: str, flt: Filter) -> cmp.Comparison:
    cities = registry().boundaries["city"]
    sides = []
    for pid in (a, b):
        view = plan_view(pid)
        _, title, groups, industries, _ = _plan_meta(view)
        every_groups, cited = plan_place_groups(pid)
        sides.append(cmp.make_side(pid, title, view.tasks, view.counted_places(), view.boundaries, flt,
                                   groups, industries, every_groups, cited))
    return cmp.compare(sides[0], sides[1], cities)


def _number(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (bool, str)):
        return value
    value = float(value)
    return int(value) if value.is_integer() else value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _number(v) for k, v in row.items()} for row in frame.to_dict("records")]


def document(c: cmp.Comparison, flt: Filter) -> dict:
    groups = {g: {"zh": label[0], "en": label[1]}
              for side in (c.a, c.b) for g, (label, _) in side.groups.items()}
    return {
        "a": {"id": c.a.id, "title": {"zh": c.a.title[0], "en": c.a.title[1]}},
        "b": {"id": c.b.id, "title": {"zh": c.b.title[0], "en": c.b.title[1]}},
        "filter": flt.query_items(),
        "statuses": {k: {"zh": v[0], "en": v[1]} for k, v in cmp.STATUSES.items()},
        "groups": groups,
        "summary": c.summary(),
        # places of a layer in PostGIS: counted in summary/cities/industries, not rows of `places`
        "places_not_listed": {s: int(c.unlisted[s].sum()) if c.unlisted is not None else 0 for s in cmp.STATUSES},
        "cities": _records(c.cities),
        "places": _records(c.places),
        "tasks": _records(c.tasks),
        "industries": _records(c.industries),
        "targets": _records(c.targets),
    }


def _key(a: str, b: str, flt: Filter, *rest) -> tuple:
    return ("compare", a, b, flt.key(), *rest)


@bp.get("/api/compare")
def api_compare():
    a, b = chosen_plans()
    flt = current_filter()

    def build():
        body = current_app.json.dumps(document(comparison(a, b, flt), flt)) + "\n"
        return body.encode("utf-8"), "application/json"
    return send_body(cached_body(_key(a, b, flt, "json"), build))


# --- downloads ------------------------------------------------------------------------------------

def table_sheet(name: str, c: cmp.Comparison, lang: str) -> Sheet:
    t = translator(lang)
    a_label, b_label = vocab.pick(c.a.title, lang), vocab.pick(c.b.title, lang)
    frame = getattr(c, name).copy()
    if "status" in frame:
        frame.insert(0, "status_label", frame["status"].map(lambda s: vocab.pick(cmp.STATUSES[s], lang)))
    columns = []
    for column in frame.columns:
        label = column
        if column.endswith("_a"):
            label = f"{column[:-2]} ({a_label})"
        elif column.endswith("_b"):
            label = f"{column[:-2]} ({b_label})"
        elif column == "status_label":
            label = t("变化", "Change")
        columns.append(label)
    rows = [[_number(v) for v in row] for row in frame.itertuples(index=False)]
    notes = [t(f"A：{a_label}（{c.a.id}）；B：{b_label}（{c.b.id}）", f"A: {a_label} ({c.a.id}); B: {b_label} ({c.b.id})"),
             t("延续 = 两个规划都有；取消 = 只在 A；新增 = 只在 B。先按登记编号、再按简称匹配。",
               "continued = in both plans; dropped = only in A; new = only in B. Matched by registry id, then short name.")]
    return Sheet(vocab.pick(TABLES[name], lang), columns, rows, notes)


@bp.get("/compare/<any(" + ", ".join(TABLES) + "):name>.<any(csv, xlsx):fmt>")
def compare_table(name: str, fmt: str):
    a, b = chosen_plans()
    flt, lang = current_filter(), current_lang()

    def build():
        sheet = table_sheet(name, comparison(a, b, flt), lang)
        return (csv_bytes(sheet) if fmt == "csv" else xlsx_bytes([sheet])), (CSV_TYPE if fmt == "csv" else XLSX_TYPE)
    from geoapp.web import tables
    from geoapp.web.stats import table_context
    body = cached_body(_key(a, b, flt, name, fmt, lang), build)
    return send_body(body, download_name=tables.download_names(TABLES[name], f"compare-{name}", flt,
                                                               table_context(lang), fmt, (f"{a}-{b}", f"{a}-{b}")))


# --- the page -------------------------------------------------------------------------------------

def _features(c: cmp.Comparison, lang: str) -> dict:
    """Both plans' places as one GeoJSON, each with its status (the map styles by it)."""
    geometry = {}
    for side in (c.a, c.b):
        for pid, geom in zip(side.view.places["id"], side.view.places.geometry):
            geometry.setdefault(pid, geom)
    names = {}
    for side in (c.a, c.b):
        for pid, zh, en in zip(side.view.places["id"], side.view.places["name_zh"], side.view.places["name_en"]):
            names[pid] = vocab.pick((zh, en or zh), lang)
    features = []
    for r in c.places.itertuples():
        pid = r.id_b or r.id_a
        geom = geometry.get(pid)
        if geom is None or geom.is_empty:
            continue
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(point.x, 5), round(point.y, 5)]},
                         "properties": {"status": r.status, "name": names.get(pid, r.name_zh),
                                        "label": vocab.pick(cmp.STATUSES[r.status], lang),
                                        "city": r.city_adcode, "area": geom.geom_type != "Point"}})
    return {"type": "FeatureCollection", "features": features}


def _outlines() -> dict:
    """The 14 city outlines, simplified (~1 km), as the comparison map's base (no tiles needed)."""
    cities = registry().display["city"]
    simple = shapely.set_precision(cities.geometry.simplify(0.01, preserve_topology=True).values, 0.0001)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(g), "properties": {"adcode": code, "name_zh": zh, "name_en": en}}
        for code, zh, en, g in zip(cities["adcode"], cities["name_zh"], cities["name_en"], simple)]}


def page_context(a: str, b: str, flt: Filter, lang: str) -> dict:
    c = comparison(a, b, flt)
    t = translator(lang)
    plans = [(pid, vocab.pick(_plan_meta(plan_view(pid))[1], lang)) for pid in plan_ids()]
    groups = list(dict.fromkeys(list(c.a.groups) + list(c.b.groups)))
    group_labels = {g: vocab.pick((c.b.groups.get(g) or c.a.groups.get(g))[0], lang) for g in groups}
    name_col = vocab.pick(("name_zh", "name_en"), lang)
    city_rows = []
    for r in c.cities.to_dict("records"):
        changes = c.city_changes(r["city_adcode"])
        city_rows.append({**r, "name": r[name_col], "groups": [(group_labels[g], r[f"{g}_a"], r[f"{g}_b"], r[f"{g}_change"]) for g in groups],
                          "dropped_places": changes["places"]["dropped"]["name_zh" if lang != "en" else "name_en"].tolist(),
                          "new_places": changes["places"]["new"]["name_zh" if lang != "en" else "name_en"].tolist(),
                          "dropped_tasks": changes["tasks"]["dropped"][vocab.pick(("title_zh", "title_en"), lang)].tolist(),
                          "new_tasks": changes["tasks"]["new"][vocab.pick(("title_zh", "title_en"), lang)].tolist(),
                          "brief": link(f"/compare/cities/{r['city_adcode']}", a=a, b=b, **flt.query_items(),
                                        lang=lang if lang == "en" else "")})
    query = {"a": a, "b": b, **flt.query_items(), **({"lang": "en"} if lang == "en" else {})}
    return {
        "lang": lang, "t": t, "a": c.a, "b": c.b, "a_title": vocab.pick(c.a.title, lang),
        "b_title": vocab.pick(c.b.title, lang), "plans": plans, "flt": flt, "summary": c.summary(),
        "statuses": [(k, vocab.pick(v, lang), STATUS_STYLE[k]) for k, v in cmp.STATUSES.items()],
        "status_labels": {k: vocab.pick(v, lang) for k, v in cmp.STATUSES.items()},
        "status_colours": STATUS_STYLE, "cities": city_rows,
        "not_listed": ({s: int(c.unlisted[s].sum()) for s in cmp.STATUSES}
                       if c.unlisted is not None and int(c.unlisted[list(cmp.STATUSES)].to_numpy().sum()) else None), "groups": [(g, group_labels[g]) for g in groups],
        "places": c.places.assign(kind_label=c.places["kind"].map(lambda k: vocab.label(vocab.KINDS, k, lang) if k else ""),
                                  name=c.places[vocab.pick(("name_zh", "name_en"), lang)]
                                  .where(c.places[vocab.pick(("name_zh", "name_en"), lang)] != "", c.places["name_zh"]))
                 .to_dict("records"),
        "tasks": c.tasks.assign(title=c.tasks[vocab.pick(("title_zh", "title_en"), lang)]).to_dict("records"),
        "industries": c.industries.assign(label=c.industries[vocab.pick(("label_zh", "label_en"), lang)]).to_dict("records"),
        "targets": [{**r, "metric": r[vocab.pick(("metric_zh", "metric_en"), lang)], "unit": unit_label(r["unit_zh"] or "", lang),
                     "value_a": _number(r["value_a"]), "value_b": _number(r["value_b"]), "change": _number(r["change"]),
                     "year_a": _number(r["year_a"]), "year_b": _number(r["year_b"])}
                    for r in c.targets.to_dict("records") if r["status"] != "continued" or r["change"]],
        "city_names": dict(zip(c.cities["city_adcode"], c.cities[name_col])),
        "features": _features(c, lang), "outlines": _outlines(),
        "query": query, "link": link,
        "downloads": [(name, vocab.pick(title, lang), link(f"/compare/{name}.xlsx", **query),
                       link(f"/compare/{name}.csv", **query)) for name, title in TABLES.items()],
        "json": link("/api/compare", **{k: v for k, v in query.items() if k != "lang"}),
        "other_lang": link("/compare", **{**query, "lang": "" if lang == "en" else "en"}),
        "levels_menu": [(code, vocab.label(vocab.LEVELS, code, lang)) for code in vocab.LEVELS],
        "kinds_menu": [(code, vocab.label(vocab.KINDS, code, lang)) for code in vocab.KINDS],
        # both plans' industries (a plan's own vocabulary once plans are data)
        "industries_menu": [(code, vocab.pick(label, lang)) for code, label in {**c.a.industries, **c.b.industries}.items()],
    }


@bp.get("/compare")
def compare_page():
    a, b = chosen_plans()
    flt, lang = current_filter(), current_lang()

    def build():
        html = render_template("compare.html", **page_context(a, b, flt, lang))
        return html.encode("utf-8"), "text/html; charset=utf-8"
    return send_body(cached_body(_key(a, b, flt, "page", lang), build))


# --- the printable brief per city ------------------------------------------------------------------

def _scorecard_rows(pid: str, adcode: str, touched: set[str], lang: str) -> list[dict]:
    view = plan_view(pid)
    from geoapp.web.scorecard import plan_period
    card = build_scorecard(view.tasks, getattr(view, "outcomes", None) or _no_outcomes(), view.counted_places(),
                           plan_period(view), groups=plan_place_groups(pid)[0])
    rows = []
    for r in card.for_city(adcode, touched).itertuples():
        rows.append({"metric": vocab.pick((r.metric_zh, r.metric_en), lang),
                     "target": f"{_number(r.target_value)} {unit_label(r.unit_zh or '', lang)}".strip(),
                     "when": "" if pd.isna(r.target_year) else int(r.target_year),
                     "outcome": "" if pd.isna(r.outcome_value) else f"{_number(r.outcome_value)}"
                     + ("" if pd.isna(r.outcome_year) else f"（{int(r.outcome_year)}）"),
                     "status": vocab.pick(SCORE_STATUSES[r.status], lang), "colour": SCORECARD_COLOURS[r.status],
                     "source": r.source_title})
    return rows


def _no_outcomes():
    from geoapp.data.outcomes import Outcomes
    return Outcomes()


@bp.get("/compare/cities/<adcode>")
def city_brief(adcode: str):
    a, b = chosen_plans()
    flt, lang = current_filter(), current_lang()
    cities = registry().boundaries["city"]
    if adcode not in set(cities["adcode"]):
        return jsonify({"error": "not_found", "message": f"no city with adcode '{adcode}'",
                        "allowed": list(cities["adcode"])}), 404

    def build():
        c = comparison(a, b, flt)
        t = translator(lang)
        row = c.cities.set_index("city_adcode").loc[adcode]
        changes = c.city_changes(adcode)
        name = row[vocab.pick(("name_zh", "name_en"), lang)]
        places = {s: frame.assign(name=frame[vocab.pick(("name_zh", "name_en"), lang)].where(
            frame[vocab.pick(("name_zh", "name_en"), lang)] != "", frame["name_zh"])).to_dict("records")
            for s, frame in changes["places"].items()}
        tasks = {s: frame.assign(title=frame[vocab.pick(("title_zh", "title_en"), lang)]).to_dict("records")
                 for s, frame in changes["tasks"].items()}
        touched_a = {r["id_a"] for s in ("continued", "dropped") for r in tasks[s] if r["id_a"]}
        touched_b = {r["id_b"] for s in ("continued", "new") for r in tasks[s] if r["id_b"]}
        groups = list(dict.fromkeys(list(c.a.groups) + list(c.b.groups)))
        html = render_template(
            "compare_brief.html", lang=lang, t=t, name=name, adcode=adcode, row=row,
            a_title=vocab.pick(c.a.title, lang), b_title=vocab.pick(c.b.title, lang), a=c.a, b=c.b,
            groups=[(vocab.pick((c.b.groups.get(g) or c.a.groups.get(g))[0], lang), row[f"{g}_a"], row[f"{g}_b"],
                     row[f"{g}_change"]) for g in groups],
            places=places, tasks=tasks, status_labels={k: vocab.pick(v, lang) for k, v in cmp.STATUSES.items()},
            status_colours=STATUS_STYLE,
            score_a=_scorecard_rows(a, adcode, touched_a, lang),
            score_b=_scorecard_rows(b, adcode, touched_b, lang) if b != a else [],
            back=link("/compare", a=a, b=b, **flt.query_items(), lang=lang if lang == "en" else ""),
            filter_words=flt.query_items())
        return html.encode("utf-8"), "text/html; charset=utf-8"
    return send_body(cached_body(_key(a, b, flt, "brief", adcode, lang), build))


def init_compare(app) -> None:
    @app.errorhandler(PlanError)
    def bad_plan(error: PlanError):
        body = {"error": "bad_request", "parameter": error.param, "value": error.value,
                "message": str(error), "allowed": error.allowed}
        if request.accept_mimetypes.accept_html and not request.path.startswith("/api"):
            return render_template("error.html", error=body), 400
        return jsonify(body), 400
