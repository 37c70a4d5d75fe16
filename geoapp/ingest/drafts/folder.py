"""A draft -> a plan folder in the shipped format (data/plans/<id>/), written atomically.

    plan.yaml         manifest: titles from the text's first heading, period from its years
    <text file>       the text itself (the source of truth the sections and quotes point into)
    tasks.yaml        one task per sentence naming places or stating targets (tasks.yaml format)
    places.csv        registry places the text names (id, plan_refs, plan_names, plan_role)
    plan_places.csv   proposed places the registry does not know, located to district or city
                      (the point is that unit's government seat), with status and confidence
    draft.json        every proposal with its spans, status and confidence (the review page's)
    SOURCE.md(.zh)    how the folder was made and what a reviewer must check

Proposals located only to the province are not map rows: their task lists them under
missing_places. Rejected proposals are left out of every file but draft.json.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import yaml

from geoapp import vocab
from geoapp.ingest.drafts.extract import Draft, Mention, Place, Target, Task, how_zh

POINT_COLUMNS = ["id", "name_zh", "name_en", "kind", "level", "city_adcode", "district_adcode",
                 "industries", "plan_role", "lon", "lat", "location_precision", "plan_refs",
                 "plan_names", "source", "note_zh", "note_en", "status", "confidence", "quote"]
LINK_COLUMNS = ["id", "plan_refs", "plan_names", "plan_role"]
MAPPABLE = ("district", "city")
PLAN_ID = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


class DraftError(ValueError):
    """What is wrong with the input, and what is allowed (the CLI prints it, the web answers 4xx)."""


MAX_TEXT_BYTES = 2 * 1024 * 1024   # a city or province plan is 50-500 KB of text


def decode_text(data: bytes, name: str = "the file") -> str:
    """A plan text as str, or DraftError saying why it cannot be one (too big, binary, not UTF-8,
    no headings)."""
    if len(data) > MAX_TEXT_BYTES:
        raise DraftError(f"{name} is {len(data) / 1024 / 1024:.1f} MB; a plan text may be at most "
                         f"{MAX_TEXT_BYTES // 1024 // 1024} MB (plain text, not a scan or a document with images)")
    if not data.strip():
        raise DraftError(f"{name} is empty: paste or upload the plan's text")
    if b"\x00" in data[:65536] or data[:4] in (b"%PDF", b"PK\x03\x04", b"\xd0\xcf\x11\xe0"):
        raise DraftError(f"{name} is a binary file (PDF, Word, image …): save the plan as plain text "
                         "(UTF-8, .txt) and upload that")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DraftError(f"{name} is not UTF-8 text (byte 0x{data[error.start]:02x} at {error.start}): "
                         "save it as UTF-8 (a GBK/GB18030 file: 'Save as… UTF-8' in the editor)") from None
    if sum(ch < " " and ch not in "\n\r\t\f" for ch in text[:65536]) > 8:
        raise DraftError(f"{name} has control characters: it is not a plain text file")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    from geoapp.data.plan_text import sections_of
    if not sections_of(text):
        raise DraftError(f"{name} has no section headings: a plan text numbers its parts as "
                         "一、…, （一）…, 1.… or 专栏1：…, each on its own line")
    return text


# ---------------------------------------------------------------------------------------------
# draft.json <-> Draft


def draft_from_json(raw: dict, text: str) -> Draft:
    places = []
    for p in raw["places"]:
        p = dict(p)
        p["mentions"] = [Mention(**m) for m in p.get("mentions", [])]
        places.append(Place(**p))
    tasks = []
    for t in raw["tasks"]:
        t = dict(t)
        t["targets"] = [Target(**g) for g in t.get("targets", [])]
        tasks.append(Task(**t))
    period = tuple(raw["period"]) if raw.get("period") else None
    return Draft(raw.get("title_zh", ""), period, text, raw.get("sections", []), places, tasks,
                 bool(raw.get("province_only")))


# ---------------------------------------------------------------------------------------------
# The files


def _csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def _refs(place: Place) -> str:
    return ";".join(dict.fromkeys(m.section for m in place.mentions if m.section))


def _written(place: Place, text: str) -> str:
    """The wordings the text uses for the place (what check_places finds in the sections)."""
    words = [re.sub(r"\s+", "", text[m.start:m.end]) for m in place.mentions]
    return ";".join(dict.fromkeys(w for w in words if w and w != place.name_zh))


def live_places(draft: Draft) -> list[Place]:
    return [p for p in draft.places if p.status != "rejected" and p.mentions]


def point_rows(draft: Draft, text_name: str, units: dict) -> list[dict]:
    rows = []
    for p in live_places(draft):
        if p.registry_id or p.location_precision not in MAPPABLE:
            continue
        unit = units.get(p.district_adcode or p.city_adcode)
        unit_zh = unit.name_zh if unit else ""
        unit_en = unit.name_en if unit else ""
        refs = _refs(p)
        rows.append({
            "id": p.id, "name_zh": p.name_zh, "name_en": p.name_en, "kind": p.kind, "level": p.level,
            "city_adcode": p.city_adcode, "district_adcode": p.district_adcode,
            "industries": ";".join(p.industries), "plan_role": "", "lon": f"{p.lon:.6f}",
            "lat": f"{p.lat:.6f}", "location_precision": p.location_precision, "plan_refs": refs,
            "plan_names": _written(p, draft.text),
            "source": f"规划文本 plan text {text_name} {refs.replace(';', ', ')} "
                      f"(geoapp draft, {'reviewed' if p.status == 'accepted' else 'not yet reviewed'})"
                      + (f" ; group term {p.source}" if p.source else ""),
            "note_zh": f"由规划文本自动提取（{how_zh(p.how)}，可信度 {p.confidence:.2f}）。点为{unit_zh}人民政府驻地，"
                       "不是园区位置。",
            "note_en": f"Drafted from the plan text ({p.how}; confidence {p.confidence:.2f}). Point: "
                       f"the government seat of {unit_en}, not the site.",
            "status": p.status, "confidence": f"{p.confidence:.2f}", "quote": p.sentence[:200]})
    return rows


def link_rows(draft: Draft) -> list[dict]:
    return [{"id": p.registry_id, "plan_refs": _refs(p), "plan_names": _written(p, draft.text) or p.name_zh,
             "plan_role": ""}
            for p in live_places(draft) if p.registry_id]


def task_dicts(draft: Draft) -> list[dict]:
    live = {p.id: p for p in live_places(draft)}
    mapped = {pid for pid, p in live.items() if p.registry_id or p.location_precision in MAPPABLE}
    result = []
    for task in draft.tasks:
        places = [pid for pid in task.places if pid in mapped]
        missing = [m for m in task.missing_places
                   if any(p.name_zh == m["name_zh"] for p in live.values())]
        targets = [t for t in task.targets if getattr(t, "status", "proposed") != "rejected"]
        if not places and not missing and not targets and not task.cities:
            continue
        entry: dict = {"id": task.id, "title_zh": task.title_zh, "title_en": task.title_en,
                       "section": task.section, "quote": task.quote}
        if places:
            entry["places"] = places
        if task.cities:
            entry["cities"] = list(task.cities)
        if task.industries:
            entry["industries"] = list(task.industries)
        if missing:
            entry["missing_places"] = missing
        if targets:
            entry["targets"] = [{
                "metric_zh": t.metric_zh, "metric_en": t.metric_en, "value": t.value,
                "unit_zh": t.unit_zh, "year": t.year, **({"period": t.period} if t.period else {}),
                "stated_as": t.stated_as, "quote": t.quote} for t in targets]
        result.append(entry)
    return result


def manifest(draft: Draft, plan_id: str, text_name: str, has_points: bool, has_links: bool,
             title_en: str = "") -> dict:
    title = draft.title_zh or plan_id
    start, end = draft.period or (datetime.now(timezone.utc).year, datetime.now(timezone.utc).year)
    english = title_en or f"Drafted plan {plan_id} (English title to be written by the reviewer)"
    titles = {key: {"zh": title, "en": english} for key in ("full", "short", "atlas", "stats", "sources")}
    result = {"id": plan_id, "default": False, "titles": titles, "period": {"start": start, "end": end},
              "text": text_name, "tasks": "tasks.yaml"}
    if has_links:
        result["places"] = "places.csv"
    if has_points:
        result["points"] = ["plan_places.csv"]
    result["industries"] = {code: {"zh": zh, "en": en} for code, (zh, en) in vocab.INDUSTRIES.items()}
    result["metrics"] = {"places": {"zh": "地点合计", "en": "Places"},
                         "tasks": {"zh": "涉及的规划任务", "en": "Plan tasks touching"},
                         "industries_present": {"zh": "产业数", "en": "Industries present"}}
    result["map_metrics"] = ["places", "tasks", "industries_present"]
    return result


SOURCE_EN = """# {title} — drafted plan

