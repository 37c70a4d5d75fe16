"""/admin/drafts: draft a plan's map from its text, review it, publish it (issue 20).

Same sign-in, CSRF and no-cache rules as /admin/import (geoapp.web.admin's guard runs first).
The plan text is data: it reaches the page only through Jinja's autoescaping (no |safe on any
text from the upload) and the map only as JSON inside a <script type="application/json">.
"""
from __future__ import annotations

import json
import re


from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from geoapp import vocab
from geoapp.ingest.drafts import load_gazetteer, review
from geoapp.ingest.drafts.extract import draft as make_draft
from geoapp.ingest.drafts.extract import how_zh
from geoapp.ingest.drafts.folder import DraftError, decode_text
from geoapp.web import admin, context

bp = Blueprint("drafts", __name__)


@bp.before_request
def guard():
    return admin.guard()


@bp.after_request
def never_cache(response: Response) -> Response:
    return admin.never_cache(response)


def _bad(message: str, status: int = 400) -> Response:
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def _workbench() -> review.Workbench:
    return review.Workbench(context.registry().data_dir)


def _gazetteer(province_only: bool):
    registry = context.registry()
    return load_gazetteer(registry.data_dir, province_only=province_only, registry=registry)


def _who() -> str:
    return (request.form.get("who") or "").strip()[:80] or "admin"


@bp.get("/admin/drafts")
def index():
    bench = _workbench()
    return render_template("admin_drafts.html", drafts=bench.list(), published=bench.published(),
                           csrf_token=generate_csrf())


@bp.post("/admin/drafts")
def create():
    plan_id = (request.form.get("plan") or "").strip()
    upload = request.files.get("file")
    try:
        if upload is not None and upload.filename:
            data, name = upload.read(), upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:120]
        else:
            data, name = (request.form.get("text") or "").encode("utf-8"), f"{plan_id or 'plan'}.txt"
        text = decode_text(data, "the uploaded text" if upload and upload.filename else "the pasted text")
        province_only = request.form.get("province_only") == "1"
        result = make_draft(text, _gazetteer(province_only), province_only=province_only)
        text_name = name if name.endswith(".txt") and "/" not in name and not name.startswith(".") \
            else f"{plan_id}.txt"
        token = _workbench().create(result, plan_id, text_name, _who())
    except DraftError as error:
        bench = _workbench()
        return render_template("admin_drafts.html", drafts=bench.list(), published=bench.published(),
                               refused=str(error), csrf_token=generate_csrf()), 400
    return redirect(url_for("drafts.show", token=token), code=303)


def _load(token: str):
    try:
        return _workbench().load(token)
    except KeyError:
        abort(_bad("this draft is unknown (it may have been published and removed); start a new one", 404))


def _segments(text: str, start: int, end: int, marks: list[tuple[int, int, str, str]]):
    """Pieces of text[start:end]: (text, mark) with mark None or (kind, id, status)."""
    pieces, position = [], start
    for a, b, kind, ident, status in sorted(m for m in marks if m[0] < end and m[1] > start):
        a, b = max(a, start), min(b, end)
        if a < position:
            continue  # overlapping marks: the first one wins
        if a > position:
            pieces.append((text[position:a], None))
        pieces.append((text[a:b], (kind, ident, status)))
        position = b
    if position < end:
        pieces.append((text[position:end], None))
    return pieces


def _sections_view(draft) -> list[dict]:
    text = draft.text
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    marks = [(m.start, m.end, "place", p.id, p.status) for p in draft.places for m in p.mentions]
    marks += [(t.start, t.end, "target", f"{task.id}-{n}", t.status)
              for task in draft.tasks for n, t in enumerate(task.targets)]
    # the sections as blocks that do not overlap: each block runs to the next heading
    starts = sorted({s["first_line"] for s in draft.sections})
    heads = {s["first_line"]: s for s in draft.sections}
    blocks = []
    first = starts[0] if starts else 1
    if first > 1:
        blocks.append({"ref": "", "heading": "", "start": 0, "end": line_starts[first - 1]})
    for i, line in enumerate(starts):
        a = line_starts[line - 1]
        b = line_starts[starts[i + 1] - 1] if i + 1 < len(starts) else len(text)
        blocks.append({"ref": heads[line]["ref"], "heading": heads[line]["heading"], "start": a, "end": b})
    for block in blocks:
        block["pieces"] = _segments(text, block["start"], block["end"], marks)
        block["count"] = sum(1 for _, mark in block["pieces"] if mark and mark[0] == "place")
    return blocks


