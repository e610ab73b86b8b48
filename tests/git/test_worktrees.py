"""ensure_worktree: one worktree and branch per subtask, reused, never clobbered."""

from __future__ import annotations

import shutil

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.git.activities import commit_worktree, ensure_worktree, push_branch
from contracts.git import CommitRequest, PushRequest, WorktreeRequest, WorktreeResult
from tests.git.gitutil import Repos, commit_file, git, write


def ensure(
    root: object, subtask: str, deps: list[str] | None = None, **kw: object
) -> WorktreeResult:
    req = WorktreeRequest(
        repo_root=str(root), subtask=subtask, dependency_branches=deps or [], **kw
    )
    return ActivityEnvironment().run(ensure_worktree, req)


def build(root: object, subtask: str, rel: str, text: str, deps: list[str] | None = None) -> str:
    """Create a subtask's worktree and commit one file in it, as a builder would."""
    wt = ensure(root, subtask, deps)
    write(f"{wt.path}/{rel}", text)
    result = ActivityEnvironment().run(
        commit_worktree, CommitRequest(worktree=wt.path, message=f"build {subtask}")
    )
    assert result.commit
    return result.commit


def test_new_worktree_starts_from_base_on_feat_branch(repos: Repos) -> None:
    main = git(repos.root, "rev-parse", "main")

    wt = ensure(repos.root, "01-types")

    assert wt.created and not wt.has_own_work and wt.conflict is None
    assert wt.path == str(repos.root / ".worktrees" / "01-types")
    assert wt.branch == "feat/01-types"
    assert wt.head == main
    assert git(wt.path, "branch", "--show-current") == "feat/01-types"
    # The worktrees never show up as untracked files in the main checkout.
    assert git(repos.root, "status", "--porcelain") == ""
    exclude = (repos.root / ".git" / "info" / "exclude").read_text()
    assert "/.worktrees/" in exclude.splitlines()


def test_existing_worktree_is_reused_with_its_work(repos: Repos) -> None:
    first = ensure(repos.root, "01-types")
    write(f"{first.path}/src/types.py", "T = int\n")
    commit = (
        ActivityEnvironment()
        .run(commit_worktree, CommitRequest(worktree=first.path, message="types"))
        .commit
    )
    write(f"{first.path}/scratch.txt", "uncommitted\n")

    again = ensure(repos.root, "01-types")

    assert not again.created
    assert again.head == commit
    assert again.has_own_work
    assert (repos.root / ".worktrees/01-types/scratch.txt").read_text() == "uncommitted\n"
    exclude = (repos.root / ".git" / "info" / "exclude").read_text()
    assert exclude.count(".worktrees") == 1


def test_existing_local_branch_is_checked_out_not_reset(repos: Repos) -> None:
    git(repos.root, "switch", "-q", "-c", "feat/02-parser")
    work = commit_file(repos.root, "src/parser.py", "def parse(): ...\n", "parser by hand")
    git(repos.root, "switch", "-q", "main")

    wt = ensure(repos.root, "02-parser")

    assert wt.created and wt.head == work and wt.has_own_work


def test_lost_worktree_directory_is_recreated_on_its_branch(repos: Repos) -> None:
    work = build(repos.root, "01-types", "src/types.py", "T = int\n")
    shutil.rmtree(repos.root / ".worktrees" / "01-types")

    wt = ensure(repos.root, "01-types")

    assert wt.created and wt.head == work and wt.has_own_work
    assert (repos.root / ".worktrees/01-types/src/types.py").exists()


def test_branch_pushed_from_a_lost_host_is_recreated_from_the_remote(repos: Repos) -> None:
    work = build(repos.root, "01-types", "src/types.py", "T = int\n")
    ActivityEnvironment().run(
        push_branch, PushRequest(path=str(repos.root), branch="feat/01-types")
    )
    other_host = repos.clone("host-b")

    wt = ensure(other_host, "01-types")

    assert wt.created and wt.head == work and wt.has_own_work
    assert (other_host / ".worktrees/01-types/src/types.py").read_text() == "T = int\n"


def test_dependent_branch_contains_both_dependencies_work(repos: Repos) -> None:
    build(repos.root, "01-types", "src/types.py", "T = int\n")
    build(repos.root, "02-parser", "src/parser.py", "P = 1\n")

    # Listed out of order: the merge order is sorted, so every retry builds the same history.
    wt = ensure(repos.root, "03-api", ["feat/02-parser", "feat/01-types"])

    assert wt.created and wt.conflict is None
    assert not wt.has_own_work  # only merges so far
    assert (repos.root / ".worktrees/03-api/src/types.py").exists()
    assert (repos.root / ".worktrees/03-api/src/parser.py").exists()
    merges = git(wt.path, "log", "--merges", "--format=%s", "main..HEAD").splitlines()
    assert merges == [
        "Merge branch 'feat/02-parser' into feat/03-api",
        "Merge branch 'feat/01-types' into feat/03-api",
    ]
    assert (
        git(wt.path, "log", "-1", "--format=%an <%ae>") == "Orchestrator <orchestrator@localhost>"
    )


