"""The map page is a frame: it carries no place data, and layers, search and popups come from
the app's own endpoints. Data text never reaches a template engine (issue 14, item 1)."""
import re
import shutil

import pytest

from tests.test_map import page_config

PAYLOADS = ["{{7*7}}", "{{ cycler.__init__.__globals__.os.getpid() }}", "{% if 1 %}X{% endif %}",
            "{# c #}", "${alert(1)}", "<script>alert(1)</script>", "=HYPERLINK(\"http://x\")", "{{"]


def test_page_has_no_place_data_and_layers_come_from_endpoints(client, registry):
    html = client.get("/").get_data(as_text=True)
    config = page_config(html)
    # No place name or coordinate of any layer is in the page.
    htz = registry.layers["high_tech_zones"]
    for name in htz["name_zh"]:
        assert name not in html
    x, y = htz.geometry.iloc[0].x, htz.geometry.iloc[0].y
    assert f"{x:.4f}" not in html and f"{y:.4f}" not in html
    ids = [layer["id"] for layer in config["layers"]]
    assert "high_tech_zones" in ids and "cities" in ids
    for layer in config["layers"]:
        response = client.get(layer["url"])
        assert response.status_code == 200, layer["url"]
        assert response.headers["Content-Type"] == "application/geo+json"
        body = response.get_json()
        assert body["type"] == "FeatureCollection"
        assert len(body["features"]) == layer["count"], layer["id"]


def test_layer_endpoint_honours_the_filter_and_the_language(client):
    all_ids = [f["properties"]["id"] for f in
               client.get("/map/layers/high_tech_zones.geojson").get_json()["features"]]
    benxi = client.get("/map/layers/high_tech_zones.geojson?city=本溪").get_json()["features"]
    assert len(all_ids) == 15 and [f["properties"]["id"] for f in benxi] == ["htz_benxi"]
    en = client.get("/map/layers/high_tech_zones.geojson?city=210500&lang=en").get_json()["features"][0]
    assert en["properties"]["tip"].startswith("Benxi") and "Name" not in en["properties"]["popup"]
    assert "本溪" in en["properties"]["popup"] and "District" in en["properties"]["popup"]
    assert client.get("/map/layers/nope.geojson").status_code == 404
    assert "high_tech_zones" in client.get("/map/layers/nope.geojson").get_json()["allowed"]
    assert client.get("/map/layers/high_tech_zones.geojson?city=Atlantis").status_code == 400
    assert client.get("/map/layers/cities.geojson?metric=bogus").status_code == 400


