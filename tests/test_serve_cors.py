"""`make run` with a CORS allow-list (ATLAS_CORS_ORIGINS): nginx's cache key holds an allowed
Origin as sent and puts every other origin under one key (geoapp.serve.origin_map), and each
answer through the front carries the CORS header that is right for its own Origin. The default
(`*`) is checked by tests/test_serve.py on its own `make run`; this module starts one more."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from geoapp.serve import origin_map
from tests.test_serve import free_port, get, start_make_run, wait_for_health

ALLOWED = ["https://gis.example.org", "http://localhost:8080"]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    port = free_port()
    run_dir = Path(tempfile.mkdtemp(prefix="atlas-test-cors-"))  # under /tmp: nginx's workers reach it
    run_dir.chmod(0o755)
    work = tmp_path_factory.mktemp("serve-cors")
    (work / "home").mkdir()
    log = work / "make-run.log"
    env = {**os.environ, "ATLAS_TILES": "none", "HOME": str(work / "home"),
           "ATLAS_CORS_ORIGINS": ",".join(ALLOWED)}
    process = start_make_run(port, run_dir, env, log)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.mark.serve
def test_allowed_origins_keep_their_own_entry_and_others_share_one(url):
    page = url + "/ogc/collections/cities/items?limit=2&offset=3"
    first, other = (get(page, {"Origin": origin}) for origin in ALLOWED)
    assert [first[1]["X-Cache"], other[1]["X-Cache"]] == ["MISS", "MISS"]
    assert first[1]["Access-Control-Allow-Origin"] == ALLOWED[0]
    assert other[1]["Access-Control-Allow-Origin"] == ALLOWED[1]
    again = get(page, {"Origin": ALLOWED[0]})
    assert again[1]["X-Cache"] == "HIT" and again[1]["Access-Control-Allow-Origin"] == ALLOWED[0]
    # origins not on the list: one entry, never an allowed origin's header
    strangers = [get(page, {"Origin": o}) for o in ("https://evil.example", "http://localhost:8081", "null")]
    assert [s[1]["X-Cache"] for s in strangers] == ["MISS", "HIT", "HIT"]
    assert all("Access-Control-Allow-Origin" not in s[1] for s in strangers)
    assert all("Origin" in s[1]["Vary"] for s in strangers)
    plain = get(page)  # no Origin: its own entry
    assert plain[1]["X-Cache"] == "MISS" and "Access-Control-Allow-Origin" not in plain[1]
    assert first[2] == other[2] == strangers[0][2] == plain[2]


def test_origin_map_for_each_setting():
    assert 'default "some";' in origin_map(None) and 'default "some";' in origin_map("*")
    assert 'default "some";' in origin_map("https://a.example, *")
    listed = origin_map("https://a.example, http://localhost:8080/")
    assert '"https://a.example" $http_origin;' in listed
    assert '"http://localhost:8080" $http_origin;' in listed and 'default "other";' in listed
    # an entry flask-cors takes as a regex, or one that is not a plain origin: the raw header
    for setting in (r"https://.*\.example\.org", 'https://a.example" x;', "https://a.example/path"):
        text = origin_map(setting)
        assert "default $http_origin;" in text and '"other"' not in text, setting