def test_dependency_built_on_another_host_is_fetched(repos: Repos) -> None:
    host_a = repos.clone("host-a")
    build(host_a, "01-types", "src/types.py", "T = int\n")
    ActivityEnvironment().run(push_branch, PushRequest(path=str(host_a), branch="feat/01-types"))

    wt = ensure(repos.root, "02-parser", ["feat/01-types"])

    assert wt.conflict is None
    assert (repos.root / ".worktrees/02-parser/src/types.py").read_text() == "T = int\n"


def test_merge_conflict_is_reported_and_leaves_nothing_behind(repos: Repos) -> None:
    build(repos.root, "01-a", "src/app.py", "VALUE = 'a'\n")
    build(repos.root, "02-b", "src/app.py", "VALUE = 'b'\n")

    for _ in range(2):  # a retry reports the same conflict
        wt = ensure(repos.root, "03-c", ["feat/01-a", "feat/02-b"])

        assert wt.conflict is not None
        assert "src/app.py" in wt.conflict and "feat/02-b" in wt.conflict
        assert "feat/01-a" in wt.conflict
        assert not wt.created
        assert not (repos.root / ".worktrees" / "03-c").exists()
        assert git(repos.root, "branch", "--list", "feat/03-c") == ""
        assert len(git(repos.root, "worktree", "list").splitlines()) == 3
        assert git(repos.root, "status", "--porcelain") == ""


def test_worktree_left_detached_by_an_interrupted_merge_is_started_over(repos: Repos) -> None:
    build(repos.root, "01-types", "src/types.py", "T = int\n")
    git(repos.root, "worktree", "add", "-q", "--detach", ".worktrees/02-parser", "main")

    wt = ensure(repos.root, "02-parser", ["feat/01-types"])

    assert wt.created and wt.branch == "feat/02-parser"
    assert (repos.root / ".worktrees/02-parser/src/types.py").exists()


@pytest.mark.parametrize(
    "name", ["../escape", "Upper", "has space", "a/b", "", ".hidden", "x.lock"]
)
def test_bad_subtask_names_are_refused_for_good(repos: Repos, name: str) -> None:
    with pytest.raises(ApplicationError) as err:
        ensure(repos.root, name)
    assert err.value.non_retryable
    assert err.value.type == "InvalidSubtaskName"
    assert not (repos.root / ".worktrees").exists() or not any(
        (repos.root / ".worktrees").iterdir()
    )


def test_unknown_base_or_dependency_is_refused_for_good(repos: Repos) -> None:
    with pytest.raises(ApplicationError) as err:
        ensure(repos.root, "01-types", base_branch="develop")
    assert err.value.non_retryable and "develop" in err.value.message

    with pytest.raises(ApplicationError) as err:
        ensure(repos.root, "02-parser", ["feat/01-missing"])
    assert err.value.non_retryable and err.value.type == "UnknownDependencyBranch"
    assert "feat/01-missing" in err.value.message


def test_a_branch_that_must_exist_is_never_made_from_the_base(repos: Repos) -> None:
    """The release's integration branch on a host whose clone lacks it, never pushed: a
    fresh branch from main would be a release of nothing, so it is refused with the fix."""
    git(repos.root, "branch", "integration/shop")  # in the person's checkout only
    other_host = repos.clone("host-b")
    req = {"branch": "integration/shop", "base_branch": "main", "existing_only": True}

    with pytest.raises(ApplicationError) as err:
        ensure(other_host, "integration", **req)

    assert err.value.non_retryable and err.value.type == "BranchNotFound"
    assert (
        f"branch integration/shop does not exist in {other_host} nor on remote 'origin'"
        in err.value.message
    ), err.value.message
    assert "Fix: push integration/shop to the remote from a clone that has it" in (
        err.value.message
    )
    assert git(other_host, "branch", "--list", "integration/shop") == ""
    assert not (other_host / ".worktrees/integration").exists()

    git(repos.root, "push", "-q", "origin", "integration/shop")  # the fix
    wt = ensure(other_host, "integration", **req)
    assert wt.head == git(repos.root, "rev-parse", "integration/shop")


