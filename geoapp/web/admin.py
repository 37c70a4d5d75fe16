"""/admin/import: the data office's import page (upload, preview of problems and diff, commit,
history, revert). The same checks and store as `python -m geoapp.data import`.

Enabled only when ATLAS_ADMIN_TOKEN is set (otherwise 404: the page does not exist); a token of
fewer than MIN_TOKEN_CHARS characters stops start-up (AdminTokenError). Access: the token once
through the login form (then a signed, HttpOnly, SameSite=Strict session cookie, Secure when the
page is served over HTTPS, naming a session that logout revokes on every worker and host:
web/admin_sessions.py) or an `Authorization: Bearer <token>` header; no or a bad token -> 401 /
403 and nothing changes; after MAX_FAILURES wrong tokens from one address within a minute, 429.
Every form POST carries a CSRF token (Flask-WTF) unless the request authenticates by header.
Uploads are limited to ATLAS_ADMIN_MAX_UPLOAD bytes (413 beyond). Responses are never cached.
Uploaded text reaches the page only through Jinja's autoescaping: shown literally.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import (Blueprint, Response, abort, current_app, flash, has_request_context, redirect,
                   render_template, request, session, url_for)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from geoapp import vocab
from geoapp.ingest import failures, service
from geoapp.ingest.coords import CRS_CHOICES, CRS_LABELS
from geoapp.ingest.read import FORMATS
from geoapp.ingest.store import REJECTED_PREFIX, StoreConflict, StoreError
from geoapp.web.admin_sessions import MAX_FAILURES, WINDOW_S, AdminSessions, SessionStoreError
from geoapp.web import context

bp = Blueprint("admin", __name__)
MAX_UPLOAD = 20 * 1024 * 1024
PREVIEW_ROWS = 20
MAP_POINTS = 3000    # points drawn on the preview map (the first N of the file; the page says so)


MIN_TOKEN_CHARS = 16
LOOPBACK = ("127.0.0.1", "::1", "")


class AdminTokenError(ValueError):
    """ATLAS_ADMIN_TOKEN is too weak to guard the import page: the app does not start."""


def init_admin(app) -> None:
    """Session settings for the admin forms (called by create_app); refuses a weak token."""
    token = app.config.get("ATLAS_ADMIN_TOKEN") or ""
    if token and len(token) < MIN_TOKEN_CHARS:
        raise AdminTokenError(
            f"ATLAS_ADMIN_TOKEN has {len(token)} character(s); at least {MIN_TOKEN_CHARS} are required "
            "(for example the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'). "
            "Unset it to run without /admin/import. / 管理口令太短：至少需要 16 个字符。")
    if token and not app.config.get("SECRET_KEY"):
        # Same key in every worker and host that shares the token; never the token itself.
        app.config["SECRET_KEY"] = hmac.new(token.encode(), b"atlas-admin-session", hashlib.sha256).hexdigest()
    # Flask sets these keys itself (SameSite None), so setdefault would change nothing.
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.session_interface = _SessionInterface()
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    if token and "atlas" in app.extensions:
        app.extensions["atlas.admin_sessions"] = AdminSessions(app.extensions["atlas"].store)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request came over HTTPS (directly, or
    through the local nginx, which says so in X-Forwarded-Proto)."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (has_request_context() and _over_https())


def _from_local_proxy() -> bool:
    remote = request.remote_addr or ""
    return remote in LOOPBACK or "/" in remote   # loopback or gunicorn's unix socket (nginx)


def _over_https() -> bool:
    if request.is_secure:
        return True
    return _from_local_proxy() and request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _client() -> str:
    """The address wrong tokens are counted for: the nearest address nginx saw when the request
    came through it (the last X-Forwarded-For entry, which nginx appends), else the peer's."""
    if _from_local_proxy():
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        if forwarded[-1]:
            return forwarded[-1]
    return request.remote_addr or "local"


def _sessions() -> AdminSessions:
    return current_app.extensions["atlas.admin_sessions"]