def test_layer_bodies_are_cached_gzipped_and_revalidated(client):
    first = client.get("/map/layers/districts.geojson", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and first.headers["ETag"]
    again = client.get("/map/layers/districts.geojson", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_page_size_does_not_depend_on_the_filter(client):
    """The page carries no data: apart from its legend (the classes the filter draws) its size
    does not grow with what the filter keeps."""
    pages = [client.get(q).get_data(as_text=True) for q in ("/", "/?industry=biomedicine", "/?city=210200")]
    assert max(len(p.encode()) for p in pages) < 40_000
    legend = re.compile(r'<aside class="atlas-legend".*?</aside>', re.S)
    sizes = [len(legend.sub("", p).encode()) for p in pages]
    assert max(sizes) - min(sizes) < 2000, sizes


@pytest.mark.parametrize("query,expected", [
    ("大连高新区", "htz_dalian"), ("sygxq", "htz_shenyang"), ("shenyang", "210100"),
    ("Shenyang", "210100"), ("dalian gaoxin", "htz_dalian"), ("clean energy", "lab_clean_energy_dalian"),
    ("沈阳市", "210100"), ("Dalian", "210200"), ("浑南", "210112"), ("hunnan", "210112"),
])
def test_search_finds_places_by_the_names_people_type(client, registry, query, expected):
    ids = {row for layer in registry.layers.values() if "id" in layer for row in layer["id"]}
    ids |= {code for level in ("city", "district") for code in registry.boundaries[level]["adcode"]}
    if expected not in ids:  # an id renamed in the data must fail here, not pass vacuously
        pytest.fail(f"{expected} is not an id in the data any more")
    hits = client.get(f"/map/search?q={query}").get_json()["hits"]
    assert hits and hits[0]["id"] == expected, (query, [h["id"] for h in hits])


def test_search_finds_cities_and_districts_before_the_places_named_after_them(client):
    """Issue 22 item 3: 沈阳市 answered "nothing found"; a city is found by its name, whatever the
    filter, and the places named after it follow."""
    hits = client.get("/map/search?q=沈阳市").get_json()["hits"]
    assert [(h["layer"], h["id"], h["name_zh"]) for h in hits[:1]] == [("cities", "210100", "沈阳市")]
    assert hits[0]["layer_title"] == "地级市"
    shenyang = client.get("/map/search?q=沈阳").get_json()["hits"]
    assert shenyang[0]["id"] == "210100" and "htz_shenyang" in [h["id"] for h in shenyang[1:]]
    # a filter that excludes every Shenyang place still finds the city
    filtered = client.get("/map/search?q=沈阳市&industry=marine").get_json()["hits"]
    assert [h["id"] for h in filtered] == ["210100"]
    assert client.get("/map/search?q=shenyang&lang=en").get_json()["hits"][0]["layer_title"] == "Cities"
    district = client.get("/map/search?q=浑南区").get_json()["hits"][0]
    assert (district["layer"], district["name_en"]) == ("districts", "Hunnan District")


def test_english_word_search_does_not_match_letters_scattered_in_other_names(client):
    hits = client.get("/map/search?q=Shenyang").get_json()["hits"]
    assert "cluster_laser_anshan" not in [h["id"] for h in hits]


def test_search_honours_the_filter_and_rejects_huge_queries(client):
    hits = client.get("/map/search?q=高新&city=210500").get_json()["hits"]
    assert [h["id"] for h in hits] == ["htz_benxi"]
    response = client.get("/map/search?q=" + "x" * 500)
    assert response.status_code == 400 and "at most" in response.get_json()["message"]


def test_lazy_popup_endpoint(client):
    body = client.get("/map/layers/high_tech_zones/htz_dalian/popup").get_json()
    assert "大连高新技术产业园区" in body["popup"]
    assert client.get("/map/layers/high_tech_zones/nope/popup").status_code == 404


def test_map_page_sends_a_csp_that_allows_only_its_own_inline_script(client):
    import base64
    import hashlib
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    inline = [s for s in re.findall(r"<script>(.*?)</script>", html, re.S)]
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy and "unsafe-inline" not in policy


def test_tile_settings_with_template_syntax_refuse_to_start():
    from geoapp.layers.build import MapConfigError
    from geoapp.web import create_app
    with pytest.raises(MapConfigError, match="template syntax"):
        create_app({"ATLAS_TILES": "http://t.example/{z}/{x}/{y}.png", "ATLAS_TILES_ATTRIBUTION": "{{7*7}}"})
    with pytest.raises(MapConfigError, match="URL template"):
        create_app({"ATLAS_TILES": "ftp://nope"})


# --- data text is never a template: payloads in every text field of every layer ---------------
def _poison(data_dir, payload_of):
    """Write payloads into every text field of every place CSV (ids stay valid and unique)."""
    import csv
    texts = {}
    for path in sorted(data_dir.glob("*/*.csv")):
        if path.parent.name == "boundaries":
            continue
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or "name_zh" not in rows[0]:
            continue
        for i, row in enumerate(rows):
            for field in ("name_zh", "name_en", "note", "note_zh", "note_en", "address"):
                if field in row:
                    row[field] = f"{row[field]} {payload_of(i)}"
            if "source" in row:
                row["source"] = f"{row['source']} {payload_of(i)}"
            texts[row["id"]] = row
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return texts


@pytest.fixture(scope="module")
def poisoned_app(tmp_path_factory):
    from geoapp import DATA_DIR
    from geoapp.web import create_app
    target = tmp_path_factory.mktemp("poisoned") / "data"
    shutil.copytree(DATA_DIR, target)
    texts = _poison(target, lambda i: PAYLOADS[i % len(PAYLOADS)] + " " + PAYLOADS[(i + 1) % len(PAYLOADS)])
    app = create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATA_DIR": str(target),
                      "ATLAS_SKIP_TEXT_CHECK": True})
    return app, texts


