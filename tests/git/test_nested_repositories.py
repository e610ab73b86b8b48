"""A nested repository in a worktree runs nothing on the host, and wedges nothing.

Issue 20's breach: a builder ran `git init vendored` in its worktree, set a clean
filter in that nested repository's own config, added `* filter=x` to its
.gitattributes, committed inside it and touched a file. The orchestrator
committed `vendored` as a gitlink, and its next `git status` looked inside the
submodule and ran the filter outside the sandbox. Dependent subtasks ran it on
their first commit, because the merged dependency carried the gitlink; and a
`.gitmodules` with `update = !cmd` made every `git status` fail, retried for an
hour. Every program a nested repository can name is planted here as a marker
script (tests/git/test_repository_programs.py does the same for the repository
itself): the orchestrator's git must run none of them and stay usable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.agents.commit import changed_paths, commit_agent_changes
from activities.git.activities import (
    commit_worktree,
    ensure_worktree,
    git_errors,
    merge_dependencies,
    push_branch,
)
from activities.git.command import GitError
from contracts.git import CommitRequest, MergeRequest, PushRequest, WorktreeRequest
from tests.git.gitutil import HOOKS, Repos, git, plant, write

run = ActivityEnvironment().run


def nested_repository(parent: Path, name: str, markers: Path) -> Path:
    """The issue's attack, and every other program a repository's config can name."""
    nested = parent / name
    git(parent, "init", "-q", name)
    clean = plant(nested / ".x.sh", markers, "clean-filter", "cat")
    git(nested, "config", "filter.x.clean", f"sh {clean}")
    git(nested, "config", "filter.x.smudge", plant(nested / ".s.sh", markers, "smudge", "cat"))
    git(nested, "config", "filter.p.process", plant(nested / ".p.sh", markers, "process"))
    write(nested / ".gitattributes", "* filter=x\n*.md filter=p\n")
    write(nested / "lib.txt", "vendored code\n")
    git(nested, "add", "-A")
    git(nested, "commit", "-q", "-m", "vendored")
    # Programs set after its commit: they wait for someone to look inside.
    git(nested, "config", "core.fsmonitor", plant(nested / ".fs.sh", markers, "fsmonitor"))
    for hook in HOOKS:
        plant(nested / ".git" / "hooks" / hook, markers, f"hook-{hook}")
    write(nested / "lib.txt", "vendored code, touched\n")
    os.utime(nested / "lib.txt", (1, 1))  # stat-dirty: git must hash it to know
    for marker in markers.iterdir():  # the attacker's own git ran them, inside its sandbox
        marker.unlink()
    return nested


def ran(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


def gitlinks(repo: Path, rev: str = "HEAD") -> list[str]:
    entries = git(repo, "ls-tree", "-r", rev).splitlines()
    return [e.split("\t")[1] for e in entries if e.startswith("160000 ")]


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


def test_the_issues_attack_is_refused_and_runs_nothing(repos: Repos, markers: Path) -> None:
    wt = Path(run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="a")).path)
    nested_repository(wt, "vendored", markers)
    write(wt / "src/app.py", "VALUE = 2\n")

    paths = changed_paths(wt)
    assert paths == ["src/app.py", "vendored/"]
    with pytest.raises(ApplicationError) as refused:
        commit_agent_changes(wt, paths, "a: work", "Orchestrator-Call: builder a round-1 x")
    assert refused.value.non_retryable and refused.value.type == "RefusedContent"
    assert "vendored/: a nested git repository" in refused.value.message
    assert "rm -rf vendored/.git" in refused.value.message
    # What is not refused commits; the next look at the worktree runs nothing either.
    sha, files = commit_agent_changes(
        wt, ["src/app.py"], "a: work", "Orchestrator-Call: builder a round-1 y"
    )
    write(wt / "vendored/lib.txt", "touched again\n")
    assert changed_paths(wt) == ["vendored/"]
    with pytest.raises(ApplicationError):
        run(commit_worktree, CommitRequest(worktree=str(wt), message="everything"))

    assert ran(markers) == []
    assert sha and files == ["src/app.py"] and gitlinks(wt) == []


def vendor(dep: Path, markers: Path, gitmodules: str | None) -> None:
    """A branch made elsewhere (a person, or an older orchestrator) records a gitlink."""
    nested_repository(dep, "vendored", markers)
    git(dep, "add", "vendored")
    if gitmodules is not None:
        write(dep / ".gitmodules", f'[submodule "vendored"]\n\tpath = vendored\n{gitmodules}')
        git(dep, "add", ".gitmodules")
    git(dep, "commit", "-q", "-m", "vendor a library")
    for marker in markers.iterdir():  # the person's own git looked inside: not ours
        marker.unlink()


@pytest.mark.parametrize(
    "gitmodules",
    [None, "\turl = ./vendored\n\tignore = none\n\tfetchRecurseSubmodules = true\n"],
    ids=["gitlink", "gitlink+ignore=none"],
)
def test_a_dependency_carrying_a_gitlink_makes_no_later_commit_run_anything(
    repos: Repos, markers: Path, gitmodules: str | None
) -> None:
    """`ignore = none` in .gitmodules asks git to look inside whatever its config says."""
    dep = Path(run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="a")).path)
    vendor(dep, markers, gitmodules)

    b = Path(
        run(
            ensure_worktree,
            WorktreeRequest(repo_root=str(repos.root), subtask="b", dependency_branches=["feat/a"]),
        ).path
    )
    # Its checkout of the gitlink is an empty directory; an agent fills it with a repository.
    assert os.listdir(b / "vendored") == []
    nested_repository(b, "vendored", markers)
    write(b / "src/app.py", "VALUE = 3\n")
    paths = changed_paths(b)
    sha, files = commit_agent_changes(b, paths, "b: work", "Orchestrator-Call: builder b round-1")
    write(b / "src/app.py", "VALUE = 4\n")
    again = run(commit_worktree, CommitRequest(worktree=str(b), message="b: more"))
    write(dep / "README.md", "# app, by a\n")
    run(commit_worktree, CommitRequest(worktree=str(dep), message="a: readme"))
    merged = run(
        merge_dependencies,
        MergeRequest(worktree=str(b), branch="feat/b", dependency_branches=["feat/a"]),
    )
    pushed = run(push_branch, PushRequest(path=str(b), branch="feat/b"))

    assert ran(markers) == []
    assert paths == ["src/app.py"] and sha and files == ["src/app.py"]
    assert again.files == ["src/app.py"] and merged.merged == ["feat/a"] and pushed.pushed
    # The gitlink stays exactly as the dependency recorded it: never moved by our commits.
    assert gitlinks(b) == ["vendored"]
    assert git(b, "rev-parse", "HEAD:vendored") == git(dep, "rev-parse", "HEAD:vendored")


def test_update_command_in_gitmodules_wedges_nothing_and_runs_nothing(
    repos: Repos, markers: Path
) -> None:
    """`update = !cmd` names a program; git refuses to read such a .gitmodules at all."""
    update = f"\tupdate = !sh {plant(markers.parent / 'update.sh', markers, 'update')}\n"
    dep = Path(run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="a")).path)
    vendor(dep, markers, None)
    # An agent writes the .gitmodules on a branch whose history holds a gitlink: every
    # `git status` used to die on it, and was retried for an hour.
    write(dep / ".gitmodules", f'[submodule "vendored"]\n\tpath = vendored\n{update}')
    write(dep / "src/app.py", "VALUE = 5\n")
    paths = changed_paths(dep)
    assert paths == [".gitmodules", "src/app.py"]
    sha, files = commit_agent_changes(
        dep, ["src/app.py"], "a: work", "Orchestrator-Call: builder a round-1"
    )
    assert sha and files == ["src/app.py"]

    # Committed by someone else, git's own merge cannot read it: a person decides at once.
    git(dep, "add", ".gitmodules")
    git(dep, "commit", "-q", "-m", "submodule with an update command")
    with pytest.raises(ApplicationError) as held:
        run(
            ensure_worktree,
            WorktreeRequest(repo_root=str(repos.root), subtask="b", dependency_branches=["feat/a"]),
        )
    assert held.value.non_retryable and held.value.type == "GitContentRefused"
    assert "submodule.vendored.update" in held.value.message and "Fix:" in held.value.message
    assert ran(markers) == []


def test_a_lock_file_is_retried_and_content_is_not() -> None:
    lock = GitError(
        ["git", "update-index"],
        128,
        "",
        "fatal: Unable to create '/r/.git/index.lock': File exists.",
    )
    with pytest.raises(ApplicationError) as err, git_errors():
        raise lock
    assert not err.value.non_retryable and err.value.type == "GitCommandFailed"
    full = GitError(["git", "write-tree"], 128, "", "error: No space left on device")
    with pytest.raises(ApplicationError) as err, git_errors():
        raise full
    assert not err.value.non_retryable
