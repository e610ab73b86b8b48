"""A real repository with a bare `origin`, and the GitHub stand-in watching that origin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.github_api import GitHubStandIn
from tests.git.gitutil import Repos, make_repos

TOKEN = "ghp_test_token"
REPOSITORY = "acme/app"


@pytest.fixture(autouse=True)
def worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's environment: a token, no API URL override, no git config."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    return make_repos(tmp_path)


@pytest.fixture
def github(repos: Repos) -> Iterator[GitHubStandIn]:
    """Only accepts TOKEN; PR branches must exist in `origin`, as on GitHub."""
    with GitHubStandIn(token=TOKEN, git_dirs={REPOSITORY: str(repos.origin)}) as standin:
        yield standin
