"""Every request the forge code sends is valid by GitHub's published OpenAPI description.

The description is npm's `@octokit/openapi` (GitHub's own, pinned in
tests/openapi/package-lock.json and installed by tests/setup.sh); openapi-core checks each
request's path, method, query and JSON body against it. The stand-ins record every request
they see; the forge code's are those with its User-Agent.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from activities.forge_github import USER_AGENT
from simulators.github_api import RECORD_ENV, GitHubStandIn, RequestRecord
from tests.forge.conftest import REPOSITORY
from tests.forge.pulls import built_subtask, open_pr, request
from tests.git.gitutil import Repos, git

SPEC = (
    Path(__file__).resolve().parents[1]
    / "openapi/node_modules/@octokit/openapi/generated/api.github.com.json"
)
HOST = "https://api.github.com"


@dataclass(frozen=True)
class _Request:
    """A recorded request in the shape openapi-core reads (its Request protocol)."""

    method: str
    path: str
    query: dict[str, str]
    body_json: Any

    @property
    def host_url(self) -> str:
        return HOST

    @property
    def full_url_pattern(self) -> str:
        return HOST + self.path

    @cached_property
    def parameters(self) -> RequestParameters:  # one object: openapi-core fills in `path`
        return RequestParameters(
            query=ImmutableMultiDict(self.query),
            header=Headers({"Content-Type": self.content_type}),
            cookie=ImmutableMultiDict(),
            path={},
        )

    @property
    def content_type(self) -> str:
        return "application/json"

    @property
    def body(self) -> bytes | None:
        return None if self.body_json is None else json.dumps(self.body_json).encode()


@pytest.fixture(scope="module")
def github_openapi() -> OpenAPI:
    if not SPEC.is_file():
        pytest.fail(f"{SPEC} is missing: run tests/setup.sh (./run test does) to install it")
    # The description itself is GitHub's; checking it (minutes) is not this test's job.
    # It is JSON: read as such, not by from_file_path's YAML parser (10 s of CPU, each worker).
    return OpenAPI.from_dict(
        json.loads(SPEC.read_bytes()),
        config=Config(spec_validator_cls=None),
        base_uri=SPEC.as_uri(),
    )


def problems(api: OpenAPI, recorded: list[dict[str, Any]]) -> list[str]:
    found = []
    for rec in recorded:
        req = _Request(rec["method"].lower(), rec["path"], rec["query"], rec["body"])
        try:
            api.validate_request(req)
        except Exception as exc:
            cause = f" ({exc.__cause__})" if exc.__cause__ else ""
            found.append(f"{rec['method']} {rec['path']} {rec['query']}: {exc}{cause}")
    return found


def _forge_requests(records: list[RequestRecord]) -> list[dict[str, Any]]:
    return [
        {"method": r.method, "path": r.path, "query": r.query, "body": r.body}
        for r in records
        if r.user_agent == USER_AGENT
    ]


def test_a_forge_scenarios_requests_match_githubs_openapi(
    github_openapi: OpenAPI, repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    wt = built_subtask(repos)
    open_pr(request(repos, wt, github.url))  # look, create
    open_pr(request(repos, wt, github.url, title="feat(01-types): renamed"))  # look, edit
    github.inject("GET", r"/repos/acme/app/pulls$", 200, body=[])  # a lagging listing
    open_pr(request(repos, wt, github.url, body="revised"))  # create -> 422 -> look, edit
    github.secondary_limit("POST", r"/pulls$", retry_after=1)
    stacked = built_subtask(repos, "02-parser")
    with pytest.raises(Exception, match="rate limit"):
        open_pr(request(repos, stacked, github.url, branch="feat/02-parser", subtask="02-parser"))
    fork = tmp_path / "alice.git"
    git(tmp_path, "clone", "-q", "--bare", str(repos.origin), str(fork))
    github.add_repo("alice/app", git_dir=str(fork), fork_of=REPOSITORY)
    git(repos.root, "remote", "set-url", "origin", "https://github.com/alice/app.git")
    git(repos.root, "config", f"url.{fork}.insteadOf", "https://github.com/alice/app.git")
    open_pr(
        request(
            repos,
            stacked,
            github.url,
            branch="feat/02-parser",
            subtask="02-parser",
            dependency_branches=["feat/01-types"],
        )
    )

    sent = _forge_requests(github.requests)
    operations = {(r["method"], r["path"]) for r in sent}
    assert {
        ("GET", "/repos/acme/app"),
        ("GET", "/repos/acme/app/pulls"),
        ("POST", "/repos/acme/app/pulls"),
        ("PATCH", "/repos/acme/app/pulls/1"),
    } <= operations
    assert problems(github_openapi, sent) == []


def test_following_a_prs_requests_match_githubs_openapi(
    github_openapi: OpenAPI, repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    """Every route the follow activities use: poll, check details and logs, reply,
    update-branch, merge, retarget."""
    from activities import forge_follow as act
    from contracts import follow as c
    from tests.forge.following import move_main, open_pull, poll, push_branch, reviewer, run

    number, head = open_pull(github, repos)
    target = {"repository": REPOSITORY, "number": number, "api_url": github.url}
    check = github.check_run(REPOSITORY, head, "tests", conclusion="failure", log="boom\n")
    pr = reviewer(github).get_repo(REPOSITORY).get_pull(number)
    pr.create_review(
        body="b", event="COMMENT", comments=[{"path": "feat-x.py", "line": 1, "body": "c"}]
    )
    comment_id = next(iter(pr.get_review_comments())).id
    github.clear_requests()
    poll(github, number, tmp_path / "cache")
    poll(github, number, tmp_path / "cache")
    run(act.check_details, c.CheckDetailsRequest(**target, check_run_id=check["id"]))
    run(
        act.reply_to_comment, c.ReplyRequest(**target, comment_id=comment_id, body="ok", marker="m")
    )
    move_main(repos, "other.py", "O = 1\n")
    run(act.update_branch, c.UpdateBranchRequest(**target, expected_head_sha=head))
    push_branch(repos, "feat/base", "base.py", "Z = 0\n")
    run(act.retarget_pull_request, c.RetargetRequest(**target, base="feat/base"))
    run(act.retarget_pull_request, c.RetargetRequest(**target, base="main"))
    new_head = git(repos.origin, "rev-parse", "feat/x")
    run(act.merge_pull_request, c.MergeRequest(**target, sha=new_head, method="rebase"))

    sent = _forge_requests(github.requests)
    operations = {(r["method"], r["path"].replace(head, "{sha}")) for r in sent}
    n = f"/repos/acme/app/pulls/{number}"
    assert {
        ("GET", "/user"),
        ("GET", n),
        ("GET", "/repos/acme/app/commits/{sha}/check-runs"),
        ("GET", "/repos/acme/app/commits/{sha}/status"),
        ("GET", f"{n}/reviews"),
        ("GET", f"{n}/comments"),
        ("GET", f"/repos/acme/app/check-runs/{check['id']}"),
        ("GET", f"/repos/acme/app/actions/jobs/{check['id']}/logs"),
        ("POST", f"{n}/comments/{comment_id}/replies"),
        ("PUT", f"{n}/update-branch"),
        ("PATCH", n),
        ("PUT", f"{n}/merge"),
    } <= operations
    assert 304 in {r.status for r in github.requests}
    assert problems(github_openapi, sent) == []


def test_the_contract_check_catches_a_request_github_would_refuse(
    github_openapi: OpenAPI,
) -> None:
    bad = [
        {"method": "GET", "path": "/repos/acme/app/pulls", "query": {"state": "opened"}},
        {"method": "POST", "path": "/repos/acme/app/pulls", "query": {}, "body": {"title": 1}},
        {"method": "GET", "path": "/repos/acme/app/pull-requests", "query": {}},
    ]
    found = problems(github_openapi, [{"body": None, **b} for b in bad])
    assert len(found) == 3, found


@pytest.mark.after_all
def test_every_forge_request_of_the_run_matches_githubs_openapi(
    github_openapi: OpenAPI,
) -> None:
    """Runs last: every request the forge code sent in this session, from any test."""
    path = os.environ.get(RECORD_ENV, "")
    lines = Path(path).read_text(encoding="utf-8").splitlines() if os.path.exists(path) else []
    sent = [rec for rec in map(json.loads, lines) if rec.get("user_agent") == USER_AGENT]
    assert sent, f"no forge requests were recorded in {path}"
    assert problems(github_openapi, sent) == []
