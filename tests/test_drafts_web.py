"""/admin/drafts: draft a plan from its text, review, publish, revert (issue 20), through the
Flask client. The input is tests/fixtures/city_plan_test_input.txt, a plan text written for these
tests (not a real plan, not data)."""
from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml

from geoapp import DATA_DIR

TOKEN = "draft-admin-token"
FIXTURE = Path(__file__).parent / "fixtures" / "city_plan_test_input.txt"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("drafts") / "data"
    shutil.copytree(DATA_DIR, target)
    return target


@pytest.fixture(scope="module")
def app(data_dir, tmp_path_factory):
    from geoapp.web import create_app
    store = tmp_path_factory.mktemp("store") / "atlas-store.sqlite"
    return create_app({"TESTING": True, "ATLAS_TILES": "none", "ATLAS_DATABASE_URL": f"sqlite:///{store}",
                       "ATLAS_STORE_POLL": 0, "ATLAS_ADMIN_TOKEN": TOKEN, "ATLAS_DATA_DIR": data_dir})


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def admin(app):
    client = app.test_client()
    denied = client.get("/admin/drafts")
    assert denied.status_code == 401
    signed = client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf_of(denied.get_data(as_text=True))})
    assert signed.status_code == 303
    return client


def new_draft(admin, text: str | None = None, plan: str = "city_test", upload: bytes | None = None,
              province_only: bool = False):
    page = admin.get("/admin/drafts").get_data(as_text=True)
    data = {"csrf_token": csrf_of(page), "plan": plan, "who": "tester"}
    if province_only:
        data["province_only"] = "1"
    if upload is not None:
        data["file"] = (io.BytesIO(upload), "plan.txt")
        response = admin.post("/admin/drafts", data=data, content_type="multipart/form-data")
        response.request.environ["wsgi.input"].close()  # the client spools big bodies to a file
        return response
    data["text"] = text if text is not None else FIXTURE.read_text(encoding="utf-8")
    return admin.post("/admin/drafts", data=data)


def test_needs_the_admin_sign_in_and_csrf(app, admin):
    anonymous = app.test_client()
    assert anonymous.get("/admin/drafts").status_code == 401
    assert anonymous.post("/admin/drafts", data={"plan": "x", "text": "一、甲\n"}).status_code == 401
    forged = admin.post("/admin/drafts", data={"plan": "x", "text": "一、甲\n", "csrf_token": "forged"})
    assert forged.status_code == 403


