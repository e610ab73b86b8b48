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

from simulators.github_api import GitHubStandIn


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


def test_pygithub_round_trip_with_urls_on_the_standin() -> None:
    with GitHubStandIn(repos=["acme/app"]) as gh:
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


def test_second_open_pr_for_a_branch_gets_githubs_422() -> None:
    with GitHubStandIn(repos=["acme/app"]) as gh:
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


def test_listing_is_paginated_with_link_headers() -> None:
    with GitHubStandIn(repos=["acme/app"]) as gh:
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
    with GitHubStandIn(repos=["acme/app"], state_path=str(state)) as gh:
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
