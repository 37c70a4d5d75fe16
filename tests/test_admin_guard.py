"""The admin page under attack (issue 19): sessions (item 7: SameSite=Strict cookie, Secure over
HTTPS, logout revokes the session on the server, a short ATLAS_ADMIN_TOKEN stops start-up, wrong
tokens are limited) and uploads beyond the read limits (item 4: 413 with a message, problems
summed up after the first ones). Uploaded rows are synthetic (合成), not places."""
import io
import re
import uuid

import pytest

from geoapp.web.admin import AdminTokenError

TOKEN = "guard-test-token-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory):
    from geoapp.web import create_app
    store = tmp_path_factory.mktemp("admin-store") / "atlas-store.sqlite"
    return create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": f"sqlite:///{store}",
                       "ATLAS_STORE_POLL": 0, "ATLAS_ADMIN_TOKEN": TOKEN})


def csrf_of(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def sign_in(client, base_url="http://localhost", **environ):
    denied = client.get("/admin/import", base_url=base_url, environ_base=environ)
    assert denied.status_code == 401
    return client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf_of(denied)},
                       base_url=base_url, environ_base=environ)


def session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_a_token_under_16_characters_stops_start_up(tmp_path):
    from geoapp.web import create_app
    with pytest.raises(AdminTokenError, match=r"15 character\(s\); at least 16 are required"):
        create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_ADMIN_TOKEN": "a" * 15,
                    "ATLAS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"})


def test_the_session_cookie_is_samesite_strict_and_httponly_and_secure_only_over_https(admin_app):
    plain = sign_in(admin_app.test_client())
    assert plain.status_code == 303
    cookie = session_cookie(plain)
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie and "Secure" not in cookie
    direct = session_cookie(sign_in(admin_app.test_client(), base_url="https://localhost"))
    assert "SameSite=Strict" in direct and "Secure" in direct
    # behind the local nginx with TLS: the proxy says https
    client = admin_app.test_client()
    denied = client.get("/admin/import")
    proxied = client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf_of(denied)},
                          headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert "Secure" in session_cookie(proxied)


def test_logout_revokes_the_session_so_the_old_cookie_no_longer_uploads(admin_app):
    client = admin_app.test_client()
    assert sign_in(client).status_code == 303
    page = client.get("/admin/import")
    assert page.status_code == 200
    old_cookie = session_cookie(sign_in(admin_app.test_client())).split(";")[0].split("=", 1)[1]
    thief = admin_app.test_client()
    thief.set_cookie("session", old_cookie)
    assert thief.get("/admin/import").status_code == 200      # the stolen cookie works ...
    other = admin_app.test_client()
    other.set_cookie("session", old_cookie)
    signed_page = other.get("/admin/import")
    assert other.post("/admin/logout", data={"csrf_token": csrf_of(signed_page)}).status_code == 303
    # ... until its session logs out: then it signs nobody in, and an upload is refused
    replay = admin_app.test_client()
    replay.set_cookie("session", old_cookie)
    response = replay.post("/admin/import", data={"csrf_token": csrf_of(signed_page), "layer": "x"})
    assert response.status_code == 401 and "sign in" in response.get_data(as_text=True)
    assert client.get("/admin/import").status_code == 200    # other sessions are not affected


def test_the_eleventh_wrong_token_within_a_minute_gets_429(admin_app):
    client = admin_app.test_client()
    address = {"X-Forwarded-For": "198.51.100.11"}
    csrf = csrf_of(client.get("/admin/import"))
    statuses = [client.post("/admin/login", data={"token": f"wrong-{i}", "csrf_token": csrf}, headers=address).status_code
                for i in range(11)]
    assert statuses == [403] * 10 + [429]
    refused = client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf}, headers=address)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "try again in" in refused.get_data(as_text=True)
    # another address is not locked out by this one
    other = client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf},
                        headers={"X-Forwarded-For": "198.51.100.12"})
    assert other.status_code == 303


