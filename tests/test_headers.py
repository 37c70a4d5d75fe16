"""Issue 14 item 4: security headers on every route, a default CSP that leaves a view's own CSP
alone and admits the configured tile host, validators and gzip on every body, long-cached
versioned static assets."""
import gzip
import re
from pathlib import Path

import pytest

from geoapp.web import create_app
from geoapp.web.headers import content_security_policy, tile_source

URLS = ["/", "/?lang=en", "/stats", "/api/distribution", "/api/coverage", "/api/layers", "/about",
        "/health", "/stats/distribution.csv", "/export/cities.geojson", "/ogc/", "/ogc/collections",
        "/ogc/collections/cities/items?limit=2", "/ogc/api", "/static/atlas.css",
        # errors too
        "/no-such-page", "/api/coverage?industry=steel", "/ogc/collections/nope", "/static/nope.css"]


@pytest.mark.parametrize("url", URLS)
def test_every_route_has_the_security_headers(client, url):
    response = client.get(url)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp or "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp


def test_default_csp_has_no_unsafe_script_and_a_view_keeps_its_own():
    app = create_app({"TESTING": True, "ATLAS_TILES": "none"})

    @app.get("/own-policy")
    def own_policy():
        return "x", {"Content-Security-Policy": "default-src 'none'"}

    client = app.test_client()
    assert client.get("/own-policy").headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    default = client.get("/stats").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in default.split(";"))
    assert directives["script-src"] == "'self'" and "unsafe" not in directives["style-src"]
    assert directives["img-src"] == "'self' data:"  # no tiles configured: no tile host


@pytest.mark.parametrize("tiles, source", [
    ("osm", "https://tile.openstreetmap.org"),
    ("none", None),
    ("http://tiles.intranet/{z}/{x}/{y}.png", "http://tiles.intranet"),
    ("https://{s}.tiles.example.cn:8443/base/{z}/{x}/{y}.png", "https://*.tiles.example.cn:8443"),
    ("javascript:alert(1)//{z}", None),
])
def test_the_configured_tile_host_is_allowed_for_images(tiles, source):
    assert tile_source(tiles) == source
    img_src = re.search(r"img-src ([^;]*)", content_security_policy(tiles)).group(1).split()
    assert img_src[:2] == ["'self'", "data:"] and img_src[2:] == ([source] if source else [])


def test_tile_host_from_the_app_config(monkeypatch):
    monkeypatch.setenv("ATLAS_TILES", "http://tiles.intranet/{z}/{x}/{y}.png")
    app = create_app({"TESTING": True})
    csp = app.test_client().get("/about").headers["Content-Security-Policy"]
    assert "img-src 'self' data: http://tiles.intranet;" in csp


@pytest.mark.parametrize("url", ["/stats", "/api/distribution", "/api/coverage?half_width_km=12", "/about",
                                 "/stats/belt_places.csv", "/static/atlas/core.js"])
def test_bodies_get_gzip_etag_and_304(client, url):
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert plain.headers["ETag"] != packed.headers["ETag"]  # one tag per representation
    for response in (plain, packed):
        again = client.get(url, headers={"If-None-Match": response.headers["ETag"], "Accept-Encoding": "gzip"})
        assert again.status_code == 304 and again.data == b""


def test_etag_changes_with_the_body(client):
    assert (client.get("/api/coverage?half_width_km=12").headers["ETag"]
            != client.get("/api/coverage?half_width_km=13").headers["ETag"])


def test_static_urls_are_versioned_and_long_cached(app, client):
    page = client.get("/stats").get_data(as_text=True)
    href = re.search(r'href="(/static/stats\.css\?v=[0-9a-f]{12})"', page).group(1)
    versioned = client.get(href)
    assert versioned.status_code == 200
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # without the version (or with a stale one) only briefly, revalidated by ETag
    for url in ("/static/stats.css", "/static/stats.css?v=000000000000"):
        response = client.get(url)
        assert response.headers["Cache-Control"] == "public, max-age=300" and response.headers["ETag"]
    # the version is the content: another file, another version
    other = re.search(r"/static/about\.css\?v=([0-9a-f]{12})", client.get("/about").get_data(as_text=True))
    assert other and other.group(1) != href.rsplit("=", 1)[1]


def test_health_is_never_cached_and_data_routes_are_public(client):
    assert client.get("/health").headers["Cache-Control"] == "no-store"
    assert client.get("/stats").headers["Cache-Control"] == "public, max-age=60"
    assert "Cache-Control" not in client.get("/api/coverage?industry=steel").headers  # errors: not marked


def test_html_pages_have_no_inline_script_or_style(client):
    for url in ("/stats", "/about", "/ogc/?f=html", "/ogc/collections?f=html", "/ogc/api?f=html",
                "/ogc/collections/cities/items?f=html&limit=2"):
        text = client.get(url).get_data(as_text=True)
        # executable inline scripts: neither src= nor a data block (type="application/json")
        inline = re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))", text)
        assert "<style" not in text and not inline, url


@pytest.mark.parametrize("url", URLS + ["/ogc/collections?f=html", "/map/search?q=大连",
                                        "/ogc/collections/cities/items/210200"])
def test_answers_vary_only_on_headers_the_front_cache_keys_on(client, url):
    """make run's nginx keys its cache on geoapp.serve.CACHE_KEY_VARY: an answer that varied on
    another request header would be served to clients who did not send it."""
    from geoapp.serve import CACHE_KEY_VARY
    for headers in ({}, {"Accept": "text/html", "Origin": "https://gis.example.org", "Accept-Encoding": "gzip"}):
        response = client.get(url, headers=headers)
        vary = {v.strip().lower() for line in response.headers.getlist("Vary") for v in line.split(",") if v.strip()}
        assert vary <= CACHE_KEY_VARY, (url, vary)


def test_files_a_stylesheet_loads_are_versioned_like_it(app, client):
    """Leaflet's CSS names its images relative to itself (url(images/layers.png)): without a
    version they were cached for five minutes while the CSS was cached for a year. Every local
    url() in a static stylesheet carries ?v=<the file's content hash> (scripts/version_css_urls.py,
    run by scripts/vendor_assets.sh), so the image is cached for a year and a changed image
    changes the stylesheet's text, hence its version."""
    from geoapp.web.headers import static_version
    static = Path(app.static_folder)
    checked = 0
    for css in sorted(static.rglob("*.css")):
        for ref in re.findall(r"""url\(\s*['"]?([^'")\s]+)""", css.read_text(encoding="utf-8")):
            if ref.startswith(("data:", "#", "/", "http:", "https:")) or "//" in ref:
                continue
            path, _, query = ref.partition("?")
            filename = (css.parent / path).resolve().relative_to(static.resolve()).as_posix()
            with app.app_context():
                assert query == f"v={static_version(filename)}", (css.name, ref)
            with client.get(f"/static/{filename}?{query}") as response:
                assert response.status_code == 200
                assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            checked += 1
    assert checked >= 3  # leaflet.css: layers.png, layers-2x.png, marker-icon.png
