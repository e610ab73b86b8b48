"""Seed 004's `!reset` of a build (asked, confirmed within a window, then applied) and
its partial form, `!replay <subtask>` (back to the checkpoint after that subtask).

Back to the approved design: every subtask pending, running children cancelled, and
every branch the build made kept as `archive/<branch>-<time>` (on the remote when
there is one): nothing is lost, and the old work stays one `git checkout` away.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

RESET_WINDOW_S = 300  # `!reset-confirm` within 5 minutes of `!reset`, else it lapses


def archive_name(branch: str, stamp: str) -> str:
    return f"archive/{branch}-{stamp}"


class ResetState(BaseModel):
    asked_at: str  # workflow time, ISO 8601
    state: Literal["asked", "confirmed", "applying"] = "asked"


class ArchiveRequest(BaseModel):
    repo_root: str
    branches: dict[str, str]  # branch -> its worktree path ("" when it has none)
    stamp: str  # UTC, `20261207T071200Z`
    remote: str | None = "origin"
    token_hosts: list[str] = Field(default_factory=list)
    # `!replay`: leave the remote branch where it is, so its open PR stays open; the
    # rebuilt branch replaces it on its first push (see `ArchiveResult.left`).
    keep_remote: bool = False


class ArchiveResult(BaseModel):
    archived: dict[str, str] = Field(default_factory=dict)  # branch -> archive branch
    wip: list[str] = Field(default_factory=list)  # branches whose uncommitted work was kept
    left: dict[str, str] = Field(
        default_factory=dict, description="keep_remote: branch -> the remote head left in place"
    )


class ReplayState(BaseModel):
    """`!replay <subtask>`: asked (applied by the scheduling loop between two passes)."""

    subtask: str
    asked_at: str  # workflow time, ISO 8601
    state: Literal["asked", "applying"] = "asked"
    after: list[str] = Field(
        default_factory=list, description="what goes back to pending, fixed as it applies"
    )
