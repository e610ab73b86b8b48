"""Clean-up (issue 23): a worktree is removed only when nothing of it is lost (committed and
on the remote), and re-created from its branch when a later fix needs it."""

from __future__ import annotations

from pathlib import Path

from activities.cleanup import clean
from activities.git.worktrees import ensure_worktree
from contracts.cleanup import CleanRequest
from contracts.git import WorktreeRequest
from tests.git.gitutil import Repos, commit_file, git, write

NOWHERE = (
    "origin has no {} (never pushed, or deleted there) and no branch of origin holds its commits"
)


def worktree(repos: Repos, name: str, push: bool = True) -> Path:
    path = Path(ensure_worktree(WorktreeRequest(repo_root=str(repos.root), subtask=name)).path)
    commit_file(path, f"src/{name}.py", f"{name.upper()} = 1\n", f"feat({name})")
    if push:
        git(path, "push", "-q", "origin", f"feat/{name}")
    return path


def test_only_clean_pushed_worktrees_are_removed_and_nothing_unpushed_is_lost(
    repos: Repos,
) -> None:
    a = worktree(repos, "a")
    write(a / ".venv/lib/big.bin", "x" * 100_000)  # ignored, not work: goes with it
    write(repos.root / ".git/info/exclude", "/.worktrees/\n.venv/\n")
    b = worktree(repos, "b")
    write(b / "src/b.py", "B = 2  # edited, not committed\n")
    c = worktree(repos, "c", push=False)
    d = worktree(repos, "d")
    commit_file(d, "src/d2.py", "D2 = 1\n", "one more, not pushed")
    # A branch only, with a commit origin never had.
    tree = git(repos.root, "rev-parse", "main^{tree}")
    only_e = git(repos.root, "commit-tree", tree, "-p", "main", "-m", "on feat/e only")
    git(repos.root, "branch", "feat/e", only_e)
    unpushed_c = git(c, "rev-parse", "HEAD")

    result = clean(
        CleanRequest(
            repo_root=str(repos.root),
            names=["a", "b", "c", "d", "integration"],
            branches=True,
            extra_branches=["feat/a", "feat/e"],
        )
    )
    assert result.removed == ["a"] and not a.exists()
    assert result.freed_bytes >= 100_000
    assert result.kept == {
        "b": "uncommitted changes: src/b.py",
        "c": NOWHERE.format("feat/c"),
        "d": "feat/d has commits origin does not have",
    }
    assert result.branches_deleted == ["feat/a"]
    assert result.branches_kept == {"feat/e": NOWHERE.format("feat/e")}
    # Everything that was not on origin is where it was.
    assert b.is_dir() and "edited" in (b / "src/b.py").read_text()
    assert git(repos.root, "rev-parse", "feat/c") == unpushed_c and c.is_dir()
    assert git(repos.root, "rev-parse", "--verify", "feat/e")

    # A later fix needs a: its worktree comes back from the pushed branch.
    again = ensure_worktree(WorktreeRequest(repo_root=str(repos.root), subtask="a"))
    assert again.created and (Path(again.path) / "src/a.py").read_text() == "A = 1\n"
    assert again.head == git(repos.origin, "rev-parse", "feat/a")


def test_without_a_remote_nothing_is_removed(repos: Repos) -> None:
    a = worktree(repos, "a")
    result = clean(CleanRequest(repo_root=str(repos.root), names=["a"], remote="upstream"))
    assert result.removed == [] and a.is_dir()
    assert result.kept == {"a": "feat/a is not pushed: the repository has no remote 'upstream'"}


def test_a_branch_merged_then_deleted_on_the_remote_is_not_kept_for_nothing(repos: Repos) -> None:
    """An integration with nothing of its own (or a merged PR's branch deleted on the forge):
    its branch is gone from origin but its commits are on origin's main, so nothing is lost."""
    integration = worktree(repos, "integration")
    git(repos.root, "fetch", "-q", "origin", "feat/integration")
    git(repos.origin, "update-ref", "refs/heads/main", git(integration, "rev-parse", "HEAD"))
    git(repos.origin, "branch", "-D", "feat/integration")
    git(repos.root, "fetch", "-q", "origin", "main")

    result = clean(CleanRequest(repo_root=str(repos.root), names=["integration"], branches=True))

    assert result.removed == ["integration"] and not integration.exists()
    assert result.branches_deleted == ["feat/integration"]
