"""Every route under /plans/<plan_id>/ (geoapp/web/plans.py): the same pages for a plan, linking
to that plan's URLs; the unprefixed routes are the default plan's; /api/plans lists the plans."""
import re

import pytest

PAGES = ["/", "/stats", "/about", "/api/distribution", "/api/coverage", "/ogc/collections",
         "/export/high_tech_zones.geojson", "/map/search?q=shenyang", "/map/cities/210100.json",
         "/map/places.json"]


@pytest.fixture(scope="module")
def default_id(app):
    return app.extensions["atlas"].default_plan


def links(html: str) -> set[str]:
    """Site paths a page links to (href, src, action)."""
    return {u for u in re.findall(r'(?:href|src|action)="(/[^"]*)"', html)}


def test_api_plans_lists_the_default_plan(client, default_id):
    body = client.get("/api/plans").get_json()
    assert [p["id"] for p in body["plans"] if p["default"]] == [default_id]
    for plan in body["plans"]:
        assert set(plan) >= {"id", "title", "period", "default", "url"}
        assert set(plan["title"]) == {"zh", "en"}
        assert plan["url"].endswith("/" if plan["default"] else f"/plans/{plan['id']}/")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_answers_under_the_default_plans_prefix(client, default_id, page):
    plain, prefixed = client.get(page), client.get(f"/plans/{default_id}{page}")
    assert plain.status_code == prefixed.status_code == 200, page
    assert plain.mimetype == prefixed.mimetype


@pytest.mark.parametrize("page", ["/", "/stats", "/about"])
def test_a_plans_pages_link_to_that_plans_urls(client, default_id, page):
    prefix = f"/plans/{default_id}"
    html = client.get(prefix + page).get_data(as_text=True)
    own = links(html)
    assert own, page
    outside = sorted(u for u in own if not u.startswith(prefix + "/"))
    assert outside == [], f"{page} under {prefix} links outside the plan: {outside}"
    assert f'data-base="{prefix}"' in html
    # ... and the same page unprefixed (served from the same bundle, cached apart) does not
    plain = client.get(page).get_data(as_text=True)
    assert not any(u.startswith("/plans/") for u in links(plain)), page
    assert 'data-base=""' in plain


def test_the_map_scripts_urls_carry_the_prefix(client, default_id):
    """What atlas.js fetches: the URLs in the page's config, and the base it prefixes itself."""
    prefix = f"/plans/{default_id}"
    html = client.get(prefix + "/").get_data(as_text=True)
    config = re.search(r'<script[^>]*id="atlas-config"[^>]*>(.*?)</script>', html, re.S).group(1)
    paths = re.findall(r'"(/[a-z][^"]*)"', config)
    assert paths and all(p.startswith(prefix + "/") for p in paths), paths
    for path in paths[:6]:
        url = path.replace("{z}/{x}/{y}", "7/105/48").replace("{adcode}", "210100").replace("%7Badcode%7D", "210100")
        assert client.get(url).status_code == 200, url


def test_ogc_and_api_links_carry_the_prefix(client, default_id):
    prefix = f"/plans/{default_id}"
    landing = client.get(prefix + "/ogc/?f=json").get_json()
    assert all(f"{prefix}/ogc" in link["href"] for link in landing["links"])
    layers = client.get(prefix + "/api/layers").get_json()
    assert all(f"{prefix}/export/" in layer["links"]["geojson"] for layer in layers["layers"])


@pytest.mark.parametrize("url", ["/plans/nope/", "/plans/nope/stats", "/plans/nope/api/coverage",
                                 "/plans/nope/static/atlas.js"])
def test_an_unknown_plan_is_a_404_listing_the_plans(client, default_id, url):
    response = client.get(url)
    assert response.status_code == 404
    body = response.get_json()
    assert "'nope'" in body["message"] and default_id in body["plans"]
