"""The GitHub stand-in behaves like GitHub where the orchestrator depends on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from github import Auth, Github, GithubException

from simulators.github_api import ABUSE_DETECTION_MESSAGE, SECONDARY_LIMIT_MESSAGE, GitHubStandIn
from tests.git.gitutil import commit_file, git, make_repos


def origin_with(tmp_path: Path, *branches: str) -> str:
    """A bare origin with `main` and each branch one commit ahead of it (as a push leaves)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    repos = make_repos(tmp_path)
    for branch in branches:
        git(repos.root, "checkout", "-q", "-b", branch, "main")
        commit_file(repos.root, f"{branch}.txt", branch, f"work on {branch}")
        git(repos.root, "push", "-q", "origin", branch)
    git(repos.root, "checkout", "-q", "main")
    return str(repos.origin)


def call(
    url: str, token: str | None = "t", method: str = "GET", body: Any = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def client(standin: GitHubStandIn) -> Github:
    return Github(
        base_url=standin.url,
        auth=Auth.Token("t"),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def test_requests_without_authorization_get_401() -> None:
    with GitHubStandIn() as gh:
        status, body = call(f"{gh.url}/user", token=None)
        assert status == 401 and body["message"] == "Requires authentication"
        assert call(f"{gh.url}/user")[0] == 200
        assert [(r.path, r.status, r.authorized) for r in gh.requests] == [
            ("/user", 401, False),
            ("/user", 200, True),
        ]


def test_pygithub_round_trip_with_urls_on_the_standin(tmp_path: Path) -> None:
    with GitHubStandIn(git_dirs={"acme/app": origin_with(tmp_path, "feat/x")}) as gh:
        repo = client(gh).get_repo("acme/app")
        pr = repo.create_pull(base="main", head="feat/x", title="X", body="b")
        pr.create_issue_comment("looks good")
        pr.edit(state="closed")

        assert pr.url.startswith(gh.url) and pr.html_url.startswith(gh.url)
        assert [p.number for p in repo.get_pulls(state="closed")] == [1]
        assert list(repo.get_pulls(state="open")) == []
        assert gh.comments("acme/app", 1)[0]["body"] == "looks good"
        # A closed PR does not block a new one for the same branch.
        assert repo.create_pull(base="main", head="feat/x", title="X2", body="").number == 2


def test_second_open_pr_for_a_branch_gets_githubs_422(tmp_path: Path) -> None:
    with GitHubStandIn(git_dirs={"acme/app": origin_with(tmp_path, "feat/x")}) as gh:
        repo = client(gh).get_repo("acme/app")
        repo.create_pull(base="main", head="feat/x", title="X", body="")
        try:
            repo.create_pull(base="main", head="acme:feat/x", title="X", body="")
        except GithubException as exc:
            assert exc.status == 422
            assert (
                exc.data["errors"][0]["message"] == "A pull request already exists for acme:feat/x."
            )
        else:
            raise AssertionError("expected a 422")


def test_listing_is_paginated_with_link_headers(tmp_path: Path) -> None:
    branches = [f"feat/{i}" for i in range(5)]
    with GitHubStandIn(git_dirs={"acme/app": origin_with(tmp_path, *branches)}) as gh:
        g = Github(
            base_url=gh.url, auth=Auth.Token("t"), retry=None, per_page=2, seconds_between_writes=0
        )
        repo = g.get_repo("acme/app")
        for i in range(5):
            repo.create_pull(base="main", head=f"feat/{i}", title=str(i), body="")
        assert sorted(p.number for p in repo.get_pulls(state="open")) == [1, 2, 3, 4, 5]
        pages = [r for r in gh.requests if r.path.endswith("/pulls") and r.method == "GET"]
        assert len(pages) == 3


def test_injected_faults_fail_exactly_count_matching_requests() -> None:
    with GitHubStandIn(repos=["acme/app"]) as gh:
        gh.inject("GET", r"^/repos/acme/app$", 503, count=2)
        statuses = [call(f"{gh.url}/repos/acme/app")[0] for _ in range(3)]
        assert statuses == [503, 503, 200]
        assert call(f"{gh.url}/user")[0] == 200


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "github.json"
    origin = origin_with(tmp_path / "git", "feat/x")
    with GitHubStandIn(git_dirs={"acme/app": origin}, state_path=str(state)) as gh:
        client(gh).get_repo("acme/app").create_pull(base="main", head="feat/x", title="X", body="")
    assert json.loads(state.read_text())["pulls"]["acme/app"][0]["title"] == "X"
    with GitHubStandIn(state_path=str(state)) as gh:
        assert [p["number"] for p in gh.pulls("acme/app")] == [1]
        assert gh.pulls("acme/app")[0]["html_url"] == f"{gh.url}/acme/app/pull/1"


def test_runs_standalone_from_the_command_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.github_api", "--port", str(port), "--repo", "acme/app"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        deadline = time.time() + 5
        while True:
            try:
                status, body = call(f"http://127.0.0.1:{port}/repos/acme/app")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        assert status == 200 and body["full_name"] == "acme/app"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_unknown_repositories_are_404_until_created(tmp_path: Path) -> None:
    with GitHubStandIn() as gh:
        status, body = call(f"{gh.url}/repos/acme/app")
        assert status == 404 and body["message"] == "Not Found"
        gh.add_repo("acme/app", git_dir=origin_with(tmp_path))
        assert call(f"{gh.url}/repos/acme/app")[0] == 200


def _validation_errors(exc: GithubException) -> list[dict[str, Any]]:
    assert exc.status == 422 and exc.data["message"] == "Validation Failed", exc.data
    return exc.data["errors"]


def test_head_and_base_must_exist_on_the_origin(tmp_path: Path) -> None:
    with GitHubStandIn(git_dirs={"acme/app": origin_with(tmp_path, "feat/x")}) as gh:
        repo = client(gh).get_repo("acme/app")
        for head, base, field in [("feat/never-pushed", "main", "head"), ("feat/x", "dev", "base")]:
            try:
                repo.create_pull(base=base, head=head, title="X", body="")
            except GithubException as exc:
                errors = _validation_errors(exc)
                assert errors == [{"resource": "PullRequest", "field": field, "code": "invalid"}]
            else:
                raise AssertionError(f"expected a 422 for {head} -> {base}")
        assert gh.pulls("acme/app") == []


def test_a_head_with_no_commits_beyond_the_base_gets_githubs_422(tmp_path: Path) -> None:
    """A new branch, and one already merged into the base (merge_method "merge"): GitHub
    refuses both, naming base and head as the request did."""
    origin = origin_with(tmp_path, "feat/merged")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", origin, str(clone))
    git(clone, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "origin/feat/merged")
    git(clone, "push", "-q", "origin", "main", "main:refs/heads/feat/new")
    with GitHubStandIn(git_dirs={"acme/app": origin}) as gh:
        repo = client(gh).get_repo("acme/app")
        for head in ("feat/new", "feat/merged", "acme:feat/merged"):
            try:
                repo.create_pull(base="main", head=head, title="X", body="")
            except GithubException as exc:
                assert _validation_errors(exc) == [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between main and {head}",
                    }
                ]
            else:
                raise AssertionError(f"expected a 422 for {head}")
        assert gh.pulls("acme/app") == []


def test_title_and_body_over_githubs_limits_get_its_422(tmp_path: Path) -> None:
    with GitHubStandIn(git_dirs={"acme/app": origin_with(tmp_path, "feat/x")}) as gh:
        repo = client(gh).get_repo("acme/app")
        cases = [("T" * 257, "", "title", 256), ("T", "b" * 65_537, "body", 65_536)]
        for title, body, field, limit in cases:
            try:
                repo.create_pull(base="main", head="feat/x", title=title, body=body)
            except GithubException as exc:
                (error,) = _validation_errors(exc)
                assert error["field"] == field and error["code"] == "custom"
                assert error["message"] == f"{field} is too long (maximum is {limit} characters)"
            else:
                raise AssertionError(f"expected a 422 for the {field}")
        pr = repo.create_pull(base="main", head="feat/x", title="T" * 256, body="b" * 65_536)
        try:
            pr.edit(body="b" * 65_537)
        except GithubException as exc:
            assert _validation_errors(exc)[0]["field"] == "body"
        else:
            raise AssertionError("expected a 422 for the edited body")


def test_query_values_are_validated(tmp_path: Path) -> None:
    with GitHubStandIn(git_dirs={"acme/app": origin_with(tmp_path)}) as gh:
        base = f"{gh.url}/repos/acme/app/pulls"
        for query, field in [
            ("state=opened", "state"),
            ("per_page=101", "per_page"),
            ("per_page=0", "per_page"),
            ("page=x", "page"),
            ("direction=up", "direction"),
        ]:
            status, body = call(f"{base}?{query}")
            assert status == 422 and body["errors"][0]["field"] == field, query
        assert call(f"{base}?state=all&per_page=100&page=1")[0] == 200


def test_secondary_limits_come_as_github_sends_them(tmp_path: Path) -> None:
    with GitHubStandIn(git_dirs={"acme/app": origin_with(tmp_path)}) as gh:
        url = f"{gh.url}/repos/acme/app"
        gh.secondary_limit("GET", "/repos/acme/app$", status=429, retry_after=30)
        gh.secondary_limit("GET", "/repos/acme/app$", message=ABUSE_DETECTION_MESSAGE)
        req = urllib.request.Request(url, headers={"Authorization": "token t"})
        seen = []
        for _ in range(2):
            try:
                urllib.request.urlopen(req, timeout=5)
            except urllib.error.HTTPError as err:
                seen.append((err.code, err.headers.get("Retry-After"), json.loads(err.read())))
        assert [(code, after) for code, after, _ in seen] == [(429, "30"), (403, None)]
        assert seen[0][2]["message"] == SECONDARY_LIMIT_MESSAGE
        assert seen[1][2]["message"] == ABUSE_DETECTION_MESSAGE
        assert call(url)[0] == 200


def test_rate_limit_headers_count_down(tmp_path: Path) -> None:
    with GitHubStandIn(git_dirs={"acme/app": origin_with(tmp_path)}) as gh:
        req = urllib.request.Request(
            f"{gh.url}/repos/acme/app", headers={"Authorization": "token t"}
        )
        remaining = []
        for _ in range(3):
            with urllib.request.urlopen(req, timeout=5) as resp:
                remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
                assert int(resp.headers["X-RateLimit-Reset"]) > time.time()
        assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == 3


def test_a_fork_head_needs_the_fork(tmp_path: Path) -> None:
    upstream = origin_with(tmp_path / "up")
    fork = str(tmp_path / "fork.git")
    git(tmp_path, "clone", "-q", "--bare", upstream, fork)
    clone = tmp_path / "alice"
    git(tmp_path, "clone", "-q", fork, str(clone))
    git(clone, "checkout", "-q", "-b", "feat/x")
    commit_file(clone, "x.txt", "x", "work in the fork")
    git(clone, "push", "-q", "origin", "feat/x")
    with GitHubStandIn(git_dirs={"acme/app": upstream}) as gh:
        repo = client(gh).get_repo("acme/app")
        try:
            repo.create_pull(base="main", head="alice:feat/x", title="X", body="")
        except GithubException as exc:
            assert _validation_errors(exc)[0]["field"] == "head"
        else:
            raise AssertionError("expected a 422 before the fork exists")
        gh.add_repo("alice/app", git_dir=fork, fork_of="acme/app")
        pr = repo.create_pull(base="main", head="alice:feat/x", title="X", body="")
        assert pr.head.label == "alice:feat/x" and pr.head.repo.full_name == "alice/app"
        assert pr.head.sha == git(clone, "rev-parse", "HEAD")