def test_draft_review_publish_revert(admin, data_dir):
    created = new_draft(admin)
    assert created.status_code == 303
    url = created.headers["Location"]
    page = admin.get(url)
    assert page.status_code == 200 and page.headers["Cache-Control"].startswith("no-store")
    html = page.get_data(as_text=True)
    # the text with its proposals highlighted, by section
    assert 'class="ref">二（一）2' in html
    assert re.search(r'<a class="place st-proposed" href="#place-htz_dalian"[^>]*>大连高新区</a>', html)
    assert re.search(r'<a class="target st-proposed" href="#target-draft_\d+-0">2\.8%</a>', html)
    token = url.rstrip("/").rsplit("/", 1)[-1]
    csrf = csrf_of(html)

    def act(place, **form):
        return admin.post(f"/admin/drafts/{token}/places/{place}", data={"csrf_token": csrf, **form})

    ids = re.findall(r'id="place-([a-z0-9_]+)"', html)
    assert "htz_dalian" in ids
    zhuanghe = next(i for i in ids if "zh" in i and "gxq" in i)
    # relocate by clicking the map: the district the point lies in (旅顺口区 seat area)
    assert act(zhuanghe, action="relocate", lon="121.2617", lat="38.8112").status_code == 303
    moved = admin.get(url).get_data(as_text=True)
    assert re.search(rf'id="place-{zhuanghe}".*?旅顺口区', moved, re.S)
    # relocate by choosing a district; rename; merge a duplicate; reject one; bad input says why
    assert act(zhuanghe, action="relocate", adcode="210283 庄河市（大连市）").status_code == 303
    assert act(zhuanghe, action="rename", name_zh="庄河高新区", name_en="Zhuanghe HTZ").status_code == 303
    assert act(zhuanghe, action="relocate", adcode="999999").status_code == 400
    assert act(zhuanghe, action="explode").status_code == 400
    assert act("no_such_place", action="accept").status_code == 404
    jinpu = next(i for i in ids if i.endswith("_jpxq"))
    assert act(jinpu, action="merge", into="htz_dalian").status_code == 303
    lab = next(i for i in ids if "lnbhsys" in i)
    assert act(lab, action="reject").status_code == 303
    # targets: reject one (the 20 国家级孵化器), fix another's metric and stated_as; titles
    rows = {m.group(1, 2): m.group(3) for m in
            re.finditer(r'<tr id="target-(draft_\d+)-(\d+)"(.*?)</tr>', html, re.S)}
    assert len(rows) == 5
    incubators = next(key for key, row in rows.items() if "孵化器" in row)
    assert admin.post(f"/admin/drafts/{token}/targets/{incubators[0]}/{incubators[1]}",
                      data={"csrf_token": csrf, "action": "reject"}).status_code == 303
    spend = next(key for key, row in rows.items() if "<td>2.8 %</td>" in row)
    assert admin.post(f"/admin/drafts/{token}/targets/{spend[0]}/{spend[1]}",
                      data={"csrf_token": csrf, "action": "edit", "metric_zh": "研发经费投入强度",
                            "metric_en": "R&D intensity", "stated_as": "target"}).status_code == 303
    assert admin.post(f"/admin/drafts/{token}/targets/{spend[0]}/{spend[1]}",
                      data={"csrf_token": csrf, "action": "edit", "metric_zh": "x",
                            "stated_as": "maybe"}).status_code == 400
    assert admin.post(f"/admin/drafts/{token}/targets/nope/0", data={"csrf_token": csrf, "action": "reject"}).status_code == 404
    assert admin.post(f"/admin/drafts/{token}/titles", data={
        "csrf_token": csrf, "title_zh": "大连市科技创新“十四五”规划（测试）",
        "title_en": "Dalian 14th FYP for S&T innovation (test input)"}).status_code == 303
    # publishing with undecided proposals is refused (409), then accept the rest and publish
    refused = admin.post(f"/admin/drafts/{token}/publish", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "not yet accepted" in refused.get_data(as_text=True)
    assert admin.post(f"/admin/drafts/{token}/accept-all", data={"csrf_token": csrf, "min": "0"}).status_code == 303
    assert admin.post(f"/admin/drafts/{token}/publish", data={"csrf_token": csrf, "who": "tester"}).status_code == 303
    folder = data_dir / "plans" / "city_test"
    assert (folder / "plan.yaml").exists()
    manifest = yaml.safe_load((folder / "plan.yaml").read_text(encoding="utf-8"))
    assert manifest["id"] == "city_test" and manifest["period"] == {"start": 2021, "end": 2025}
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO((folder / "plan_places.csv").read_text(encoding="utf-8")))}
    assert rows[zhuanghe]["name_zh"] == "庄河高新区" and rows[zhuanghe]["district_adcode"] == "210283"
    assert rows[zhuanghe]["location_precision"] == "district"
    assert lab not in rows  # rejected
    assert jinpu not in rows  # merged into htz_dalian
    assert manifest["titles"]["full"] == {"zh": "大连市科技创新“十四五”规划（测试）",
                                          "en": "Dalian 14th FYP for S&T innovation (test input)"}
    published_targets = [t for task in yaml.safe_load((folder / "tasks.yaml").read_text(encoding="utf-8"))
                         for t in task.get("targets", [])]
    assert {t["value"] for t in published_targets} == {3000, 1000, 30, 2.8}  # 20 家 rejected
    spend_row = next(t for t in published_targets if t["value"] == 2.8)
    assert (spend_row["metric_zh"], spend_row["metric_en"], spend_row["year"]) == ("研发经费投入强度", "R&D intensity", 2025)
    links = (folder / "places.csv").read_text(encoding="utf-8")
    assert links.startswith("id,plan_refs") and "htz_dalian," in links
    # a second publish is version 2; revert to 1 restores the first folder; 0 takes it down
    assert act(zhuanghe, action="rename", name_zh="庄河市高新区").status_code == 303
    assert admin.post(f"/admin/drafts/{token}/publish", data={"csrf_token": csrf}).status_code == 303
    assert "庄河市高新区" in (folder / "plan_places.csv").read_text(encoding="utf-8")
    back = admin.post("/admin/drafts/revert", data={"csrf_token": csrf, "plan": "city_test", "version": "1"})
    assert back.status_code == 303
    assert "庄河市高新区" not in (folder / "plan_places.csv").read_text(encoding="utf-8")
    assert "庄河高新区" in (folder / "plan_places.csv").read_text(encoding="utf-8")
    assert admin.post("/admin/drafts/revert", data={"csrf_token": csrf, "plan": "city_test",
                                                     "version": "7"}).status_code == 400
    assert admin.post("/admin/drafts/revert", data={"csrf_token": csrf, "plan": "city_test",
                                                     "version": "0"}).status_code == 303
    assert not folder.exists()
    assert not [p for p in (data_dir / "plans").iterdir() if p.name.startswith(".city_test")]
    index = admin.get("/admin/drafts").get_data(as_text=True)
    assert "city_test" in index and "revert to 0" in index