def _map_data(draft, gazetteer) -> dict:
    units = gazetteer.units
    return {"places": [{"id": p.id, "name": p.name_zh, "name_en": p.name_en, "lon": p.lon, "lat": p.lat,
                        "status": p.status, "precision": p.location_precision,
                        "kind": vocab.label(vocab.KINDS, p.kind), "known": bool(p.registry_id),
                        "where": units[p.district_adcode or p.city_adcode].name_zh
                        if (p.district_adcode or p.city_adcode) in units else "辽宁省"}
                       for p in draft.places]}


@bp.get("/admin/drafts/<token>")
def show(token: str):
    draft, meta = _load(token)
    gazetteer = _gazetteer(draft.province_only)
    units = gazetteer.units
    cities = sorted((u for u in units.values() if u.level == "city"), key=lambda u: u.adcode)
    districts = {c.adcode: sorted((u for u in units.values() if u.parent == c.adcode), key=lambda u: u.adcode)
                 for c in cities}
    outline = json.loads(context.registry().display["city"][["adcode", "name_zh", "geometry"]].to_json())
    counts = {s: sum(1 for p in draft.places if p.status == s) for s in review.STATUSES}
    return render_template(
        "admin_draft.html", draft=draft, meta=meta, token=token, blocks=_sections_view(draft),
        units=units, cities=cities, districts=districts, kinds=vocab.KINDS, levels=vocab.LEVELS,
        precision=vocab.LOCATION_PRECISION, counts=counts,
        map_data={**_map_data(draft, gazetteer), "outline": outline},
        history=_workbench().history(meta["plan_id"]), how_zh=how_zh,
        duplicates=review.likely_duplicates(draft), names={p.id: p.name_zh for p in draft.places},
        csrf_token=generate_csrf())


def _adcode(value: str, province_only: bool) -> str:
    """The adcode of what the reviewer typed or chose: '210112 浑南区（沈阳市）', '210112' or '浑南区'."""
    value = value.strip()
    if m := re.match(r"(\d{6})\b", value):
        return m.group(1)
    if not value:
        return ""
    codes = _gazetteer(province_only).forms.get(value, ())
    if len(codes) != 1:
        raise DraftError(f"'{value}' is not one city or district of the province: choose from the list "
                         "(e.g. 210112 浑南区)")
    return codes[0]


@bp.post("/admin/drafts/<token>/places/<place_id>")
def act(token: str, place_id: str):
    bench = _workbench()
    action = (request.form.get("action") or "").strip()
    with bench.locked(f"draft-{token}"):
        draft, meta = _load(token)
        try:
            if action in ("accept", "reject", "propose"):
                message = review.set_status(draft, place_id, {"accept": "accepted", "reject": "rejected",
                                                              "propose": "proposed"}[action])
            elif action == "rename":
                message = review.rename(draft, place_id, request.form.get("name_zh", ""),
                                        request.form.get("name_en", ""))
            elif action == "relocate":
                lon, lat = request.form.get("lon", "").strip(), request.form.get("lat", "").strip()
                adcode = _adcode(request.form.get("adcode") or "", draft.province_only)
                point = None
                if not adcode and lon and lat:
                    try:
                        point = float(lon), float(lat)
                    except ValueError:
                        raise DraftError(f"'{lon}', '{lat}' are not decimal degrees") from None
                if not adcode and point is None:
                    raise DraftError("relocate: choose a district or city, or click the map")
                message = review.relocate(draft, place_id, _gazetteer(draft.province_only), adcode=adcode,
                                          lon=point[0] if point else None, lat=point[1] if point else None,
                                          districts=context.registry().boundaries["district"])
            elif action == "merge":
                message = review.merge(draft, place_id, (request.form.get("into") or "").strip())
            else:
                raise DraftError(f"action '{action}' is not allowed; allowed: accept, reject, propose, "
                                 "rename, relocate, merge")
        except KeyError as error:
            return _bad(f"no place '{error.args[0]}' in this draft", 404)
        except review.ReviewConflict as error:
            return _bad(str(error), 409)
        except DraftError as error:
            return _bad(str(error), 400)
        bench.save(token, draft)
    flash(message)
    return redirect(url_for("drafts.show", token=token) + f"#place-{place_id}", code=303)


