import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from geoapp import DATA_DIR
from geoapp.data import load_registry


@pytest.fixture(scope="session")
def registry():
    return load_registry()


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of data/ for tests that break a file on purpose."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


# --- a live server and a real browser, shared by the browser and GIS-client tests -------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    from geoapp.web import create_app
    # Its own empty store: never the developer's instance/atlas-store.sqlite.
    store = tmp_path_factory.mktemp("store") / "atlas-store.sqlite"
    return create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": f"sqlite:///{store}"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app):
    """The app on a free loopback port in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    # No importorskip: without Playwright the browser checks must fail, not silently vanish.
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request):
    """A fresh page that records failed requests and console errors; a screenshot is saved to
    artifacts/<test name>.png by the test via `shot(page, name)`."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = context.new_page()
    page.failed = []
    page.console_errors = []
    page.on("requestfailed", lambda r: page.failed.append(f"{r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and page.failed.append(f"{r.url} {r.status}"))
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    context.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


# --- a throwaway PostGIS cluster (Debian postgresql-15 + postgresql-15-postgis-3) -------------
@pytest.fixture(scope="session")
def postgis_url():
    """A PostgreSQL 15 cluster with PostGIS on a free loopback port, as the postgres user (initdb
    refuses root). Missing packages FAIL the tests that need it (`make system-deps` installs them)."""
    from benchmarks.pgcluster import MissingPostGIS, postgis_cluster
    try:
        cluster = postgis_cluster()
        url = cluster.__enter__()
    except MissingPostGIS as error:
        pytest.fail(str(error))
    try:
        yield url
    finally:
        cluster.__exit__(None, None, None)