def _store_down(error: SessionStoreError) -> Response:
    return _deny(503, f"暂时无法登录：数据存储不可用 / Sign-in is not possible now: {error}; try again shortly",
                 {"Retry-After": "30"})


def _too_many() -> Response:
    wait = _sessions().retry_after(_client())
    return _deny(429, f"登录失败次数过多，请 {wait} 秒后再试 / More than {MAX_FAILURES} wrong admin tokens "
                      f"from this address within {WINDOW_S} s; try again in {wait} s",
                 {"Retry-After": str(wait)})


def _refuse_token() -> Response:
    """A wrong token: counted for the client; 403 (or 429 once the limit is reached)."""
    _sessions().fail(_client())
    return _deny(403, "管理口令错误 / wrong admin token")


def _token() -> str:
    return current_app.config.get("ATLAS_ADMIN_TOKEN") or ""


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _valid(given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), _token().encode())


@bp.before_request
def guard():
    if not _token():
        abort(404)
    limit = int(current_app.config.get("ATLAS_ADMIN_MAX_UPLOAD", MAX_UPLOAD))
    if request.content_length is not None and request.content_length > limit:
        abort(413)              # before anything reads (and spools) the body
    request.max_content_length = limit
    if request.endpoint in ("admin.login", "admin.login_form"):
        return None
    try:
        bearer = _bearer()
        if bearer is not None:
            if _sessions().failures(_client()) >= MAX_FAILURES:
                return _too_many()
            if not _valid(bearer):
                return _refuse_token()
            request.environ["atlas.admin_by_header"] = True
            return None
        if not session.get("admin") or session.get("admin") != _session_mark() \
                or not _sessions().active(session.get("sid")):
            return _deny(401, "请用管理口令登录 / sign in with the admin token")
    except SessionStoreError as error:
        return _store_down(error)
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            return _deny(403, f"表单已过期或无效，请刷新页面再试 / CSRF check failed ({error}); reload the page and try again")
    return None


