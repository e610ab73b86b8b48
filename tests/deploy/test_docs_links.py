"""The README and docs/: short, and every relative link and #anchor resolves.

Anchors follow GitHub's rules: the heading's text lowercased, every character
that is not a letter, a digit, a space, '-' or '_' dropped, spaces turned to
'-', and a repeated anchor in one file suffixed -1, -2, ...
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 300

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"(?<!\!)\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks (those hold no headings and no links)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            line = ""
        lines.append("" if fenced else line)
    return lines


def slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link, also one whose text runs onto the next line."""
    text = "\n".join(prose(path.read_text(encoding="utf-8")))
    # `[x](y)` in code is not a link; blanked, not removed, so offsets keep their lines.
    text = INLINE_CODE.sub(lambda m: " " * len(m.group(0)), text)
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in LINK.finditer(text)]


def test_slug_follows_githubs_rules() -> None:
    assert slug("Configuration: `orchestrator.toml`") == "configuration-orchestratortoml"
    assert slug("Models, prices and thinking") == "models-prices-and-thinking"
    assert slug("What a command sees, and where it comes from") == (
        "what-a-command-sees-and-where-it-comes-from"
    )
    assert slug("Pushing: HTTPS or SSH") == "pushing-https-or-ssh"
    assert slug("keep_worktrees and [the link](x.md)") == "keep_worktrees-and-the-link"


def test_the_readme_is_short_and_opens_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_README_LINES
    first_block = text.split("```", 2)[1]
    demo, test = first_block.find("$ ./run demo"), first_block.find("$ ./run test")
    assert 0 <= demo < test, "the README's first code block is `./run demo`, then `./run test`"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for number, target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{page.name}:{number}: {target}: no file {file_part}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{page.name}:{number}: {target}: no heading #{anchor}")
    assert not broken, "\n".join(broken)


def test_the_check_sees_links_and_anchors(tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text(
        "# A\n\n## Same\n\n## Same\n\n```\n## Not a heading [x](nowhere.md)\n```\n"
        "See [b](b.md#two-words), [same](#same-1) and `[code](nowhere.md)`, and [two\n"
        "lines](#a).\n",
        encoding="utf-8",
    )
    assert anchors(page) == {"a", "same", "same-1"}
    assert links(page) == [(10, "b.md#two-words"), (10, "#same-1"), (10, "#a")]
