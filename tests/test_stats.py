"""The stats blueprint through the Flask test client: page, JSON, CSV downloads, bad filters."""
import gzip
import io
import re

import pandas as pd
import pytest

CSVS = ["distribution", "coverage", "tasks", "targets", "belt_groups", "belt_by_city", "belt_cities", "belt_places"]
CODES = {"城市代码": str, "City code (adcode)": str, "城市代码（adcode）": str}


def _csv(client, name, query=""):
    response = client.get(f"/stats/{name}.csv{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel opens Chinese correctly
    return pd.read_csv(io.BytesIO(response.data), encoding="utf-8-sig", dtype=CODES)


def test_stats_page_is_chinese_by_default_and_english_on_request(client):
    zh = client.get("/stats")
    assert zh.status_code == 200 and zh.mimetype == "text/html"
    page = zh.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "各市分布" in page and "沈阳市" in page
    assert 'id="bar-chart"' in page and 'id="heat-map"' in page and 'id="belt-map"' in page
    en = client.get("/stats?lang=en").get_data(as_text=True)
    assert "Distribution by city" in en and "Shenyang" in en


def test_stats_page_loads_nothing_from_elsewhere(client):
    page = client.get("/stats").get_data(as_text=True)
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page)
    # charts are server-side SVG; the one script is the "copy table" buttons (same origin)
    assert re.findall(r"<script[^>]*>", page) == [re.search(r'<script src="/static/tables.js\?v=\w+" defer>', page).group(0)]


def test_distribution_csv_opens_with_pandas_and_has_14_city_rows(client, registry):
    table = _csv(client, "distribution")
    assert len(table) == 14
    assert set(table["城市代码"]) == set(registry.boundaries["city"]["adcode"])
    assert table["国家级高新区"].sum() == 8
    assert table.set_index("城市代码").loc["210100", "城市"] == "沈阳市"
    english = _csv(client, "distribution", "?lang=en")
    assert english.set_index("City code (adcode)").loc["210100", "City"] == "Shenyang"
    assert english["National HTZs"].sum() == 8


@pytest.mark.parametrize("name", CSVS)
def test_every_csv_opens_with_pandas(client, name):
    table = _csv(client, name)
    assert len(table) > 0


def test_tasks_csv_lists_every_task_with_its_status(client):
    tasks = _csv(client, "tasks").set_index("任务编号")
    assert len(tasks) == 40  # 37 spatial tasks + 3 province-wide goals (goals_2020, patents_2020, science_literacy_2020)
    assert tasks.loc["it_data_centres", "状态"] == "部分落图"
    assert "东北区域超算中心" in tasks.loc["it_data_centres", "未落图"]
    assert tasks.loc["platforms_150", "状态"] == "仅有数量"


def test_coverage_csv_cas_dandong_row(client, registry):
    coverage = _csv(client, "coverage").set_index("任务编号")
    names = list(registry.boundaries["city"]["name_zh"])
    row = coverage.loc["cas_dandong_centre", names]
    assert row.to_dict() == {c: (1 if c == "丹东市" else 0) for c in names}


def test_api_distribution_json(client):
    response = client.get("/api/distribution")
    assert response.status_code == 200
    assert "沈阳市".encode() in response.data  # UTF-8, not \\u escapes
    body = response.get_json()
    assert len(body["cities"]) == 14
    assert sum(c["htz_national"] for c in body["cities"]) == 8
    assert body["columns"]["htz_national"]["en"] == "National HTZs"


def test_api_coverage_json(client):
    body = client.get("/api/coverage").get_json()
    tasks = {t["id"]: t for t in body["tasks"]}
    assert len(tasks) == 40  # 37 spatial tasks + 3 province-wide goals (goals_2020, patents_2020, science_literacy_2020)
    assert {k for k, v in tasks["cas_dandong_centre"]["cells"].items() if v} == {"210600"}
    assert tasks["robotics_base_shenyang"]["cities_named"] == ["210100"]
    assert body["figures"]["tasks"] == 40
    assert body["belt"]["half_width_km"] == 30
    assert "210100" in body["belt"]["cities_in_belt"] and "211300" not in body["belt"]["cities_in_belt"]
    national = [t for t in body["targets"] if t["metric_zh"] == "国家级高新区"][0]
    assert (national["value"], national["mapped"]) == (8, 8)


def test_the_filter_is_the_same_as_the_maps(client, registry):
    """industry=biomedicine: the per-city places are the registry rows tagged biomedicine."""
    body = client.get("/api/distribution?industry=biomedicine&kind=high_tech_zone").get_json()
    htz = registry.layer("high_tech_zones")
    tagged = htz[htz["industries"].str.split(";").map(lambda cs: "biomedicine" in cs)]
    got = {c["city_adcode"]: c["htz_total"] for c in body["cities"] if c["htz_total"]}
    assert got == tagged["city_adcode"].value_counts().to_dict()
    assert body["filter"] == {"industry": "biomedicine", "kind": "high_tech_zone"}


def test_city_filter_by_name_and_tasks_touching_fuxin(client):
    body = client.get("/api/coverage?city=阜新").get_json()
    assert {t["id"] for t in body["tasks"]} == {"htz_tier2_national", "htz_national_total",
                                                "htz_every_city", "clusters_named"}