@bp.post("/admin/drafts/<token>/targets/<task_id>/<int:number>")
def target(token: str, task_id: str, number: int):
    bench = _workbench()
    with bench.locked(f"draft-{token}"):
        draft, _meta = _load(token)
        try:
            message = review.edit_target(draft, task_id, number, (request.form.get("action") or "").strip(),
                                         request.form.get("metric_zh", ""), request.form.get("metric_en", ""),
                                         (request.form.get("stated_as") or "").strip())
        except KeyError:
            return _bad(f"no target {task_id}/{number} in this draft", 404)
        except DraftError as error:
            return _bad(str(error), 400)
        bench.save(token, draft)
    flash(message)
    return redirect(url_for("drafts.show", token=token) + f"#target-{task_id}-{number}", code=303)


@bp.post("/admin/drafts/<token>/titles")
def titles(token: str):
    bench = _workbench()
    with bench.locked(f"draft-{token}"):
        draft, meta = _load(token)
        try:
            message = review.set_titles(draft, meta, request.form.get("title_zh", ""),
                                        request.form.get("title_en", ""))
        except DraftError as error:
            return _bad(str(error), 400)
        bench.save(token, draft, meta)
    flash(message)
    return redirect(url_for("drafts.show", token=token), code=303)


@bp.post("/admin/drafts/<token>/accept-all")
def accept_all(token: str):
    """Accept every proposal still undecided whose confidence is at least `min` (default 0.75)."""
    bench = _workbench()
    try:
        floor = float(request.form.get("min") or 0.75)
    except ValueError:
        return _bad("min: a confidence between 0 and 1, e.g. 0.75")
    with bench.locked(f"draft-{token}"):
        draft, _meta = _load(token)
        changed = 0
        for place in draft.places:
            if place.status == "proposed" and place.confidence >= floor:
                place.status, changed = "accepted", changed + 1
        bench.save(token, draft)
    flash(f"{changed} 个提议已接受 / proposals accepted (confidence ≥ {floor:.2f})")
    return redirect(url_for("drafts.show", token=token), code=303)


def _reload_service() -> str:
    """Have the running service read the data folder again, with the plans it now holds (the one
    just published or taken down included); say so on the page when it cannot."""
    try:
        from geoapp.data.plans import load_plans
    except ImportError:  # an atlas without plans as data: the data folder is read at (re)start
        return " 服务在 `make reload` 后显示它 / the service shows it after `make reload`."
    try:
        plans, problems = load_plans(context.registry().data_dir)
        if problems:
            raise ValueError("; ".join(str(p) for p in problems[:3]))
        atlas = context.atlas()
        # the plans the folder now holds; the default plan always stays served
        atlas.switch(reload=True, plans=list(dict.fromkeys([atlas.default_plan, *plans])))
    except Exception as error:  # noqa: BLE001 - the page says why; the data served stays as it was
        message = str(error).splitlines()[0][:300]
        return (f" 服务仍在提供原数据（{message}）；修正后 `make reload` / the service still serves the "
                f"data it had ({message}); fix it, then `make reload`.")
    return " 服务已载入 / the service has loaded it."


@bp.post("/admin/drafts/<token>/publish")
def publish(token: str):
    bench = _workbench()
    draft, meta = _load(token)
    gazetteer = _gazetteer(draft.province_only)
    try:
        version = bench.publish(token, gazetteer.units, _who())
    except review.ReviewConflict as error:
        return _bad(str(error), 409)
    except DraftError as error:
        return _bad(str(error), 400)
    flash(f"已发布 {meta['plan_id']} 第 {version} 版 / Published {meta['plan_id']} version {version}."
          + _reload_service())
    return redirect(url_for("drafts.show", token=token), code=303)


@bp.post("/admin/drafts/revert")
def revert():
    plan_id = (request.form.get("plan") or "").strip()
    raw = (request.form.get("version") or "").strip()
    if not raw.isascii() or not raw.isdigit():
        return _bad(f"version: '{raw}' is not a version number (0 takes the plan down)")
    try:
        version = _workbench().revert(plan_id, int(raw), _who())
    except DraftError as error:
        return _bad(str(error), 400)
    flash(f"{plan_id}: 已恢复到第 {raw} 版（记为第 {version} 版）/ reverted to version {raw} "
          f"(recorded as version {version})." + _reload_service())
    back = request.form.get("back") or ""
    if back and review.TOKEN.match(back):
        return redirect(url_for("drafts.show", token=back), code=303)
    return redirect(url_for("drafts.index"), code=303)


