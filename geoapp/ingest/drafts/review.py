"""Reviewing a draft and publishing it: the same for the web page and for scripts.

    Workbench   drafts being reviewed, one folder each under <data>/plans/.drafts/<token>/
                (draft.json + the text + meta.json), changed by one review action at a time
    actions     accept, reject, rename, relocate (a district/city, or the district a clicked
                point lies in), merge (a duplicate into the place it repeats)
    publish     the reviewed draft as the plan folder <data>/plans/<plan_id>/, atomically (the
                folder is written beside it and swapped in by rename) and versioned: every
                published folder is kept in <data>/plans/.versions/<plan_id>/<n>/ with a history,
                and `revert` puts any earlier version back (version 0: not published)

Folders whose names start with '.' are not plans (geoapp.data.plans skips them).
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
from shapely.geometry import Point

from geoapp.ingest.drafts.extract import Draft, Place
from geoapp.ingest.drafts.folder import (PLAN_ID, DraftError, draft_from_json, folder_files,
                                         write_folder)
from geoapp.ingest.drafts.gazetteer import Gazetteer

TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
STATUSES = ("proposed", "accepted", "rejected")


class ReviewConflict(DraftError):
    """The action cannot be done in the draft's present state (HTTP 409)."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json(path: Path, value) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    temp.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(temp, path)


