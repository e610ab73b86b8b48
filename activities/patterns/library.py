"""PATTERN_LIBRARY.md and PATTERN_INDEX.md: their format, read and written under a lock.

The library is the one source: each entry is `## PATTERN-NNN: <title>`, its metadata
as `- **Key**: value` lines (domain, stack, reuse keywords, source, commit, pull
request, added), then its summary, key files and excerpts. The index is rebuilt from
the library on every write, so the two cannot disagree. Headings inside an excerpt's
fence are the excerpt's, never an entry's.

Writers from several builds (and the CLI) take turns on a lock file in the directory:
each reads, changes and writes the library whole, so none loses another's entry.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities import files
from contracts.patterns import INDEX_FILE, LIBRARY_FILE

HEADING = re.compile(r"^## (PATTERN-\d{3,}): (.*)$")
META = re.compile(r"^- \*\*(.+?)\*\*: (.*)$")
FENCE = re.compile(r"^(`{3,}|~{3,})")
LOCK_FILE = ".lock"

LIBRARY_HEAD = (
    "# Pattern Library\n\n"
    "Finished subtasks kept for later builds (`!pattern-add <subtask>`, "
    "`orchestrator pattern add <dir> <subtask>`); one row each in "
    f"[{INDEX_FILE}]({INDEX_FILE}). Builders are offered the best matches as quoted "
    "reference material.\n"
)


class PatternRefused(ApplicationError):
    """A pattern that cannot be added as asked: retrying cannot change that."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="PatternRefused", non_retryable=True)


@dataclass
class Pattern:
    id: str
    title: str
    domain: str = "-"
    stack: str = "-"
    keywords: list[str] = field(default_factory=list)
    source: str = ""
    commit: str = ""
    pr: str = "-"
    added: str = ""
    body: str = ""  # summary, key files, excerpts (markdown)

    @property
    def number(self) -> int:
        return int(self.id.split("-", 1)[1])


def library_dir(configured: str | None) -> Path:
    """`[patterns] path` with `~` expanded; unset: ORCHESTRATOR_HOME's `patterns/`."""
    if configured:
        return Path(os.path.expanduser(configured))
    home = os.environ.get("ORCHESTRATOR_HOME") or str(Path.home() / ".orchestrator")
    return Path(home) / "patterns"


def shown(configured: str | None) -> str:
    return f'[patterns] path = "{configured}"' if configured else "the default [patterns] path"


def read_library(lib: Path, configured: str | None = None) -> list[Pattern]:
    """Every entry of the library (none when it does not exist yet)."""
    path = lib / LIBRARY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as err:
        raise PatternRefused(
            f"{path} ({shown(configured)}) cannot be read: {err}. Fix: make it a readable "
            "UTF-8 file, or point [patterns] path at another directory"
        ) from err
    return parse(text)


def parse(text: str) -> list[Pattern]:
    entries: list[list[str]] = []
    fence: str | None = None
    for line in text.splitlines():
        if fence is not None:
            bare = line.strip()
            if bare and set(bare) == {fence[0]} and len(bare) >= len(fence):
                fence = None
        elif (opened := FENCE.match(line)) is not None:
            fence = opened[1]
        elif HEADING.match(line):
            entries.append([])
        if entries:
            entries[-1].append(line)
    return [_entry(lines) for lines in entries]


def _entry(lines: list[str]) -> Pattern:
    heading = HEADING.match(lines[0])
    assert heading is not None
    p = Pattern(id=heading[1], title=heading[2].strip())
    rest = lines[1:]
    while rest and (not rest[0].strip() or META.match(rest[0])):
        found = META.match(rest.pop(0))
        if found is None:
            continue
        key, value = found[1].strip().lower(), found[2].strip()
        if key == "domain":
            p.domain = value
        elif key == "stack":
            p.stack = value
        elif key == "reuse keywords":
            p.keywords = [k.strip().lower() for k in value.split(",") if k.strip()]
        elif key == "source":
            p.source = value
        elif key == "commit":
            p.commit = value
        elif key == "pull request":
            p.pr = value
        elif key == "added":
            p.added = value
    p.body = "\n".join(rest).strip()
    return p


def render_entry(p: Pattern) -> str:
    meta = [
        ("Domain", p.domain),
        ("Stack", p.stack),
        ("Reuse keywords", ", ".join(p.keywords) or "-"),
        ("Source", p.source),
        ("Commit", p.commit),
        ("Pull request", p.pr or "-"),
        ("Added", p.added),
    ]
    lines = [f"## {p.id}: {p.title}", "", *(f"- **{k}**: {v}" for k, v in meta)]
    return "\n".join(lines) + (f"\n\n{p.body.strip()}\n" if p.body.strip() else "\n")


def render_library(patterns: list[Pattern]) -> str:
    return "\n".join([LIBRARY_HEAD, *(render_entry(p) for p in patterns)])


def anchor(p: Pattern) -> str:
    """GitHub's anchor of the entry's heading."""
    text = f"{p.id}: {p.title}".lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def render_index(patterns: list[Pattern]) -> str:
    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|") or "-"

    rows = [
        f"| [{p.id}]({LIBRARY_FILE}#{anchor(p)}) | {cell(p.title)} | {cell(p.domain)} | "
        f"{cell(p.stack)} | {cell(', '.join(p.keywords))} |"
        for p in patterns
    ]
    return (
        "# Pattern Index\n\n"
        f"Every pattern of [{LIBRARY_FILE}]({LIBRARY_FILE}), one row each (rebuilt on every "
        "add).\n\n"
        "| Pattern | Title | Domain | Stack | Reuse keywords |\n"
        "|---|---|---|---|---|\n" + "".join(f"{r}\n" for r in rows)
    )


@contextlib.contextmanager
def locked(lib: Path, configured: str | None) -> Iterator[None]:
    """The library directory (created if missing), held by this writer alone."""
    try:
        lib.mkdir(parents=True, exist_ok=True)
        fd = os.open(lib / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise PatternRefused(
            f"{shown(configured)}: the library directory {lib} cannot be used: "
            f"{err.strerror or err}. Fix: point [patterns] path in orchestrator.toml at a "
            "directory you can write (it is created if missing)"
        ) from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_library(lib: Path, patterns: list[Pattern]) -> None:
    """Both files, each atomically; the caller holds the lock."""
    patterns = sorted(patterns, key=lambda p: p.number)
    files.atomic_write_text(lib / LIBRARY_FILE, render_library(patterns), root=lib)
    files.atomic_write_text(lib / INDEX_FILE, render_index(patterns), root=lib)


def next_id(patterns: list[Pattern]) -> str:
    return f"PATTERN-{max((p.number for p in patterns), default=0) + 1:03d}"
