"""/admin/import in a real browser at phone and desktop sizes (issue 19 items 9, 11): the sign-in
form on GET, the upload with an explicit coordinate system and mode, the preview map (vendored
Leaflet, the points over their districts, a legend) and no page wider than the screen.

Rows are synthetic (benchmarks/synthetic_lists.py, named 合成测试单位): test data, never data/."""
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from benchmarks.synthetic_lists import synthetic_rows, to_csv
from tests.conftest import shot

pytestmark = pytest.mark.browser
TOKEN = "office-browser-token-" + uuid.uuid4().hex
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    from geoapp.web import create_app
    store = tmp_path_factory.mktemp("office-browser") / "atlas-store.sqlite"
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": f"sqlite:///{store}",
                      "ATLAS_STORE_POLL": 0, "ATLAS_ADMIN_TOKEN": TOKEN})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()


def fits(page, width):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"page is {scroll} px wide at a {width} px screen"


@pytest.mark.parametrize("size", list(SIZES))
def test_sign_in_upload_preview_map_and_fit(browser, admin_server, registry, tmp_path, size):
    base, _app = admin_server
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and "/admin/" not in r.url and errors.append(f"{r.url} {r.status}"))
    try:
        page.goto(f"{base}/admin/login")
        assert page.locator("#login-form input[name=token]").is_visible()
        fits(page, width)
        shot(page, f"admin_login_{size}")
        page.fill("input[name=token]", TOKEN)
        page.click("#login-form button")
        page.wait_for_url(f"{base}/admin/import")
        fits(page, width)
        shot(page, f"admin_form_{size}")
        table = synthetic_rows(registry.boundaries, 40, seed=31, crs="gcj02")
        path = tmp_path / "合成清单.csv"
        path.write_bytes(to_csv(table))
        page.set_input_files("input[name=file]", str(path))
        page.select_option("select[name=crs]", "gcj02")
        page.check("input[name=mode][value=append]")
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#preview-map[data-ready='1']")
        located = int((table["经度"] != "").sum())
        assert page.get_attribute("#preview-map", "data-points") == str(len(table))   # seats drawn too
        assert int(page.get_attribute("#preview-map", "data-districts")) >= 1
        assert page.locator("#preview-map path.leaflet-interactive").count() >= len(table)
        assert page.locator("#preview-legend li").count() == 4
        assert located < len(table)
        text = page.locator("#preview").inner_text()
        assert "没有问题 / No problems" in text and "新增 added 40" in text.replace("\n", " ")
        assert "enterprises_platforms_" not in text                    # names, not derived ids
        fits(page, width)
        page.locator("#preview-map").scroll_into_view_if_needed()
        shot(page, f"admin_preview_map_{size}")
        page.locator("#commit-form").scroll_into_view_if_needed()
        shot(page, f"admin_preview_diff_{size}")
        assert errors == [], errors
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_replace_warning_and_revert_confirmation(browser, admin_server, registry, tmp_path, size):
    """A replace that removes rows: the red 将删除 N 行 and the required tick; a revert to version 0:
    its diff first, nothing reverted until confirmed."""
    base, app = admin_server
    store = app.extensions["atlas"].store
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{base}/admin/login")
        page.fill("input[name=token]", TOKEN)
        page.click("#login-form button")
        page.wait_for_url(f"{base}/admin/import")
        if not len(store.layer("enterprises_platforms")):
            seed = synthetic_rows(registry.boundaries, 6, seed=40, crs="wgs84")
            first = tmp_path / "first.csv"
            first.write_bytes(to_csv(seed))
            page.set_input_files("input[name=file]", str(first))
            page.select_option("select[name=crs]", "wgs84")
            page.check("input[name=mode][value=replace]")
            page.click("#upload-form button[type=submit]")
            page.click("#commit-form button[type=submit]")
            page.wait_for_url(f"{base}/admin/import")
        stored = len(store.layer("enterprises_platforms"))
        two = tmp_path / "two.csv"
        other = synthetic_rows(registry.boundaries, 2, seed=41, crs="wgs84")
        other["编号"] = ["other_1", "other_2"]          # not the ids already stored: all of those go
        two.write_bytes(to_csv(other))
        page.set_input_files("input[name=file]", str(two))
        page.select_option("select[name=crs]", "wgs84")
        page.check("input[name=mode][value=replace]")
        page.click("#upload-form button[type=submit]")
        warning = page.locator("#removal")
        assert f"将删除 {stored} 行" in warning.inner_text()
        assert warning.evaluate("e => getComputedStyle(e).color") == "rgb(146, 43, 33)"   # red
        assert page.locator("input[name=confirm_removal]").get_attribute("required") is not None
        fits(page, width)
        warning.scroll_into_view_if_needed()
        shot(page, f"admin_replace_warning_{size}")
        version = store.current_version()
        page.goto(f"{base}/admin/import")
        page.locator("#history tr", has_text="首次导入前").locator("button").click()
        page.wait_for_selector("#revert-confirm")
        assert f"将删除 {stored} 行" in page.locator("#revert-diff").inner_text()
        assert store.current_version() == version          # shown, not done
        fits(page, width)
        shot(page, f"admin_revert_confirm_{size}")
        page.click("#revert-form button[type=submit]")
        page.wait_for_url(f"{base}/admin/import")
        assert store.current_version() == version + 1 and len(store.layer("enterprises_platforms")) == 0
        assert "恢复为版本 0" in page.locator(".flash").inner_text()
    finally:
        context.close()
