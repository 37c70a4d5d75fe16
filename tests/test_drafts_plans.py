"""Done-when 2 of issue 20: a drafted folder passes `make check` (the plans loader) and is served
at /plans/<id>/, /plans/<id>/stats and /plans/<id>/api/coverage. Inputs: the shipped plan text
(province-only) and tests/fixtures/city_plan_test_input.txt (a test input, not a real plan)."""
from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from geoapp import DATA_DIR
from geoapp.data import load_registry
from geoapp.data.__main__ import main

FIXTURE = Path(__file__).parent / "fixtures" / "city_plan_test_input.txt"


@pytest.fixture(scope="module")
def drafted(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("drafted_plans") / "data"
    shutil.copytree(DATA_DIR, data)
    shipped = load_registry(data).plan.text
    assert main(["draft", str(shipped), "--plan", "st13_draft", "--province-only",
                 "--out", str(data / "plans" / "st13_draft")]) == 0
    assert main(["draft", str(FIXTURE), "--plan", "city_test", "--out", str(data / "plans" / "city_test")]) == 0
    return data


def test_drafted_folders_pass_the_check(drafted, capsys):
    assert main(["check", "--data-dir", str(drafted)]) == 0
    out = capsys.readouterr().out
    assert "st13_draft" in out and "city_test" in out


def test_drafted_plan_is_a_plan_view(drafted):
    registry = load_registry(drafted)
    view = registry.for_plan("city_test")
    assert view.plan.period == (2021, 2025)
    text = (drafted / "plans" / "city_test" / "plan_places.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(view.layers["plan_places"]) == len(rows) > 0
    assert {t.id for t in view.tasks} == {t["id"] for t in __import__("yaml").safe_load(
        (drafted / "plans" / "city_test" / "tasks.yaml").read_text(encoding="utf-8"))}
    assert registry.plan.id != "city_test"  # a drafted plan is never the default


@pytest.fixture(scope="module")
def client(drafted, tmp_path_factory):
    from geoapp.web import create_app
    store = tmp_path_factory.mktemp("store") / "atlas-store.sqlite"
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": f"sqlite:///{store}",
                      "ATLAS_DATA_DIR": drafted})
    return app.test_client()


@pytest.mark.parametrize("plan", ["city_test", "st13_draft"])
def test_drafted_plan_is_served(client, plan):
    assert client.get(f"/plans/{plan}/").status_code == 200
    stats = client.get(f"/plans/{plan}/stats")
    assert stats.status_code == 200
    coverage = client.get(f"/plans/{plan}/api/coverage")
    assert coverage.status_code == 200
    assert coverage.get_json()


def test_published_draft_is_served_at_once_and_revert_takes_it_down(tmp_path):
    """The review page's publish reloads the service with the new plan; a revert to 0 removes it."""
    import re
    from geoapp.web import create_app
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    token = "published-draft-token"
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite'}",
                      "ATLAS_STORE_POLL": 0, "ATLAS_ADMIN_TOKEN": token, "ATLAS_DATA_DIR": data})
    web = app.test_client()

    def csrf(html):
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    web.post("/admin/login", data={"token": token, "csrf_token": csrf(web.get("/admin/drafts").get_data(as_text=True))})
    form = csrf(web.get("/admin/drafts").get_data(as_text=True))
    url = web.post("/admin/drafts", data={"csrf_token": form, "plan": "city_live",
                                         "text": FIXTURE.read_text(encoding="utf-8")}).headers["Location"]
    key = url.rsplit("/", 1)[-1]
    assert web.get("/plans/city_live/stats").status_code == 404
    web.post(f"/admin/drafts/{key}/accept-all", data={"csrf_token": form, "min": "0"})
    done = web.post(f"/admin/drafts/{key}/publish", data={"csrf_token": form}, follow_redirects=True)
    assert "the service has loaded it" in done.get_data(as_text=True)
    stats = web.get("/plans/city_live/stats")
    assert stats.status_code == 200 and "大连市科技创新" in stats.get_data(as_text=True)
    coverage = web.get("/plans/city_live/api/coverage").get_json()
    assert coverage
    web.post("/admin/drafts/revert", data={"csrf_token": form, "plan": "city_live", "version": "0"})
    assert web.get("/plans/city_live/stats").status_code == 404
