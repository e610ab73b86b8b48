"""Read seed-001 style metadata out of one subplan's markdown.

People write metadata in many small variations (`**Dependencies**: a, b`,
`- Dependencies: a`, `**Dependencies:**` followed by a bullet list, a
`## Dependencies` heading, ...). This module accepts them all and reduces each
known key to a `Section`: an inline value, list items and paragraph lines.
Everything outside fenced code blocks is considered; the first occurrence of a
key wins, because metadata sits at the top of a subplan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# key -> pattern the normalised key text must match in full
_KEYS: dict[str, re.Pattern[str]] = {
    # Not "requires"/"prerequisites": prose like `Requires: Python 3.11` is not a subtask.
    "dependencies": re.compile(r"dependencies|dependency|depends on|deps"),
    "files_modified": re.compile(
        r"files?( (modified|to modify|changed|to change|touched|affected|to create))?"
        r"|modified files|files? (created|and tests)"
    ),
    "estimated_hours": re.compile(
        r"(estimated (hours|time|effort|duration)|estimates?|effort|hours|time estimate)"
        r"( \(hours?\))?"
    ),
    "complexity": re.compile(r"complexity"),
    "goal": re.compile(r"goals?|objectives?|purpose"),
    "implementation_steps": re.compile(r"implementation( steps| plan)?|steps"),
    "acceptance_criteria": re.compile(r".*acceptance criteria.*"),
    "validation_gates": re.compile(r".*validation gates?.*|gates"),
    "scope_in": re.compile(r"in scope|scope"),
    "scope_out": re.compile(r"out of scope|not in scope|non-goals"),
    "safety_notes": re.compile(r"safety( notes)?|risks?( and mitigations)?"),
}

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EMPH = r"(?:\*{1,2}|_{1,2})"
_LIST_MARK = r"(?:[-*+]\s+|\d+[.)]\s+)"
# `**Key**: value`, `**Key:** value`, `- Key: value`, `Key: value`
_KEY_LINE = re.compile(
    rf"^\s*(?P<mark>{_LIST_MARK})?{_EMPH}?\s*(?P<key>[A-Za-z][A-Za-z /&()-]*?)\s*{_EMPH}?\s*:"
    rf"\s*{_EMPH}?\s*(?P<value>.*?)\s*$"
)
# `**Acceptance Criteria**` alone on a line (a bold pseudo-heading)
_BOLD_LINE = re.compile(rf"^\s*(?P<mark>{_LIST_MARK})?{_EMPH}(?P<key>[^*_:]+?):?{_EMPH}:?\s*$")
_BULLET = re.compile(rf"^\s*{_LIST_MARK}(?P<text>.*)$")
_CHECKBOX = re.compile(r"^\[[ xX]?\]\s*")
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*[.)]?\s+|step \d+:?\s+|phase \d+:?\s+)")


@dataclass
class Section:
    """Everything written under one known key."""

    inline: str = ""
    items: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class ParsedMarkdown:
    title: str | None
    sections: dict[str, Section]


def normalise_key(text: str) -> str:
    text = text.replace("*", "").replace("`", "").strip().rstrip(":").strip().lower()
    text = _NUMBERING.sub("", text)
    return re.sub(r"\s+", " ", text)


def match_key(text: str) -> str | None:
    key = normalise_key(text)
    for name, pattern in _KEYS.items():
        if pattern.fullmatch(key):
            return name
    return None


def _item_text(text: str) -> str:
    return _CHECKBOX.sub("", text.strip()).strip()


def parse_markdown(text: str) -> ParsedMarkdown:
    """Split a subplan into its title and known-key sections."""
    title: str | None = None
    sections: dict[str, Section] = {}
    current: Section | None = None
    # "heading": collect items until the next heading; "key": until the first paragraph line.
    mode = ""
    opener_indent: int | None = None
    section_level = 0
    in_fence = False

    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = raw.rstrip()

        heading = _HEADING.match(line)
        if heading:
            level, heading_text = len(heading.group(1)), heading.group(2)
            if level == 1 and title is None:
                title = heading_text.replace("**", "").strip()
                current = None
                continue
            key = match_key(heading_text)
            if key is None and current is not None and mode == "heading" and level > section_level:
                continue  # `### Functional` inside `## Acceptance Criteria` keeps collecting
            current = None
            if key and key not in sections:
                current = sections[key] = Section()
                mode, section_level, opener_indent = "heading", level, None
            continue

        key_match = _KEY_LINE.match(line) or _BOLD_LINE.match(line)
        key = match_key(key_match["key"]) if key_match else None
        indent = len(line) - len(line.lstrip())
        if key_match and key_match["mark"] and current is not None:
            # A list-marked `Key: value` inside a section is one of its items (e.g.
            # `- Complexity: O(1)` under Acceptance Criteria) unless it is a sibling of a
            # list-marked opener (`- Dependencies:` then `- Files Modified: ...`).
            if opener_indent is None or indent > opener_indent:
                key = None
        if key:
            value = (key_match.groupdict().get("value") or "").strip() if key_match else ""
            current = None
            if key not in sections:
                sections[key] = Section(inline=value)
                if not value:
                    current, mode = sections[key], "key"
                    opener_indent = indent if key_match and key_match["mark"] else None
            continue

        if current is None:
            continue
        bullet = _BULLET.match(line)
        if bullet and mode == "key" and opener_indent is not None and indent <= opener_indent:
            current = None  # a sibling bullet ends a list-marked key's nested list
        elif bullet:
            item = _item_text(bullet["text"])
            if item:
                current.items.append(item)
        elif not line.strip():
            continue
        elif line[:1].isspace() and current.items:
            current.items[-1] = f"{current.items[-1]} {line.strip()}"
        elif mode == "key":
            current = None
        else:
            current.paragraphs.append(line.strip())

    return ParsedMarkdown(title=title, sections=sections)


def split_values(text: str) -> list[str]:
    """Split `a, b; c and d` into names, ignoring separators inside parentheses."""
    parts: list[str] = []
    depth = 0
    buf: list[str] = []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        if ch in ",;" and depth == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    out: list[str] = []
    for part in parts:
        out.extend(re.split(r"\s+and\s+", part) if depth == 0 else [part])
    return [p.strip() for p in out if p.strip()]


def strip_comment(value: str) -> str:
    """`01-models (types) — the data` -> `01-models`; also drops backticks and quotes."""
    value = re.split(r"\s+(?:—|–|-{1,2}|:)\s+", value, maxsplit=1)[0]
    value = re.sub(r"\s*\(.*?\)\s*", " ", value).strip()
    value = value.strip("`'\" ").rstrip(".")
    return value.strip()


def section_values(section: Section | None) -> list[str]:
    """Names/paths listed in a dependency-like section, in either comma or list form."""
    if section is None:
        return []
    sources = section.items or ([section.inline] if section.inline else section.paragraphs[:1])
    values: list[str] = []
    for source in sources:
        values.extend(strip_comment(v) for v in split_values(source))
    return [v for v in values if v]


def section_scalar(section: Section | None) -> str:
    if section is None:
        return ""
    if section.inline:
        return section.inline
    if section.paragraphs:
        return " ".join(section.paragraphs)
    return section.items[0] if section.items else ""


def section_items(section: Section | None) -> list[str]:
    if section is None:
        return []
    items = list(section.items)
    if section.inline:
        items.insert(0, _item_text(section.inline))
    if not items:
        items = [p for p in section.paragraphs if p]
    return [i for i in items if i]
