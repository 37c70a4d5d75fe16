"""A plan's text (data/plans/<plan>/, the manifest's `text`) parsed into addressable sections.

Section references look like the plan's own numbering: '三（二）2' is part 三, subsection （二）,
item 2; '三（二）' a whole subsection; '专栏5' a box. Used to check that every `plan_refs` and every
task quote in the data points at text that exists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_PART = re.compile(r"^([一二三四五六七八九十]+)、(.*)")
_SUB = re.compile(r"^（([一二三四五六七八九十]+)）(.*)")
_ITEM = re.compile(r"^(\d+)\s*[.．]\s*(.*)")
_BOX = re.compile(r"^专栏\s*(\d+)\s*[：:](.*)")


@dataclass(frozen=True)
class Section:
    ref: str
    heading: str
    first_line: int  # 1-based, inclusive
    last_line: int   # inclusive
    text: str


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text)


@lru_cache(maxsize=4)
def sections(path: Path) -> dict[str, Section]:
    return sections_of(path.read_text(encoding="utf-8"))


def sections_of(text: str) -> dict[str, Section]:
    """The sections of a plan text given as a string (a draft's text, not yet a file)."""
    lines = text.splitlines()
    starts: list[tuple[str, str, int]] = []
    part = sub = ""
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if m := _PART.match(line):
            part, sub = m.group(1), ""
            starts.append((part, m.group(2), number))
        elif m := _SUB.match(line):
            sub = m.group(1)
            starts.append((f"{part}（{sub}）", m.group(2), number))
        elif m := _BOX.match(line):
            starts.append((f"专栏{m.group(1)}", m.group(2).strip(), number))
        elif (m := _ITEM.match(line)) and part and sub:
            starts.append((f"{part}（{sub}）{m.group(1)}", m.group(2)[:30], number))
    result: dict[str, Section] = {}
    for index, (ref, heading, first) in enumerate(starts):
        depth = _depth(ref)
        last = len(lines)
        for later_ref, _, later_first in starts[index + 1:]:
            if _depth(later_ref) <= depth or (depth == 3 and later_ref.startswith("专栏")) \
                    or ref.startswith("专栏"):
                last = later_first - 1
                break
        result.setdefault(ref, Section(ref, heading.strip(), first, last,
                                       "\n".join(lines[first - 1:last])))
    return result


def _depth(ref: str) -> int:
    if ref.startswith("专栏"):
        return 3
    if "）" not in ref:
        return 1
    return 2 if ref.endswith("）") else 3


def quote_in_section(ref: str, quote: str, within: dict[str, Section]) -> bool:
    """True when the quote (whitespace ignored) occurs in the section's text (`within`: the
    sections of a plan text, `sections(path)`)."""
    section = within.get(ref)
    return section is not None and _normalise(quote) in _normalise(section.text)
