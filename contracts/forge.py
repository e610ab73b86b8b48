"""Inputs and results of the pull-request step.

The token never appears here: the activity reads GITHUB_TOKEN from the
worker's environment, so it stays out of workflow history.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from contracts.build import GateCommand
from contracts.follow import FollowRound

Forge = Literal["github", "none"]


class PullRequestRequest(BaseModel):
    """Push `branch` and open (or update) its pull request against `base`."""

    repo_root: str
    worktree: str
    branch: str
    base: str
    title: str
    body: str
    design_dir: str
    subtask: str
    forge: Forge = "github"
    # "owner/name"; None = parsed from the `origin` remote URL.
    repository: str | None = None
    # None = env GITHUB_API_URL, else https://api.github.com.
    api_url: str | None = None
    remote: str = "origin"
    # Hosts besides github.com and api_url's whose HTTPS remotes get GITHUB_TOKEN
    # (`[forge] token_hosts`).
    token_hosts: list[str] = Field(default_factory=list)
    # The branches of the subtask's dependencies (`feat/<dep>`). With exactly one, the PR is
    # stacked on it (its base is that branch, so it shows only this subtask's change); with
    # none or several, its base is `base` and the body lists the PRs to merge first.
    dependency_branches: list[str] = Field(default_factory=list)
    # Commit the review record and the PR text (PULL_REQUEST.md) on the branch. False while
    # the loop follows the PR: only the PR's body changes, so a fix round is one push (one
    # CI run), not the fix's and then the record's.
    record: bool = True
    # A remote head of `branch` a `!replay` archived: the push overwrites it (its PR stays).
    replaces: str | None = None


class PullRequestResult(BaseModel):
    # The PR's web address, or `branch:<branch>` for forge "none".
    url: str
    number: int | None = None
    # This call opened it.
    created: bool
    # It already existed (a retry, a rerun) and its title/body were brought up to date.
    updated: bool
    forge: Forge
    # Where forge "none" wrote the PR text.
    body_path: str | None = None
    # The base the PR was opened against (a dependency's branch when stacked).
    base: str | None = None
    # GitHub's owner/name the PR is in (where the loop follows it).
    repository: str | None = None


class PrBodyInput(BaseModel):
    """Plain facts for the PR description (seed 002's PR body, plus gates)."""

    subtask: str
    summary: str = ""
    # reviewer -> score (0..1)
    scores: dict[str, float] = Field(default_factory=dict)
    # gate command -> passed
    gates: dict[str, bool] = Field(default_factory=dict)
    # review files (paths or links)
    evidence: list[str] = Field(default_factory=list)
    design_doc: str | None = None
    subplan: str | None = None
    # PR urls (or branch refs) of the dependencies this branch builds on
    dependency_prs: list[str] = Field(default_factory=list)
    reviews_dir: str | None = None
    # every gate of the passing round, with test counts where the runner was recognised
    gate_results: list[GateCommand] = Field(default_factory=list)
    # the design directory, relative to the repository (the body's footer names it)
    design_dir: str | None = None
    # reviewer -> why a person skipped it (the failure it was held on)
    skipped_reviewers: dict[str, str] = Field(default_factory=dict)
    # the CI and review rounds on the PR so far ([forge] follow)
    follow_rounds: list[FollowRound] = Field(default_factory=list)
