"""The locks cover pyproject.toml: a dependency added to one and not the other fails here,
not on a fresh machine whose ./run installs only what the lock names."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.conftest import REPO_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _locked(lock: Path) -> set[str]:
    return {
        _name(line)
        for line in lock.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith((" ", "#", "-"))
    }


def test_every_dependency_is_locked() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    assert runtime - _locked(REPO_ROOT / "requirements.lock") == set()
    assert (runtime | dev) - _locked(REPO_ROOT / "requirements-dev.lock") == set()
