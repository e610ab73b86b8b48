"""Removing a feature's finished worktrees (and, by hand, its pushed local branches)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CleanRequest(BaseModel):
    repo_root: str
    names: list[str] = Field(description="worktrees under .worktrees/ (subtasks, integration)")
    remote: str | None = "origin"
    token_hosts: list[str] = Field(default_factory=list)
    branches: bool = Field(default=False, description="also delete the local branches pushed")
    extra_branches: list[str] = Field(
        default_factory=list, description="branches without a worktree here to delete if pushed"
    )


class CleanResult(BaseModel):
    removed: list[str] = Field(default_factory=list)
    kept: dict[str, str] = Field(default_factory=dict, description="worktree -> why it is kept")
    freed_bytes: int = 0
    branches_deleted: list[str] = Field(default_factory=list)
    branches_kept: dict[str, str] = Field(default_factory=dict)
