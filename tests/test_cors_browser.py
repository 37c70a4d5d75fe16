"""Cross-origin reads in a real browser: a page served from another port fetches the atlas's
OGC, export and API URLs. Chromium enforces CORS, so these fail without the right headers."""
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

PAGE = "<!doctype html><html><head><meta charset='utf-8'><title>other origin</title></head><body>client</body></html>"
FETCH = """async ([url, headers]) => {
  try {
    const r = await fetch(url, {headers: headers || {}});
    const type = r.headers.get('Content-Type') || '';
    return {ok: r.ok, status: r.status, etag: r.headers.get('ETag'), crs: r.headers.get('Content-Crs'),
            body: type.includes('json') ? await r.json() : (await r.text()).slice(0, 200)};
  } catch (e) { return {error: String(e)}; }
}"""


def serve(wsgi):
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def other_origin():
    """A page on another port: another origin for the browser."""
    server, url = serve(lambda environ, start: Response(PAGE, mimetype="text/html")(environ, start))
    yield url
    server.shutdown()


def test_cross_origin_fetch_of_ogc_export_and_api_succeeds(page, live_server, other_origin, registry):
    page.goto(other_origin + "/")
    items = page.evaluate(FETCH, [f"{live_server}/ogc/collections/high_tech_zones/items?filter=level%3D'national'", None])
    assert items.get("ok"), items
    frame = registry.layers["high_tech_zones"]
    assert items["body"]["numberMatched"] == (frame["level"] == "national").sum() == 8
    assert items["etag"] and items["crs"]  # exposed response headers are readable
    export = page.evaluate(FETCH, [f"{live_server}/export/cities.geojson", None])
    assert export.get("ok") and len(export["body"]["features"]) == 14, export
    api = page.evaluate(FETCH, [f"{live_server}/api/layers", None])
    assert api.get("ok") and api["body"]["layers"], api
    # a non-simple header makes Chromium send an OPTIONS preflight first
    preflighted = page.evaluate(FETCH, [f"{live_server}/ogc/collections", {"X-Client": "cors-test"}])
    assert preflighted.get("ok") and preflighted["body"]["collections"], preflighted


def test_origin_not_on_the_allow_list_is_refused_by_the_browser(page, other_origin):
    from geoapp.web import create_app
    allowed = "http://gis.example.org"
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_CORS_ORIGINS": allowed})
    server, url = serve(app)
    try:
        page.goto(other_origin + "/")
        refused = page.evaluate(FETCH, [f"{url}/ogc/collections", None])
        assert "error" in refused and "Failed to fetch" in refused["error"], refused
        response = app.test_client().get("/ogc/collections", headers={"Origin": allowed})
        assert response.headers["Access-Control-Allow-Origin"] == allowed
        assert "Origin" in [v.strip() for v in response.headers["Vary"].split(",")]
    finally:
        server.shutdown()


def test_default_is_any_origin_for_reads_only(client):
    response = client.get("/export/districts.geojson", headers={"Origin": "https://maps.example.net"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Origin" not in response.headers.get("Vary", "")  # the same answer for every origin
    preflight = client.options("/ogc/collections/cities/items", headers={
        "Origin": "https://maps.example.net", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-client"})
    assert preflight.status_code == 200
    assert set(preflight.headers["Access-Control-Allow-Methods"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert "x-client" in preflight.headers["Access-Control-Allow-Headers"].lower()
    # pages that are not data URLs get no CORS headers
    assert "Access-Control-Allow-Origin" not in client.get("/health", headers={"Origin": "https://x.example"}).headers
