"""An integration with nothing of its own, on real repositories: every subtask's commits
reached the remote's base unchanged (GitHub's "merge" method), while this checkout's own
`main` is stale. What the branch holds is counted against the remote's base; a copy an
earlier attempt pushed is deleted only when that loses nothing."""

from __future__ import annotations

from pathlib import Path

from activities.git.worktrees import ensure_worktree
from activities.integration.merge import integrate
from activities.integration.nothing import own_work
from contracts.git import WorktreeRequest
from contracts.integration import IntegrateRequest, OwnWorkRequest
from tests.git.gitutil import Repos, commit_file, git

BRANCH = "integration/feat"


def merged_on_the_forge(repos: Repos) -> str:
    """feat/a, pushed and merged into origin's main with a merge commit, as GitHub's merge
    button does; the main checkout's `main` stays where it was. Returns origin's main."""
    git(repos.root, "switch", "-q", "-c", "feat/a")
    commit_file(repos.root, "src/a.py", "A = 1\n", "feat(a)")
    git(repos.root, "push", "-q", "origin", "feat/a")
    forge = repos.clone("forge")
    git(forge, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "origin/feat/a")
    git(forge, "push", "-q", "origin", "main")
    git(repos.root, "switch", "-q", "main")
    return git(forge, "rev-parse", "HEAD")


def integrated(repos: Repos) -> str:
    """The integration worktree, every subtask branch merged: the verified branch."""
    wt = ensure_worktree(
        WorktreeRequest(repo_root=str(repos.root), subtask="integration", branch=BRANCH)
    )
    merged = integrate(
        IntegrateRequest(worktree=wt.path, branch=BRANCH, base_branch="main", branches=["feat/a"])
    )
    assert merged.merged == [] and merged.ahead == 0  # nothing of its own to push
    return wt.path


def request(path: str) -> OwnWorkRequest:
    return OwnWorkRequest(worktree=path, branch=BRANCH, base_branch="main")


def on_origin(repos: Repos, branch: str) -> str:
    return git(repos.origin, "branch", "--list", branch)


def test_nothing_beyond_the_remotes_base_though_the_local_base_is_stale(repos: Repos) -> None:
    base = merged_on_the_forge(repos)
    path = integrated(repos)
    assert git(repos.root, "rev-list", "--count", f"main..{BRANCH}") != "0"  # stale main
    own = own_work(request(path))
    assert (own.ahead, own.base, own.removed, own.left) == (0, base, False, None)
    assert on_origin(repos, BRANCH) == ""


def test_a_copy_pushed_before_is_deleted_and_a_retry_finds_it_gone(repos: Repos) -> None:
    merged_on_the_forge(repos)
    path = integrated(repos)
    git(path, "push", "-q", "origin", BRANCH)  # an earlier attempt pushed the empty branch
    assert own_work(request(path)).removed
    assert on_origin(repos, BRANCH) == ""
    again = own_work(request(path))
    assert (again.ahead, again.removed, again.left) == (0, False, None)


def test_a_copy_holding_someone_elses_commits_is_left(repos: Repos) -> None:
    merged_on_the_forge(repos)
    path = integrated(repos)
    other = repos.clone("person")
    git(other, "switch", "-q", "-c", BRANCH, "origin/main")
    theirs = commit_file(other, "notes.md", "mine\n", "a person's commit")
    git(other, "push", "-q", "origin", BRANCH)
    own = own_work(request(path))
    assert (own.ahead, own.removed, own.left) == (0, False, theirs)
    assert git(repos.origin, "rev-parse", BRANCH) == theirs


def test_a_commit_of_its_own_is_counted_and_the_remote_left_alone(repos: Repos) -> None:
    merged_on_the_forge(repos)
    path = integrated(repos)
    git(path, "push", "-q", "origin", BRANCH)
    fixed = commit_file(Path(path), "src/a.py", "A = 2\n", "integration: the integrator's fix")
    own = own_work(request(path))
    assert (own.ahead, own.removed, own.left) == (1, False, None)
    assert git(repos.origin, "rev-parse", BRANCH) != fixed  # pushing it is the PR's step
    assert on_origin(repos, BRANCH) != ""
