"""Real git repositories in tmp dirs, each with a local bare repository as `origin`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.git.gitutil import Repos, make_repos


@pytest.fixture(autouse=True)
def hermetic_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No user/system git config: the orchestrator must commit without one."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    return make_repos(tmp_path)
