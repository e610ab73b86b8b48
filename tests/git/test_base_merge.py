"""A PR GitHub calls `dirty`: its base is merged into the worktree for a fixer to resolve
(activities/git/base_merge.py), against real repositories and a real `origin`."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.git.activities import ensure_worktree, finish_base_merge, start_base_merge
from contracts.git import BaseMergeRequest, WorktreeRequest
from tests.git.gitutil import Repos, commit_file, git, write


def conflicting(repos: Repos) -> BaseMergeRequest:
    """feat/a changes README.md; main, pushed meanwhile, changes the same line."""
    wt = ActivityEnvironment().run(
        ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="a")
    )
    commit_file(wt.path, "README.md", "ours\n", "a: readme")
    other = repos.clone("other")
    commit_file(other, "README.md", "theirs\n", "main: readme")
    git(other, "push", "-q", "origin", "HEAD:main")
    return BaseMergeRequest(worktree=wt.path, branch="feat/a", base="main")


def test_a_conflict_waits_for_the_fixer_then_is_committed(repos: Repos) -> None:
    req = conflicting(repos)
    env = ActivityEnvironment()
    before = git(req.worktree, "rev-parse", "HEAD")
    started = env.run(start_base_merge, req)
    assert started.outcome == "conflicted" and started.files == ["README.md"]
    shown = started.excerpts["README.md"]
    assert "<<<<<<< HEAD" in shown and "ours" in shown and "theirs" in shown
    again = env.run(start_base_merge, req)  # a retry finds the merge it began
    assert again.outcome == "conflicted" and again.files == ["README.md"]
    write(Path(req.worktree) / "README.md", "ours and theirs\n")  # the fixer's resolution
    write(Path(req.worktree) / "src.txt", "stray\n")  # untracked: left alone
    done = env.run(finish_base_merge, req)
    assert done.outcome == "merged" and done.head != before
    parents = git(req.worktree, "show", "-s", "--format=%P", done.head).split()
    assert parents[0] == before and len(parents) == 2  # a merge: nothing rewritten
    assert git(req.worktree, "show", f"{done.head}:README.md") == "ours and theirs"
    assert env.run(finish_base_merge, req).head == done.head  # idempotent


def test_markers_left_abort_the_merge(repos: Repos) -> None:
    req = conflicting(repos)
    env = ActivityEnvironment()
    before = git(req.worktree, "rev-parse", "HEAD")
    env.run(start_base_merge, req)
    done = env.run(finish_base_merge, req)  # the fixer changed nothing
    assert done.outcome == "markers_left" and done.files == ["README.md"]
    assert git(req.worktree, "rev-parse", "HEAD") == before
    assert git(req.worktree, "status", "--porcelain") == ""


def test_other_changes_are_restored_not_committed(repos: Repos) -> None:
    req = conflicting(repos)
    commit_file(req.worktree, "notes.txt", "mine\n", "a: notes")
    env = ActivityEnvironment()
    env.run(start_base_merge, req)
    write(Path(req.worktree) / "README.md", "resolved\n")
    write(Path(req.worktree) / "notes.txt", "changed on the side\n")
    done = env.run(finish_base_merge, req)
    assert done.outcome == "merged" and done.restored == ["notes.txt"]
    assert (Path(req.worktree) / "notes.txt").read_text() == "mine\n"


def test_a_clean_merge_and_an_up_to_date_branch(repos: Repos) -> None:
    wt = ActivityEnvironment().run(
        ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="a")
    )
    req = BaseMergeRequest(worktree=wt.path, branch="feat/a", base="main")
    assert ActivityEnvironment().run(start_base_merge, req).outcome == "up_to_date"
    commit_file(wt.path, "a.txt", "a\n", "a: work")
    other = repos.clone("other")
    commit_file(other, "b.txt", "b\n", "main: b")
    git(other, "push", "-q", "origin", "HEAD:main")
    merged = ActivityEnvironment().run(start_base_merge, req)
    assert merged.outcome == "merged" and (Path(wt.path) / "b.txt").exists()
