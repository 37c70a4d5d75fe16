"""Living data against both stores (embedded SQLite and a throwaway PostGIS): the import command,
what is served and its ETags, all-or-nothing writes (also when killed midway), history, revert.

Rows are synthetic (benchmarks/synthetic_lists.py, named 合成测试单位): test data, never data/."""
import io
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from benchmarks.synthetic_lists import synthetic_rows, to_csv, to_xlsx
from geoapp import PROJECT_ROOT

LAYER = "enterprises_platforms"
ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex
EXPORT = f"/export/{LAYER}.geojson"


@pytest.fixture(scope="session")
def synthetic_10k(registry, tmp_path_factory):
    """10,000 rows inside real districts, GCJ-02, Chinese headers, as XLSX (+ the WGS84 truth)."""
    table = synthetic_rows(registry.boundaries, 10_000, seed=11, crs="gcj02")
    path = tmp_path_factory.mktemp("lists") / "合成清单10000.xlsx"
    path.write_bytes(to_xlsx(table))
    return path, table


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def store_url(request, tmp_path_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'atlas-store.sqlite'}"
    import psycopg
    server = request.getfixturevalue("postgis_url")
    name = f"atlas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def live_app(store_url):
    from geoapp.web import create_app
    return create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": store_url,
                       "ATLAS_STORE_POLL": 0, "ATLAS_ADMIN_TOKEN": ADMIN_TOKEN,
                       "ATLAS_ADMIN_MAX_UPLOAD": 3 * 1024 * 1024})


@pytest.fixture
def web(live_app):
    return live_app.test_client()


def csrf_of(html: str) -> str:
    import re
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def admin_client(live_app):
    """A browser-like client signed in through the login form."""
    client = live_app.test_client()
    denied = client.get("/admin/import")
    assert denied.status_code == 401
    signed = client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(denied.get_data(as_text=True))})
    assert signed.status_code == 303
    return client


def post_multipart(client, url, data):
    """POST a form with a file; closes the body the test client spools to a temporary file for
    bodies over 500 kB (Werkzeug leaves that to the caller)."""
    response = client.post(url, data=data, content_type="multipart/form-data")
    response.request.environ["wsgi.input"].close()
    return response


def web_import(client, path, crs="gcj02", who="tester", skip_invalid=False, mode="replace"):
    """Upload on /admin/import: returns (preview response, commit response or None)."""
    page = client.get("/admin/import")
    assert page.status_code == 200 and page.headers["Cache-Control"].startswith("no-store")
    data = {"csrf_token": csrf_of(page.get_data(as_text=True)), "layer": LAYER, "crs": crs, "who": who,
            "mode": mode, "file": (io.BytesIO(path.read_bytes()), path.name)}
    if skip_invalid:
        data["skip_invalid"] = "1"
    preview = post_multipart(client, "/admin/import", data)
    html = preview.get_data(as_text=True)
    if 'id="commit-form"' not in html:
        return preview, None
    import re
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    done = client.post("/admin/import/commit", data={"csrf_token": csrf_of(html), "token": token})
    return preview, done


def run_cli(store_url, *args, who="tester"):
    env = {**os.environ, "ATLAS_DATABASE_URL": store_url, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "geoapp.data", *args, "--who", who],
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=600)


def switched(web):
    """Wait until the app serves the store's current version: a switch is built in the background
    while requests go on with the previous data (geoapp/state.py)."""
    web.application.extensions["atlas"].serve_current()
    return web


def served(web):
    response = switched(web).get(EXPORT)
    assert response.status_code == 200
    return response.data, response.headers["ETag"]


def store_of(app):
    return app.extensions["atlas"].store


def test_template_layer_is_served_empty_before_any_import(web, live_app):
    assert store_of(live_app).current_version() == 0
    body = json.loads(web.get(EXPORT).data)
    assert body["features"] == []
    assert LAYER in [c["id"] for c in json.loads(web.get("/ogc/collections?f=json").data)["collections"]]


