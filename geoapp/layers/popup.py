"""Popup and tooltip HTML for a feature, bilingual, with every value escaped.

Field names used in layer specs: name, level, kind, city, district, industries,
location_precision, plan_refs, source, note, metric.
"""
from __future__ import annotations

import re

from markupsafe import Markup, escape

from geoapp import vocab

LABELS = {
    "name": ("名称", "Name"), "level": ("级别", "Level"), "kind": ("类型", "Kind"),
    "city": ("城市", "City"), "district": ("区县", "District"), "industries": ("产业", "Industries"),
    "location_precision": ("位置精度", "Location precision"), "plan_refs": ("规划章节", "Plan section"),
    "source": ("来源", "Source"), "note": ("说明", "Note"), "metric": ("指标", "Metric"),
}
URL = re.compile(r"https?://[^\s;]+")
# "规划文本 plan text 三（二）2 (data/plan/source/….txt)" in a row's `source`: the plan itself,
# written for the data's maintainers. Readers get "规划原文 三（二）2" / "Plan text, section 三（二）2"
# (line references L23, L167-L169 as 第 23 行 / line 23), never the file path.
PLAN_TEXT = re.compile(r"规划文本 plan text(?P<ref>[^;(:：]*)(?P<path>\s*\(data/[^)]*\))?")
DATA_PATH = re.compile(r"\s*\(\s*`?data/[^)]*\)")
LINES = re.compile(r"^L(\d+)(?:\s*[-–]\s*L?(\d+))?$")


CN_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII", 8: "VIII", 9: "IX", 10: "X"}
SECTION = re.compile(r"^(?P<part>[一二三四五六七八九十])(?:（(?P<sub>[一二三四五六七八九十]+)）(?P<item>\d+)?)?$")
BOX = re.compile(r"^专栏\s*(\d+)$")


def _cn_number(text: str) -> int:
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + CN_NUMBERS[text[1]]
    if len(text) == 2 and text[1] == "十":
        return CN_NUMBERS[text[0]] * 10
    return CN_NUMBERS[text[0]] if len(text) == 1 else CN_NUMBERS[text[0]] * 10 + CN_NUMBERS[text[-1]]


def section_label(section: str, lang: str) -> str:
    """A plan section as readers of the page's language write it: 三（二）2 stays in Chinese;
    in English "III.2.2" (part, sub-part, item) and 专栏3 "Box 3". Anything else unchanged."""
    section = (section or "").strip()
    if lang != "en" or not section:
        return section
    box = BOX.match(section)
    if box:
        return f"Box {box.group(1)}"
    match = SECTION.match(section)
    if not match:
        return section
    parts = [ROMAN[_cn_number(match.group("part"))]]
    if match.group("sub"):
        parts.append(str(_cn_number(match.group("sub"))))
    if match.group("item"):
        parts.append(match.group("item"))
    return ".".join(parts)


def _plan_ref(ref: str, lang: str) -> str:
    ref = ref.strip()
    lines = LINES.match(ref)
    if lines:
        first, last = lines.groups()
        if lang == "en":
            return f"lines {first}–{last}" if last else f"line {first}"
        return f"第 {first}–{last} 行" if last else f"第 {first} 行"
    return ref if lang != "en" or not ref else f"section {section_label(ref, lang)}"


def source_text(raw: str, lang: str) -> str:
    """A `source` cell as readers see it: the plan named in words in the page's language, no
    file paths of the data folder."""
    def plan(match):
        ref = _plan_ref(match.group("ref"), lang)
        head = "Plan text" if lang == "en" else "规划原文"
        return f"{head}, {ref}" if lang == "en" and ref else f"{head} {ref}".rstrip()
    return DATA_PATH.sub("", PLAN_TEXT.sub(plan, raw))


class Names:
    """adcode -> (name_zh, name_en) for cities and districts; `industries`: the plan's industry
    vocabulary (code -> (zh, en)) the popups label industry codes with."""

    def __init__(self, *frames, industries: dict[str, tuple[str, str]] | None = None):
        self.industries = industries or {}
        self.table = {}
        for frame in frames:
            self.table.update({c: (z, e) for c, z, e in
                               zip(frame["adcode"], frame["name_zh"], frame["name_en"])})

    def __call__(self, code: str, lang: str) -> str:
        zh, en = self.table.get(code, (code, code))
        return f"{en} {zh}" if lang == "en" else f"{zh} {en}"

    def short(self, code: str, lang: str) -> str:
        """The name in the page's language only (大连市 / Dalian)."""
        zh, en = self.table.get(code, (code, code))
        return en if lang == "en" else zh


def display_name(record: dict, lang: str) -> str:
    zh, en = record.get("name_zh", ""), record.get("name_en", "")
    first, second = (en, zh) if lang == "en" else (zh, en)
    return first if not second else f"{first} / {second}" if first else second


def _value(field: str, record: dict, lang: str, names: Names) -> Markup | None:
    raw = record.get(field)
    if field == "note":  # notes are kept in both languages (note_zh / note_en)
        raw = record.get(f"note_{'en' if lang == 'en' else 'zh'}") or raw
    if field == "name":
        return Markup("<b>{}</b>").format(display_name(record, lang))
    if field == "city":
        return escape(names(record.get("city_adcode", ""), lang)) if record.get("city_adcode") else None
    if field == "district":
        return escape(names(record["district_adcode"], lang)) if record.get("district_adcode") else None
    if raw is None or str(raw).strip() == "":
        return None
    raw = str(raw)
    if field in ("level", "kind", "location_precision"):
        table = {"level": vocab.LEVELS, "kind": vocab.KINDS, "location_precision": vocab.LOCATION_PRECISION}
        return escape(vocab.label(table[field], raw, lang))
    if field == "industries":
        return escape(vocab.pick(("、", ", "), lang).join(vocab.label(names.industries, c, lang)
                                                       for c in vocab.split_codes(raw)))
    if field == "plan_refs":
        return escape(vocab.pick(("；", "; "), lang).join(section_label(c, lang) for c in vocab.split_codes(raw)))
    if field == "source":
        raw = source_text(raw, lang)
        parts, last = [], 0
        for match in URL.finditer(raw):
            parts.append(escape(raw[last:match.start()]))
            url = match.group(0)
            parts.append(Markup('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>')
                         .format(url, url if len(url) < 60 else url[:57] + "…"))
            last = match.end()
        parts.append(escape(raw[last:]))
        return Markup("").join(parts)
    return escape(raw)


def popup_html(fields, record: dict, lang: str, names: Names) -> str:
    rows = []
    for field in fields:
        value = _value(field, record, lang, names)
        if value is None:
            continue
        if field == "name":
            rows.append(Markup('<div class="atlas-popup-title">{}</div>').format(value))
        else:
            label = LABELS[field][1 if lang == "en" else 0]
            rows.append(Markup("<tr><th>{}</th><td>{}</td></tr>").format(label, value))
    title = [r for r in rows if r.startswith('<div')]
    table = [r for r in rows if not r.startswith('<div')]
    return str(Markup("").join(title) + Markup('<table class="atlas-popup">') + Markup("").join(table)
               + Markup("</table>"))


def tooltip_text(record: dict, lang: str) -> str:
    return str(escape(display_name(record, lang)))