Made by `python -m geoapp.data draft` (geoapp/ingest/drafts, docs/drafting.md) from the plan text
`{text}` on {day}{mode}. Nothing in this folder comes from anywhere but that text and the
province's own data (data/boundaries: names, adcodes, government seats{registry}).

- Sections: the text's headings (一、 （一） 1. 专栏N).
- Places ({n_points} proposed in `plan_places.csv`, {n_links} known places in `places.csv`,
  {n_missing} named without a city in tasks' `missing_places`): each point is the government seat
  of the district or city the text gives, not the site (`location_precision`).
- Tasks and targets (`tasks.yaml`): quotes are the text's own sentences; values are the numbers
  they write.

A reviewer must check every row whose `status` is `proposed`: the name, the kind and level
(guessed from the name), the city/district (the text may name a place's city without it being
there), duplicates, and every target's metric and stated_as.
"""

SOURCE_ZH = """# {title}（规划草稿）

由 `python -m geoapp.data draft`（geoapp/ingest/drafts，见 docs/drafting.md）于 {day} 从规划文本
`{text}` 自动生成{mode_zh}。本目录内容只来自该文本和本省自有数据（data/boundaries：名称、行政区划代码、
政府驻地{registry_zh}）。

- 章节：文本的标题（一、 （一） 1. 专栏N）。
- 地点：`plan_places.csv` 中 {n_points} 个新提议，`places.csv` 中 {n_links} 个已知地点，{n_missing}
  个只知道省级范围的列在任务的 `missing_places` 中。点为文本给出的区县或城市的人民政府驻地，不是园区位置。
- 任务与指标（`tasks.yaml`）：引文是文本原句，数值是文本所写的数字。

审核人须逐条核对 `status` 为 `proposed` 的行：名称、类型与级别（按名称推测）、所在城市/区县、重复项，
以及每个指标的名称和“目标/已实现”。
"""


KIND_COLOURS = {"high_tech_zone": "#c0392b", "cluster": "#27ae60", "industrial_base": "#82e0aa",
                "industrial_park": "#117a65", "software_cluster": "#48c9b0", "service_cluster": "#f7dc6f",
                "coastal_park": "#2874a6", "laboratory": "#6c3483", "platform": "#af7ac5",
                "innovation_area": "#a04000", "pilot_zone": "#8e44ad", "corridor": "#d35400"}
LAYER_SPEC = ("# The drafted plan's own places (plan_places.csv), drawn by kind. Made by the drafter.\n"
              "id: plan_places\ndata: plan_places\n"
              "title: {zh: 规划草稿中的地点, en: Places of the drafted plan}\n"
              "geometry: point\nshow: true\nfilterable: true\nsearchable: true\ncluster: true\n"
              "style:\n  shape: circle\n  radius: 7\n  weight: 2\n  fill_opacity: 0.85\n"
              "  color: \"#34495e\"\n  fill_color: \"#95a5a6\"\n  by: kind\n  values:\n"
              + "".join(f"    {kind}: {{fill_color: \"{colour}\", label: {{zh: {vocab.KINDS[kind][0]}, "
                        f"en: \"{vocab.KINDS[kind][1]}\"}}}}\n" for kind, colour in KIND_COLOURS.items())
              + "popup: [name, kind, level, city, district, industries, location_precision, plan_refs, source, note]\n")


def folder_files(draft: Draft, plan_id: str, text_name: str, units: dict, title_en: str = "") -> dict[str, str]:
    """{file name: content} of the plan folder."""
    if not PLAN_ID.match(plan_id):
        raise DraftError(f"plan id '{plan_id}' is not a slug: use lower-case letters, digits and single "
                         "underscores, e.g. shenyang_st_14th")
    points = point_rows(draft, text_name, units)
    links = link_rows(draft)
    tasks = task_dicts(draft)
    missing = sum(len(t.get("missing_places", [])) for t in tasks)
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    facts = dict(title=draft.title_zh or plan_id, text=text_name, day=day, n_points=len(points),
                 n_links=len(links), n_missing=missing,
                 mode=" with the province's data only (--province-only)" if draft.province_only else "",
                 mode_zh="（仅用本省数据，--province-only）" if draft.province_only else "",
                 registry="" if draft.province_only else "; and the atlas's registry of known places",
                 registry_zh="" if draft.province_only else "；以及地图已有地点的名录")
    files = {
        "plan.yaml": "# Drafted by `python -m geoapp.data draft` (docs/drafting.md); review before use.\n"
                     + yaml.safe_dump(manifest(draft, plan_id, text_name, bool(points), bool(links), title_en),
                                      allow_unicode=True, sort_keys=False, width=120),
        text_name: draft.text,
        "tasks.yaml": "# Drafted from the plan text (docs/drafting.md): every quote is the text's own.\n"
                      + yaml.safe_dump(tasks, allow_unicode=True, sort_keys=False, width=120),
        "draft.json": json.dumps({**draft.to_json(), "plan_id": plan_id, "text_file": text_name},
                                 ensure_ascii=False, indent=1),
        "SOURCE.md": SOURCE_EN.format(**facts),
        "SOURCE.zh.md": SOURCE_ZH.format(**facts),
    }
    if points:
        files["plan_places.csv"] = _csv(points, POINT_COLUMNS)
        files["layers/65_plan_places.yaml"] = LAYER_SPEC
    if links:
        files["places.csv"] = _csv(links, LINK_COLUMNS)
    return files


def write_folder(files: dict[str, str], out: Path, replace: bool = False) -> Path | None:
    """Write the files as folder `out` atomically: into a temporary sibling, then one rename.
    An existing `out` is refused unless `replace`; then it is moved aside first and its new path
    returned (the caller keeps or deletes it)."""
    out = Path(out)
    if out.exists() and not replace:
        raise DraftError(f"{out} already exists: choose another --out, or --replace to move the old "
                         "folder aside")
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, content in files.items():
            (temp / name).parent.mkdir(parents=True, exist_ok=True)
            (temp / name).write_text(content, encoding="utf-8")
        aside = None
        if out.exists():
            aside = out.parent / f".{out.name}.replaced-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}"
            os.rename(out, aside)
        os.rename(temp, out)
        return aside
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def as_dict(obj) -> dict:
    return asdict(obj)
