"""The data office's imports (issue 19 items 5, 8-10): explicit modes, no default coordinate
system, commits that cannot overwrite each other, version 0 and reverts that show their diff.

Rows are synthetic (benchmarks/synthetic_lists.py, named 合成测试单位): test data, never data/."""
import os
import subprocess
import sys
import threading
import uuid

import pytest

from benchmarks.synthetic_lists import synthetic_rows, to_csv
from geoapp import PROJECT_ROOT
from geoapp.ingest import service
from geoapp.ingest.store import StoreConflict, open_store

LAYER = "enterprises_platforms"


@pytest.fixture(params=["sqlite", "postgis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return open_store(f"sqlite:///{tmp_path / 'atlas-store.sqlite'}")
    import psycopg
    server = request.getfixturevalue("postgis_url")
    name = f"atlas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return open_store(server.rsplit("/", 1)[0] + f"/{name}")


def csv_of(registry, n, seed, start=0):
    table = synthetic_rows(registry.boundaries, n + start, seed=seed, crs="wgs84").iloc[start:]
    return to_csv(table.reset_index(drop=True)), table


def check(registry, store, data, mode, name="list.csv", crs="wgs84"):
    return service.check_file(data, name, LAYER, crs, registry, store, "tester", mode=mode)


def test_two_racing_commits_one_wins_the_other_is_told_why(registry, store):
    data, _ = csv_of(registry, 1500, seed=3)
    service.commit(check(registry, store, data, "replace"), store, "first")
    # Two clerks preview different files against the same version, then commit at once.
    one = check(registry, store, csv_of(registry, 1200, seed=4)[0], "replace", "one.csv")
    two = check(registry, store, csv_of(registry, 1300, seed=5)[0], "replace", "two.csv")
    assert one.base_version == two.base_version == store.current_version()
    start = threading.Barrier(2)
    outcome = {}

    def run(name, chk):
        start.wait()
        try:
            outcome[name] = service.commit(chk, store, name)
        except StoreConflict as error:
            outcome[name] = error

    threads = [threading.Thread(target=run, args=args) for args in (("one", one), ("two", two))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    won = [k for k, v in outcome.items() if not isinstance(v, Exception)]
    lost = [k for k, v in outcome.items() if isinstance(v, StoreConflict)]
    assert len(won) == 1 and len(lost) == 1, outcome
    message = str(outcome[lost[0]])
    assert "changed since the preview" in message and "nothing was written" in message
    # What is stored is exactly the winner's file, and one version was added, not two.
    winner = {"one": one, "two": two}[won[0]]
    assert store.current_version() == one.base_version + 1
    assert sorted(store.layer(LAYER)["id"]) == sorted(winner.frame["id"])
    assert store.history()[0]["who"] == won[0]


def test_modes_append_update_replace(registry, store):
    first, table = csv_of(registry, 5, seed=8)
    service.commit(check(registry, store, first, "replace"), store, "t")
    # two new rows: append keeps the five already there
    two_new, new_table = csv_of(registry, 2, seed=8, start=5)
    appended = check(registry, store, two_new, "append")
    assert (appended.diff.added, appended.diff.changed, appended.diff.removed) == (2, 0, 0)
    service.commit(appended, store, "t")
    stored = store.layer(LAYER)
    assert sorted(stored["id"]) == sorted(list(table["编号"]) + list(new_table["编号"]))
    # append refuses a row already there (same id) and points to update
    again = check(registry, store, two_new, "append")
    assert again.diff is None and len(again.problems) == 2
    assert all("already in the layer" in p.message and "update" in p.message for p in again.problems)
    # update: a changed note on one stored row (matched by id) changes it; nothing is removed
    edited = new_table.head(1).copy()
    edited["备注"] = "改过"
    updated = check(registry, store, to_csv(edited.reset_index(drop=True)), "update")
    assert (updated.diff.added, updated.diff.changed, updated.diff.removed, updated.diff.rows) == (0, 1, 0, 7)
    service.commit(updated, store, "t")
    stored = store.layer(LAYER).set_index("id")
    assert stored.loc[edited["编号"].iat[0], "note_zh"] == "改过" and len(stored) == 7
    # update without an id column matches by name + district and keeps the stored id
    no_id = edited.drop(columns="编号")
    no_id["备注"] = "再改"
    by_name = check(registry, store, to_csv(no_id.reset_index(drop=True)), "update")
    assert (by_name.diff.added, by_name.diff.changed, by_name.diff.removed) == (0, 1, 0)
    service.commit(by_name, store, "t")
    stored = store.layer(LAYER).set_index("id")
    assert stored.loc[edited["编号"].iat[0], "note_zh"] == "再改" and len(stored) == 7
    # replace with the two rows removes the other five (and says so)
    replaced = check(registry, store, two_new, "replace")
    assert replaced.diff.removed == 5 and replaced.diff.rows == 2


def test_no_mode_or_crs_is_refused(registry, store):
    data, _ = csv_of(registry, 2, seed=9)
    with pytest.raises(service.ImportRefused, match="gcj02.*bd09"):
        check(registry, store, data, "append", crs="")
    with pytest.raises(service.ImportRefused, match="append.*update.*replace"):
        check(registry, store, data, "")


def test_revert_zero_restores_the_empty_layer(registry, store):
    data, _ = csv_of(registry, 4, seed=10)
    service.commit(check(registry, store, data, "replace"), store, "t")
    history = store.history(include_origin=True)
    assert history[-1]["id"] == 0 and history[-1]["action"] == "origin"
    current, changes = store.revert_preview(0)
    assert changes[LAYER].removed == 4 and changes[LAYER].rows == 0
    version = store.revert(0, "t", expect_version=current)
    assert version == current + 1 and len(store.layer(LAYER)) == 0
    assert store.history()[0]["removed"] == 4
    with pytest.raises(StoreConflict):      # confirmed against a version that is no longer current
        store.revert(0, "t", expect_version=current)


# -- the command ---------------------------------------------------------------------------------
def cli(store_url, *args, stdin=None):
    env = {**os.environ, "ATLAS_DATABASE_URL": store_url, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "geoapp.data", *args, "--who", "tester"], input=stdin,
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


def test_command_modes_crs_history_and_revert_zero(registry, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    five, two = tmp_path / "five.csv", tmp_path / "two.csv"
    five.write_bytes(csv_of(registry, 5, seed=12)[0])
    two.write_bytes(csv_of(registry, 2, seed=12, start=5)[0])
    # no --crs: refused, naming the systems of the Chinese map apps; nothing written
    result = cli(url, "import", str(five), "--layer", LAYER, "--mode", "replace")
    assert result.returncode == 2 and "--crs is required" in result.stderr
    assert "gcj02" in result.stderr and "bd09" in result.stderr and "高德" in result.stderr
    result = cli(url, "import", str(five), "--layer", LAYER, "--crs", "wgs84")
    assert result.returncode == 2 and "--mode is required" in result.stderr
    assert open_store(url).current_version() == 0
    assert cli(url, "import", str(five), "--layer", LAYER, "--crs", "wgs84", "--mode", "replace").returncode == 0
    # --mode append keeps the rows already there
    result = cli(url, "import", str(two), "--layer", LAYER, "--crs", "wgs84", "--mode", "append")
    assert result.returncode == 0, result.stderr
    assert "7 rows; 2 added, 0 changed, 0 removed" in result.stdout
    assert len(open_store(url).layer(LAYER)) == 7
    # replace says in the preview how many rows it removes
    result = cli(url, "import", str(two), "--layer", LAYER, "--crs", "wgs84", "--mode", "replace", "--dry-run")
    assert "将删除 5 行" in result.stdout and "5 stored rows will be removed" in result.stdout
    # history lists version 0; revert 0 shows its diff and waits for a yes
    history = cli(url, "history").stdout
    assert "before the first import" in history and "\n      0 " in history
    result = cli(url, "revert", "0")                      # not a terminal, no --yes: nothing done
    assert result.returncode == 2 and "7 removed" in result.stdout and "--yes" in result.stderr
    assert len(open_store(url).layer(LAYER)) == 7
    result = cli(url, "revert", "0", "--yes")
    assert result.returncode == 0, result.stderr
    assert len(open_store(url).layer(LAYER)) == 0


# -- the page ------------------------------------------------------------------------------------
TOKEN = "office-test-token-" + uuid.uuid4().hex


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def office_app(request, tmp_path_factory):
    """The admin pages on both stores (on PostGIS the preview's diff and samples come from SQL)."""
    from geoapp.web import create_app
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('office-store') / 'atlas-store.sqlite'}"
    else:
        from tests.pgrows import fresh_database
        url = fresh_database(request.getfixturevalue("postgis_url"))
    yield create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": url,
                      "ATLAS_STORE_POLL": 0, "ATLAS_ADMIN_TOKEN": TOKEN})
    if request.param == "postgis":
        from geoapp.postgis.pool import close_all
        close_all()        # the app's pooled connections, before the session's cluster stops


def csrf_of(html: str) -> str:
    import re
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app):
    client = app.test_client()
    form = client.get("/admin/login")
    assert form.status_code == 200
    done = client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf_of(form.get_data(as_text=True))})
    assert done.status_code == 303
    return client


