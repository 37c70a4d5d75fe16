"""/about lists where facts come from and what is missing."""
import re

import pytest


def test_about_lists_sources_precision_and_what_is_missing(client, registry):
    html = client.get("/about").get_data(as_text=True)
    assert "数据来源与说明" in html
    # the missing list of data/parks/SOURCE.md, rendered (markdown -> HTML)
    assert "<strong>东北区域超算中心" in html
    assert "<table>" in html and "<code>htz_shenyang</code>" in html
    # one card per place (demo-zone core rows are views of other rows, not places)
    places = registry.places()
    expected = int((places["layer"] != "demo_zone_core").sum())
    assert len(re.findall(r'<div class="atlas-popup-title">', html)) == expected
    # precision summary adds up to the same number
    counts = [int(n) for n in re.findall(r"<tr><th scope=\"row\">[^<]+</th><td>(\d+)</td></tr>",
                                         html.split('id="precision-summary"')[1].split("</table>")[0])]
    assert sum(counts) == expected


def test_about_in_english(client):
    html = client.get("/about?lang=en").get_data(as_text=True)
    assert "Sources and notes" in html and "Every place and its sources" in html


def test_about_is_in_the_page_language(client):
    zh = client.get("/about").get_data(as_text=True)
    en = client.get("/about?lang=en").get_data(as_text=True)
    # the data folders' notes: SOURCE.zh.md on the Chinese page, SOURCE.md on the English one
    assert "位置精度" in zh and "点为区县人民政府驻地" in zh
    assert "How precise each location is" not in zh
    assert "How precise each location is" in en
    assert "点为区县人民政府驻地" not in en
    # every place's note in the page's language
    assert "正式名称未查到" in zh and "Official name not sourced" not in zh
    assert "Official name not sourced" in en and "正式名称未查到" not in en
    assert "国函〔2016〕65号" in zh and "国函〔2016〕65号" in en


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_about_starts_with_a_plain_summary_and_shows_readers_no_paths_or_ids(client, registry, lang):
    html = client.get("/about" + ("?lang=en" if lang == "en" else "")).get_data(as_text=True)
    main = html.split("<main>")[1]
    assert main.lstrip().startswith('{#') or main.index('id="summary"') < main.index('id="precision-summary"')
    summary = main.split('id="summary"')[1].split("</section>")[0]
    places = registry.counted_places()
    assert str(len(places)) in summary
    n_city = int((places["location_precision"] == "city").sum())
    assert (f"{n_city} 处只知道所在城市" if lang == "zh" else f"{n_city} only to their city") in summary
    # what a reader sees without opening the maintainers' records: no file paths, no row ids
    outside_records = re.sub(r"<details class=\"doc\">.*?</details>", "", main, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", outside_records)
    assert not re.search(r"\bdata/[\w./-]+|\.(?:txt|csv|yaml|py)\b|scripts/", text), re.findall(r".{40}(?:data/|scripts/).{20}", text)
    assert not re.search(r"\b(?:htz|cluster|base|platform|lab)_[a-z_]+\b", text)
    assert ("规划原文 三（二）2" if lang == "zh" else "Plan text, section 三（二）2") in text


def test_raw_html_in_a_source_file_is_shown_as_text_not_rendered():
    from geoapp.web.about import markdown_html
    html = str(markdown_html("A **bold** claim <script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n"
                             "<div onclick=\"x()\">block</div>\n\n| a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<strong>bold</strong>" in html and "<table>" in html       # markdown still works
    assert "<script>" not in html and "<img" not in html and "<div onclick" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html and "&lt;div onclick" in html


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_about_fits_a_phone(browser, live_server, lang):
    """/about at 390×844: laid out for the phone's width (a viewport meta), long file paths and
    URLs wrap, the page never scrolls sideways."""
    from tests.conftest import shot
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{live_server}/about" + ("?lang=en" if lang == "en" else ""))
        assert page.evaluate("window.innerWidth") == 390          # not a 980 px page zoomed out
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        wider = page.evaluate("""() => Array.from(document.querySelectorAll('main *'))
            .filter(e => e.getBoundingClientRect().right > 391).map(e => e.tagName)""")
        assert wider == []
        shot(page, f"about_phone_{lang}")
    finally:
        context.close()
