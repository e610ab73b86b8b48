"""The PR step never writes its record through a link an agent planted.

The attack this reproduces: a builder replaced `build-reviews/<subtask>` in its
worktree with a symbolic link to the main checkout's `.git`, and publishing the
review record wrote the review files and the PR description into `.git/`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from simulators.github_api import GitHubStandIn
from tests.forge.conftest import REPOSITORY
from tests.forge.pulls import built_subtask, open_pr, request
from tests.git.gitutil import Repos, git, write

RECORD = "design-docs/active/shop/build-reviews/01-types"
REVIEW = "2026-01-01-00-00-00_code-correctness.md"


def _everything_under(path: Path) -> dict[str, int]:
    return {
        os.path.relpath(os.path.join(d, f), path): os.lstat(os.path.join(d, f)).st_size
        for d, _, files in os.walk(path)
        for f in files
    }


def _plant(wt: str, rel: str, target: Path) -> None:
    """What the builder did in its sandbox, committed as the orchestrator commits its work."""
    link = Path(wt) / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    git(wt, "add", "-A")
    git(wt, "commit", "-q", "-m", "builder's work")


@pytest.mark.parametrize(
    "linked",
    [
        RECORD,  # the attack as it was seen
        "design-docs/active/shop/build-reviews",
        "design-docs",
        f"{RECORD}/PULL_REQUEST.md",  # the file itself
    ],
)
def test_a_record_path_linked_to_the_git_directory_is_refused_before_anything_is_written(
    repos: Repos, github: GitHubStandIn, linked: str
) -> None:
    wt = built_subtask(repos)
    review = repos.root / RECORD / REVIEW
    write(review, "# Review: 01-types\n\n## SCORE: 0.97\n")
    git_dir = repos.root / ".git"
    target = git_dir / "PULL_REQUEST.md" if linked.endswith(".md") else git_dir
    _plant(wt, linked, target)
    before = _everything_under(git_dir)
    pushed_before = git(repos.origin, "for-each-ref", "refs/heads/")

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url, body=f"## Evidence\n\n- {review}\n"))

    assert err.value.non_retryable and err.value.type == "UnsafeRecordPath", err.value
    name = Path(linked).name
    assert f"`{name}` on that path is a symbolic link (to {target})" in err.value.message
    assert "Fix: remove the link" in err.value.message
    after = _everything_under(git_dir)
    assert not [p for p in after if p.endswith((REVIEW, "PULL_REQUEST.md"))]
    assert set(after) - set(before) <= {p for p in after if p.startswith("worktrees/")}
    # Nothing went out either: no push, no pull request.
    assert git(repos.origin, "for-each-ref", "refs/heads/") == pushed_before
    assert github.pulls(REPOSITORY) == []


def test_without_a_forge_a_linked_record_dir_in_the_main_checkout_is_refused(
    repos: Repos,
) -> None:
    """Forge `none` writes the PR text in the main checkout, where the design writer works."""
    wt = built_subtask(repos)
    link = repos.root / "design-docs/active/shop/build-reviews"
    link.parent.mkdir(parents=True)
    link.symlink_to(repos.root / ".git")

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, None, forge="none", repository=None))

    assert err.value.type == "UnsafeRecordPath" and err.value.non_retryable
    assert not (repos.root / ".git" / "01-types").exists()


def test_a_plain_record_is_still_published(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)
    review = repos.root / RECORD / REVIEW
    write(review, "## SCORE: 0.97\n")

    open_pr(request(repos, wt, github.url, body=f"## Evidence\n\n- {review}\n"))

    assert git(repos.origin, "show", f"feat/01-types:{RECORD}/{REVIEW}") == "## SCORE: 0.97"
    assert "## Evidence" in git(repos.origin, "show", f"feat/01-types:{RECORD}/PULL_REQUEST.md")
