"""Check details, one reply per comment, update-branch, merge and retarget, for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from temporalio.exceptions import ApplicationError

from activities.forge_follow import (
    check_details,
    merge_pull_request,
    reply_to_comment,
    retarget_pull_request,
    update_branch,
)
from contracts.follow import (
    CheckDetailsRequest,
    MergeRequest,
    ReplyRequest,
    RetargetRequest,
    UpdateBranchRequest,
)
from simulators.github_api import GitHubStandIn
from tests.forge.conftest import REPOSITORY, TOKEN
from tests.forge.following import move_main, open_pull, push_branch, reviewer, run
from tests.git.gitutil import Repos, git


def _target(github: GitHubStandIn, number: int) -> dict[str, object]:
    return {"repository": REPOSITORY, "number": number, "api_url": github.url}


def test_a_failing_actions_check_brings_its_output_and_a_bounded_log_tail(
    repos: Repos, github: GitHubStandIn
) -> None:
    number, head = open_pull(github, repos)
    log = "".join(f"step {i}: ok\n" for i in range(20_000)) + "FAILED test_parser\n"
    output = {"title": "1 test failed", "summary": "test_parser", "text": "x" * 10_000}
    run_ = github.check_run(REPOSITORY, head, "tests", conclusion="failure", output=output, log=log)

    details = run(
        check_details,
        CheckDetailsRequest(
            **_target(github, number), check_run_id=run_["id"], log_tail_bytes=2000
        ),
    )

    assert (details.name, details.conclusion, details.title) == (
        "tests",
        "failure",
        "1 test failed",
    )
    assert details.text is not None and len(details.text) <= 4000
    assert details.log_tail is not None and details.log_truncated
    assert len(details.log_tail.encode()) <= 2000
    assert details.log_tail.endswith("FAILED test_parser\n")
    assert TOKEN not in details.model_dump_json()


def test_a_check_of_another_app_has_no_log(repos: Repos, github: GitHubStandIn) -> None:
    number, head = open_pull(github, repos)
    run_ = github.check_run(REPOSITORY, head, "lint", conclusion="failure", app="circleci")

    details = run(
        check_details, CheckDetailsRequest(**_target(github, number), check_run_id=run_["id"])
    )

    assert details.log_tail is None and details.url and "/runs/" in details.url
    assert not [r for r in github.requests if r.path.endswith("/logs")]


def _alice_comment(github: GitHubStandIn, number: int) -> int:
    pr = reviewer(github).get_repo(REPOSITORY).get_pull(number)
    pr.create_review(
        body="see comment",
        event="COMMENT",
        comments=[{"path": "feat-x.py", "line": 1, "body": "rename A"}],
    )
    return next(iter(pr.get_review_comments())).id


def _replies(github: GitHubStandIn, number: int, comment_id: int) -> list[dict[str, object]]:
    return [
        c
        for c in github.reviews.comments_of(REPOSITORY, number)
        if c["in_reply_to_id"] == comment_id
    ]


def test_a_comment_gets_exactly_one_reply_across_retries(
    repos: Repos, github: GitHubStandIn
) -> None:
    number, _ = open_pull(github, repos)
    comment_id = _alice_comment(github, number)
    req = ReplyRequest(
        **_target(github, number), comment_id=comment_id, body="Renamed.", marker="build-x:1"
    )
    github.inject("POST", r"/replies$", 502)  # the first attempt fails before posting

    with pytest.raises(ApplicationError) as err:
        run(reply_to_comment, req, attempt=1)
    first = run(reply_to_comment, req, attempt=2)
    again = run(reply_to_comment, req, attempt=3)  # its answer was lost: Temporal retries

    assert not err.value.non_retryable
    assert first.posted and not again.posted and again.reply_id == first.reply_id
    (reply,) = _replies(github, number, comment_id)
    assert reply["user"] == github.login and str(reply["body"]).startswith("Renamed.")
    # Another round (another marker) is a new reply; the poll sees the thread answered.
    later = run(reply_to_comment, req.model_copy(update={"marker": "build-x:2"}))
    assert later.posted and len(_replies(github, number, comment_id)) == 2


def test_update_branch_only_for_the_head_it_saw(repos: Repos, github: GitHubStandIn) -> None:
    number, head = open_pull(github, repos)
    req = UpdateBranchRequest(**_target(github, number), expected_head_sha=head)

    assert run(update_branch, req).outcome == "up_to_date"
    move_main(repos, "other.py", "O = 1\n")
    stale = run(update_branch, req.model_copy(update={"expected_head_sha": "0" * 40}))
    done = run(update_branch, req)

    assert stale.outcome == "head_moved" and "expected head sha" in stale.message
    assert done.outcome == "updating"
    new_head = git(repos.origin, "rev-parse", "feat/x")
    assert new_head != head and git(repos.origin, "rev-parse", f"{new_head}^1") == head
    move_main(repos, "feat-x.py", "A = 'theirs'\n")
    conflict = run(update_branch, req.model_copy(update={"expected_head_sha": new_head}))
    assert conflict.outcome == "conflict"


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_merge_with_method_and_sha_once(repos: Repos, github: GitHubStandIn, method: str) -> None:
    number, head = open_pull(github, repos)
    req = MergeRequest(**_target(github, number), sha=head, method=method)

    moved = run(merge_pull_request, req.model_copy(update={"sha": "1" * 40}))
    merged = run(merge_pull_request, req)
    again = run(merge_pull_request, req)

    assert moved.outcome == "head_moved" and "Head branch was modified" in moved.message
    assert merged.outcome == "merged" and merged.sha == git(repos.origin, "rev-parse", "main")
    assert again.outcome == "merged" and again.sha == merged.sha
    parents = git(repos.origin, "rev-list", "--parents", "-n1", "main").split()[1:]
    assert len(parents) == (2 if method == "merge" else 1)
    assert git(repos.origin, "show", "main:feat-x.py").startswith("A = 1")


def test_a_conflicting_or_blocked_pr_is_not_merged(repos: Repos, github: GitHubStandIn) -> None:
    number, head = open_pull(github, repos)
    github.protect(REPOSITORY, "main", approvals=1, strict=False)
    req = MergeRequest(**_target(github, number), sha=head)

    blocked = run(merge_pull_request, req)
    reviewer(github).get_repo(REPOSITORY).get_pull(number).create_review(event="APPROVE")
    move_main(repos, "feat-x.py", "A = 'theirs'\n")
    dirty = run(merge_pull_request, req)

    assert blocked.outcome == "not_mergeable" and "not mergeable" in blocked.message
    assert dirty.outcome == "not_mergeable"
    assert git(repos.origin, "show", "main:feat-x.py") == "A = 'theirs'"


def test_retarget_moves_the_base_once(repos: Repos, github: GitHubStandIn) -> None:
    push_branch(repos, "feat/base", "base.py", "Z = 0\n")
    number, _ = open_pull(github, repos)
    req = RetargetRequest(**_target(github, number), base="feat/base")

    first = run(retarget_pull_request, req)
    second = run(retarget_pull_request, req)

    assert first.changed and not second.changed
    assert github.pulls(REPOSITORY)[0]["base"]["ref"] == "feat/base"
    with pytest.raises(ApplicationError) as err:
        run(retarget_pull_request, req.model_copy(update={"base": "nope"}))
    assert err.value.non_retryable and err.value.type == "GitHubValidationFailed"


def test_the_log_link_expires_and_needs_its_signature(repos: Repos, github: GitHubStandIn) -> None:
    _, head = open_pull(github, repos)
    run_ = github.check_run(REPOSITORY, head, "tests", conclusion="failure", log="boom\n")
    answer = requests.get(
        f"{github.url}/repos/{REPOSITORY}/actions/jobs/{run_['id']}/logs",
        headers={"Authorization": f"token {TOKEN}"},
        allow_redirects=False,
        timeout=5,
    )
    link = answer.headers["Location"]

    assert answer.status_code == 302 and answer.content == b""
    assert requests.get(link, timeout=5).text == "boom\n"
    assert requests.get(link.replace("sig=", "sig=0"), timeout=5).status_code == 403
    expired = link.replace("expires=", "expires=1").split("expires=")[0] + "expires=1&sig=x"
    assert requests.get(expired, timeout=5).status_code == 403


def test_no_result_or_cache_file_holds_the_token(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    from tests.forge.following import poll

    number, head = open_pull(github, repos)
    comment_id = _alice_comment(github, number)
    results = [
        poll(github, number, tmp_path / "cache"),
        run(
            reply_to_comment,
            ReplyRequest(**_target(github, number), comment_id=comment_id, body="ok", marker="m"),
        ),
        run(update_branch, UpdateBranchRequest(**_target(github, number), expected_head_sha=head)),
        run(merge_pull_request, MergeRequest(**_target(github, number), sha=head)),
    ]
    dumped = json.dumps([r.model_dump() for r in results])
    assert TOKEN not in dumped
    assert all(TOKEN not in p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
