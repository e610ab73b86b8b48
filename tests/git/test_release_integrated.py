"""release.check_integrated on another host's clone: the release's first step runs on
whichever worker is free, and a second host's clone has the integration branch only as
its remote's copy (`origin/integration/<feature>`), never as a local branch."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.release.activities import check_integrated
from contracts.release import IntegratedRequest, IntegratedResult
from tests.git.gitutil import Repos, commit_file, git

BRANCH = "integration/shop"


def integrated_here(repos: Repos) -> str:
    """The build's outcome committed on main (pushed) and its integration branch in the
    person's checkout; the branch's head."""
    commit_file(repos.root, "design/build-reviews/INTEGRATION.md", "- Outcome: **passed**\n", "i")
    git(repos.root, "push", "-q", "origin", "main")
    git(repos.root, "branch", BRANCH)
    return commit_file(repos.root, "src/app.py", "VALUE = 2\n", "not on the branch")


def check(root: Path) -> IntegratedResult:
    req = IntegratedRequest(repo_root=str(root), design_dir=str(root / "design"), feature="shop")
    return ActivityEnvironment().run(check_integrated, req)


def test_a_clone_with_only_the_remotes_integration_branch_passes(repos: Repos) -> None:
    integrated_here(repos)
    git(repos.root, "push", "-q", "origin", BRANCH)
    pushed = git(repos.root, "rev-parse", BRANCH)
    other_host = repos.clone("host-b")
    # The branch moved on the remote after this clone was made: the check fetches it.
    git(repos.root, "checkout", "-q", BRANCH)
    moved = commit_file(repos.root, "src/fix.py", "FIX = 1\n", "a release fix")
    git(repos.root, "push", "-q", "origin", BRANCH)
    assert git(other_host, "rev-parse", f"origin/{BRANCH}") == pushed

    found = check(other_host)

    assert found.branch == BRANCH and found.head == moved


def test_an_integration_branch_on_no_remote_is_refused_naming_both_places(repos: Repos) -> None:
    integrated_here(repos)  # never pushed: the person's checkout alone has it
    other_host = repos.clone("host-b")

    with pytest.raises(ApplicationError) as refused:
        check(other_host)

    assert refused.value.type == "NotIntegrated" and refused.value.non_retryable
    assert f"branch {BRANCH} does not exist in {other_host} nor on remote 'origin'" in (
        refused.value.message
    ), refused.value.message
    assert "Fix:" in refused.value.message
