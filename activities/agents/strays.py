"""Files a read-only role's commands leave in a worktree: discarded and logged.

A reviewer may run the tests, and tests write files (a coverage file, a build
output, a database). Nothing a reviewer does is committed, but whatever it
leaves in the worktree the next editor's commit would take as its own. So the
worktree's changes are noted before the reviewer starts (kept beside its
transcript, so a retried attempt compares against the same start), and after
its review every path that was clean then and is changed now is put back as
the branch has it (new files deleted). A path already changed before is left
as it is, whoever changed it: only the log names it.

Gates run beside the reviewers and may write the worktree in the same minutes;
their files, if git would commit them, count as strays too. Files git ignores
are never touched.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from activities import git_commit, gitrepo
from activities.agents.transcript import is_transcript, outputs_dir
from activities.files import atomic_write_text

log = logging.getLogger(__name__)

BEFORE_FILE = "worktree-before.json"


def in_own_worktree(workdir: Path) -> bool:
    """A subtask's linked worktree (the orchestrator's), not the main checkout where a
    person may be working at the same time."""
    try:
        top = gitrepo.repo_root_of(str(workdir))
        return os.path.realpath(gitrepo.main_checkout(top)) != os.path.realpath(top)
    except (gitrepo.GitError, gitrepo.GitInputError):
        return False


def changes(top: str) -> dict[str, str]:
    """path -> what it looks like now (size, mtime, mode; '-' when deleted), for every
    path git would commit that differs from HEAD."""
    seen: dict[str, str] = {}
    for path in git_commit.status_paths(top):
        if is_transcript(path):
            continue
        try:
            st = os.lstat(os.path.join(top, path))
            seen[path] = f"{st.st_size}:{st.st_mtime_ns}:{st.st_mode:o}"
        except FileNotFoundError:
            seen[path] = "-"
    return seen


def before(workdir: Path, transcript: Path) -> dict[str, str]:
    """The worktree's changes when the call first started (noted now if it had not)."""
    record = outputs_dir(transcript) / BEFORE_FILE
    try:
        return dict(json.loads(record.read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        pass
    seen = changes(gitrepo.repo_root_of(str(workdir)))
    record.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(record, json.dumps(seen, sort_keys=True))
    return seen


def discard(workdir: Path, start: dict[str, str], role: str, keep: Iterable[Path]) -> list[str]:
    """Put back every path clean at `start` and changed now (except the files `keep`);
    log them, and the paths changed before and again since, which stay."""
    top = gitrepo.repo_root_of(str(workdir))
    kept = {os.path.relpath(os.path.realpath(p), top) for p in keep}
    now = changes(top)
    strays = sorted(p for p in now if p not in start and p.rstrip("/") not in kept)
    again = sorted(p for p in now if p in start and now[p] != start[p])
    if strays:
        git_commit.discard_changes(Path(top), strays)
        log.warning(
            "%s (a read-only role) left files in %s; discarded, never committed: %s",
            role,
            top,
            ", ".join(strays),
        )
    if again:
        log.warning(
            "%s changed files in %s that were already changed before it started; left as "
            "they are: %s",
            role,
            top,
            ", ".join(again),
        )
    return strays
