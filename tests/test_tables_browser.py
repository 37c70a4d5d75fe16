"""Tables for reports in a real browser: "copy table" puts an HTML table on the clipboard, the
places list's files follow the list, the belt width keeps the reader where they were, and the
text of /stats and /about has WCAG AA contrast with headers covering every table cell."""
import re
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, shot

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "desktop": (1440, 900)}


def _context(browser, size, **extra):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  is_mobile=size == "phone", has_touch=size == "phone", **extra)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    return context, page


# WCAG 2 contrast of every visible text against the background it is drawn on (the first opaque
# background up the tree, semi-transparent ones blended over it); large text (24 px, or 18.66 px
# bold) needs 3:1, other text 4.5:1. SVG text is a drawing (fill), not CSS colour: left out.
CONTRAST = r"""() => {
  function rgba(s) { const m = s.match(/rgba?\(([^)]+)\)/); if (!m) return [0,0,0,0];
    const p = m[1].split(',').map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
  function blend(top, under) { const a = top[3]; return [0,1,2].map(i => top[i]*a + under[i]*(1-a)).concat([1]); }
  function background(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let colour = [255,255,255,1];
    for (let i = layers.length - 1; i >= 0; i--) colour = blend(layers[i], colour);
    return colour;
  }
  function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v/12.92 : Math.pow((v+0.055)/1.055, 2.4); };
    return 0.2126*f(c[0]) + 0.7152*f(c[1]) + 0.0722*f(c[2]); }
  const bad = []; let checked = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('svg, script, style, [hidden], details:not([open]) > :not(summary)')) continue;
    const r = el.getBoundingClientRect(), st = getComputedStyle(el);
    if (!r.width || !r.height || st.visibility === 'hidden' || st.display === 'none' || parseFloat(st.opacity) === 0) continue;
    const fg = blend(rgba(st.color), background(el)), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    checked++;
    if (ratio < need) bad.push(`${ratio.toFixed(2)} < ${need}: "${node.textContent.trim().slice(0, 30)}" (${el.tagName}.${el.className})`);
  }
  return {checked, bad: bad.slice(0, 20), n: bad.length};
}"""

# every data cell has a column header (th scope=col in its table's thead) and a row header
# (th scope=row in its row)
HEADERS = r"""() => {
  const bad = [];
  document.querySelectorAll('main table').forEach(t => {
    const cols = t.querySelectorAll('thead th');
    if (!cols.length || [...cols].some(th => th.getAttribute('scope') !== 'col')) bad.push('thead of #' + t.id);
    t.querySelectorAll('tbody tr').forEach(tr => {
      if (!tr.querySelector('th[scope=row]')) bad.push('row without header in #' + t.id + ': ' + tr.textContent.slice(0, 30));
    });
  });
  return bad;
}"""


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("path", ["/stats", "/about"])
def test_text_contrast_and_table_headers(browser, live_server, path, size, lang):
    context, page = _context(browser, size)
    try:
        page.goto(f"{live_server}{path}?city=大连,沈阳" + ("&lang=en" if lang == "en" else ""),
                  wait_until="networkidle")
        result = page.evaluate(CONTRAST)
        assert result["checked"] > 100
        assert result["bad"] == [], result
        if path == "/stats":
            assert page.evaluate(HEADERS) == []
        assert page.locator('meta[name="description"]').get_attribute("content")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= SIZES[size][0]
        shot(page, f"tables_{path.strip('/')}_{lang}_{size}")
        assert page.errors == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_copy_table_puts_an_html_table_on_the_clipboard(browser, live_server, lang):
    context, page = _context(browser, "desktop", permissions=["clipboard-read", "clipboard-write"])
    try:
        page.goto(f"{live_server}/stats?industry=biomedicine" + ("&lang=en" if lang == "en" else ""),
                  wait_until="networkidle")
        button = page.locator('button[data-copy-table="table-distribution"]')
        assert button.is_visible()
        button.click()
        page.wait_for_selector('button[data-copy-table="table-distribution"][data-copied]')
        html, text = page.evaluate("""async () => {
          const items = await navigator.clipboard.read();
          const item = items[0];
          return [await (await item.getType('text/html')).text(), await (await item.getType('text/plain')).text()];
        }""")
        assert "<table" in html and "<th" in html and "</table>" in html
        cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", html)
        if lang == "zh":
            assert "城市" in cells and "国家级高新区" in cells and "沈阳市" in cells
            assert "各市分布（筛选：产业：生物医药）" in html
        else:
            assert "City" in cells and "National HTZs" in cells and "Shenyang" in cells
        assert "class=" not in html and "style=" not in html and "data-label" not in html  # clean for Word / WPS
        rows = [line.split("\t") for line in text.splitlines()[1:]]
        assert len(rows) == 15 and len({len(r) for r in rows}) == 1  # header + 14 cities, one grid
        ARTIFACTS.mkdir(exist_ok=True)
        Path(ARTIFACTS / f"copied_table_{lang}.html").write_text(
            '<!doctype html><meta charset="utf-8"><body>' + html + "</body>", encoding="utf-8")
        assert page.errors == []
    finally:
        context.close()