def _session_mark() -> str:
    """Changes when the token changes, so rotating the token signs everyone out."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"admin", hashlib.sha256).hexdigest()[:32]


def _deny(status: int, message: str, headers: dict | None = None) -> Response:
    response = Response(render_template("admin_login.html", message=message, status=status, lang=_lang(),
                                        csrf_token=generate_csrf()), status=status,
                        content_type="text/html; charset=utf-8", headers=headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="atlas-admin"'
    return response


@bp.after_request
def never_cache(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Pragma"] = "no-cache"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _store_failed(error):
    """A store read or write that failed (disk full, read-only, unreachable): 507/503 saying so
    and that nothing was written (each write is one transaction), never a bare 500."""
    current_app.logger.warning("admin: store failure: %s", error)
    status, message = failures.describe(error)
    return Response(message, status=status, content_type="text/plain; charset=utf-8",
                    headers={"Retry-After": "60", "Cache-Control": "no-store, private"})


for _error_class in failures.store_errors():
    bp.register_error_handler(_error_class, _store_failed)


@bp.errorhandler(413)
def too_large(_error):
    limit = int(current_app.config.get("ATLAS_ADMIN_MAX_UPLOAD", MAX_UPLOAD))
    return Response(f"文件太大：最多 {limit // (1024 * 1024)} MB，请拆分清单或使用命令行导入 / upload too large: "
                    f"at most {limit // (1024 * 1024)} MB; split the list or use "
                    "`python -m geoapp.data import`", status=413, content_type="text/plain; charset=utf-8")


@bp.get("/admin/login")
def login_form():
    """The sign-in form (a signed-in browser goes straight to the import page)."""
    if session.get("admin") and session.get("admin") == _session_mark():
        return redirect(url_for("admin.page"), code=303)
    return Response(render_template("admin_login.html", message="", status=200, lang=_lang(),
                                    csrf_token=generate_csrf()), content_type="text/html; charset=utf-8")


@bp.post("/admin/login")
def login():
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        return _deny(403, f"表单已过期或无效，请刷新页面再试 / CSRF check failed ({error}); reload the page and try again")
    try:
        if _sessions().failures(_client()) >= MAX_FAILURES:
            return _too_many()
        if not _valid(request.form.get("token")):
            return _refuse_token()
        sid = _sessions().start()
    except SessionStoreError as error:
        return _store_down(error)
    session.clear()
    session["admin"] = _session_mark()
    session["sid"] = sid
    return redirect(url_for("admin.page"), code=303)


@bp.post("/admin/logout")
def logout():
    """Revokes the session on the server: the cookie no longer signs anyone in, anywhere."""
    try:
        _sessions().revoke(session.get("sid"))
    except SessionStoreError as error:
        return _store_down(error)
    session.clear()
    return redirect(url_for("admin.page"), code=303)


@bp.context_processor
def _problem_summary():
    return {"problem_summary": service.problem_summary}


def _imported() -> dict[str, dict]:
    """The imported layers (layers/*.yaml with `imported:`) of the plan served."""
    return service.importable_layers(_base().specs)


def _base():
    """The curated registry imports are checked against (the request's plan's)."""
    return context.atlas().base(context.plan_id())


def _store():
    return context.atlas().store


def _check_soon() -> None:
    context.atlas().check_soon()  # the redirect serves the new version


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" else "zh"


def layer_titles() -> dict[str, str]:
    """Imported layer id -> '中文标题 / English title' from its layers/*.yaml spec."""
    specs = {spec.id: spec for spec in _base().specs}
    return {layer: (f"{specs[layer].title_in('zh')} / {specs[layer].title_in('en')}" if layer in specs else layer)
            for layer in _imported()}


def _context(**extra):
    store = _store()
    titles = layer_titles()
    history = store.history(include_origin=True)[:51]
    return dict(layers=list(titles.items()), titles=titles,
                crs_choices=[(c, CRS_LABELS[c]) for c in CRS_CHOICES],
                modes=[(m, service.MODE_LABELS[m]) for m in service.MODES],
                formats=", ".join(sorted(FORMATS)), history=history,
                version=store.current_version(), store_kind=store.kind, lang=_lang(),
                csrf_token=generate_csrf(), **extra)


@bp.get("/admin/import")
def page():
    return render_template("admin_import.html", **_context())


def _check_staged(token: str):
    store = _store()
    staged = store.staged(token)
    if staged is None:
        abort(Response("找不到这次上传，或已写入、已过期，请重新上传 / this upload is unknown, already committed "
                       "or expired (uploads are kept a day, an hour when they cannot be committed); upload the "
                       "file again", status=404, content_type="text/plain; charset=utf-8"))
    meta, data = staged
    check = service.check_file(data, meta["file"], meta["layer"], meta["crs"], _base(), store,
                               meta["who"], skip_invalid=meta["skip_invalid"], mode=meta["mode"])
    return meta, check


def _form_value(name: str, allowed=None, default: str = "") -> str:
    value = (request.form.get(name) or default).strip()
    if allowed is not None and value not in allowed:
        abort(Response(f"{name}: '{value}' 不是允许的值 / is not allowed; allowed: {', '.join(allowed)}",
                       status=400, content_type="text/plain; charset=utf-8"))
    return value


@bp.post("/admin/import")
def upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(Response("没有文件 / no file: choose a " + ", ".join(sorted(FORMATS)) + " file", status=400,
                       content_type="text/plain; charset=utf-8"))
    meta = {"file": upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200],
            "layer": _form_value("layer", list(_imported())),
            "crs": _form_value("crs"),        # no default: check_file says what to choose
            "mode": _form_value("mode"),
            "who": _form_value("who")[:80] or "admin",
            "skip_invalid": request.form.get("skip_invalid") == "1"}
    data = upload.read()
    upload.close()
    store = _store()
    try:
        check = service.check_file(data, meta["file"], meta["layer"], meta["crs"], _base(), store,
                                   meta["who"], skip_invalid=meta["skip_invalid"], mode=meta["mode"],
                                   samples=PREVIEW_ROWS)
    except service.ImportRefused as error:
        return render_template("admin_import.html", **_context(refused=str(error))), error.status
    # an upload that cannot be committed is kept an hour (for its rejects file), not a day
    token = ("" if check.diff else REJECTED_PREFIX) + secrets.token_urlsafe(18)
    meta["base_version"] = check.base_version
    store.stage(token, meta, data)
    return render_template("admin_import.html", **_context(
        check=check, meta=meta, token=token, samples=_samples(check), map_data=_map_data(check),
        crs_label=CRS_LABELS.get(meta["crs"], meta["crs"]),
        mode_label=service.MODE_LABELS[meta["mode"]])), (200 if check.diff else 422)


def _named(record: dict, names: dict[str, str]) -> dict:
    """A stored row as the clerk reads it: city, district, kind, level and precision by name."""
    return {**record,
            "city": names.get(record.get("city_adcode", ""), record.get("city_adcode", "")),
            "district": names.get(record.get("district_adcode", ""), record.get("district_adcode", "")),
            "kind_label": vocab.label(vocab.KINDS, record.get("kind", "")),
            "level_label": vocab.label(vocab.LEVELS, record.get("level", "")),
            "precision": vocab.label(vocab.LOCATION_PRECISION, record.get("location_precision", ""))}


def _area_names() -> dict[str, str]:
    """adcode -> Chinese name of every city and district (114 rows: built per request)."""
    boundaries = _base().boundaries
    names = {}
    for level in ("city", "district"):
        names.update(zip(boundaries[level]["adcode"].astype(str), boundaries[level]["name_zh"]))
    return names


def _map_data(check) -> dict:
    """The preview map: the file's points (first MAP_POINTS), marked with or without a problem,
    and the outlines of the districts they are in or name (display boundaries)."""
    prepared = check.prepared
    frame = prepared.frame
    if frame is None or not len(frame):
        return {}
    boundaries = _base().display if getattr(_base(), "display", None) else _base().boundaries
    names = _area_names()
    features = []
    for row, (_, rec) in zip(prepared.rows, frame.iloc[:MAP_POINTS].iterrows()):
        geom = rec.geometry
        if geom is None or geom.is_empty or geom.x != geom.x:
            continue
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [
            round(geom.x, 6), round(geom.y, 6)]}, "properties": {
            "name": rec["name_zh"], "row": row, "bad": row in prepared.bad_rows,
            "district": names.get(rec["district_adcode"], ""), "city": names.get(rec["city_adcode"], ""),
            "precision": rec["location_precision"]}})
    codes = {c for c in frame["district_adcode"].iloc[:MAP_POINTS] if c}
    districts = boundaries["district"][boundaries["district"]["adcode"].isin(codes)]
    import json
    outlines = json.loads(districts[["adcode", "name_zh", "geometry"]].to_json(drop_id=True))
    province = json.loads(boundaries["province"][["geometry"]].to_json(drop_id=True))
    return {"points": {"type": "FeatureCollection", "features": features}, "districts": outlines,
            "province": province,
            "total": len(frame), "drawn": len(features), "capped": len(frame) > MAP_POINTS}


def _samples(check) -> dict:
    """A few rows of each kind of change, for the preview, with names instead of codes. On a
    store that diffs in the database (PostGIS) the check fetched only these rows (check.samples,
    service.check_file(samples=PREVIEW_ROWS)); an in-memory store's check holds the whole layer."""
    if check.diff is None:
        return {}
    names = _area_names()
    if check.samples is not None:
        rows = check.samples
        added, removed, pairs = rows["added"], rows["removed"], rows["changed"]
    else:
        frame, old = check.frame, check.old
        old_by_id = {r["id"]: r for r in old.drop(columns="geometry").to_dict("records")}
        new_by_id = {r["id"]: r for r in frame.drop(columns="geometry").to_dict("records")}
        added = [new_by_id[k] for k in [k for k in new_by_id if k not in old_by_id][:PREVIEW_ROWS]]
        removed = [old_by_id[k] for k in [k for k in old_by_id if k not in new_by_id][:PREVIEW_ROWS]]
        old_geom = dict(zip(old["id"], old.geometry))
        pairs = ((new_by_id[k], old_by_id[k], geom, old_geom[k])
                 for k, geom in zip(frame["id"], frame.geometry) if k in old_by_id)
    changed = []
    for new_record, old_record, geom, old_geom_k in pairs:
        fields = [FIELD_NAMES.get(c, c) for c, v in new_record.items()
                  if c in FIELD_NAMES and old_record.get(c) != v]
        moved = not geom.equals_exact(old_geom_k, 1e-9)
        if fields or moved:
            changed.append((_named(new_record, names), fields + (["位置 / location"] if moved else [])))
        if len(changed) >= PREVIEW_ROWS:
            break
    return {"added": [_named(r, names) for r in added[:PREVIEW_ROWS]],
            "removed": [_named(r, names) for r in removed[:PREVIEW_ROWS]], "changed": changed}


FIELD_NAMES = {"name_zh": "名称 / name", "name_en": "英文名称 / English name", "kind": "类型 / kind",
               "level": "级别 / level", "city_adcode": "所在市 / city", "district_adcode": "区县 / district",
               "industries": "产业 / industries", "location_precision": "位置精度 / precision",
               "address": "地址 / address", "plan_refs": "规划条目 / plan sections", "source": "来源 / source",
               "note_zh": "备注 / note", "note_en": "英文备注 / English note"}


@bp.post("/admin/import/commit")
def commit():
    store = _store()
    token = _form_value("token")
    meta, check = _check_staged(token)
    if check.diff is not None and check.diff.removed and request.form.get("confirm_removal") != "1":
        flash(f"未写入：本次导入将删除 {check.diff.removed} 行，请勾选确认后再提交 / Not written: this import "
              f"removes {check.diff.removed} rows; tick the confirmation to commit it.")
        return redirect(url_for("admin.page"), code=303)
    try:
        # Written only if the store is still at the previewed version, checked inside the write
        # transaction: of two racing commits one wins, the other is told why.
        version, change = service.commit(check, store, meta["who"], skip_invalid=meta["skip_invalid"],
                                         expect_version=meta["base_version"])
    except StoreConflict as error:
        flash(str(error))
        return redirect(url_for("admin.page"), code=303)
    except service.ImportRefused as error:
        flash(str(error))
        return redirect(url_for("admin.page"), code=303)
    store.unstage(token)   # committed: the staged copy is not needed any more
    _check_soon()
    flash(f"版本 {version} 已写入：{change.rows} 行，新增 {change.added}、修改 {change.changed}、删除 "
          f"{change.removed} / Version {version} written: {change.rows} rows; {change.added} added, "
          f"{change.changed} changed, {change.removed} removed.")
    return redirect(url_for("admin.page"), code=303)


@bp.get("/admin/import/<token>/rejects.csv")
def rejects(token: str):
    _meta, check = _check_staged(token)
    return Response(service.rejects_csv(check.prepared), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="rejects.csv"'})


def _version_number(name: str) -> int:
    raw = _form_value(name)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        abort(Response(f"{name}: '{raw}' 不是版本号 / is not a version number", status=400,
                       content_type="text/plain; charset=utf-8"))
    return int(raw)


@bp.post("/admin/revert")
def revert():
    """First POST: the confirmation, with what the revert changes per layer. Second POST
    (confirm=1, with the version the confirmation was shown against): the revert, refused if
    another version landed in between."""
    store = _store()
    target = _version_number("version")
    raw = str(target)
    who = _form_value("who")[:80] or "admin"
    if request.form.get("confirm") != "1":
        try:
            current, changes = store.revert_preview(target)
        except StoreError as error:
            flash(str(error))
            return redirect(url_for("admin.page"), code=303)
        return render_template("admin_import.html", **_context(
            revert_target=target, revert_base=current, revert_changes=changes, who=who))
    try:
        version = store.revert(target, who, expect_version=_version_number("expect_version"))
    except StoreError as error:
        flash(str(error))
        return redirect(url_for("admin.page"), code=303)
    _check_soon()
    flash(f"版本 {version}：恢复为版本 {raw} 的数据 / Version {version}: the data of version {raw} is served again.")
    return redirect(url_for("admin.page"), code=303)