def test_belt_width_parameter(client):
    narrow = client.get("/api/coverage?half_width_km=10").get_json()["belt"]
    wide = client.get("/api/coverage?half_width_km=60").get_json()["belt"]
    assert narrow["half_width_km"] == 10 and wide["area_km2"] > narrow["area_km2"] * 3
    assert set(narrow["cities_in_belt"]) < set(wide["cities_in_belt"])


@pytest.mark.parametrize("url", ["/api/distribution?industry=steel", "/api/coverage?city=Atlantis",
                                 "/stats/distribution.csv?level=galactic",
                                 "/api/coverage?half_width_km=abc", "/api/coverage?half_width_km=0"])
def test_bad_values_answer_400_json(client, url):
    response = client.get(url)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_request" and body["allowed"]


def test_bad_filter_on_the_page_is_an_html_400(client):
    response = client.get("/stats?industry=steel", headers={"Accept": "text/html"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "biomedicine" in response.get_data(as_text=True)


@pytest.mark.parametrize("width", ["30", "12.5", "100"])
def test_belt_width_reaches_every_table(client, width):
    body = client.get(f"/api/coverage?half_width_km={width}").get_json()
    belt_task = next(t for t in body["tasks"] if t["id"] == "belt_shenyang_dalian")
    assert sorted(belt_task["cities"].split(";")) == sorted(body["belt"]["cities_in_belt"])


@pytest.mark.parametrize("url", ["/stats", "/api/distribution", "/api/coverage?half_width_km=12.5",
                                 "/stats/tasks.csv", "/stats/belt_places.csv?half_width_km=20"])
def test_stats_bodies_have_etag_gzip_and_304(client, url):
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "gzip"
    assert first.headers["ETag"].startswith('W/"') and first.headers["Vary"] == "Accept-Encoding"
    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(first.data) == plain.data
    again = client.get(url, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("width", ["7.255", "0.5", "100.01", "nan", "inf", "1e3", "30,5"])
def test_belt_width_outside_the_documented_range_or_precision_is_a_400(client, width):
    response = client.get(f"/api/coverage?half_width_km={width}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == "half_width_km" and "at most two decimals" in body["allowed"][0]


def test_equal_widths_share_one_report_and_the_csvs_without_width_ignore_it(client, app):
    cache = app.extensions["atlas"].bundle().reports
    a = client.get("/api/coverage?half_width_km=12.5").get_json()
    b = client.get("/api/coverage?half_width_km=12.50").get_json()
    assert a == b and b["belt"]["half_width_km"] == 12.5
    keys = [k for k in cache._reports if k[1] == 12.5]
    assert len(keys) == 1  # 12.5 and 12.50 are one computation
    # tasks.csv answers for the stored corridor: the width does not make a new body
    plain = client.get("/stats/tasks.csv")
    wide = client.get("/stats/tasks.csv?half_width_km=60")
    assert plain.headers["ETag"] == wide.headers["ETag"] and plain.data == wide.data


def test_report_cache_is_bounded(app):
    from geoapp.analysis.report import ReportCache
    from geoapp.filters import Filter
    cache = ReportCache(size=2)
    builds = []
    for width in (10.0, 20.0, 30.0, 10.0):
        cache.get(Filter(), width, lambda w=width: builds.append(w) or w)
    assert builds == [10.0, 20.0, 30.0, 10.0]  # 10 was dropped when 30 came in
    assert len(cache._reports) == 2


def test_page_links_carry_the_parsed_filter_and_width(client):
    page = client.get("/stats?industry=Biomedicine,marine&half_width_km=12.50&lang=en").get_data(as_text=True)
    query = "industry=biomedicine,marine&amp;half_width_km=12.5"
    for name in CSVS:
        for fmt in ("csv", "xlsx"):
            assert f'href="/stats/{name}.{fmt}?{query}&amp;lang=en"' in page, name
    assert f'href="/api/coverage?{query}"' in page
    assert f'href="/stats?{query}"' in page  # the other language: Chinese is the default
    assert 'href="/?lang=en"' in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_headings_say_what_the_filter_shows(client, lang):
    """No "全规划概况" over filtered numbers: the heading says the figures are the filter's, and
    the filter is spelt out (in the page's language) under every heading."""
    en = "&lang=en" if lang == "en" else ""
    page = client.get("/stats?city=大连,沈阳&industry=biomedicine" + en).get_data(as_text=True)
    whole = client.get("/stats" + ("?lang=en" if en else "")).get_data(as_text=True)
    if lang == "zh":
        words = "产业：生物医药 · 城市：沈阳市、大连市"
        assert "<h2>全规划概况</h2>" in whole and "全规划概况" not in page
        assert "<h2>筛选结果概况</h2>" in page
    else:
        words = "Industry: Biomedicine · City: Shenyang, Dalian"
        assert "<h2>Plan-wide figures</h2>" in whole and "Plan-wide" not in page
        assert "<h2>Figures for the filter</h2>" in page
    assert f'id="scope">{"筛选：" if lang == "zh" else "Filter: "}{words}' in page
    scopes = re.findall(r'<small class="scope">([^<]*)</small>', page)
    assert len(scopes) == 6 and set(scopes) == {("筛选：" if lang == "zh" else "Filter: ") + words}
    assert 'class="scope"' not in whole
