"""Helpers to set up and inspect real git repositories in tests (git as a person runs it)."""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Person",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test Person",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(cwd: str | Path, *args: str) -> str:
    """Run git as a person would (with an identity), for setting up and inspecting repos."""
    env = {**os.environ, **IDENTITY}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def write(path: str | Path, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def commit_file(cwd: str | Path, rel: str, text: str, message: str) -> str:
    write(Path(cwd) / rel, text)
    git(cwd, "add", rel)
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


# The hooks the repository-program tests plant as marker scripts, to show none of them runs.
HOOKS = (
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-merge-commit",
    "post-merge",
    "post-checkout",
    "post-rewrite",
    "pre-push",
    "reference-transaction",
    "pre-auto-gc",
)


def plant(path: Path, markers: Path, name: str, then: str = "") -> str:
    """An executable script that records that it ran, then does `then`."""
    write(path, f'#!/bin/sh\necho "$0 $*" >> {markers / name}\n{then}\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@dataclass
class Repos:
    root: Path  # the main checkout, on `main`
    origin: Path  # bare repository, the `origin` remote

    def clone(self, name: str) -> Path:
        """Another host's checkout of the same origin."""
        path = self.root.parent / name
        git(self.root.parent, "clone", "-q", str(self.origin), str(path))
        return path


def make_repos(tmp_path: Path) -> Repos:
    """A main checkout on `main` (two commits) pushed to a bare `origin`."""
    origin = tmp_path / "origin.git"
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    commit_file(root, "README.md", "# app\n", "initial")
    commit_file(root, "src/app.py", "VALUE = 1\n", "app")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return Repos(root=root.resolve(), origin=origin.resolve())
