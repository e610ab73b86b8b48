"""Commits, pushes, resets and repository facts: idempotent, and blind to secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.git.activities import (
    commit_paths,
    commit_worktree,
    ensure_worktree,
    git_repo_info,
    push_branch,
    reset_branch,
)
from contracts.git import (
    CommitPathsRequest,
    CommitRequest,
    PushRequest,
    ResetRequest,
    WorktreeRequest,
)
from tests.git.gitutil import Repos, commit_file, git, write

run = ActivityEnvironment().run


def worktree(repos: Repos, subtask: str = "01-types") -> str:
    return run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask=subtask)).path


def test_commit_takes_everything_as_the_orchestrator_and_only_once(repos: Repos) -> None:
    wt = worktree(repos)
    write(f"{wt}/src/types.py", "T = int\n")
    write(f"{wt}/src/app.py", "VALUE = 2\n")
    os.remove(f"{wt}/README.md")

    first = run(commit_worktree, CommitRequest(worktree=wt, message="build 01-types"))
    again = run(commit_worktree, CommitRequest(worktree=wt, message="build 01-types"))

    assert first.commit and first.commit == first.head == git(wt, "rev-parse", "HEAD")
    assert first.files == ["README.md", "src/app.py", "src/types.py"]
    # Works with no git identity configured anywhere (hermetic_git fixture).
    assert git(wt, "log", "-1", "--format=%an <%ae>|%cn") == (
        "Orchestrator <orchestrator@localhost>|Orchestrator"
    )
    assert again.commit is None and again.files == [] and again.head == first.commit
    assert git(wt, "status", "--porcelain") == ""


def test_commit_of_given_paths_leaves_the_rest_alone(repos: Repos) -> None:
    wt = worktree(repos)
    write(f"{wt}/src/types.py", "T = int\n")
    write(f"{wt}/notes.txt", "later\n")

    result = run(
        commit_worktree,
        CommitRequest(worktree=wt, message="types only", paths=["src/types.py", "missing.py"]),
    )

    assert result.files == ["src/types.py"]
    assert git(wt, "status", "--porcelain") == "?? notes.txt"


def test_commit_paths_commits_design_artifacts_on_the_current_branch(repos: Repos) -> None:
    design = repos.root / "design-docs/active/shop"
    write(design / "subtasks/01-types.xml", "<subtask/>\n")
    write(design / "plan/dag.md", "# DAG\n")
    write(repos.root / "src/app.py", "VALUE = 'work in progress'\n")
    git(repos.root, "add", "src/app.py")  # the person's own staged change

    result = run(
        commit_paths,
        CommitPathsRequest(
            repo_root=str(repos.root),
            paths=[str(design / "subtasks"), "design-docs/active/shop/plan/dag.md"],
            message="design: approved plan",
        ),
    )
    again = run(
        commit_paths,
        CommitPathsRequest(repo_root=str(repos.root), paths=[str(design)], message="again"),
    )

    assert result.files == [
        "design-docs/active/shop/plan/dag.md",
        "design-docs/active/shop/subtasks/01-types.xml",
    ]
    assert git(repos.root, "branch", "--show-current") == "main"
    assert git(repos.root, "log", "-1", "--format=%s") == "design: approved plan"
    assert git(repos.root, "status", "--porcelain") == "M  src/app.py"
    assert again.commit is None


def test_paths_outside_the_checkout_are_refused(repos: Repos, tmp_path: Path) -> None:
    with pytest.raises(ApplicationError) as err:
        run(
            commit_paths,
            CommitPathsRequest(
                repo_root=str(repos.root), paths=[str(tmp_path / "elsewhere")], message="x"
            ),
        )
    assert err.value.non_retryable and err.value.type == "PathOutsideRepository"


def test_push_is_idempotent(repos: Repos) -> None:
    wt = worktree(repos)
    write(f"{wt}/a.txt", "a\n")
    head = run(commit_worktree, CommitRequest(worktree=wt, message="a")).commit

    first = run(push_branch, PushRequest(path=wt, branch="feat/01-types"))
    again = run(push_branch, PushRequest(path=wt, branch="feat/01-types"))

    assert first.pushed and first.remote_sha == head
    assert not again.pushed and again.remote_sha == head
    assert git(repos.origin, "rev-parse", "refs/heads/feat/01-types") == head


def test_diverged_remote_is_refused_unless_forced_after_a_reset(repos: Repos) -> None:
    wt = worktree(repos)
    write(f"{wt}/a.txt", "a\n")
    first = run(commit_worktree, CommitRequest(worktree=wt, message="a")).commit
    write(f"{wt}/b.txt", "b\n")
    second = run(commit_worktree, CommitRequest(worktree=wt, message="b")).commit
    run(push_branch, PushRequest(path=wt, branch="feat/01-types"))

    # Replay from the first iteration: rewind, then build differently.
    reset = run(reset_branch, ResetRequest(worktree=wt, commit=first))
    write(f"{wt}/c.txt", "c\n")
    third = run(commit_worktree, CommitRequest(worktree=wt, message="c")).commit

    assert reset.previous == second and reset.head == first
    with pytest.raises(ApplicationError) as err:
        run(push_branch, PushRequest(path=wt, branch="feat/01-types"))
    assert err.value.non_retryable and err.value.type == "NonFastForward"

    forced = run(push_branch, PushRequest(path=wt, branch="feat/01-types", force=True))
    assert forced.pushed and git(repos.origin, "rev-parse", "refs/heads/feat/01-types") == third


def test_reset_discards_untracked_files_and_is_idempotent(repos: Repos) -> None:
    wt = worktree(repos)
    base = git(wt, "rev-parse", "HEAD")
    write(f"{wt}/a.txt", "a\n")
    run(commit_worktree, CommitRequest(worktree=wt, message="a"))
    write(f"{wt}/stray.txt", "left by a builder\n")

    run(reset_branch, ResetRequest(worktree=wt, commit=base))
    again = run(reset_branch, ResetRequest(worktree=wt, commit=base))

    assert again.head == again.previous == base
    assert git(wt, "status", "--porcelain") == ""
    assert not Path(wt, "a.txt").exists() and not Path(wt, "stray.txt").exists()
    assert git(wt, "rev-parse", "feat/01-types") == base


def test_push_without_the_remote_is_refused_with_the_fix(repos: Repos) -> None:
    git(repos.root, "remote", "remove", "origin")
    with pytest.raises(ApplicationError) as err:
        run(push_branch, PushRequest(path=str(repos.root), branch="main"))
    assert err.value.non_retryable and "git remote add origin" in err.value.message


def test_repo_info_for_a_design_directory(repos: Repos) -> None:
    design = repos.root / "design-docs/active/shop"
    design.mkdir(parents=True)
    git(repos.root, "remote", "set-url", "origin", "https://bot:ghp_secret@github.com/acme/app.git")

    info = run(git_repo_info, str(design))

    assert info.repo_root == str(repos.root)
    assert info.branch == "main"
    assert info.head == git(repos.root, "rev-parse", "HEAD")
    assert info.origin_url == "https://***@github.com/acme/app.git"


def test_repo_info_outside_a_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ApplicationError) as err:
        run(git_repo_info, str(tmp_path))
    assert err.value.non_retryable and err.value.type == "NotAGitRepository"


def test_commit_in_a_repository_with_no_commits_yet(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main", "fresh")
    write(tmp_path / "fresh/design.md", "# d\n")

    result = run(
        commit_paths,
        CommitPathsRequest(repo_root=str(tmp_path / "fresh"), paths=["design.md"], message="d"),
    )

    assert result.commit and result.files == ["design.md"]
    commit_file(tmp_path / "fresh", "other.md", "o\n", "person")  # history continues normally