def test_a_published_plan_not_made_here_is_never_overwritten(admin, data_dir):
    shipped = data_dir / "plans" / "shipped_like"
    shipped.mkdir(parents=True)
    (shipped / "plan.yaml").write_text("id: shipped_like\n", encoding="utf-8")
    url = new_draft(admin, plan="shipped_like").headers["Location"]
    token = url.rsplit("/", 1)[-1]
    csrf = csrf_of(admin.get(url).get_data(as_text=True))
    admin.post(f"/admin/drafts/{token}/accept-all", data={"csrf_token": csrf, "min": "0"})
    refused = admin.post(f"/admin/drafts/{token}/publish", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "never overwritten" in refused.get_data(as_text=True)
    assert (shipped / "plan.yaml").read_text(encoding="utf-8") == "id: shipped_like\n"


def test_text_is_shown_literally(admin):
    text = ("一、总则\n（一）要求\n1.安全。<script>window.pwned=1</script>{{ 7*7 }}{% raw %}沈阳&lt;测试&gt;"
            "建设沈阳<b>粗体</b>科技园。\n")
    url = new_draft(admin, text=text, plan="escape_test").headers["Location"]
    html = admin.get(url).get_data(as_text=True)
    assert "<script>window.pwned" not in html and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "49" not in re.sub(r"\d{3,}|#\w+", "", html.split('id="text"')[1][:2000])
    assert "&amp;lt;测试&amp;gt;" in html
    assert "<b>粗体</b>" not in html and "&lt;b&gt;粗体&lt;/b&gt;" in html
    data = re.search(r'<script type="application/json" id="draft-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in data  # tojson escapes < > & ' inside the JSON block


@pytest.mark.parametrize("upload, message", [
    (b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary file"),
    (("一、总则\n" + "正文。" * 1_000_000).encode(), "at most 2 MB"),
    ("一、总则\n正文。\n".encode("gb18030"), "not UTF-8"),
])
def test_bad_uploads_are_refused_with_the_reason(admin, upload, message):
    response = new_draft(admin, upload=upload, plan="bad_upload")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_bad_plan_id_is_refused(admin):
    response = new_draft(admin, plan="Bad Id!")
    assert response.status_code == 400 and "not a slug" in response.get_data(as_text=True)


def test_group_term_members_are_shown_with_their_reason(admin):
    """“五点一线” in a pasted text: six cards, each saying in both languages why it is there."""
    text = "某市科技规划\n一、布局\n（一）沿海\n1.园区。以“五点一线”沿海经济带相关产业园为依托，发展电子信息产业。\n"
    created = new_draft(admin, text=text, plan="coast_test", province_only=True)
    assert created.status_code == 303
    html = admin.get(created.headers["Location"]).get_data(as_text=True)
    assert html.count("member of group term 五点一线 (gazetteer data/boundaries/group_terms.yaml)") == 6
    assert html.count("组合名称“五点一线”的成员（省级地名表 data/boundaries/group_terms.yaml）") == 6
    for name in ("大连长兴岛临港工业区", "辽宁（营口）沿海产业基地", "锦州西海工业区", "葫芦岛北港工业区",
                 "辽宁丹东产业园区", "大连庄河花园口工业园区"):
        assert name in html
