"""The head commit that passed review, kept beside the reviews.

A build started again (after a stop, a cancel or an incomplete end) finds it:
a subtask whose branch head still is that commit goes straight to its
(idempotent) pull request instead of being reviewed again.
"""

from __future__ import annotations

import os

from pydantic import ValidationError
from temporalio import activity

from activities import files
from activities.git.command import git_out
from activities.git.queries import head_commit, is_ancestor, repo_root_of
from contracts.build import ReviewPass, ReviewPassRequest

FILE = "review-pass.json"


def pass_path(design_dir: str, subtask: str) -> str:
    return os.path.join(design_dir, "build-reviews", subtask, FILE)


@activity.defn(name="build.record_review_pass")
def record_review_pass(req: ReviewPassRequest) -> str:
    assert req.record is not None, "record_review_pass needs the record"
    path = pass_path(req.design_dir, req.subtask)
    files.atomic_write_text(path, req.record.model_dump_json(indent=2) + "\n")
    return path


@activity.defn(name="build.find_review_pass")
def find_review_pass(req: ReviewPassRequest) -> ReviewPass | None:
    """The recorded pass, if the worktree's head is still the commit that passed."""
    try:
        record = ReviewPass.model_validate_json(
            files.read_bytes(pass_path(req.design_dir, req.subtask))
        )
    except (FileNotFoundError, ValidationError, UnicodeDecodeError):
        return None  # nothing usable on record: review as usual
    if record.subtask != req.subtask:
        return None
    head = head_commit(req.worktree)
    if head != record.commit and not _only_the_record_since(req, record.commit, head):
        return None
    return record


def _only_the_record_since(req: ReviewPassRequest, passed: str, head: str) -> bool:
    """The pull-request step commits the review record (reviews, PULL_REQUEST.md) on the
    branch after the pass: a head that adds only that still is the reviewed work."""
    if not head or not is_ancestor(req.worktree, passed, head):
        return False
    main_root = repo_root_of(req.design_dir)
    record_dir = os.path.dirname(pass_path(req.design_dir, req.subtask))
    rel = os.path.relpath(os.path.realpath(record_dir), os.path.realpath(main_root))
    prefix = rel.replace(os.sep, "/") + "/"
    changed = git_out(req.worktree, "diff", "--name-only", "--no-renames", passed, head)
    return all(name.startswith(prefix) for name in changed.splitlines() if name)


ACTIVITIES = [record_review_pass, find_review_pass]