def test_foreign_directory_in_the_worktree_path_is_not_deleted(repos: Repos) -> None:
    write(repos.root / ".worktrees/01-types/notes.txt", "mine\n")

    with pytest.raises(ApplicationError) as err:
        ensure(repos.root, "01-types")

    assert err.value.non_retryable and err.value.type == "WorktreePathOccupied"
    assert (repos.root / ".worktrees/01-types/notes.txt").read_text() == "mine\n"


def test_repository_without_a_remote_works_locally(repos: Repos) -> None:
    git(repos.root, "remote", "remove", "origin")

    wt = ensure(repos.root, "01-types")

    assert wt.created and wt.head == git(repos.root, "rev-parse", "main")


def test_unreachable_remote_never_starts_a_fresh_branch(repos: Repos) -> None:
    git(repos.root, "remote", "set-url", "origin", str(repos.root.parent / "gone.git"))

    with pytest.raises(ApplicationError) as err:
        ensure(repos.root, "01-types")

    # Retryable: the branch may have been pushed from a lost host; do not fork it.
    assert not err.value.non_retryable and err.value.type == "GitCommandFailed"
    assert git(repos.root, "branch", "--list", "feat/01-types") == ""


def test_worktree_switched_to_another_branch_is_not_silently_used(repos: Repos) -> None:
    wt = ensure(repos.root, "01-types")
    git(wt.path, "switch", "-q", "-c", "experiment")

    with pytest.raises(ApplicationError) as err:
        ensure(repos.root, "01-types")

    assert err.value.non_retryable and err.value.type == "WorktreeOnOtherBranch"
    assert "git -C" in err.value.message and "switch feat/01-types" in err.value.message


def _pushed(root: object, subtask: str, rel: str, text: str) -> str:
    work = build(root, subtask, rel, text)
    ActivityEnvironment().run(push_branch, PushRequest(path=str(root), branch=f"feat/{subtask}"))
    return work


def test_a_host_the_subtask_comes_back_to_takes_up_the_work_done_elsewhere(repos: Repos) -> None:
    """alpha built and pushed, the subtask moved to beta, which pushed more; back on alpha
    (its worktree still there, with a dead agent's scratch file), the worktree has beta's
    work instead of starting the next round on alpha's stale head."""
    _pushed(repos.root, "01-types", "src/types.py", "T = int\n")
    write(f"{repos.root}/.worktrees/01-types/scratch.txt", "left by the agent alpha lost\n")
    beta = repos.clone("host-b")
    later = _pushed(beta, "01-types", "src/more.py", "U = str\n")

    wt = ensure(repos.root, "01-types")

    assert not wt.created and wt.head == later
    assert (repos.root / ".worktrees/01-types/src/more.py").read_text() == "U = str\n"
    assert (repos.root / ".worktrees/01-types/scratch.txt").exists()
    assert git(repos.root, "rev-parse", "feat/01-types") == later

    # Without its worktree (cleaned up since), the local branch is brought up all the same.
    second = _pushed(repos.root, "02-parser", "src/parser.py", "P = 1\n")
    shutil.rmtree(repos.root / ".worktrees" / "02-parser")
    git(repos.root, "worktree", "prune")
    newer = _pushed(beta, "02-parser", "src/parser.py", "P = 2\n")
    assert newer != second

    wt = ensure(repos.root, "02-parser")

    assert wt.created and wt.head == newer
    assert (repos.root / ".worktrees/02-parser/src/parser.py").read_text() == "P = 2\n"


def test_work_not_pushed_yet_or_diverged_is_kept_and_a_blocking_change_holds(
    repos: Repos,
) -> None:
    """A local commit the remote lacks stays (its push comes next), and so does a branch that
    diverged from the remote's (the push then says so); uncommitted changes that
    the remote's work would overwrite refuse, naming the worktree and the fix."""
    _pushed(repos.root, "01-types", "src/types.py", "T = int\n")
    unpushed = build(repos.root, "01-types", "src/local.py", "L = 1\n")

    assert ensure(repos.root, "01-types").head == unpushed
    beta = repos.clone("host-b")
    _pushed(beta, "01-types", "src/other.py", "O = 1\n")  # diverged: neither holds the other

    assert ensure(repos.root, "01-types").head == unpushed

    _pushed(repos.root, "02-parser", "src/parser.py", "P = 1\n")
    _pushed(beta, "02-parser", "src/parser.py", "P = 2\n")
    write(f"{repos.root}/.worktrees/02-parser/src/parser.py", "P = 'mine'\n")

    with pytest.raises(ApplicationError) as err:
        ensure(repos.root, "02-parser")

    assert err.value.non_retryable and err.value.type == "WorktreeBehindRemote"
    assert ".worktrees/02-parser" in err.value.message and "stash" in err.value.message
    assert (repos.root / ".worktrees/02-parser/src/parser.py").read_text() == "P = 'mine'\n"
