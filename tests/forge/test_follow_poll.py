"""The poll: one call reads a PR's state, with conditional requests, against real git."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from simulators.github_api import GitHubStandIn
from tests.forge.conftest import REPOSITORY, TOKEN
from tests.forge.following import move_main, open_pull, poll, reviewer, settled
from tests.git.gitutil import Repos


def test_mergeable_is_null_until_github_computed_it(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    number, head = open_pull(github, repos)

    first = poll(github, number, tmp_path)
    second = poll(github, number, tmp_path, known_digest=first.digest)

    assert first.state is not None and first.state.head_sha == head
    assert (first.state.mergeable, first.state.mergeable_state) == (None, "unknown")
    assert second.changed and second.state is not None
    assert (second.state.mergeable, second.state.mergeable_state) == (True, "clean")


def test_behind_and_dirty_come_from_real_git(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    number, _ = open_pull(github, repos)
    github.protect(REPOSITORY, "main", strict=True)  # `behind` needs up-to-date branches
    assert settled(github, number, tmp_path).mergeable_state == "clean"

    move_main(repos, "elsewhere.py", "E = 1\n")  # the base moves past the merge base
    behind = settled(github, number, tmp_path)
    move_main(repos, "feat-x.py", "A = 'conflict'\n")  # the same file, other content
    dirty = settled(github, number, tmp_path)

    assert (behind.mergeable, behind.mergeable_state) == (True, "behind")
    assert (dirty.mergeable, dirty.mergeable_state) == (False, "dirty")


def test_required_checks_block_and_other_failures_are_unstable(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    number, head = open_pull(github, repos)
    github.protect(REPOSITORY, "main", contexts=["ci"])
    github.check_run(REPOSITORY, head, "ci", status="in_progress")
    blocked = settled(github, number, tmp_path)
    github.check_run(REPOSITORY, head, "ci", conclusion="success")
    github.check_run(REPOSITORY, head, "lint", conclusion="failure")
    unstable = settled(github, number, tmp_path)

    assert blocked.mergeable_state == "blocked"
    assert unstable.mergeable_state == "unstable"
    assert {(c.name, c.status, c.conclusion) for c in unstable.checks} == {
        ("ci", "completed", "success"),
        ("lint", "completed", "failure"),
    }


def test_the_state_names_each_check_status_review_and_comment(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    number, head = open_pull(github, repos)
    run = github.check_run(REPOSITORY, head, "tests", conclusion="failure")
    alice = reviewer(github).get_repo(REPOSITORY).get_pull(number)
    alice.create_review(
        body="please fix",
        event="REQUEST_CHANGES",
        comments=[{"path": "feat-x.py", "line": 2, "body": "B is wrong"}],
    )
    mine = github.comments  # the orchestrator's issue comments are not review comments
    assert mine(REPOSITORY, number) == []
    alice.create_issue_comment("unrelated")
    status_body = {"state": "pending", "context": "deploy", "target_url": "https://ci/1"}
    alice._requester.requestJsonAndCheck(
        "POST", f"/repos/{REPOSITORY}/statuses/{head}", input=status_body
    )

    state = settled(github, number, tmp_path)

    assert [(c.name, c.kind, c.status, c.conclusion) for c in state.checks] == [
        ("deploy", "status", "pending", None),
        ("tests", "check_run", "completed", "failure"),
    ]
    assert state.checks[1].check_run_id == run["id"] and state.checks[1].app == "github-actions"
    assert [(r.author, r.state) for r in state.reviews] == [("alice", "CHANGES_REQUESTED")]
    (comment,) = state.comments
    assert (comment.author, comment.path, comment.line, comment.body) == (
        "alice",
        "feat-x.py",
        2,
        "B is wrong",
    )
    assert not comment.replied


def test_an_unchanged_pr_is_all_304s_and_costs_no_quota(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    number, head = open_pull(github, repos)
    github.check_run(REPOSITORY, head, "ci", conclusion="success")
    known = settled(github, number, tmp_path)
    digest = poll(github, number, tmp_path).digest
    used = github.rate_headers(counted=False)["X-RateLimit-Used"]

    again = poll(github, number, tmp_path, known_digest=digest)

    assert not again.changed and again.state is None and again.digest == digest
    assert again.requests >= 6 and again.not_modified == again.requests
    assert github.rate_headers(counted=False)["X-RateLimit-Used"] == used
    assert {r.status for r in github.requests[-again.requests :]} == {304}
    # A change is seen at once, and only what changed is downloaded.
    github.check_run(REPOSITORY, head, "lint", conclusion="failure")
    changed = poll(github, number, tmp_path, known_digest=digest)
    assert changed.changed and changed.state is not None
    assert len(changed.state.checks) == len(known.checks) + 1
    # Downloaded again: the check runs, and the PR (its mergeable_state is now `unstable`).
    assert changed.not_modified == changed.requests - 2
    assert changed.state.mergeable_state == "unstable"


def test_a_nearly_spent_window_asks_the_workflow_to_wait(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    number, _ = open_pull(github, repos)
    github.quota(remaining=20, reset_in=600)

    result = poll(github, number, tmp_path, rate_reserve=50)

    assert result.rate_remaining is not None and result.rate_remaining <= 20
    assert 590 <= result.wait_seconds <= 602


def test_a_secondary_limit_is_retried_after_githubs_wait(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    number, _ = open_pull(github, repos)
    github.secondary_limit("GET", r"/check-runs$", retry_after=37)

    with pytest.raises(ApplicationError) as err:
        poll(github, number, tmp_path)

    assert err.value.type == "GitHubRateLimited" and not err.value.non_retryable
    assert err.value.next_retry_delay is not None
    assert err.value.next_retry_delay.total_seconds() == 37


def test_a_bad_token_stops_with_its_fix_and_is_never_shown(
    repos: Repos, github: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, _ = open_pull(github, repos)
    wrong = "ghp_wrong_secret_0123456789"
    monkeypatch.setenv("GITHUB_TOKEN", wrong)

    with pytest.raises(ApplicationError) as err:
        poll(github, number, tmp_path)

    assert err.value.non_retryable and err.value.type == "GitHubBadCredentials"
    assert "GITHUB_TOKEN" in err.value.message
    assert wrong not in str(err.value) and TOKEN not in str(err.value)
    assert not any(wrong in p.read_text() for p in tmp_path.rglob("*.json"))


def test_the_network_failing_is_retryable(tmp_path: Path) -> None:
    with GitHubStandIn(token=TOKEN, repos=[REPOSITORY]) as gone:
        url = gone.url
    from activities.forge_follow import poll_pull_request
    from contracts.follow import PollRequest
    from tests.forge.following import run

    req = PollRequest(repository=REPOSITORY, number=1, api_url=url, cache_dir=str(tmp_path))
    with pytest.raises(ApplicationError) as err:
        run(poll_pull_request, req)

    assert err.value.type == "GitHubUnavailable" and not err.value.non_retryable
