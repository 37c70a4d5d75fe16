"""Group terms of the province's regional policy (data/boundaries/group_terms.yaml): a name a plan
writes for a fixed set of places (“五点一线” = the coastal development areas), with its members'
names, cities and districts and the source of each. Province data, like the boundaries: the plan
drafter (geoapp.ingest.drafts) expands a term the text writes into its members, also with
--province-only. `read_group_terms` validates the file; `check_group_rows` checks the members
copied from registry rows against those rows (both run in `python -m geoapp.data check`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import yaml

from geoapp import vocab
from geoapp.data.validate import ID_PATTERN, Problem, relative

GROUPS_FILE = "group_terms.yaml"
TERM_FIELDS = ("id", "name_zh", "name_en", "wordings", "member_kind", "source", "members")
# district_adcode may be empty: a member known only to its city is proposed at city precision
MEMBER_FIELDS = ("name_zh", "name_en", "city_adcode", "source")


@dataclass(frozen=True)
class GroupMember:
    name_zh: str
    name_en: str
    city_adcode: str
    district_adcode: str
    source: str
    registry_id: str = ""


@dataclass(frozen=True)
class GroupTerm:
    id: str
    name_zh: str
    name_en: str
    wordings: tuple[str, ...]     # compared without quotes and whitespace (compact)
    member_kind: str
    source: str
    members: tuple[GroupMember, ...]
    file: str = ""                # the file as the data folder names it (for the drafter's reason)


def compact(text: str) -> str:
    """A wording as compared: no whitespace, no quotes or title marks."""
    return re.sub(r"[\s“”\"'‘’《》「」]", "", text)


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def read_group_terms(boundaries_dir: Path, boundaries: dict[str, gpd.GeoDataFrame]
                     ) -> tuple[list[GroupTerm], list[Problem]]:
    """The terms of `<boundaries_dir>/group_terms.yaml` and the problems of the file, each naming
    the file and the field (terms[i].members[j].district_adcode) and saying what is allowed. No
    file: no terms (a data folder need not have any). A term with a problem is left out."""
    path = Path(boundaries_dir) / GROUPS_FILE
    name = relative(path)
    if not path.exists():
        return [], []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        return [], [Problem(name, None, None, f"not UTF-8 text ({error.reason} at byte {error.start})")]
    except yaml.YAMLError as error:
        return [], [Problem(name, None, None, f"not readable YAML ({error})")]
    if not isinstance(raw, dict) or not isinstance(raw.get("terms"), list):
        return [], [Problem(name, None, "terms", "the file must be a mapping with a list 'terms' "
                                                 "(each: id, name_zh, name_en, wordings, member_kind, source, members)")]
    cities = {str(c) for c in boundaries["city"]["adcode"]}
    parents = dict(zip(boundaries["district"]["adcode"].astype(str),
                       boundaries["district"]["parent_adcode"].astype(str)))
    terms, problems, ids, wordings_seen = [], [], set(), {}
    for i, term in enumerate(raw["terms"]):
        where = f"terms[{i}]"
        found: list[Problem] = []

        def bad(field: str, message: str, found=found) -> None:
            found.append(Problem(name, None, field, message))

        if not isinstance(term, dict):
            problems.append(Problem(name, None, where, "each term is a mapping of " + ", ".join(TERM_FIELDS)))
            continue
        for key in TERM_FIELDS:
            if key not in term or term[key] in (None, "", []):
                bad(f"{where}.{key}", "required and empty or missing")
        term_id = _text(term.get("id"))
        if term_id and not ID_PATTERN.match(term_id):
            bad(f"{where}.id", f"'{term_id}' is not an id (lower-case letters, digits, single underscores)")
        elif term_id in ids:
            bad(f"{where}.id", f"'{term_id}' is used by an earlier term")
        ids.add(term_id)
        kind = _text(term.get("member_kind"))
        if kind and kind not in vocab.KINDS:
            bad(f"{where}.member_kind", f"'{kind}' is not a kind; allowed: {', '.join(sorted(vocab.KINDS))}")
        wordings = term.get("wordings") or []
        if not isinstance(wordings, list) or not all(isinstance(w, str) and compact(w) for w in wordings):
            bad(f"{where}.wordings", "a list of the ways a text writes the term (non-empty strings)")
            wordings = []
        for wording in map(compact, wordings):
            if wording in wordings_seen and wordings_seen[wording] != i:
                bad(f"{where}.wordings", f"'{wording}' is also a wording of terms[{wordings_seen[wording]}]: "
                                         "a wording must name one term")
            wordings_seen.setdefault(wording, i)
        members = term.get("members") or []
        if not isinstance(members, list):
            bad(f"{where}.members", "a list of members (name_zh, name_en, city_adcode, district_adcode "
                                    "(may be empty), source)")
            members = []
        elif len(members) < 2:
            bad(f"{where}.members", "a group term has at least two members")
        parsed = []
        for j, member in enumerate(members):
            at = f"{where}.members[{j}]"
            if not isinstance(member, dict):
                bad(at, "each member is a mapping of " + ", ".join(MEMBER_FIELDS))
                continue
            for key in MEMBER_FIELDS:
                if not _text(member.get(key)):
                    bad(f"{at}.{key}", "required and empty or missing")
            city, district = _text(member.get("city_adcode")), _text(member.get("district_adcode"))
            if city and city not in cities:
                bad(f"{at}.city_adcode", f"'{city}' is not one of the 14 cities' adcodes "
                                         "(data/boundaries/liaoning_city.geojson); write it in quotes, e.g. \"210200\"")
            if district:
                if district not in parents:
                    bad(f"{at}.district_adcode", f"'{district}' is not a district/county adcode "
                                                 "(data/boundaries/liaoning_district.geojson)")
                elif city in cities and parents[district] != city:
                    bad(f"{at}.district_adcode", f"district {district} lies in city {parents[district]}, "
                                                 f"not in city_adcode {city}")
            parsed.append(GroupMember(_text(member.get("name_zh")), _text(member.get("name_en")), city, district,
                                      _text(member.get("source")), _text(member.get("registry_id"))))
        problems += found
        if not found:
            terms.append(GroupTerm(term_id, _text(term["name_zh"]), _text(term["name_en"]),
                                   tuple(dict.fromkeys(compact(w) for w in wordings)), kind,
                                   _text(term["source"]), tuple(parsed), f"data/boundaries/{GROUPS_FILE}"))
    return terms, problems


def check_group_rows(terms: list[GroupTerm], places: dict[str, dict], path: Path) -> list[Problem]:
    """A member copied from a registry row (`registry_id`) must agree with it: the row exists, its
    name starts with the member's (锦州西海工业区（辽西锦州湾沿海经济区）), same city and
    district. `places`: registry id -> row (name_zh, city_adcode, district_adcode)."""
    name = relative(path)
    problems = []
    for i, term in enumerate(terms):
        for j, member in enumerate(term.members):
            if not member.registry_id:
                continue
            at = f"terms[{i}].members[{j}]"
            row = places.get(member.registry_id)
            if row is None:
                problems.append(Problem(name, None, f"{at}.registry_id",
                                        f"'{member.registry_id}' is not the id of a place in data/parks or data/platforms"))
                continue
            row_name = _text(row.get("name_zh"))
            if not row_name.startswith(member.name_zh):
                problems.append(Problem(name, None, f"{at}.name_zh",
                                        f"the name of {member.registry_id} ('{row_name}') does not start with '{member.name_zh}'"))
            for key in ("city_adcode", "district_adcode"):
                value = _text(row.get(key))
                if value != getattr(member, key):
                    problems.append(Problem(name, None, f"{at}.{key}",
                                            f"'{getattr(member, key)}' differs from {member.registry_id}'s "
                                            f"{key} '{value}': correct one of them"))
    return problems
