"""open_pull_request against the GitHub stand-in with the real PyGithub client."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.git.activities import ensure_worktree
from contracts.git import WorktreeRequest
from simulators.github_api import GitHubStandIn
from tests.forge.conftest import REPOSITORY
from tests.forge.pulls import built_subtask, open_pr, request, run
from tests.git.gitutil import Repos, git


def test_pr_is_opened_once_and_found_on_retry(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)

    first = open_pr(request(repos, wt, github.url))
    retry = open_pr(request(repos, wt, github.url, body="## Summary\n\nTypes, revised.\n"))

    # Pushed before the PR (the stand-in refuses PRs for branches origin lacks).
    assert git(repos.origin, "rev-parse", "feat/01-types") == git(wt, "rev-parse", "HEAD")
    assert first.created and not first.updated and first.number == 1 and first.forge == "github"
    assert first.url == f"{github.url}/acme/app/pull/1"
    assert not retry.created and retry.updated and retry.number == 1 and retry.url == first.url
    pulls = github.pulls(REPOSITORY)
    assert len(pulls) == 1
    assert pulls[0]["head"]["label"] == "acme:feat/01-types" and pulls[0]["base"]["ref"] == "main"
    assert pulls[0]["body"] == "## Summary\n\nTypes, revised.\n"
    assert pulls[0]["head"]["sha"] == git(wt, "rev-parse", "HEAD")


def test_already_exists_422_finds_the_open_pr_instead_of_duplicating(
    repos: Repos, github: GitHubStandIn
) -> None:
    wt = built_subtask(repos)
    open_pr(request(repos, wt, github.url))
    # A listing that lags behind (as GitHub's search index can): the create then hits
    # GitHub's "A pull request already exists" 422.
    github.inject("GET", r"/repos/acme/app/pulls$", 200, body=[])
    github.clear_requests()

    result = open_pr(request(repos, wt, github.url, title="feat(01-types): renamed"))

    assert not result.created and result.updated and result.number == 1
    assert [(r.method, r.status) for r in github.requests if r.path.endswith("/pulls")] == [
        ("GET", 200),
        ("POST", 422),
        ("GET", 200),
    ]
    assert [p["title"] for p in github.pulls(REPOSITORY)] == ["feat(01-types): renamed"]


def test_server_errors_are_retryable_and_not_retried_inside_pygithub(
    repos: Repos, github: GitHubStandIn
) -> None:
    wt = built_subtask(repos)
    github.inject("POST", r"/pulls$", 502)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert not err.value.non_retryable and err.value.type == "GitHubUnavailable"
    # Exactly one attempt: Temporal owns the retries, so each one is in the history.
    assert [r.status for r in github.requests if r.method == "POST"] == [502]
    # Temporal's retry of the activity then succeeds, once.
    assert open_pr(request(repos, wt, github.url)).created
    assert len(github.pulls(REPOSITORY)) == 1


def test_rate_limit_is_retryable_after_the_reset(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)
    github.inject(
        "GET",
        r"/repos/acme/app$",
        403,
        body={"message": "API rate limit exceeded for user ID 1."},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 90)},
    )

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert not err.value.non_retryable and err.value.type == "GitHubRateLimited"
    assert err.value.next_retry_delay is not None
    assert 89 <= err.value.next_retry_delay.total_seconds() <= 92


def test_missing_token_stops_before_pushing(
    repos: Repos, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    wt = built_subtask(repos)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert err.value.non_retryable and err.value.type == "MissingGitHubToken"
    assert "GITHUB_TOKEN" in err.value.message
    assert git(repos.origin, "branch", "--list", "feat/01-types") == ""
    assert github.requests == []


def test_rejected_token_is_not_retried(
    repos: Repos, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_revoked")
    wt = built_subtask(repos)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert err.value.non_retryable and err.value.type == "GitHubBadCredentials"
    assert "ghp_revoked" not in err.value.message


def test_unknown_repository_names_what_to_fix(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url, repository="acme/typo"))

    assert err.value.non_retryable and err.value.type == "GitHubNotFound"
    assert "acme/typo" in err.value.message


def test_branch_without_new_commits_is_a_validation_error(
    repos: Repos, github: GitHubStandIn
) -> None:
    wt = run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="01-types")).path

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert err.value.non_retryable and err.value.type == "GitHubValidationFailed"
    assert "No commits between main and feat/01-types" in err.value.message
    assert "has no commits that main lacks; commit the subtask's work" in err.value.message
    # No review record was committed to make the empty branch look like work.
    assert git(repos.origin, "rev-parse", "feat/01-types") == git(repos.root, "rev-parse", "main")


def test_work_already_merged_on_the_forge_is_not_new_work_behind_a_stale_local_base(
    repos: Repos, github: GitHubStandIn
) -> None:
    """Merges on the forge move the remote's base, not the checkout's: the subtask's commits
    are then on origin/main, and a review record must not make the branch look new."""
    wt = built_subtask(repos)
    git(repos.root, "push", "-q", "origin", "feat/01-types:main")
    git(repos.root, "fetch", "-q", "origin")
    stale = git(repos.root, "rev-parse", "main")

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert err.value.type == "GitHubValidationFailed"
    assert "No commits between main and feat/01-types" in err.value.message
    assert git(repos.origin, "rev-parse", "feat/01-types") == git(repos.origin, "rev-parse", "main")
    assert git(repos.root, "rev-parse", "main") == stale


def test_unreachable_api_is_retryable(repos: Repos) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    wt = built_subtask(repos)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, closed))

    assert not err.value.non_retryable and err.value.type == "GitHubUnavailable"


def test_api_url_and_repository_default_from_env_and_origin(
    repos: Repos, github: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    wt = built_subtask(repos)
    # origin names the GitHub repository; git's insteadOf sends the pushes to the local bare one.
    git(repos.root, "config", "remote.origin.url", "git@github.com:acme/app.git")
    git(
        repos.root,
        "config",
        "url." + str(repos.origin) + ".insteadOf",
        "git@github.com:acme/app.git",
    )

    result = open_pr(request(repos, wt, None, repository=None))

    assert result.created and result.url.startswith(github.url)


def test_origin_that_is_not_github_needs_an_explicit_repository(
    repos: Repos, github: GitHubStandIn
) -> None:
    wt = built_subtask(repos)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url, repository=None))

    assert err.value.non_retryable and err.value.type == "UnknownRepository"
    assert "repository" in err.value.message


def test_forge_none_pushes_and_writes_the_pr_text(repos: Repos) -> None:
    wt = built_subtask(repos)
    req = request(repos, wt, None, forge="none", repository=None)

    first = open_pr(req)
    again = open_pr(req)

    path = Path(req.design_dir) / "build-reviews/01-types/PULL_REQUEST.md"
    assert first.url == "branch:feat/01-types" and first.number is None
    assert first.created and not again.created and again.updated
    assert first.body_path == str(path)
    text = path.read_text()
    assert text.startswith("# feat(01-types): common types\n")
    assert "## Summary\n\nTypes.\n" in text and "- Base: `main`" in text
    assert git(repos.origin, "rev-parse", "feat/01-types") == git(wt, "rev-parse", "HEAD")
    assert not list(path.parent.glob("*.tmp"))


def test_forge_none_works_without_any_remote(repos: Repos) -> None:
    git(repos.root, "remote", "remove", "origin")
    wt = built_subtask(repos)

    result = open_pr(request(repos, wt, None, forge="none"))

    assert result.created and result.body_path and Path(result.body_path).exists()
