"""The PR tracker (`design-docs/orchestration/pr_tracker.md`) as data.

The build workflow's state is the source of truth; the file is a view of it
that people (and the seeds' grep one-liners) read.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, Field

from contracts.build import SubtaskStatus

DEFAULT_TRACKER_PATH = "design-docs/orchestration/pr_tracker.md"

# A row's status is its subtask's (contracts.build.SubtaskStatus), one list for both; the
# release loop's rows (critic, security, verify) end `passed` or `failed`.
ReleaseRowStatus = Literal["passed", "failed"]
TrackerStatus = SubtaskStatus | ReleaseRowStatus
TRACKER_STATUSES: tuple[str, ...] = (*get_args(SubtaskStatus), *get_args(ReleaseRowStatus))


class TrackerRow(BaseModel):
    subtask: str
    batch: int
    status: TrackerStatus
    # PR url (or `branch:feat/x` for forge "none"); None is shown as "-".
    pr: str | None = None
    notes: str = ""


class TrackerUpdate(BaseModel):
    """Replace one feature's section of the tracker with these rows (in this order)."""

    repo_root: str
    feature: str
    rows: list[TrackerRow] = Field(default_factory=list)
    # Relative to repo_root (or absolute).
    tracker_path: str = DEFAULT_TRACKER_PATH
    # Ordering of one workflow run's writes: a write older than the section on file
    # (an attempt that outlived a cancel, a late retry) is dropped, never applied over it.
    writer: str | None = Field(default=None, description="the writing workflow run")
    revision: int = 0


class TrackerResult(BaseModel):
    path: str
    # False when the section already said exactly this (a retried write).
    changed: bool
    # True when a newer write of the same run was already on file: nothing written.
    superseded: bool = False
    # status -> number of rows, for logs and the final report.
    counts: dict[str, int] = Field(default_factory=dict)