@dataclass
class Workbench:
    data_dir: Path

    @property
    def root(self) -> Path:
        return Path(self.data_dir) / "plans" / ".drafts"

    @property
    def versions_root(self) -> Path:
        return Path(self.data_dir) / "plans" / ".versions"

    # ---- drafts in review

    def create(self, draft: Draft, plan_id: str, text_name: str, who: str) -> str:
        if not PLAN_ID.match(plan_id):
            raise DraftError(f"plan id '{plan_id}' is not a slug: lower-case letters, digits and single "
                             "underscores, e.g. shenyang_st_14th")
        token = secrets.token_urlsafe(12)
        folder = self.root / token
        folder.mkdir(parents=True)
        (folder / "text.txt").write_text(draft.text, encoding="utf-8")
        _write_json(folder / "meta.json", {"plan_id": plan_id, "text_name": text_name, "who": who,
                                           "created": _now()})
        _write_json(folder / "draft.json", draft.to_json())
        return token

    def _folder(self, token: str) -> Path:
        if not TOKEN.match(token or "") or not (self.root / token / "draft.json").exists():
            raise KeyError(token)
        return self.root / token

    def load(self, token: str) -> tuple[Draft, dict]:
        folder = self._folder(token)
        text = (folder / "text.txt").read_text(encoding="utf-8")
        raw = json.loads((folder / "draft.json").read_text(encoding="utf-8"))
        return draft_from_json(raw, text), json.loads((folder / "meta.json").read_text(encoding="utf-8"))

    def save(self, token: str, draft: Draft, meta: dict | None = None) -> None:
        _write_json(self._folder(token) / "draft.json", draft.to_json())
        if meta is not None:
            _write_json(self._folder(token) / "meta.json", meta)

    def list(self) -> list[dict]:
        if not self.root.is_dir():
            return []
        result = []
        for folder in sorted(self.root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            meta_path = folder / "meta.json"
            if meta_path.exists():
                result.append({"token": folder.name, **json.loads(meta_path.read_text(encoding="utf-8"))})
        return result

    @contextmanager
    def locked(self, name: str):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ---- published plans, versioned

    def history(self, plan_id: str) -> list[dict]:
        path = self.versions_root / plan_id / "history.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []

    def published(self) -> dict[str, list[dict]]:
        if not self.versions_root.is_dir():
            return {}
        return {p.name: self.history(p.name) for p in sorted(self.versions_root.iterdir()) if p.is_dir()}

    def current_version(self, plan_id: str) -> int:
        history = self.history(plan_id)
        return history[-1]["version"] if history else 0

    def publish(self, token: str, units: dict, who: str) -> int:
        """The draft as <data>/plans/<plan_id>/ (a new version); returns the version number."""
        draft, meta = self.load(token)
        plan_id = meta["plan_id"]
        target = Path(self.data_dir) / "plans" / plan_id
        with self.locked(f"plan-{plan_id}"):
            history = self.history(plan_id)
            if target.exists() and not history:
                raise ReviewConflict(f"data/plans/{plan_id} exists and was not published from a draft: "
                                     "choose another plan id (a published plan is never overwritten)")
            undecided = [p.name_zh for p in draft.places if p.status == "proposed"]
            if undecided:
                raise ReviewConflict(f"{len(undecided)} place(s) not yet accepted or rejected (e.g. "
                                     f"{'、'.join(undecided[:5])}): decide each before publishing")
            files = folder_files(draft, plan_id, meta["text_name"], units, meta.get("title_en", ""))
            version = (history[-1]["version"] if history else 0) + 1
            kept = self.versions_root / plan_id / f"{version:04d}"
            write_folder(files, kept)
            self._swap_in(kept, target)
            accepted = sum(1 for p in draft.places if p.status == "accepted")
            history.append({"version": version, "at": _now(), "who": who, "action": "publish",
                            "folder": version, "draft": token, "places": accepted, "tasks": len(draft.tasks)})
            _write_json(self.versions_root / plan_id / "history.json", history)
            return version

    def revert(self, plan_id: str, version: int, who: str) -> int:
        """Put version `version` back (0: the plan is taken down); recorded as a new version."""
        if not PLAN_ID.match(plan_id):
            raise DraftError(f"plan id '{plan_id}' is not a slug")
        target = Path(self.data_dir) / "plans" / plan_id
        with self.locked(f"plan-{plan_id}"):
            history = self.history(plan_id)
            if not history:
                raise DraftError(f"plan '{plan_id}' was never published from a draft; nothing to revert")
            folders = {h["version"]: h.get("folder") for h in history}
            if version != 0 and not folders.get(version):
                allowed = sorted(v for v, f in folders.items() if f)
                raise DraftError(f"version {version} of '{plan_id}' cannot be put back; allowed: 0 (take "
                                 f"the plan down), {', '.join(map(str, allowed))}")
            folder = folders.get(version) if version else None
            if folder is None:
                if target.exists():
                    aside = target.with_name(f".{plan_id}.down-{secrets.token_hex(4)}")
                    os.rename(target, aside)
                    shutil.rmtree(aside)
            else:
                self._swap_in(self.versions_root / plan_id / f"{folder:04d}", target)
            new = history[-1]["version"] + 1
            history.append({"version": new, "at": _now(), "who": who, "action": f"revert to {version}",
                            "folder": folder})
            _write_json(self.versions_root / plan_id / "history.json", history)
            return new

    def _swap_in(self, kept: Path, target: Path) -> None:
        """Copy `kept` beside `target`, then rename it into place (the old folder is renamed away
        first and deleted after): readers see the old folder or the new one, never half of one."""
        staging = target.with_name(f".{target.name}.new-{secrets.token_hex(4)}")
        shutil.copytree(kept, staging)
        aside = None
        if target.exists():
            aside = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
            os.rename(target, aside)
        os.rename(staging, target)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Review actions (each returns a short sentence for the page)


def find(draft: Draft, place_id: str) -> Place:
    for place in draft.places:
        if place.id == place_id:
            return place
    raise KeyError(place_id)


def set_status(draft: Draft, place_id: str, status: str) -> str:
    if status not in STATUSES:
        raise DraftError(f"status '{status}' is not allowed; allowed: {', '.join(STATUSES)}")
    place = find(draft, place_id)
    place.status = status
    return f"{place.name_zh}: {status}"


def rename(draft: Draft, place_id: str, name_zh: str, name_en: str = "") -> str:
    name_zh = re.sub(r"\s+", " ", name_zh or "").strip()
    if not name_zh or len(name_zh) > 80:
        raise DraftError("the Chinese name must be 1–80 characters")
    place = find(draft, place_id)
    place.name_zh = name_zh
    if name_en.strip():
        place.name_en = re.sub(r"\s+", " ", name_en).strip()[:160]
    return f"{place.id} → {name_zh}"


def relocate(draft: Draft, place_id: str, gazetteer: Gazetteer, adcode: str = "",
             lon: float | None = None, lat: float | None = None,
             districts: gpd.GeoDataFrame | None = None) -> str:
    """To a district or city (its seat), or to the district a clicked point lies in."""
    place = find(draft, place_id)
    if place.registry_id:
        raise ReviewConflict(f"{place.name_zh} is a place the atlas already knows ({place.registry_id}); "
                             "its location is the registry's")
    if not adcode and lon is not None and lat is not None:
        if districts is None:
            raise DraftError("no district boundaries to look the point up in")
        hit = districts[districts.geometry.covers(Point(lon, lat))]
        if hit.empty:
            raise DraftError(f"({lon:.5f}, {lat:.5f}) is not inside any district of the province")
        adcode = str(hit.iloc[0]["adcode"])
    unit = gazetteer.units.get(adcode)
    if unit is None or unit.level not in ("city", "district"):
        raise DraftError(f"'{adcode}' is not a city or district adcode of the province")
    place.city_adcode = unit.city
    place.district_adcode = unit.adcode if unit.level == "district" else ""
    place.location_precision = unit.level
    place.lon, place.lat = unit.lon, unit.lat
    place.cities = []
    place.how = "placed by the reviewer"
    for task in draft.tasks:  # a place once named without a city is now a map row of its tasks
        if any(m["name_zh"] == place.name_zh for m in task.missing_places):
            task.missing_places = [m for m in task.missing_places if m["name_zh"] != place.name_zh]
            if place.id not in task.places:
                task.places.append(place.id)
    return f"{place.name_zh} → {unit.name_zh}"


def merge(draft: Draft, duplicate_id: str, into_id: str) -> str:
    if duplicate_id == into_id:
        raise DraftError("a place cannot be merged into itself")
    duplicate, keep = find(draft, duplicate_id), find(draft, into_id)
    for mention in duplicate.mentions:
        if not any(m.start == mention.start for m in keep.mentions):
            keep.mentions.append(mention)
    keep.mentions.sort(key=lambda m: m.start)
    draft.places = [p for p in draft.places if p.id != duplicate_id]
    for task in draft.tasks:
        if duplicate_id in task.places:
            task.places = [keep.id if p == duplicate_id else p for p in task.places]
            task.places = list(dict.fromkeys(task.places))
        task.missing_places = [m for m in task.missing_places if m["name_zh"] != duplicate.name_zh]
    return f"{duplicate.name_zh} → {keep.name_zh}"


def set_titles(draft: Draft, meta: dict, title_zh: str, title_en: str) -> str:
    title_zh = re.sub(r"\s+", " ", title_zh or "").strip()
    title_en = re.sub(r"\s+", " ", title_en or "").strip()
    if not title_zh or len(title_zh) > 120 or len(title_en) > 200:
        raise DraftError("the Chinese title must be 1–120 characters, the English one at most 200")
    draft.title_zh = title_zh
    meta["title_en"] = title_en
    return f"{title_zh} / {title_en or '(no English title yet)'}"


def edit_target(draft: Draft, task_id: str, number: int, action: str, metric_zh: str = "",
                metric_en: str = "", stated_as: str = "") -> str:
    task = next((t for t in draft.tasks if t.id == task_id), None)
    if task is None or not 0 <= number < len(task.targets):
        raise KeyError(f"{task_id}/{number}")
    target = task.targets[number]
    if action in ("accept", "reject", "propose"):
        target.status = {"accept": "accepted", "reject": "rejected", "propose": "proposed"}[action]
        return f"{target.metric_zh} {target.value}{target.unit_zh}: {target.status}"
    if action != "edit":
        raise DraftError(f"action '{action}' is not allowed; allowed: accept, reject, propose, edit")
    if stated_as not in ("target", "achieved"):
        raise DraftError("stated_as must be target or achieved")
    metric_zh = re.sub(r"\s+", " ", metric_zh or "").strip()
    if not metric_zh or len(metric_zh) > 80:
        raise DraftError("the metric (Chinese) must be 1–80 characters")
    target.metric_zh, target.stated_as = metric_zh, stated_as
    if metric_en.strip():
        target.metric_en = re.sub(r"\s+", " ", metric_en).strip()[:160]
    return f"{target.metric_zh} {target.value}{target.unit_zh} ({stated_as})"


def likely_duplicates(draft: Draft) -> dict[str, list[str]]:
    """place id -> ids of places that look like the same place written another way: same kind
    and city (or both unlocated) and names alike (中科院丹东产业技术创新与育成中心 /
    中科院丹东育成中心). A hint for the reviewer, who merges or not."""
    from difflib import SequenceMatcher
    live = [p for p in draft.places if p.status != "rejected"]
    hints: dict[str, list[str]] = {}
    for i, a in enumerate(live):
        for b in live[i + 1:]:
            if a.kind != b.kind or a.city_adcode != b.city_adcode or (a.registry_id and b.registry_id):
                continue
            ratio = SequenceMatcher(None, a.name_zh, b.name_zh).ratio()
            shorter, longer = sorted((a.name_zh, b.name_zh), key=len)
            contained = sum(ch in longer for ch in shorter) / len(shorter)
            if ratio >= 0.6 and contained >= 0.9:
                hints.setdefault(a.id, []).append(b.id)
                hints.setdefault(b.id, []).append(a.id)
    return hints
