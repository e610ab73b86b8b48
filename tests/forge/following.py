"""Helpers for the follow-a-PR tests: an open PR on the stand-in, a reviewer's client, and
running the follow activities the way Temporal runs them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from github import Auth, Github
from temporalio.testing import ActivityEnvironment

from contracts.follow import PollRequest, PollResult, PullState
from simulators.github_api import GitHubStandIn
from tests.forge.conftest import REPOSITORY
from tests.git.gitutil import Repos, commit_file, git

REVIEWER_TOKEN = "ghp_reviewer"


def push_branch(repos: Repos, branch: str, path: str, text: str, base: str = "main") -> str:
    """A branch with one commit on `base`, pushed to origin; its head SHA."""
    git(repos.root, "checkout", "-q", "-B", branch, base)
    sha = commit_file(repos.root, path, text, f"work on {branch}")
    git(repos.root, "push", "-q", "-f", "origin", branch)
    git(repos.root, "checkout", "-q", "main")
    return sha


def move_main(repos: Repos, path: str, text: str) -> str:
    git(repos.root, "checkout", "-q", "main")
    sha = commit_file(repos.root, path, text, f"main changes {path}")
    git(repos.root, "push", "-q", "origin", "main")
    return sha


def open_pull(github: GitHubStandIn, repos: Repos, branch: str = "feat/x") -> tuple[int, str]:
    """An open PR (by the orchestrator's account) for a pushed branch: (number, head)."""
    head = push_branch(repos, branch, f"{branch.replace('/', '-')}.py", "A = 1\nB = 2\nC = 3\n")
    pr = (
        client(github, "ghp_test_token")
        .get_repo(REPOSITORY)
        .create_pull(base="main", head=branch, title=branch, body="")
    )
    return pr.number, head


def client(github: GitHubStandIn, token: str) -> Github:
    return Github(base_url=github.url, auth=Auth.Token(token), retry=None)


def reviewer(github: GitHubStandIn) -> Github:
    github.add_user("alice", REVIEWER_TOKEN)
    return client(github, REVIEWER_TOKEN)


def run(fn: Any, arg: Any, attempt: int = 1) -> Any:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env.run(fn, arg)


def poll(github: GitHubStandIn, number: int, cache: Path, **fields: Any) -> PollResult:
    from activities.forge_follow import poll_pull_request

    req = PollRequest(
        repository=REPOSITORY, number=number, api_url=github.url, cache_dir=str(cache), **fields
    )
    result: PollResult = run(poll_pull_request, req)
    return result


def settled(github: GitHubStandIn, number: int, cache: Path) -> PullState:
    """The state once GitHub computed mergeability (the first GET answers null)."""
    for _ in range(3):
        result = poll(github, number, cache)
        assert result.state is not None
        if result.state.mergeable is not None:
            return result.state
    raise AssertionError("mergeable stayed null")