def test_belt_width_keeps_the_place_and_the_map_follows(browser, live_server):
    context, page = _context(browser, "desktop")
    try:
        page.goto(f"{live_server}/stats", wait_until="networkidle")
        corridor = page.locator("#belt-map path[fill^='rgba(178']").get_attribute("d")
        page.locator("form.width").scroll_into_view_if_needed()
        before = page.evaluate("window.scrollY")
        assert before > 500
        page.fill("form.width input[name=half_width_km]", "12.5")
        with page.expect_navigation():
            page.click("form.width button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "half_width_km=12.5" in page.url
        assert abs(page.evaluate("window.scrollY") - before) < 80
        assert page.locator("#belt-map path[fill^='rgba(178']").get_attribute("d") != corridor
        assert "12.5 km" in page.locator("#belt .figures").inner_text()
        # the downloads follow the width
        assert "half_width_km=12.5" in page.locator('a[href^="/stats/belt_by_city.xlsx"]').get_attribute("href")
        shot(page, "tables_belt_width")
        assert page.errors == []
        # a bad width: the page says so at the field (and at the top), with the rest of the page
        page.goto(f"{live_server}/stats?half_width_km=300")
        assert page.locator("#width-error").is_visible()
        assert "300" in page.locator("#width-error").inner_text()
        assert page.locator("table.cities tbody tr").count() == 14
        page.locator("#width-error").scroll_into_view_if_needed()
        shot(page, "tables_belt_width_error")
        assert all("status of 400" in e for e in page.errors)  # the page itself answers 400
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_places_list_files_follow_the_list(browser, live_server, size, lang):
    context, page = _context(browser, size, permissions=["clipboard-read", "clipboard-write"])
    try:
        page.goto(f"{live_server}/?industry=biomedicine" + ("&lang=en" if lang == "en" else ""),
                  wait_until="networkidle")
        page.wait_for_function("() => document.getElementById('atlas-table').getAttribute('data-state')")
        if size == "phone":
            page.click("#atlas-sheet-handle")
        xlsx = page.locator('a[data-places-file="xlsx"]')
        assert xlsx.is_visible() and page.locator('button[data-copy-table="atlas-table"]').is_visible()
        href = xlsx.get_attribute("href")
        assert href.startswith("/map/places.xlsx?") and "industry=biomedicine" in href and "bbox=" in href
        assert ("lang=en" in href) == (lang == "en")
        # the Chinese list has no English second line under each name (the file has its own column)
        smalls = page.locator("#atlas-table tbody td small").count()
        assert (smalls > 0) == (lang == "en")
        response = page.request.get(live_server + href)
        assert response.status == 200 and response.headers["content-type"].startswith("application/vnd.openxml")
        page.click('button[data-copy-table="atlas-table"]')
        page.wait_for_selector('button[data-copy-table="atlas-table"][data-copied]')
        shot(page, f"tables_map_list_{lang}_{size}")
        assert page.errors == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_city_panel_copy_puts_that_citys_figures_on_the_clipboard(browser, live_server, lang):
    """Issue 22 item 1: the city panel's figures paste into Word/WPS as a table of that city only."""
    context, page = _context(browser, "desktop", permissions=["clipboard-read", "clipboard-write"])
    try:
        page.goto(f"{live_server}/?city_panel=210200" + ("&lang=en" if lang == "en" else ""),
                  wait_until="networkidle")
        page.wait_for_selector("#atlas-city:not([hidden]) button[data-copy-table]")
        shown = page.evaluate("""() => Array.from(document.querySelectorAll('#atlas-city dl dt'))
                                 .map(dt => [dt.textContent, dt.nextElementSibling.textContent])""")
        assert shown, "the panel shows the city's figures"
        button = page.locator("#atlas-city button[data-copy-table]")
        assert button.inner_text() == ("Copy table" if lang == "en" else "复制表格")
        button.click()
        page.wait_for_selector("#atlas-city button[data-copy-table][data-copied]")
        html = page.evaluate("""async () => {
          const items = await navigator.clipboard.read();
          return await (await items[0].getType('text/html')).text();
        }""")
        assert ("Dalian" if lang == "en" else "大连市") in html.split("</caption>")[0]
        cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", html)
        assert [cells[i:i + 2] for i in range(0, len(cells), 2)] == [list(pair) for pair in shown]
        assert "class=" not in html and "style=" not in html
        assert page.errors == []
    finally:
        context.close()
