"""The stand-in's new routes refuse what GitHub refuses, with GitHub's status and message."""

from __future__ import annotations

from typing import Any

import requests

from simulators.github_api import GitHubStandIn
from tests.forge.conftest import REPOSITORY, TOKEN
from tests.forge.following import REVIEWER_TOKEN, open_pull, reviewer
from tests.git.gitutil import Repos


def call(
    github: GitHubStandIn,
    method: str,
    path: str,
    body: Any = None,
    token: str = TOKEN,
    **headers: str,
) -> requests.Response:
    return requests.request(
        method,
        f"{github.url}/repos/{REPOSITORY}{path}",
        json=body,
        headers={"Authorization": f"token {token}", **headers},
        allow_redirects=False,
        timeout=5,
    )


def test_check_runs_statuses_and_their_refusals(repos: Repos, github: GitHubStandIn) -> None:
    _, head = open_pull(github, repos)
    run = {"name": "ci", "head_sha": head, "status": "completed"}
    assert call(github, "POST", "/check-runs", run).json()["message"] == (
        "You must authenticate via a GitHub App."
    )
    github.add_app("ci-app", "ghs_app")
    assert (
        call(github, "POST", "/check-runs", run, token="ghs_app").status_code == 422
    )  # no conclusion
    made = call(github, "POST", "/check-runs", {**run, "conclusion": "success"}, token="ghs_app")
    assert made.status_code == 201 and made.json()["app"]["slug"] == "ci-app"
    for name in ("a", "b"):
        github.check_run(REPOSITORY, head, name, conclusion="success")
    page = call(github, "GET", f"/commits/{head}/check-runs?per_page=2")
    assert page.json()["total_count"] == 3 and 'rel="next"' in page.headers["Link"]
    assert call(github, "POST", "/statuses/" + "0" * 40, {"state": "success"}).status_code == 422
    assert call(github, "POST", f"/statuses/{head}", {"state": "green"}).status_code == 422
    assert (
        call(github, "POST", f"/statuses/{head}", {"state": "error", "context": "x"}).status_code
        == 201
    )
    assert call(github, "GET", f"/commits/{head}/status").json()["state"] == "failure"
    assert call(github, "GET", "/actions/jobs/999/logs").status_code == 404


def test_reviews_and_comments_refuse_what_github_refuses(
    repos: Repos, github: GitHubStandIn
) -> None:
    number, head = open_pull(github, repos)
    reviewer(github)
    pulls = f"/pulls/{number}"
    own = call(github, "POST", f"{pulls}/reviews", {"event": "APPROVE"})
    assert own.status_code == 422 and own.json()["errors"] == [
        "Can not approve your own pull request"
    ]
    assert (
        call(
            github, "POST", f"{pulls}/reviews", {"event": "REQUEST_CHANGES"}, token=REVIEWER_TOKEN
        ).status_code
        == 422
    )
    assert (
        call(
            github, "POST", f"{pulls}/reviews", {"event": "LGTM"}, token=REVIEWER_TOKEN
        ).status_code
        == 422
    )
    outside = {"body": "x", "commit_id": head, "path": "README.md", "line": 1}
    refused = call(github, "POST", f"{pulls}/comments", outside, token=REVIEWER_TOKEN)
    assert refused.status_code == 422 and refused.json()["errors"] == ["Path could not be resolved"]
    made = call(
        github, "POST", f"{pulls}/comments", {**outside, "path": "feat-x.py"}, token=REVIEWER_TOKEN
    )
    assert made.status_code == 201 and made.json()["user"]["login"] == "alice"
    assert "in_reply_to_id" not in made.json()
    top = made.json()["id"]
    reply = call(github, "POST", f"{pulls}/comments/{top}/replies", {"body": "ok"})
    assert reply.status_code == 201 and reply.json()["in_reply_to_id"] == top
    assert (
        call(
            github, "POST", f"{pulls}/comments/{reply.json()['id']}/replies", {"body": "?"}
        ).status_code
        == 422
    )
    assert call(github, "POST", f"{pulls}/comments/1/replies", {"body": "?"}).status_code == 404


def test_merge_and_update_branch_answers(repos: Repos, github: GitHubStandIn) -> None:
    number, head = open_pull(github, repos)
    pulls = f"/pulls/{number}"
    assert (
        call(github, "PUT", f"{pulls}/merge", {"merge_method": "fast-forward"}).status_code == 422
    )
    stale = call(github, "PUT", f"{pulls}/update-branch", {"expected_head_sha": "0" * 40})
    assert stale.status_code == 422 and "expected head sha" in stale.json()["message"]
    moved = call(github, "PUT", f"{pulls}/merge", {"sha": "0" * 40})
    assert (moved.status_code, moved.json()["message"]) == (
        409,
        "Head branch was modified. Review and try the merge again.",
    )
    github.protect(REPOSITORY, "main", contexts=["ci"])
    blocked = call(github, "PUT", f"{pulls}/merge", {"sha": head})
    assert (blocked.status_code, blocked.json()["message"]) == (
        405,
        "Pull Request is not mergeable",
    )


def test_etags_answer_304_without_a_body_or_quota(repos: Repos, github: GitHubStandIn) -> None:
    number, _ = open_pull(github, repos)
    assert call(github, "GET", f"/pulls/{number}").json()["mergeable"] is None  # computing
    first = call(github, "GET", f"/pulls/{number}")
    again = call(github, "GET", f"/pulls/{number}", **{"If-None-Match": first.headers["ETag"]})
    other = call(github, "GET", f"/pulls/{number}", **{"If-None-Match": 'W/"nope"'})

    assert first.headers["ETag"].startswith('W/"')
    assert again.status_code == 304 and again.content == b""
    assert again.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]
    assert other.status_code == 200
    assert (
        int(other.headers["X-RateLimit-Remaining"])
        == int(first.headers["X-RateLimit-Remaining"]) - 1
    )