def test_bad_file_reports_every_row_and_changes_nothing(web, live_app, store_url, tmp_path):
    before, tag = served(web)
    catalog_before = web.get("/ogc/collections?f=json").headers["ETag"]
    bad = tmp_path / "坏清单.csv"
    bad.write_bytes(("名称,经度,纬度,所在市,区县,级别\n"
                     "好,,,沈阳市,和平区,省级\n"
                     ",,,,,省级\n"
                     "甲,116.39,39.90,,,\n"
                     "乙,,,沈阳,,部级\n").encode("gb18030"))
    result = run_cli(store_url, "import", str(bad), "--layer", LAYER, "--crs", "wgs84", "--mode", "replace")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert any("row 3" in line and "名称/name" in line for line in lines)
    assert any("row 3" in line and "no location" in line for line in lines)
    assert any("row 4" in line and "outside Liaoning" in line for line in lines)
    assert any("row 5" in line and "级别/level" in line and "allowed" in line for line in lines)
    assert all("坏清单.csv" in line for line in lines)
    assert "nothing written" in result.stderr
    assert store_of(live_app).history() == []
    after, tag_after = served(web)
    assert after == before and tag_after == tag
    assert web.get("/ogc/collections?f=json").headers["ETag"] == catalog_before


def test_dry_run_writes_nothing(web, live_app, store_url, tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(to_csv(synthetic_rows(live_app.extensions["atlas"].bundle().registry.boundaries, 30)))
    result = run_cli(store_url, "import", str(path), "--layer", LAYER, "--crs", "gcj02", "--mode", "replace", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run, nothing written" in result.stdout and "30 added" in result.stdout
    assert store_of(live_app).current_version() == 0


def test_10k_gcj02_xlsx_import_is_served_converted_and_revert_restores(web, live_app, store_url, synthetic_10k):
    path, table = synthetic_10k
    empty, empty_tag = served(web)
    result = run_cli(store_url, "import", str(path), "--layer", LAYER, "--crs", "gcj02", "--mode", "replace")
    assert result.returncode == 0, result.stderr
    assert "10000 rows; 10000 added" in result.stdout
    body, tag = served(web)
    assert tag != empty_tag
    features = {f["id"]: f for f in json.loads(body)["features"]}
    assert len(features) == 10_000
    truth_lon, truth_lat = table.attrs["wgs84"]
    for i in range(0, 10_000, 7):
        feature = features[table["编号"][i]]
        props = feature["properties"]
        assert props["name_zh"] == table["名称"][i]
        x, y = feature["geometry"]["coordinates"]
        if np.isnan(truth_lon[i]):
            assert props["location_precision"] in ("district", "city")
        else:
            # the GCJ-02 text has 6 decimals; back in WGS84 within 1e-6 degrees (~0.1 m)
            assert abs(x - truth_lon[i]) < 1.5e-6 and abs(y - truth_lat[i]) < 1.5e-6
            assert props["location_precision"] == "source_coordinate"
        assert "合成清单10000.xlsx" in props["source"] and "tester" in props["source"]
    history = store_of(live_app).history()
    assert history[0]["rows"] == 10_000 and history[0]["file"] == "合成清单10000.xlsx"
    assert history[0]["who"] == "tester"

    # revert to "before any import" is version 0? No: revert targets a version; import a smaller
    # list, then revert to the 10k version and get the exact bytes and ETag back.
    small = path.with_name("small.xlsx")
    small.write_bytes(to_xlsx(table.head(50)))
    result = run_cli(store_url, "import", str(small), "--layer", LAYER, "--crs", "gcj02", "--mode", "replace")
    assert result.returncode == 0, result.stderr
    assert "50 rows; 0 added" in result.stdout and "9950 removed" in result.stdout
    small_body, small_tag = served(web)
    assert len(json.loads(small_body)["features"]) == 50 and small_tag != tag
    version_10k = history[0]["id"]
    result = run_cli(store_url, "revert", str(version_10k), "--yes")
    assert result.returncode == 0, result.stderr
    again, again_tag = served(web)
    assert again == body and again_tag == tag
    assert [r["action"] for r in store_of(live_app).history()][:3] == ["revert", "import", "import"]
    printed = run_cli(store_url, "history").stdout
    assert "合成清单10000.xlsx" in printed and f"(= version {version_10k})" in printed


def test_killed_import_leaves_the_previous_version_served(web, live_app, store_url, synthetic_10k):
    path, table = synthetic_10k
    before, tag = served(web)
    version = store_of(live_app).current_version()
    versions_before = len(store_of(live_app).history())
    changed = path.with_name("changed.csv")           # CSV: quicker to read than XLSX
    edited = table.copy()
    edited["备注"] = "改过的备注"
    changed.write_bytes(to_csv(edited, "gb18030"))
    env = {**os.environ, "ATLAS_DATABASE_URL": store_url, "PYTHONPATH": str(PROJECT_ROOT)}
    with subprocess.Popen([sys.executable, "-m", "geoapp.data", "import", str(changed), "--layer", LAYER,
                           "--crs", "gcj02", "--mode", "replace", "--who", "killed"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT) as proc:
        for line in proc.stderr:              # the first batch is in the open transaction
            if line.startswith("writing: 1000/"):
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert store_of(live_app).current_version() == version
    after, tag_after = served(web)
    assert after == before and tag_after == tag
    # the store still takes the next import (no stale lock), diffed against intact rows
    small = path.with_name("edited-small.csv")
    small.write_bytes(to_csv(edited.head(10)))
    result = run_cli(store_url, "import", str(small), "--layer", LAYER, "--crs", "gcj02", "--mode", "replace")
    assert result.returncode == 0, result.stderr
    # one new version (PostgreSQL may skip the id the killed transaction drew from its sequence)
    assert "10 rows;" in result.stdout and len(store_of(live_app).history()) == versions_before + 1
    assert all(note == "改过的备注" for note in store_of(live_app).layer(LAYER)["note_zh"])


def test_skip_invalid_writes_good_rows_and_a_rejects_file(web, live_app, store_url, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("名称,所在市,区县,备注\n"
                    "好甲,沈阳市,和平区,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"点我\"\")\"\n"
                    "坏乙,火星市,,\n"
                    "好丙,大连市,,<script>alert(1)</script>{ {config} }\n"
                    "坏丁,大连市,,{{ config }}\n", encoding="utf-8")
    version = store_of(live_app).current_version()
    result = run_cli(store_url, "import", str(path), "--layer", LAYER, "--crs", "wgs84", "--mode", "replace", "--skip-invalid")
    assert result.returncode == 0, result.stderr
    assert store_of(live_app).current_version() > version
    rejects = path.with_name("mixed.rejects.csv").read_text(encoding="utf-8-sig")
    assert "坏乙" in rejects and "火星市" in rejects and "所在市/city" in rejects and "好甲" not in rejects
    assert "坏丁" in rejects and "template syntax" in rejects      # the curated files' rule
    features = {f["properties"]["name_zh"]: f["properties"] for f in json.loads(served(web)[0])["features"]}
    assert set(features) == {"好甲", "好丙"}
    # stored and served literally ...
    assert features["好甲"]["note_zh"] == '=HYPERLINK("http://evil.example","点我")'
    assert features["好丙"]["note_zh"] == "<script>alert(1)</script>{ {config} }"
    # ... neutralised in CSV exports ...
    csv_text = web.get(f"/export/{LAYER}.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text and "\n=HYPERLINK" not in csv_text and ",=HYPERLINK" not in csv_text
    # ... and escaped, never evaluated, in HTML
    html = web.get(f"/ogc/collections/{LAYER}/items?f=html").data.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{ {config} }" in html


def test_unknown_layer_and_revert_to_missing_version_are_refused(store_url, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("名称,所在市\n甲,沈阳\n", encoding="utf-8")
    result = run_cli(store_url, "import", str(path), "--layer", "high_tech_zones", "--crs", "wgs84", "--mode", "replace")
    assert result.returncode == 2 and "allowed: enterprises_platforms" in result.stderr
    result = run_cli(store_url, "revert", "999999", "--yes")
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_search_finds_imported_rows_after_a_switch(web, live_app):
    frame = store_of(live_app).layer(LAYER)
    name = frame["name_zh"].iloc[0]
    hits = switched(web).get("/map/search", query_string={"q": name})
    assert hits.status_code == 200 and name in hits.get_data(as_text=True)


def test_web_import_of_the_10k_file_gives_the_same_data_as_the_command(web, live_app, synthetic_10k, store_url):
    path, _table = synthetic_10k
    # Serve the command's import of the file (as test_10k... left it), then import it on the page.
    run_cli(store_url, "import", str(path), "--layer", LAYER, "--crs", "gcj02", "--mode", "replace")
    by_command, tag = served(web)
    assert len(json.loads(by_command)["features"]) == 10_000
    version = store_of(live_app).current_version()
    client = admin_client(live_app)
    preview, done = web_import(client, path)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "10000</strong> 行 rows" in html
    assert "新增 added <strong>0</strong>, 修改 changed <strong>0</strong>" in html
    assert done.status_code == 303
    assert store_of(live_app).current_version() == version + 1
    by_page, tag_page = served(web)
    assert by_page == by_command and tag_page == tag
    history = client.get("/admin/import").get_data(as_text=True)
    assert "合成清单10000.xlsx" in history and f"<td>{version + 1}</td>" in history


def test_web_bad_file_shows_every_problem_and_changes_nothing(web, live_app):
    before, tag = served(web)
    version = store_of(live_app).current_version()
    client = admin_client(live_app)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "<i>坏<i>.csv"
        path.write_text("名称,所在市,备注\n<script>alert(1)</script>,火星市,{{ 7*7 }}\n=HYPERLINK(\"x\"),,\n",
                        encoding="utf-8")
        preview, done = web_import(client, path)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 422 and done is None
    assert "row" in html and "所在市/city" in html and "no location" in html
    assert html.count('<tr><td>&lt;i&gt;坏&lt;i&gt;.csv</td>') == 3        # one per problem
    assert "contains template syntax" in html                              # {{ 7*7 }}: the curated rule
    assert "<script>alert(1)</script>" not in html and "<i>坏<i>" not in html
    assert "未写入任何数据" in html
    assert store_of(live_app).current_version() == version
    assert served(web) == (before, tag)


def test_admin_refuses_without_a_valid_token_or_csrf(web, live_app):
    version = store_of(live_app).current_version()
    anonymous = live_app.test_client()
    assert anonymous.get("/admin/import").status_code == 401
    assert anonymous.post("/admin/revert", data={"version": "1"}).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert anonymous.get("/admin/import", headers=wrong).status_code == 403
    assert anonymous.post("/admin/revert", data={"version": "1"}, headers=wrong).status_code == 403
    page = anonymous.get("/admin/import")
    assert anonymous.post("/admin/login", data={"token": "guess", "csrf_token": csrf_of(page.get_data(as_text=True))}
                          ).status_code == 403
    # signed in, but a form without the CSRF token (a cross-site post) is refused
    client = admin_client(live_app)
    assert client.post("/admin/revert", data={"version": "1"}).status_code == 403
    assert store_of(live_app).current_version() == version
    # a script with the right bearer token needs no session or CSRF token
    ok = live_app.test_client().get("/admin/import", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert ok.status_code == 200 and "no-store" in ok.headers["Cache-Control"]
    # too large an upload: 413, nothing changes
    page = client.get("/admin/import").get_data(as_text=True)
    big = post_multipart(client, "/admin/import", {"csrf_token": csrf_of(page), "layer": LAYER, "crs": "wgs84",
                                                   "file": (io.BytesIO(b"x" * (4 * 1024 * 1024)), "big.csv")})
    assert big.status_code == 413 and "at most 3 MB" in big.get_data(as_text=True)
    assert store_of(live_app).current_version() == version


def test_web_revert(web, live_app):
    client = admin_client(live_app)
    history = store_of(live_app).history()
    first = history[-1]["id"]
    body_first = None
    page = client.get("/admin/import").get_data(as_text=True)
    current = store_of(live_app).current_version()
    confirm = client.post("/admin/revert", data={"csrf_token": csrf_of(page), "version": str(first)})
    assert confirm.status_code == 200 and 'id="revert-form"' in confirm.get_data(as_text=True)
    assert store_of(live_app).current_version() == current          # shown, not yet done
    done = client.post("/admin/revert", data={"csrf_token": csrf_of(page), "version": str(first),
                                              "confirm": "1", "expect_version": str(current)})
    assert done.status_code == 303
    assert store_of(live_app).history()[0]["reverted_to"] == first
    _, layers = store_of(live_app).snapshot(first)
    body_first = json.loads(served(web)[0])
    assert len(body_first["features"]) == len(layers.get(LAYER, []))


def test_admin_disabled_without_token(client):
    assert client.get("/admin/import").status_code == 404
    assert client.post("/admin/login", data={"token": ""}).status_code == 404


def test_remembered_filter_selections_follow_a_new_version(web, live_app, store_url, registry, tmp_path):
    """OGC items remember the rows each filter selects (per catalog): after an import the same
    filter and bbox answer from the new rows, not the remembered positions of the old ones."""
    items = f"/ogc/collections/{LAYER}/items?level=national&limit=1000"
    for n in (40, 80):
        table = synthetic_rows(registry.boundaries, n, seed=n, crs="wgs84")
        path = tmp_path / f"list{n}.csv"
        path.write_bytes(to_csv(table))
        web.get(items)  # remembered for the version served before the import
        result = run_cli(store_url, "import", str(path), "--layer", LAYER, "--crs", "wgs84", "--mode", "replace")
        assert result.returncode == 0, result.stderr
        page = switched(web).get(items).get_json()
        national = sorted(table.loc[table["级别"] == "国家级", "编号"])
        assert page["numberMatched"] == len(national) == n // 4
        assert sorted(f["id"] for f in page["features"]) == national
        boxed = web.get(items + "&bbox=118,38,126,44").get_json()
        assert boxed["numberMatched"] == sum(f["geometry"] is not None for f in page["features"])
