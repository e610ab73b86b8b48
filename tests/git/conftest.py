"""Real git repositories in tmp dirs, each with a local bare repository as `origin`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.git.gitutil import Repos, make_repos
from tests.git.https_server import GitHttpsServer, origin_over_https


@pytest.fixture(autouse=True)
def hermetic_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No user/system git config: the orchestrator must commit without one."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    return make_repos(tmp_path)


@pytest.fixture
def server(
    repos: Repos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GitHttpsServer]:
    """`repos`' origin over HTTPS (token `https_server.TOKEN`)."""
    with origin_over_https(repos.root, repos.origin, tmp_path, monkeypatch) as srv:
        yield srv
