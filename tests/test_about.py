"""/about lists where facts come from and what is missing."""
import re


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
    counts = [int(n) for n in re.findall(r"<tr><th>[^<]+</th><td>(\d+)</td></tr>",
                                         html.split('id="precision-summary"')[1].split("</table>")[0])]
    assert sum(counts) == expected


def test_about_in_english(client):
    html = client.get("/about?lang=en").get_data(as_text=True)
    assert "Sources and notes" in html and "Every place and its sources" in html
