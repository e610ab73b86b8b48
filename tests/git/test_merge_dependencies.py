"""A reopened subtask takes in its dependency's revised work (after an approved spec change)."""

from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities.git.activities import ensure_worktree, merge_dependencies
from contracts.git import MergeRequest, WorktreeRequest
from tests.git.gitutil import Repos, commit_file, git


def setup(repos: Repos) -> str:
    """feat/a exists; feat/b was built on it; then feat/a is revised."""
    env = ActivityEnvironment()
    a = env.run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="a"))
    commit_file(a.path, "src/a.py", "A = 1\n", "a: first")
    b = env.run(
        ensure_worktree,
        WorktreeRequest(repo_root=str(repos.root), subtask="b", dependency_branches=["feat/a"]),
    )
    commit_file(b.path, "src/b.py", "B = 1\n", "b: work")
    commit_file(a.path, "src/a.py", "A = 2  # revised spec\n", "a: revised")
    return b.path


def test_updated_dependency_is_merged_in(repos: Repos) -> None:
    worktree = setup(repos)
    result = ActivityEnvironment().run(
        merge_dependencies,
        MergeRequest(worktree=worktree, branch="feat/b", dependency_branches=["feat/a"]),
    )
    assert result.conflict is None and result.merged == ["feat/a"]
    assert "revised spec" in (repos.root / ".worktrees/b/src/a.py").read_text()
    again = ActivityEnvironment().run(
        merge_dependencies,
        MergeRequest(worktree=worktree, branch="feat/b", dependency_branches=["feat/a"]),
    )
    assert again.merged == [] and again.head == result.head  # idempotent


def test_conflict_is_reported_and_the_branch_left_as_it_was(repos: Repos) -> None:
    worktree = setup(repos)
    commit_file(worktree, "src/a.py", "A = 3  # b's own change\n", "b: touches a")
    before = git(worktree, "rev-parse", "HEAD")
    result = ActivityEnvironment().run(
        merge_dependencies,
        MergeRequest(worktree=worktree, branch="feat/b", dependency_branches=["feat/a"]),
    )
    assert result.conflict is not None and "src/a.py" in result.conflict
    assert git(worktree, "rev-parse", "HEAD") == before
    assert git(worktree, "status", "--porcelain") == ""  # the merge was aborted
