"""Tracker activity: rewrite one feature's section of `pr_tracker.md`.

Several builds share the file, one `## <feature>` section each, in the
seeds' table form `| subtask | batch | status | PR | notes |`. A write
rebuilds only its own section from the workflow's state and leaves every
other byte alone; writers take an flock on a lock file beside the tracker
and replace the file atomically, so readers never see half a table.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections import Counter
from collections.abc import Iterator

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import files
from activities.git.command import GitError, GitInputError
from activities.git.worktrees import ensure_excluded
from contracts.tracker import TRACKER_STATUSES, TrackerResult, TrackerRow, TrackerUpdate

HEADER = (
    "# PR Tracker\n"
    "\n"
    "Subtask status and PR links, one section per feature. Written by the orchestrator's\n"
    "build workflows: a feature's section is rebuilt from its workflow's state on every\n"
    "change, so edit the workflow (signals), not this table.\n"
    "\n"
)
TABLE_HEAD = (
    "| subtask | batch | status | PR | notes |\n|---------|-------|--------|----|-------|\n"
)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_REVISION = re.compile(r"^<!-- written by (.+), revision (\d+) -->$", re.MULTILINE)
_SEPARATOR_CELL = re.compile(r"^:?-+:?$")


def lock_path_for(path: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.lock")


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """One writer at a time, across threads and processes (flock on `.<name>.lock`)."""
    fd = files.open_file(lock_path_for(path), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _cell(text: str) -> str:
    """One table cell: a single line, pipes escaped so they cannot split the row."""
    flat = " ".join(text.split())
    return flat.replace("\\|", "|").replace("|", "\\|")


def render_section(
    feature: str, rows: list[TrackerRow], writer: str | None = None, revision: int = 0
) -> str:
    lines = [f"## {feature}\n", "\n"]
    if writer:
        lines += [f"<!-- written by {' '.join(writer.split())}, revision {revision} -->\n", "\n"]
    lines.append(TABLE_HEAD)
    for row in rows:
        cells = [
            _cell(row.subtask),
            str(row.batch),
            row.status,
            _cell(row.pr) if row.pr else "-",
            _cell(row.notes),
        ]
        lines.append("| " + " | ".join(cells) + " |\n")
    return "".join(lines)


def split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(preamble, [(feature, section text)]); joining them back gives `text` exactly."""
    preamble: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            sections.append((line[3:].strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)
    return "".join(preamble), [(name, "".join(body)) for name, body in sections]


def replace_section(text: str, feature: str, section: str) -> str:
    """`text` with `feature`'s section replaced (or appended); other sections untouched."""
    preamble, sections = split_sections(text or HEADER)
    out = [preamble]
    placed = False
    for index, (name, body) in enumerate(sections):
        if name != feature:
            out.append(body)
            continue
        if placed:
            continue  # a stale duplicate of our own section
        placed = True
        following = any(n != feature for n, _ in sections[index + 1 :])
        out.append(section + ("\n" if following else ""))
    if not placed:
        head = "".join(out)
        if head and not head.endswith("\n"):
            out.append("\n")
            head += "\n"
        if head and not head.endswith("\n\n"):
            out.append("\n")
        out.append(section)
    return "".join(out)


def _superseded(current: str, update: TrackerUpdate) -> bool:
    """The section on file came from a later write of the same workflow run."""
    if not update.writer:
        return False
    for name, body in split_sections(current)[1]:
        if name == update.feature:
            m = _REVISION.search(body)
            return bool(m and m.group(1) == update.writer and int(m.group(2)) > update.revision)
    return False


def _split_row(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]


def parse_tracker(text: str) -> dict[str, list[TrackerRow]]:
    """Feature -> rows, for tests, the CLI and people's scripts."""
    result: dict[str, list[TrackerRow]] = {}
    _, sections = split_sections(text)
    for feature, body in sections:
        rows = result.setdefault(feature, [])
        for line in body.splitlines():
            if not line.lstrip().startswith("|"):
                continue
            cells = _split_row(line)
            if len(cells) < 5 or cells[0].lower() == "subtask":
                continue
            if all(_SEPARATOR_CELL.match(c) for c in cells if c):
                continue
            if cells[2] not in TRACKER_STATUSES or not cells[1].lstrip("-").isdigit():
                continue
            rows.append(
                TrackerRow(
                    subtask=cells[0],
                    batch=int(cells[1]),
                    status=cells[2],  # type: ignore[arg-type]
                    pr=None if cells[3] in ("", "-") else cells[3],
                    notes="|".join(cells[4:]) if len(cells) > 5 else cells[4],
                )
            )
    return result


def read_tracker(path: str) -> dict[str, list[TrackerRow]]:
    """Parse a tracker file; a missing file is an empty tracker."""
    try:
        return parse_tracker(files.read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        return {}


def _feature_problem(feature: str) -> str | None:
    if not feature.strip():
        return "the feature name is empty"
    if any(c in feature for c in "\r\n") or feature != feature.strip() or feature.startswith("#"):
        return f"feature name {feature!r} must be one line without surrounding spaces or '#'"
    return None


def tracker_file(update: TrackerUpdate) -> str:
    if os.path.isabs(update.tracker_path):
        return update.tracker_path
    return os.path.join(update.repo_root, update.tracker_path)


def _exclude_lock_file(repo_root: str, path: str) -> None:
    """Keep the lock file out of `git status` (best effort: the tracker may live anywhere)."""
    lock = lock_path_for(path)
    if os.path.exists(lock) or not os.path.exists(os.path.join(repo_root, ".git")):
        return
    rel = os.path.relpath(os.path.abspath(lock), os.path.abspath(repo_root))
    if rel.startswith(".."):
        return
    with contextlib.suppress(GitError, GitInputError, OSError):
        ensure_excluded(repo_root, "/" + rel.replace(os.sep, "/"))


def update_tracker(update: TrackerUpdate) -> TrackerResult:
    """Rebuild `update.feature`'s section; a no-op when it already matches."""
    problem = _feature_problem(update.feature)
    if problem:
        raise ApplicationError(
            f"tracker update: {problem}; use the design directory's name as the feature",
            type="InvalidFeatureName",
            non_retryable=True,
        )
    if not os.path.isdir(update.repo_root):
        raise ApplicationError(
            f"tracker update: repo_root {update.repo_root} is not a directory; pass the "
            "repository's root",
            type="InvalidRepoRoot",
            non_retryable=True,
        )
    path = tracker_file(update)
    _exclude_lock_file(update.repo_root, path)
    counts: dict[str, int] = dict(Counter(str(row.status) for row in update.rows))
    with locked(path):
        try:
            current = files.read_bytes(path).decode("utf-8")
        except FileNotFoundError:
            current = ""
        if _superseded(current, update):
            return TrackerResult(path=path, changed=False, superseded=True, counts=counts)
        section = render_section(update.feature, update.rows, update.writer, update.revision)
        new = replace_section(current, update.feature, section)
        if new == current:
            return TrackerResult(path=path, changed=False, counts=counts)
        files.atomic_write_text(path, new)
    return TrackerResult(path=path, changed=True, counts=counts)


@activity.defn(name="tracker.write")
def write_tracker(update: TrackerUpdate) -> TrackerResult:
    """Write the feature's tracker section from the workflow's rows (idempotent)."""
    return update_tracker(update)


ACTIVITIES = [write_tracker]