def upload(client, data: bytes, name="list.csv", crs="wgs84", mode="replace"):
    import io
    page = client.get("/admin/import").get_data(as_text=True)
    form = {"csrf_token": csrf_of(page), "layer": LAYER, "file": (io.BytesIO(data), name), "who": "clerk"}
    if crs:
        form["crs"] = crs
    if mode:
        form["mode"] = mode
    return client.post("/admin/import", data=form, content_type="multipart/form-data")


def test_get_admin_login_shows_the_sign_in_form(office_app):
    response = office_app.test_client().get("/admin/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'name="token"' in html and "登录 / Sign in" in html
    assert "Method Not Allowed" not in html


def test_page_shows_titles_crs_help_modes_and_version_zero(office_app):
    html = signed_in(office_app).get("/admin/import").get_data(as_text=True)
    assert '<option value="enterprises_platforms">导入清单：企业与创新平台 / Imported list: enterprises and platforms</option>' in html
    assert '<option value="">请选择 / choose…</option>' in html          # no coordinate system preselected
    assert "高德、腾讯地图拾取 → GCJ-02" in html and "百度地图拾取 → BD-09" in html and "天地图 → CGCS2000" in html
    assert html.count('name="mode"') == 3 and "checked" not in html
    assert "首次导入前 / before the first import" in html


def test_page_refuses_without_crs_or_mode_and_says_what_to_choose(office_app, registry):
    client = signed_in(office_app)
    data, _ = csv_of(registry, 3, seed=20)
    refused = upload(client, data, crs="")
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "坐标系" in text and "gcj02" in text and "bd09" in text
    refused = upload(client, data, mode="")
    assert refused.status_code == 400 and "append" in refused.get_data(as_text=True)


def test_replace_preview_warns_in_red_needs_confirmation_and_shows_names(office_app, registry):
    store = office_app.extensions["atlas"].store
    client = signed_in(office_app)
    five, table = csv_of(registry, 5, seed=21)
    first = upload(client, five)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and 'id="preview-map"' in html
    token = __import__("re").search(r'name="token" value="([^"]+)"', html).group(1)
    client.post("/admin/import/commit", data={"csrf_token": csrf_of(html), "token": token})
    version = store.current_version()
    two, _ = csv_of(registry, 2, seed=21, start=5)
    stored_before = store.layer(LAYER)
    preview = upload(client, two, mode="replace")
    html = preview.get_data(as_text=True)
    assert '<p class="bad removal" id="removal" role="alert"><strong>将删除 5 行 / 5 stored rows will be removed' in html
    assert 'name="confirm_removal"' in html
    # names, not hash ids or codes, in the removed rows
    removed = html[html.index("删除 / removed（"):]
    assert table["名称"].iat[0] in removed and "enterprises_platforms_" not in removed
    stored = stored_before.set_index("id").loc[table["编号"].iat[0]]
    cities = registry.boundaries["city"].set_index("adcode")["name_zh"]
    assert f"<td>{cities[stored['city_adcode']]}</td>" in removed
    assert f"<td>{stored['city_adcode']}</td>" not in removed and f"<td>{stored['kind']}</td>" not in removed
    # committing without ticking the confirmation writes nothing
    token = __import__("re").search(r'name="token" value="([^"]+)"', html).group(1)
    client.post("/admin/import/commit", data={"csrf_token": csrf_of(html), "token": token})
    assert store.current_version() == version
    done = client.post("/admin/import/commit", data={"csrf_token": csrf_of(html), "token": token,
                                                     "confirm_removal": "1"})
    assert done.status_code == 303 and store.current_version() == version + 1
    assert len(store.layer(LAYER)) == 2


def test_revert_on_the_page_confirms_with_its_diff(office_app, registry):
    store = office_app.extensions["atlas"].store
    client = signed_in(office_app)
    if store.current_version() == 0:
        data, _ = csv_of(registry, 3, seed=22)
        service.commit(check(registry, store, data, "replace"), store, "t")
    rows = len(store.layer(LAYER))
    version = store.current_version()
    page = client.get("/admin/import").get_data(as_text=True)
    confirm = client.post("/admin/revert", data={"csrf_token": csrf_of(page), "version": "0"})
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and store.current_version() == version      # nothing yet
    assert f"将删除 {rows} 行 / {rows} rows will be removed" in html and 'id="revert-form"' in html
    done = client.post("/admin/revert", data={"csrf_token": csrf_of(html), "version": "0", "confirm": "1",
                                              "expect_version": str(version)})
    assert done.status_code == 303 and store.current_version() == version + 1
    assert len(store.layer(LAYER)) == 0
    # a confirmation shown against an older version is refused, not applied
    stale = client.post("/admin/revert", data={"csrf_token": csrf_of(html), "version": "0", "confirm": "1",
                                               "expect_version": str(version)})
    assert stale.status_code == 303 and store.current_version() == version + 1
    assert "changed since the preview" in client.get("/admin/import").get_data(as_text=True)