def test_wrong_bearer_tokens_count_too(admin_app):
    client = admin_app.test_client()
    address = {"X-Forwarded-For": "198.51.100.21"}
    statuses = [client.get("/admin/import", headers={**address, "Authorization": f"Bearer wrong-{i}"}).status_code
                for i in range(11)]
    assert statuses == [403] * 10 + [429]
    right = client.get("/admin/import", headers={**address, "Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 429


def bearer_upload(app, name: str, data: bytes, **form):
    client = app.test_client()
    fields = {"layer": "enterprises_platforms", "crs": "wgs84", "mode": "replace", **form,
              "file": (io.BytesIO(data), name)}
    response = client.post("/admin/import", data=fields, content_type="multipart/form-data",
                           headers={"Authorization": f"Bearer {TOKEN}"})
    response.request.environ["wsgi.input"].close()
    return response


def test_the_dimension_bomb_is_refused_with_413_and_a_message(admin_app):
    from benchmarks.xlsx_bombs import dimension_bomb
    data = dimension_bomb()
    response = bearer_upload(admin_app, "bomb.xlsx", data)
    html = response.get_data(as_text=True)
    assert len(data) < 2000 and response.status_code == 413
    assert "A1:XFD1048576" in html and "at most 100,000 rows" in html


def test_a_file_with_many_bad_rows_lists_the_first_problems_and_sums_up_the_rest(admin_app):
    rows = ["名称,所在市,经度,纬度"] + [f"合成单位{i},沈阳市,abc,41.8" for i in range(260)]
    response = bearer_upload(admin_app, "bad.csv", "\n".join(rows).encode())
    html = response.get_data(as_text=True)
    listed = re.search(r'<table id="problems">.*?</table>', html, re.S).group(0)
    assert response.status_code == 422
    assert listed.count("<tr>") == 1 + 200          # header + the first 200
    assert re.search(r'id="more-problems"[^>]*>另有 60 个问题未列出 / 60 more problem', html)
    assert "rejects.csv" in html


def store_of(app):
    return app.extensions["atlas"].store


def staged_tokens(app) -> list[str]:
    conn = store_of(app).connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT token FROM atlas_uploads ORDER BY created_at")
        return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def backdate(app, token: str, seconds: float) -> None:
    conn = store_of(app).connect()
    try:
        conn.cursor().execute("UPDATE atlas_uploads SET created_at = created_at - ? WHERE token = ?", (seconds, token))
    finally:
        conn.close()


GOOD_CSV = "名称,所在市,经度,纬度\n合成单位A,沈阳市,123.43,41.80\n".encode()
BAD_CSV = "名称,所在市,经度,纬度\n合成单位B,沈阳市,abc,41.80\n".encode()


def token_of(response) -> str:
    return re.search(r'name="token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_an_upload_that_cannot_be_committed_is_kept_an_hour_not_a_day(admin_app):
    before = set(staged_tokens(admin_app))
    rejected = bearer_upload(admin_app, "bad.csv", BAD_CSV)
    accepted = bearer_upload(admin_app, "good.csv", GOOD_CSV)
    assert rejected.status_code == 422 and accepted.status_code == 200
    (bad_token,) = [t for t in set(staged_tokens(admin_app)) - before if t.startswith("r.")]
    good_token = token_of(accepted)
    assert not good_token.startswith("r.")
    backdate(admin_app, bad_token, 2 * 3600)
    backdate(admin_app, good_token, 2 * 3600)
    bearer_upload(admin_app, "good.csv", GOOD_CSV)          # staging cleans up first
    kept = staged_tokens(admin_app)
    assert bad_token not in kept and good_token in kept


def test_staged_uploads_together_stay_under_their_byte_cap(admin_app, monkeypatch):
    from geoapp.ingest import store as store_mod
    monkeypatch.setattr(store_mod, "STAGED_MAX_BYTES", 3 * len(GOOD_CSV))
    tokens = []
    for _ in range(4):
        tokens.append(token_of(bearer_upload(admin_app, "good.csv", GOOD_CSV)))
    kept = staged_tokens(admin_app)
    assert tokens[-3:] == [t for t in kept if t in tokens] and tokens[0] not in kept


def test_a_committed_upload_is_no_longer_staged(admin_app):
    version = store_of(admin_app).current_version()
    preview = bearer_upload(admin_app, "good.csv", GOOD_CSV)
    token = token_of(preview)
    done = admin_app.test_client().post("/admin/import/commit", data={"token": token, "confirm": "1"},
                                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert done.status_code == 303 and store_of(admin_app).current_version() == version + 1
    assert token not in staged_tokens(admin_app)
    assert store_of(admin_app).staged(token) is None


@pytest.fixture
def full_disk(admin_app, monkeypatch):
    """The store's SQLite file may not grow by one page: every write that needs room fails with
    SQLITE_FULL ('database or disk is full'), as on a full disk."""
    store = store_of(admin_app)
    connect = type(store).connect

    def no_room(self):
        conn = connect(self)
        pages = conn.conn.execute("PRAGMA page_count").fetchone()[0]
        conn.conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(type(store), "connect", no_room)
    return store


def test_a_full_disk_answers_507_saying_nothing_was_written(admin_app, full_disk):
    version = full_disk.current_version()
    big = ("名称,所在市,经度,纬度\n" + "".join(f"合成单位{i},沈阳市,123.43,41.80\n" for i in range(3000))).encode()
    before = staged_tokens(admin_app)
    response = bearer_upload(admin_app, "big.csv", big)
    text = response.get_data(as_text=True)
    assert response.status_code == 507 and "disk is full: nothing was written" in text
    assert "Traceback" not in text
    assert full_disk.current_version() == version and staged_tokens(admin_app) == before


def test_the_import_command_on_a_full_disk_prints_one_message_and_exits_3(admin_app, full_disk, tmp_path,
                                                                         monkeypatch, capsys):
    from geoapp.ingest import cli, store as store_mod
    path = tmp_path / "big.csv"
    path.write_text("名称,所在市,经度,纬度\n" + "".join(f"合成单位{i},沈阳市,123.43,41.80\n" for i in range(3000)),
                    encoding="utf-8")
    monkeypatch.setattr(store_mod, "open_store", lambda *args, **kwargs: full_disk)
    version = full_disk.current_version()
    code = cli.main(["import", str(path), "--layer", "enterprises_platforms", "--crs", "wgs84", "--mode", "replace"])
    err = capsys.readouterr().err
    assert code == 3 and "disk is full: nothing was written" in err and "Traceback" not in err
    assert full_disk.current_version() == version
