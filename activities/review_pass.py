"""The head commit that passed review, kept beside the reviews.

A build started again (after a stop, a cancel or an incomplete end) finds it:
a subtask whose branch head still is that commit goes straight to its
(idempotent) pull request instead of being reviewed again.
"""

from __future__ import annotations

import os

from pydantic import ValidationError
from temporalio import activity

from activities import gitrepo
from activities.files import atomic_write_text
from contracts.build import ReviewPass, ReviewPassRequest

FILE = "review-pass.json"


def pass_path(design_dir: str, subtask: str) -> str:
    return os.path.join(design_dir, "build-reviews", subtask, FILE)


@activity.defn(name="build.record_review_pass")
def record_review_pass(req: ReviewPassRequest) -> str:
    assert req.record is not None, "record_review_pass needs the record"
    path = pass_path(req.design_dir, req.subtask)
    atomic_write_text(path, req.record.model_dump_json(indent=2) + "\n")
    return path


@activity.defn(name="build.find_review_pass")
def find_review_pass(req: ReviewPassRequest) -> ReviewPass | None:
    """The recorded pass, if the worktree's head is still the commit that passed."""
    try:
        with open(pass_path(req.design_dir, req.subtask), encoding="utf-8") as fh:
            record = ReviewPass.model_validate_json(fh.read())
    except (FileNotFoundError, ValidationError, UnicodeDecodeError):
        return None  # nothing usable on record: review as usual
    if record.subtask != req.subtask or gitrepo.head_commit(req.worktree) != record.commit:
        return None
    return record


ACTIVITIES = [record_review_pass, find_review_pass]