def test_template_payloads_in_data_are_shown_literally(poisoned_app):
    from markupsafe import escape
    app, texts = poisoned_app
    client = app.test_client()
    for lang in ("zh", "en"):
        page = client.get(f"/?lang={lang}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "cycler" not in html and "{{7*7}}" not in html  # the frame carries no data text
        for layer in page_config(html)["layers"]:
            body = client.get(layer["url"])
            assert body.status_code == 200
            raw = body.get_data(as_text=True)
            for feature in body.get_json()["features"]:
                props = feature["properties"]
                if props["id"] not in texts:
                    continue
                row = texts[props["id"]]
                name = row["name_en"] if lang == "en" else row["name_zh"]
                payload = name.split(" ", 1)[1]   # what _poison appended, e.g. "{{7*7}} {{ cycler… }}"
                # shown literally (an evaluated template would have replaced it by 49 or a pid)
                assert payload in props["tip"], (payload, props["tip"])
                if "popup" in props:
                    assert str(escape(payload)) in props["popup"], (payload, props["popup"])
                    assert "<script>" not in props["popup"]  # escaped in popup HTML
                assert "{{7*7}}" in raw or "{{ cycler" in raw or "{%" in raw
    hits = client.get("/map/search?q=7*7").get_json()["hits"]
    assert hits and all("{{7*7}}" in h["name_zh"] for h in hits)


@pytest.mark.browser
def test_payloads_show_literally_in_the_browser_popup(poisoned_app, page):
    import threading

    from werkzeug.serving import make_server
    app, texts = poisoned_app
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/?city=210200")
        page.wait_for_function("() => window.atlas && atlas.loaded")
        page.evaluate("atlas.markers.high_tech_zones.htz_dalian.openPopup()")
        text = page.wait_for_selector(".leaflet-popup-content").inner_text()
        row = texts["htz_dalian"]
        payload = row["name_zh"].split(" ", 1)[1]
        assert payload in text, (payload, text)           # shown literally ...
        assert page.evaluate("window.__xss") is None       # ... and nothing ran
        assert page.console_errors == [], page.console_errors  # no CSP violation either
    finally:
        server.shutdown()


def test_places_sharing_a_seat_are_drawn_apart_but_exported_at_the_seat(client, registry):
    """Places known only to the same city/district share its seat; the map moves them apart on a
    small circle (display only), the exports keep the stored anchor."""
    from collections import Counter

    import shapely
    layers = ("high_tech_zones", "clusters_bases", "coastal_parks", "platforms_labs")
    stored = {}
    for layer in layers:
        frame = registry.layers[layer]
        stored.update({i: (round(g.x, 6), round(g.y, 6)) for i, g in zip(frame["id"], frame.geometry)})
    shared = [p for p, n in Counter(stored.values()).items() if n > 1]
    assert shared, "the data has places sharing a seat (this test needs them)"
    drawn = {}
    for layer in layers:
        for f in client.get(f"/map/layers/{layer}.geojson").get_json()["features"]:
            drawn[f["properties"]["id"]] = tuple(f["geometry"]["coordinates"])
    assert set(drawn) == set(stored)
    assert max(Counter(drawn.values()).values()) == 1   # no two places on one point
    for place, where in drawn.items():                    # and each stays near its anchor
        metres = shapely.Point(where).distance(shapely.Point(stored[place])) * 111_320
        assert metres < 600, (place, metres)
    for layer in layers:
        exported = client.get(f"/export/{layer}.geojson").get_json()["features"]
        for f in exported:
            x, y = f["geometry"]["coordinates"]
            assert (round(x, 6), round(y, 6)) == stored[f["properties"]["id"]]


def test_plan_references_read_in_the_page_language_without_file_paths(client):
    """Issue 22 item 6: English readers got Chinese section numbers (三（二）2) and file paths in popups."""
    for lang in ("zh", "en"):
        body = client.get(f"/map/layers/high_tech_zones.geojson?lang={lang}").get_json()
        popup = next(f["properties"]["popup"] for f in body["features"] if f["properties"]["id"] == "htz_shenyang")
        assert "data/plan" not in popup and "plan text" not in popup
        if lang == "en":
            assert "III.2.2" in popup and "三（二）" not in popup
        else:
            assert "规划原文 三（二）2" in popup
