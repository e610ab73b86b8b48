"""Reuse a review of identical input: resume, never redo.

A review is a function of what the reviewer is shown: its role and prompt,
the model, the scope, title and instructions, and the bytes of the focus files.
When a request asks for `reuse`, the activity keys the review on exactly that,
and a later review of the same input (a restarted loop, an unchanged subplan in
the next round) returns the earlier result instead of paying for it again, as
long as its review file still exists. Any change to any of those inputs (one
byte of a focus file) is a different key, so a fresh review.

Entries live in `<workdir>/.orchestrator/reviews/<key>.json`: hidden from
agents (they hold scores), never committed by the edit activity, and listed in
the repository's `info/exclude` so `git add -A` leaves them alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

from pydantic import ValidationError

from activities import files
from activities.agents import prompts
from activities.agents.roles import ResolvedRole
from activities.agents.tools import ToolError, read_bounded
from activities.agents.transcript import REVIEW_CACHE_DIR
from activities.git.command import GitError, GitInputError
from activities.git.queries import repo_root_of
from activities.git.worktrees import ensure_excluded
from contracts.agents import ReviewRequest, ReviewResult

log = logging.getLogger(__name__)

# v2: scores derived from verified issues (rubric.py); a v1 entry holds a raw score.
KEY_VERSION = b"review-cache-v2"
EXCLUDE_PATTERN = "/".join(REVIEW_CACHE_DIR) + "/"


def review_key(req: ReviewRequest, resolved: ResolvedRole) -> str:
    """sha256 over everything the reviewer is shown (not the round, paths or settings)."""
    workdir = Path(req.workdir)
    digest = hashlib.sha256()

    def part(data: bytes) -> None:  # length-prefixed: no two inputs run together
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    for text in (
        KEY_VERSION.decode(),
        req.role,
        resolved.model,
        prompts.system_prompt(resolved, req),
        req.scope,
        req.title,
        req.instructions,
    ):
        part(text.encode("utf-8"))
    files = {}
    for path in req.focus_paths:
        full = Path(path) if os.path.isabs(path) else workdir / path
        files[os.path.normpath(os.path.relpath(full, workdir))] = full
    for rel in sorted(files):
        part(rel.encode("utf-8"))
        try:
            # Bounded, regular files only: a focus path a design names may be a FIFO or device.
            data = read_bounded(Path(os.path.realpath(files[rel])), rel, "review")
            part(b"file:" + data)
        except (OSError, ToolError):
            part(b"missing")  # a focus file that is missing now differs from any content
    return digest.hexdigest()


def entry_path(workdir: str, key: str) -> Path:
    return Path(workdir).joinpath(*REVIEW_CACHE_DIR, f"{key}.json")


def load(req: ReviewRequest, key: str) -> ReviewResult | None:
    """The earlier review of this input, if its entry is readable and its file still exists."""
    path = entry_path(req.workdir, key)
    try:
        cached = ReviewResult.model_validate_json(files.read_bytes(path))
    except FileNotFoundError:
        return None
    except (OSError, ValidationError, ValueError) as exc:
        log.warning("ignoring unreadable review cache entry %s: %s", path, exc)
        return None
    review = Path(cached.review_path)
    if not review.is_absolute():
        review = Path(req.workdir) / review
    return cached if review.is_file() else None


def save(req: ReviewRequest, key: str, result: ReviewResult) -> None:
    """Record a fresh review (atomically) for the next request with the same input."""
    workdir = req.workdir
    with contextlib.suppress(GitError, GitInputError, OSError):
        ensure_excluded(repo_root_of(workdir), EXCLUDE_PATTERN)
    files.atomic_write_text(entry_path(workdir, key), result.model_dump_json(indent=1))
