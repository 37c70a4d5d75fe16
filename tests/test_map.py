"""The map page through Flask's test client: routes, filters, bad input, offline assets."""
import gzip
import re


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_map_page_chinese_by_default_and_english_on_request(client):
    zh = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh and "辽宁“十三五”科技创新地图" in zh
    en = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "Liaoning 13th Five-Year S&amp;T Plan Atlas" in en
    assert "National high-tech zone" in en


def test_page_loads_nothing_from_outside(client):
    html = client.get("/").get_data(as_text=True)
    external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:)?//', html)
    assert external == []
    # Leaflet's images (layer-control icon) are served too
    paths = re.findall(r'(?:src|href)="(/static/[^"]+)"', html) + ["/static/vendor/leaflet-1.9.4/images/layers.png?v=1dbbe9d028e2"]
    for path in paths:
        with client.get(path) as response:  # closes the file a static response streams
            assert response.status_code == 200, path


def test_filter_is_reflected_in_form_chips_and_download_link(client):
    html = client.get("/?industry=biomedicine&city=本溪").get_data(as_text=True)
    assert '<input type="checkbox" name="industry" value="biomedicine" checked>' in html
    assert '<input type="checkbox" name="city" value="210500" checked>' in html
    assert "/export/all.gpkg?industry=biomedicine&amp;city=210500" in html


def test_city_accepts_adcode_chinese_and_english_names(client):
    pages = [client.get(f"/?city={c}").get_data() for c in ("210500", "本溪市", "本溪", "Benxi", "benxi")]
    counts = [re.search(rb'"high_tech_zones": (\d+)', p).group(1) for p in pages]
    assert counts == [b"1"] * 5


def test_several_values_are_or_ed(client):
    one = client.get("/?industry=biomedicine").get_data(as_text=True)
    two = client.get("/?industry=biomedicine,new_materials").get_data(as_text=True)
    n = lambda html: int(re.search(r'"high_tech_zones": (\d+)', html).group(1))
    assert n(two) > n(one)
    repeated = client.get("/?industry=biomedicine&industry=new_materials").get_data(as_text=True)
    assert n(repeated) == n(two)


