"""Helpers shared by the forge tests: a built subtask's worktree, a pull request for it, and
opening that request with the real activity."""

from __future__ import annotations

from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.forge import open_pull_request
from activities.git.activities import commit_worktree, ensure_worktree
from contracts.forge import PullRequestRequest, PullRequestResult
from contracts.git import CommitRequest, WorktreeRequest
from tests.forge.conftest import REPOSITORY
from tests.git.gitutil import Repos, write

run = ActivityEnvironment().run


def built_subtask(repos: Repos, subtask: str = "01-types") -> str:
    """A worktree with one committed change, not yet pushed."""
    wt = run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask=subtask)).path
    write(f"{wt}/src/{subtask}.py", "X = 1\n")
    run(commit_worktree, CommitRequest(worktree=wt, message=f"build {subtask}"))
    return wt


def request(repos: Repos, wt: str, api_url: str | None, **overrides: Any) -> PullRequestRequest:
    fields: dict[str, Any] = {
        "repo_root": str(repos.root),
        "worktree": wt,
        "branch": "feat/01-types",
        "base": "main",
        "title": "feat(01-types): common types",
        "body": "## Summary\n\nTypes.\n",
        "design_dir": str(repos.root / "design-docs/active/shop"),
        "subtask": "01-types",
        "repository": REPOSITORY,
        "api_url": api_url,
    }
    fields.update(overrides)
    return PullRequestRequest(**fields)


def open_pr(req: PullRequestRequest) -> PullRequestResult:
    return run(open_pull_request, req)