def test_unknown_values_answer_400_listing_allowed(client):
    response = client.get("/?city=Atlantis", headers={"Accept": "application/json"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == "city" and body["value"] == "Atlantis"
    assert any("210500" in a and "Benxi" in a for a in body["allowed"])
    response = client.get("/?industry=foo", headers={"Accept": "text/html"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "unknown industry &#39;foo&#39;" in text and "biomedicine" in text
    assert client.get("/?metric=bogus").status_code == 400
    assert client.get("/?level=regional").status_code == 400


def test_empty_result_says_which_choice_emptied_it(client):
    """Issue 22 item 4: the message names the choices and links to each one dropped, with the
    places there would be (the facet counts of the page without that choice)."""
    html = client.get("/?city=211300&industry=marine").get_data(as_text=True)
    assert 'id="atlas-empty"' in html
    assert "没有地点同时符合“城市：朝阳市”和“产业：海洋”" in html
    without_city = client.get("/?industry=marine").get_data(as_text=True)
    marine_places = re.search(r'value="211300"[^>]*><span>[^<]*</span> <small>\((\d+)\)', html).group(1)
    assert '<a href="/?industry=marine">去掉“城市：朝阳市”（' in html
    # dropping the industry leaves 朝阳's places: the count beside 朝阳 on the industry-less page
    chaoyang = re.search(r'value="211300"[^>]*><span>[^<]*</span> <small>\((\d+)\)',
                         client.get("/?city=211300").get_data(as_text=True)).group(1)
    assert f'<a href="/?city=211300">去掉“产业：海洋”（{chaoyang} 处）</a>' in html
    assert marine_places == "0" and "atlas-empty" not in without_city
    # one choice alone empties it (朝阳's high-tech zone is not marine): said so, in English too
    en = client.get("/?city=211300&industry=marine&kind=high_tech_zone&lang=en").get_data(as_text=True)
    assert "“Industry: Marine” emptied the result" in en
    assert '<a href="/?city=211300&amp;kind=high_tech_zone&amp;lang=en">Drop “Industry: Marine” (1 place)</a>' in en


def test_page_is_cached_gzipped_and_revalidated(client):
    first = client.get("/?industry=marine", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    html = gzip.decompress(first.data).decode()
    assert "辽宁" in html
    again = client.get("/?industry=marine", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_popup_text_is_escaped(app):
    from geoapp.layers.popup import Names, popup_html
    cities = app.extensions["atlas"].bundle().registry.boundaries["city"]
    html = popup_html(["name", "source", "note"],
                      {"name_zh": "<script>x</script>", "name_en": "A&B", "source": "see https://example.org/a?b=1&c=2 \"q\"",
                       "note": "${alert(1)}"}, "zh", Names(cities))
    assert "<script>" not in html and "&lt;script&gt;" in html and "A&amp;B" in html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html and "&#34;q&#34;" in html


def test_basemap_is_configurable(app):
    from geoapp.web import create_app
    none_page = app.test_client().get("/").get_data(as_text=True)
    assert "L.tileLayer" not in none_page
    osm = create_app({"ATLAS_TILES": "osm"}).test_client().get("/").get_data(as_text=True)
    assert "tile.openstreetmap.org/{z}/{x}/{y}.png" in osm
    internal = create_app({"ATLAS_TILES": "http://tiles.intranet.example/{z}/{x}/{y}.png",
                           "ATLAS_TILES_ATTRIBUTION": "内网底图"}).test_client().get("/")
    html = internal.get_data(as_text=True)
    assert "http://tiles.intranet.example/{z}/{x}/{y}.png" in html
    assert "tile.openstreetmap.org" not in html


def test_choropleth_values_are_the_stats_numbers(client):
    """The map shades each city by the same per-city figure /api/distribution reports."""
    rows = {r["city_adcode"]: r for r in client.get("/api/distribution?industry=biomedicine").get_json()["cities"]}
    for metric in ("places", "htz_national", "tasks"):
        page = client.get(f"/?industry=biomedicine&metric={metric}").get_data(as_text=True)
        url = next(layer["url"] for layer in page_config(page)["layers"] if layer["id"] == "cities")
        assert f"metric={metric}" in url and "industry=biomedicine" in url
        features = client.get(url).get_json()["features"]
        assert len(features) == 14
        for feature in features:
            row = rows[feature["properties"]["id"]]
            assert feature["properties"]["value"] == row[metric], (metric, row["name_zh"])
            assert feature["properties"]["tip"].endswith(f": {row[metric]}")


def page_config(html: str) -> dict:
    import json
    return json.loads(re.search(r'<script type="application/json" id="atlas-config">(.*?)</script>',
                                html, re.S).group(1))


def test_download_link_of_a_filtered_view_returns_that_view(client, tmp_path):
    import pyogrio
    page = client.get("/?city=210200&level=national").get_data(as_text=True)
    href = re.search(r'id="atlas-download" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.get(href)
    assert response.status_code == 200
    path = tmp_path / "view.gpkg"
    path.write_bytes(response.data)
    htz = pyogrio.read_dataframe(path, layer="high_tech_zones")
    assert list(htz["id"]) == ["htz_dalian"]


def test_cached_page_links_come_from_the_filter_not_the_first_request(client):
    first = client.get("/?level=provincial&utm_source=spam").get_data(as_text=True)
    assert "utm_source" not in first
    repeated = client.get("/?industry=biomedicine&industry=marine&kind=cluster&kind=coastal_park")
    html = repeated.get_data(as_text=True).replace("&amp;", "&")
    stats_link = re.search(r'href="(/stats[^"]*)"', html).group(1)
    assert stats_link == "/stats?industry=biomedicine,marine&kind=cluster,coastal_park"
    other = re.search(r'href="(/\?[^"]*lang=en[^"]*)"', html).group(1)
    assert "industry=biomedicine,marine" in other and "kind=cluster,coastal_park" in other


def test_english_city_panel_says_units_and_periods_in_english(client):
    """Issue 22 item 6: the English city panel said "8 个", "60 余万人", "“十二五”期间"."""
    cjk = re.compile(r"[\u3400-\u9fff]")
    seen = []
    for code in ("210100", "210200", "211300"):
        card = client.get(f"/map/cities/{code}.json?lang=en").get_json()["scorecard"]["rows"]
        for row in card:
            seen += [row["target"], row["when"]] + [f["text"] for f in row["city_figures"]]
    assert seen and not [text for text in seen if cjk.search(text)]
    assert "12th FYP period (2011–2015)" in seen
    zh = client.get("/map/cities/210100.json").get_json()["scorecard"]["rows"]
    assert "60 余万人" in [row["target"] for row in zh]
