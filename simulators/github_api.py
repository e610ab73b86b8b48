"""A local stand-in for the part of the GitHub REST API the orchestrator uses.

Real HTTP on 127.0.0.1, so the real PyGithub client runs against it in tests
and in the offline demo. It keeps repositories, pull requests and comments in
memory (optionally mirrored to a JSON file for inspection), answers the way
GitHub does (including the 422 for a second PR from one branch), and can be
told to fail the next N matching requests to exercise retries.

    with GitHubStandIn(repos=["acme/app"]) as gh:
        Github(base_url=gh.url, auth=Auth.Token("t")) ...

    python -m simulators.github_api --port 8765 --repo acme/app
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import http
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from simulators.github_checks import ACTIONS_APP, APP_ONLY, Checks
from simulators.github_errors import ApiError as _ApiError
from simulators.github_errors import bad_json, check_enums, paginate
from simulators.github_errors import not_found as _not_found
from simulators.github_errors import validation_failed as _validation_failed
from simulators.github_merge import Merging, Protection
from simulators.github_reviews import Reviews

DEFAULT_LOGIN = "orchestrator-bot"
# When set, every stand-in appends each request it receives to this JSON-lines file.
RECORD_ENV = "GITHUB_STANDIN_RECORD"
# GitHub's limits on a pull request's title and body; longer ones get a 422 "custom" error
# "<field> is too long (maximum is N characters)".
TITLE_LIMIT = 256
BODY_LIMIT = 65_536
# The texts GitHub answers a secondary rate limit with (github.com, and GitHub Enterprise
# Server's older "abuse detection" wording): "Rate limits for the REST API",
# https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID "
    "0000:0000:0000000:0000000:00000000."
)
ABUSE_DETECTION_MESSAGE = (
    "You have triggered an abuse detection mechanism. Please wait a few minutes before you "
    "try again."
)
_RATE_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
_REPO = r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+)"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestRecord:
    """One request as the stand-in saw it (never the Authorization value)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    authorized: bool
    body: Any = None
    user_agent: str = ""


def _check_lengths(body: dict[str, Any]) -> None:
    """GitHub's 422 for an over-long title or body (a `custom` error naming the field)."""
    for field_name, limit in (("title", TITLE_LIMIT), ("body", BODY_LIMIT)):
        value = body.get(field_name)
        if isinstance(value, str) and len(value) > limit:
            raise _validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "field": field_name,
                    "message": f"{field_name} is too long (maximum is {limit} characters)",
                }
            )


# Query values of GET /repos/{owner}/{repo}/pulls as GitHub's OpenAPI description declares
# them (https://docs.github.com/en/rest/pulls/pulls#list-pull-requests): enums, and
# per_page 1..100. GitHub may quietly ignore some bad values; the stand-in refuses them all so
# a wrong request fails here rather than on the real service.
_QUERY_ENUMS = {
    "state": ("open", "closed", "all"),
    "sort": ("created", "updated", "popularity", "long-running"),
    "direction": ("asc", "desc"),
}


class GitHubStandIn:
    """In-memory GitHub REST API on a background ThreadingHTTPServer."""

    # Started stand-ins by URL, so set-up code given only the API URL can create repositories.
    _serving: dict[str, GitHubStandIn] = {}  # noqa: RUF012

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        repos: Iterable[str] = (),
        token: str | None = None,
        login: str = DEFAULT_LOGIN,
        state_path: str | None = None,
        git_dirs: Mapping[str, str] | None = None,
    ) -> None:
        """`token`: when set, only that token is accepted (else any Authorization works).
        `git_dirs`: owner/name -> a git directory (e.g. the bare `origin`); PRs name branches
        that must exist there, as on GitHub. Like GitHub, a repository that was not added
        (`repos`, `git_dirs` or add_repo) is 404.
        """
        self._host = host
        self._port = port
        self.token = token
        self.login = login
        self.state_path = state_path
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._log: list[RequestRecord] = []
        self._repos: dict[str, dict[str, Any]] = {}
        self._pulls: dict[str, list[dict[str, Any]]] = {}
        self._comments: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._next_id = 1000
        # Other users' tokens (token -> login), e.g. a reviewer's; `token`/any token is `login`.
        self.users: dict[str, str] = {}
        self.checks = Checks(self)
        self.reviews = Reviews(self)
        self.merging = Merging(self)
        # A primary rate-limit window like GitHub's: `remaining` counts down per request.
        self.rate_limit = 5000
        self._rate_used = 0
        self._rate_reset = int(time.time()) + 3600
        # Where every request is also appended as a JSON line, for the OpenAPI contract test.
        self.record_path = os.environ.get(RECORD_ENV) or None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if state_path and os.path.exists(state_path):
            self._load(state_path)
        for full in repos:
            self.add_repo(full)
        for full, git_dir in (git_dirs or {}).items():
            self.add_repo(full, git_dir=git_dir)

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> GitHubStandIn:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self._host, self._port), _Handler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        GitHubStandIn._serving[self.url] = self
        return self

    @classmethod
    def serving(cls, url: str | None) -> GitHubStandIn | None:
        """The stand-in started in this process at `url`, if any."""
        return cls._serving.get((url or "").rstrip("/"))

    def stop(self) -> None:
        if self._server is None:
            return
        GitHubStandIn._serving.pop(self.url, None)
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> GitHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the GitHub stand-in is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """API base URL (pass as PyGithub's base_url / GITHUB_API_URL)."""
        return f"http://{self._host}:{self.port}"

    # --- test controls ------------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        default_branch: str = "main",
        git_dir: str | None = None,
        fork_of: str | None = None,
    ) -> None:
        """Create a repository (as a test's set-up would on GitHub); `fork_of`: its parent."""
        if not re.fullmatch(_REPO, full_name):
            raise ValueError(f"repository {full_name!r} is not owner/name")
        with self._lock:
            if fork_of is not None and fork_of not in self._repos:
                raise ValueError(f"add the parent {fork_of} before its fork {full_name}")
            repo = self._repos.get(full_name)
            if repo is None:
                self._next_id += 1
                repo = {"id": self._next_id, "default_branch": default_branch, "git_dir": None}
                self._repos[full_name] = repo
                self._pulls.setdefault(full_name, [])
                self._comments.setdefault(full_name, {})
            if git_dir is not None:
                repo["git_dir"] = os.path.abspath(git_dir)
            if fork_of is not None:
                repo["fork_of"] = fork_of
            self._save()

    def secondary_limit(
        self,
        method: str = "*",
        path_regex: str = ".",
        *,
        status: int = 403,
        retry_after: int | None = None,
        message: str = SECONDARY_LIMIT_MESSAGE,
        count: int = 1,
    ) -> None:
        """Answer the next matching requests as GitHub's secondary rate limit does: 403 or
        429, the secondary-limit message, `retry-after` only sometimes, and primary-limit
        headers that still show quota left."""
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - self._rate_used - 1)),
            "X-RateLimit-Reset": str(self._rate_reset),
            "X-RateLimit-Used": str(self._rate_used + 1),
            "X-RateLimit-Resource": "core",
        }
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        body = {"message": message, "documentation_url": _RATE_DOCS}
        self.inject(method, path_regex, status, count=count, body=body, headers=headers)

    def primary_limit(
        self, method: str = "*", path_regex: str = ".", *, reset_in: int = 60, count: int = 1
    ) -> None:
        """Answer as GitHub does when the hourly quota is spent: 403, remaining 0, reset."""
        reset = int(time.time()) + reset_in
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(self.rate_limit),
            "X-RateLimit-Resource": "core",
        }
        body = {
            "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub "
            "Support for help, please include the request ID 0000:0000:0000000:0000000.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
            "#about-the-primary-rate-limit",
        }
        self.inject(method, path_regex, 403, count=count, body=body, headers=headers)

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        count: int = 1,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Fail the next `count` requests whose method ('*' = any) and path match."""
        with self._lock:
            self._faults.append(
                Fault(
                    method=method.upper(),
                    pattern=re.compile(path_regex),
                    status=status,
                    remaining=count,
                    body=body,
                    headers=dict(headers or {}),
                )
            )

    def add_user(self, login: str, token: str) -> None:
        """Another account (a reviewer): requests with `token` act as `login`."""
        with self._lock:
            self.users[token] = login

    def add_app(self, slug: str, token: str) -> None:
        """A GitHub App's installation token: it may create and update check runs over HTTP
        (as `<slug>[bot]`), which a personal token may not."""
        with self._lock:
            self.checks.apps[token] = slug

    def check_run(
        self,
        repo: str,
        head_sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = None,
        output: Mapping[str, str] | None = None,
        details_url: str | None = None,
        app: str = ACTIONS_APP,
        log: str | None = None,
        run_id: int | None = None,
    ) -> dict[str, Any]:
        """Create (or, with `run_id`, update) a check run as its app would; `log`: the
        GitHub Actions job log behind it. Validated like checks/create and checks/update."""
        body: dict[str, Any] = {"name": name, "head_sha": head_sha, "status": status}
        if conclusion is not None:
            body["conclusion"] = conclusion
        if output is not None:
            body["output"] = dict(output)
        if details_url is not None:
            body["details_url"] = details_url
        with self._lock:
            run = self.checks.write_run(repo, body, app, run_id)
            if log is not None:
                self.checks.set_log(run["id"], log)
            self._save()
            return run

    def protect(
        self,
        repo: str,
        branch: str,
        *,
        contexts: Iterable[str] = (),
        approvals: int = 0,
        strict: bool = True,
    ) -> None:
        """Branch protection on a base: required checks, approving reviews, up to date."""
        with self._lock:
            self.merging.protect(repo, branch, Protection(list(contexts), approvals, strict))

    def quota(self, remaining: int, reset_in: int = 3600) -> None:
        """Set the primary limit's window: `remaining` requests left, reset in `reset_in` s."""
        with self._lock:
            self._rate_used = max(0, self.rate_limit - remaining)
            self._rate_reset = int(time.time()) + reset_in

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pulls(self, repo: str) -> list[dict[str, Any]]:
        """The repository's pull requests as the API renders them (oldest first)."""
        with self._lock:
            return [self._render_pull(repo, pr) for pr in self._pulls.get(repo, [])]

    def open_pulls(self, repo: str) -> list[tuple[int, str]]:
        """(number, head branch) of each open PR: cheap to ask often (nothing rendered)."""
        with self._lock:
            return [
                (pr["number"], pr["head_ref"])
                for pr in self._pulls.get(repo, [])
                if pr["state"] == "open"
            ]

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._comments.get(repo, {}).get(str(number), [])]

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # --- persistence --------------------------------------------------------

    def _load(self, path: str) -> None:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        self._repos = data.get("repos", {})
        self._pulls = data.get("pulls", {})
        self._comments = data.get("comments", {})
        self.checks.load(data)
        self.reviews.load(data)
        self._next_id = int(data.get("next_id", self._next_id))

    def _save(self) -> None:
        if not self.state_path:
            return
        data = {
            "repos": self._repos,
            "pulls": self._pulls,
            "comments": self._comments,
            **self.checks.state(),
            **self.reviews.state(),
            "next_id": self._next_id,
        }
        directory = os.path.dirname(os.path.abspath(self.state_path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
            os.replace(tmp, self.state_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    # --- rendering ----------------------------------------------------------

    def render_user(self, login: str) -> dict[str, Any]:
        return {
            "login": login,
            "id": abs(hash(login)) % 10_000_000,
            "type": "User",
            "url": f"{self.url}/users/{login}",
            "html_url": f"{self.url}/{login}",
        }

    def render_repo(self, full: str) -> dict[str, Any]:
        owner, name = full.split("/", 1)
        repo = self._repos[full]
        api = f"{self.url}/repos/{full}"
        return {
            "id": repo["id"],
            "node_id": f"R_{repo['id']}",
            "name": name,
            "full_name": full,
            "owner": self.render_user(owner),
            "private": False,
            "fork": bool(repo.get("fork_of")),
            "html_url": f"{self.url}/{full}",
            "url": api,
            "pulls_url": f"{api}/pulls{{/number}}",
            "issues_url": f"{api}/issues{{/number}}",
            "default_branch": repo["default_branch"],
            "permissions": {"admin": True, "push": True, "pull": True},
        }

    def _branch_sha(self, full: str, ref: str) -> str | None:
        git_dir = self._repos.get(full, {}).get("git_dir")
        if not git_dir:
            return None
        proc = subprocess.run(
            ["git", "--git-dir", git_dir, "rev-parse", "--verify", "--quiet", f"refs/heads/{ref}"],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
        )
        return proc.stdout.strip() if proc.returncode == 0 else None

    def _commits_between(self, head_repo: str, base_sha: str, head: str) -> int:
        """Commits on `head` (in head_repo) that the base commit lacks (a fork shares history)."""
        git_dir = self._repos[head_repo]["git_dir"]
        proc = subprocess.run(
            ["git", "--git-dir", git_dir, "rev-list", "--count", f"{base_sha}..refs/heads/{head}"],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
        )
        return int(proc.stdout.strip() or 0) if proc.returncode == 0 else 1

    def _render_pull(
        self, full: str, pr: dict[str, Any], *, detail: bool = False
    ) -> dict[str, Any]:
        """A PR as GitHub renders it; `detail` (a GET of the one PR) adds its mergeability."""
        api = f"{self.url}/repos/{full}"
        number = pr["number"]
        repo_json = self.render_repo(full)
        head_repo = pr.get("head_repo") or full
        head_sha = self.head_sha(full, pr)
        base_sha = self.base_sha(full, pr)
        owner = full.split("/", 1)[0]
        return {
            "id": pr["id"],
            "node_id": f"PR_{pr['id']}",
            "number": number,
            "state": pr["state"],
            "locked": False,
            "title": pr["title"],
            "body": pr["body"],
            "user": self.render_user(pr["user"]),
            "html_url": f"{self.url}/{full}/pull/{number}",
            "url": f"{api}/pulls/{number}",
            "issue_url": f"{api}/issues/{number}",
            "comments_url": f"{api}/issues/{number}/comments",
            "head": {
                "ref": pr["head_ref"],
                "label": pr["head_label"],
                "sha": head_sha,
                "repo": self.render_repo(head_repo) if head_repo in self._repos else repo_json,
                "user": self.render_user(pr["head_label"].split(":", 1)[0]),
            },
            "base": {
                "ref": pr["base_ref"],
                "label": f"{owner}:{pr['base_ref']}",
                "sha": base_sha,
                "repo": repo_json,
                "user": self.render_user(owner),
            },
            "created_at": pr["created_at"],
            "updated_at": pr["updated_at"],
            "closed_at": pr.get("closed_at"),
            "merged_at": pr.get("merged_at"),
            "merged": bool(pr.get("merged")),
            "merge_commit_sha": pr.get("merge_commit_sha"),
            "merged_by": self.render_user(pr["merged_by"]) if pr.get("merged_by") else None,
            **self._mergeability(full, pr, detail),
            "draft": bool(pr.get("draft", False)),
            "comments": len(self._comments.get(full, {}).get(str(number), [])),
        }

    def _mergeability(self, full: str, pr: dict[str, Any], detail: bool) -> dict[str, Any]:
        mergeable, state = self.merging.view(full, pr) if detail else (None, "unknown")
        return {"mergeable": mergeable, "mergeable_state": state, "rebaseable": mergeable}

    # --- helpers the follow-up modules share -----------------------------------

    def git_dir(self, full: str) -> str | None:
        return self._repos.get(full, {}).get("git_dir")

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    @staticmethod
    def now() -> str:
        return _now()

    def find_pull(self, full: str, number: int) -> dict[str, Any]:
        return self._find(full, number)

    def head_sha(self, full: str, pr: dict[str, Any]) -> str:
        """The head branch's commit now (the recorded one once the branch is gone)."""
        head_repo = pr.get("head_repo") or full
        if pr.get("merged"):
            return str(pr["head_sha"])
        return self._branch_sha(head_repo, pr["head_ref"]) or str(pr["head_sha"])

    def base_sha(self, full: str, pr: dict[str, Any]) -> str | None:
        return self._branch_sha(full, pr["base_ref"])

    # --- request handling (called from handler threads) ---------------------

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if (
                    fault.remaining > 0
                    and fault.method in ("*", method)
                    and fault.pattern.search(path)
                ):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)
            if self.record_path:
                line = json.dumps(
                    {
                        "method": record.method,
                        "path": record.path,
                        "query": record.query,
                        "status": record.status,
                        "body": record.body,
                        "user_agent": record.user_agent,
                    }
                )
                # One write to an O_APPEND file: stand-ins in other processes (the suite's
                # parallel workers, spawned workers) append to the same file, never into a line.
                fd = os.open(self.record_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, (line + "\n").encode("utf-8"))
                finally:
                    os.close(fd)

    def rate_headers(self, counted: bool = True) -> dict[str, str]:
        """This request's primary rate-limit headers: `remaining` counts down in a window.

        `counted=False` for a 304: "Making a conditional request does not count against your
        primary rate limit if a 304 response is returned and the request was made while
        correctly authorized with an Authorization header" ("Best practices for using the REST
        API", https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
        #use-conditional-requests-if-appropriate)."""
        with self._lock:
            now = int(time.time())
            if now >= self._rate_reset:
                self._rate_used, self._rate_reset = 0, now + 3600
            self._rate_used += 1 if counted else 0
            return {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, self.rate_limit - self._rate_used)),
                "X-RateLimit-Reset": str(self._rate_reset),
                "X-RateLimit-Used": str(self._rate_used),
                "X-RateLimit-Resource": "core",
            }

    def _check_auth(self, authorization: str | None) -> str:
        """The login the Authorization header speaks for (401 when none or a wrong one)."""
        if not authorization:
            raise _ApiError(
                401,
                {
                    "message": "Requires authentication",
                    "documentation_url": "https://docs.github.com/rest",
                },
            )
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
        if value in self.users or value in self.checks.apps:
            return self.users.get(value) or f"{self.checks.apps[value]}[bot]"
        if self.token is not None:
            if scheme.lower() not in ("token", "bearer") or value != self.token:
                raise _ApiError(
                    401,
                    {
                        "message": "Bad credentials",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                )
        return self.login

    def _repo(self, owner: str, name: str) -> str:
        full = f"{owner}/{name}"
        with self._lock:
            if full not in self._repos:
                raise _not_found()
        return full

    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any, caller: str = ""
    ) -> tuple[int, Any, dict[str, str]]:
        """Route one authorized API request (from `caller`): (status, JSON body, headers)."""
        with self._lock:
            answer = self._route(method, path, query, body, caller or self.login)
            if method != "GET":
                self._save()
            return answer

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, caller: str
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and path == "/user":
            return 200, self.render_user(self.login), {}
        if method == "GET" and path == "/rate_limit":
            with self._lock:
                used = self._rate_used
                core = {
                    "limit": self.rate_limit,
                    "remaining": max(0, self.rate_limit - used),
                    "reset": self._rate_reset,
                    "used": used,
                }
            return 200, {"resources": {"core": core}, "rate": core}, {}
        m = re.fullmatch(rf"/repos/{_REPO}(?P<rest>/.*)?", path)
        if not m:
            raise _not_found()
        full = self._repo(m["owner"], m["name"])
        rest = m["rest"] or ""
        with self._lock:
            if rest == "" and method == "GET":
                return 200, self.render_repo(full), {}
            if rest == "/pulls" and method == "GET":
                return self._list_pulls(full, query)
            if rest == "/pulls" and method == "POST":
                return self._create_pull(full, body)
            pm = re.fullmatch(r"/pulls/(\d+)", rest)
            if pm and method == "GET":
                return 200, self._render_pull(full, self._find(full, int(pm[1])), detail=True), {}
            if pm and method == "PATCH":
                return self._edit_pull(full, int(pm[1]), body)
            cm = re.fullmatch(r"/issues/(\d+)/comments", rest)
            if cm and method == "POST":
                return self._add_comment(full, int(cm[1]), body)
            if cm and method == "GET":
                self._find(full, int(cm[1]))
                return 200, self.comments(full, int(cm[1])), {}
            return self._follow_route(full, method, rest, query, body, caller)

    def _follow_route(
        self, full: str, method: str, rest: str, query: dict[str, str], body: Any, caller: str
    ) -> tuple[int, Any, dict[str, str]]:
        """The routes that following a PR needs: checks, statuses, logs, reviews, merging."""
        if m := re.fullmatch(
            r"/commits/(?P<ref>[^/]+(?:/[^/]+)?)/(?P<what>check-runs|status)", rest
        ):
            if method == "GET" and m["what"] == "check-runs":
                return self.checks.list_runs(full, m["ref"], query)
            if method == "GET":
                return self.checks.combined(full, m["ref"], query)
        if (m := re.fullmatch(r"/statuses/(\w+)", rest)) and method == "POST":
            return self.checks.write_status(full, m[1], body, caller)
        if m := re.fullmatch(r"/check-runs(?:/(\d+))?", rest):
            if method == "GET" and m[1]:
                return 200, self.checks.render_run(full, self.checks.find_run(full, int(m[1]))), {}
            if method in ("POST", "PATCH") and bool(m[1]) == (method == "PATCH"):
                return self._app_writes_run(full, body, caller, int(m[1]) if m[1] else None)
        if (m := re.fullmatch(r"/actions/jobs/(\d+)/logs", rest)) and method == "GET":
            return self.checks.log_redirect(full, int(m[1]))
        if m := re.fullmatch(r"/pulls/(\d+)/(reviews|comments|update-branch|merge)", rest):
            number, what = int(m[1]), m[2]
            routes = {
                ("GET", "reviews"): lambda: self.reviews.list_reviews(full, number, query, caller),
                ("POST", "reviews"): lambda: self.reviews.create_review(full, number, body, caller),
                ("GET", "comments"): lambda: self.reviews.list_comments(full, number, query),
                ("POST", "comments"): lambda: self.reviews.create_comment(
                    full, number, body, caller
                ),
                ("PUT", "update-branch"): lambda: self.merging.update_branch(full, number, body),
                ("PUT", "merge"): lambda: self.merging.merge(full, number, body, caller),
            }
            if (method, what) in routes:
                return routes[(method, what)]()
        m = re.fullmatch(r"/pulls/(\d+)/comments/(\d+)/replies", rest)
        if m and method == "POST":
            return self.reviews.reply(full, int(m[1]), int(m[2]), body, caller)
        m = re.fullmatch(r"/pulls/(\d+)/reviews/(\d+)/dismissals", rest)
        if m and method == "PUT":
            return self.reviews.dismiss(full, int(m[1]), int(m[2]), body)
        raise _not_found()

    def _app_writes_run(
        self, full: str, body: Any, caller: str, run_id: int | None
    ) -> tuple[int, Any, dict[str, str]]:
        """checks/create and checks/update take a GitHub App's installation token only."""
        slug = caller.removesuffix("[bot]")
        if not caller.endswith("[bot]") or slug not in self.checks.apps.values():
            raise _ApiError(
                403,
                {
                    "message": APP_ONLY,
                    "documentation_url": "https://docs.github.com/rest/checks/runs#create-a-check-run",
                },
            )
        if not isinstance(body, dict):
            raise bad_json()
        run = self.checks.write_run(full, body, slug, run_id)
        return (201 if run_id is None else 200), run, {}

    def _find(self, full: str, number: int) -> dict[str, Any]:
        for pr in self._pulls.get(full, []):
            if pr["number"] == number:
                return pr
        raise _not_found()

    def _list_pulls(self, full: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        check_enums(query, _QUERY_ENUMS)
        state = query.get("state", "open")
        head = query.get("head")
        base = query.get("base")
        found = []
        for pr in self._pulls.get(full, []):
            if state != "all" and pr["state"] != state:
                continue
            if head and (pr["head_label"] if ":" in head else pr["head_ref"]) != head:
                continue
            if base and pr["base_ref"] != base:
                continue
            found.append(pr)
        # GitHub: direction defaults to desc when sort is `created` (the default), else asc.
        default = "desc" if query.get("sort", "created") == "created" else "asc"
        if query.get("direction", default) == "desc":
            found.reverse()
        chunk, headers = paginate(found, query, f"{self.url}/repos/{full}/pulls")
        return 200, [self._render_pull(full, pr) for pr in chunk], headers

    def _head_repo(self, full: str, head_owner: str) -> str | None:
        """The repository `owner:branch` names: the base repository, or its owner's fork."""
        if head_owner.lower() == full.split("/", 1)[0].lower():
            return full
        for name, repo in self._repos.items():
            if repo.get("fork_of") == full and name.split("/", 1)[0].lower() == head_owner.lower():
                return name
        return None

    def _create_pull(self, full: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            raise bad_json()
        missing = [f for f in ("head", "base") if not body.get(f)]
        if missing or not (body.get("title") or body.get("issue")):
            fields = missing or ["title"]
            raise _validation_failed(
                *({"resource": "PullRequest", "field": f, "code": "missing_field"} for f in fields)
            )
        _check_lengths(body)
        owner = full.split("/", 1)[0]
        head = str(body["head"])
        head_owner, _, head_ref = head.rpartition(":")
        head_owner = head_owner or owner
        head_label = f"{head_owner}:{head_ref}"
        base_ref = str(body["base"])
        if not self._repos[full].get("git_dir"):
            # Not leniency: without the repository's branches the stand-in cannot answer as
            # GitHub would, so a test must say where they are.
            raise _ApiError(
                500,
                {
                    "message": f"stand-in set-up: {full} has no git_dir; add it with "
                    "add_repo(..., git_dir=<its bare repository>) so PR branches can be checked"
                },
            )
        head_repo = self._head_repo(full, head_owner)
        head_sha = self._branch_sha(head_repo, head_ref) if head_repo else None
        if head_repo is None or head_sha is None:
            raise _validation_failed(
                {"resource": "PullRequest", "field": "head", "code": "invalid"}
            )
        base_sha = self._branch_sha(full, base_ref)
        if base_sha is None:
            raise _validation_failed(
                {"resource": "PullRequest", "field": "base", "code": "invalid"}
            )
        # A head with no commits the base lacks (new, or merged into the base already): GitHub's
        # 422 "Validation Failed" with one `custom` error whose message names base and head as
        # the request gave them ("Client errors": https://docs.github.com/en/rest/using-the-rest-
        # api/troubleshooting-the-rest-api; 422 on https://docs.github.com/rest/pulls/pulls#create-
        # a-pull-request).
        if self._commits_between(head_repo, base_sha, head_ref) == 0:
            raise _validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base_ref} and {head}",
                }
            )
        for pr in self._pulls[full]:
            if pr["state"] == "open" and pr["head_label"] == head_label:
                raise _validation_failed(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {head_label}.",
                    }
                )
        self._next_id += 1
        number = 1 + max((p["number"] for p in self._pulls[full]), default=0)
        stamp = _now()
        pr = {
            "id": self._next_id,
            "number": number,
            "state": "open",
            "title": str(body.get("title") or ""),
            "body": body.get("body"),
            "head_ref": head_ref,
            "head_label": head_label,
            "head_repo": head_repo,
            "head_sha": head_sha,
            "base_ref": base_ref,
            "user": self.login,
            "draft": bool(body.get("draft", False)),
            "created_at": stamp,
            "updated_at": stamp,
            "closed_at": None,
        }
        self._pulls[full].append(pr)
        self._save()
        rendered = self._render_pull(full, pr)
        return 201, rendered, {"Location": rendered["url"]}

    def _edit_pull(self, full: str, number: int, body: Any) -> tuple[int, Any, dict[str, str]]:
        pr = self._find(full, number)
        if not isinstance(body, dict):
            raise bad_json()
        if body.get("state") not in (None, "open", "closed"):
            raise _validation_failed(
                {"resource": "PullRequest", "field": "state", "code": "invalid"}
            )
        _check_lengths(body)
        if body.get("base") is not None and self._branch_sha(full, str(body["base"])) is None:
            raise _validation_failed(
                {"resource": "PullRequest", "field": "base", "code": "invalid"}
            )
        if body.get("state") == "open" and pr["state"] != "open":
            for other in self._pulls[full]:
                if (
                    other is not pr
                    and other["state"] == "open"
                    and other["head_label"] == pr["head_label"]
                ):
                    raise _validation_failed(
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {pr['head_label']}.",
                        }
                    )
        for key, target in (("title", "title"), ("body", "body"), ("base", "base_ref")):
            if key in body and body[key] is not None:
                pr[target] = str(body[key])
        if "state" in body and body["state"] is not None:
            pr["state"] = body["state"]
            pr["closed_at"] = _now() if body["state"] == "closed" else None
        pr["updated_at"] = _now()
        self._save()
        return 200, self._render_pull(full, pr), {}

    def _add_comment(self, full: str, number: int, body: Any) -> tuple[int, Any, dict[str, str]]:
        self._find(full, number)
        if not isinstance(body, dict) or not body.get("body"):
            raise _validation_failed(
                {"resource": "IssueComment", "field": "body", "code": "missing_field"}
            )
        self._next_id += 1
        api = f"{self.url}/repos/{full}"
        comment = {
            "id": self._next_id,
            "body": str(body["body"]),
            "user": self.render_user(self.login),
            "created_at": _now(),
            "updated_at": _now(),
            "url": f"{api}/issues/comments/{self._next_id}",
            "html_url": f"{self.url}/{full}/pull/{number}#issuecomment-{self._next_id}",
            "issue_url": f"{api}/issues/{number}",
        }
        self._comments.setdefault(full, {}).setdefault(str(number), []).append(comment)
        self._save()
        return 201, comment, {}

    def html_page(self, path: str) -> str | None:
        """A minimal page for a PR's html_url, so links in the demo lead somewhere."""
        m = re.fullmatch(rf"/{_REPO}/pull/(?P<n>\d+)", path)
        if not m:
            return None
        full = f"{m['owner']}/{m['name']}"
        with self._lock:
            try:
                pr = self._find(full, int(m["n"]))
            except _ApiError:
                return None
            return (
                "<!doctype html><meta charset=utf-8>"
                f"<title>{html.escape(pr['title'])}</title>"
                f"<h1>{html.escape(pr['title'])} #{pr['number']}</h1>"
                f"<p>{html.escape(pr['state'])}: {html.escape(pr['head_label'])} "
                f"&rarr; {html.escape(pr['base_ref'])}</p>"
                f"<pre>{html.escape(pr['body'] or '')}</pre>"
            )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHubStandIn/1.0"

    @property
    def standin(self) -> GitHubStandIn:
        return self.server.standin  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log on the stand-in is the record."""

    def _send(
        self, status: int, payload: Any, headers: Mapping[str, str], content_type: str
    ) -> None:
        data = (
            b""
            if payload is None
            else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Request-Id", f"standin-{id(self):x}")
        lowered = {k.lower() for k in headers}
        if "x-ratelimit-remaining" not in lowered:
            for key, value in self.standin.rate_headers(counted=status != 304).items():
                self.send_header(key, value)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _dispatch(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        authorization = self.headers.get("Authorization")
        status, reply, headers, content_type = self._respond(path, query, body, authorization)
        # Logged before answering, so a test that got its reply sees the request in the log.
        self.standin._record(
            RequestRecord(
                method=self.command,
                path=path,
                query=query,
                status=status,
                authorized=bool(authorization),
                body=body,
                user_agent=self.headers.get("User-Agent") or "",
            )
        )
        self._send(status, reply, headers, content_type)

    def _respond(
        self, path: str, query: dict[str, str], body: Any, authorization: str | None
    ) -> tuple[int, Any, Mapping[str, str], str]:
        method = self.command
        standin = self.standin
        json_type = "application/json; charset=utf-8"
        try:
            fault = standin._fault_for(method, path)
            if fault is not None:
                reply = fault.body
                if reply is None:
                    reply = {"message": http.HTTPStatus(fault.status).phrase}
                return fault.status, reply, fault.headers, json_type
            page = standin.html_page(path) if method == "GET" else None
            if page is not None:
                return 200, page, {}, "text/html; charset=utf-8"
            log = re.fullmatch(r"/_standin/job-logs/(\d+)", path)
            if log and method == "GET":  # the signed download link: no token, as on GitHub
                status, text = standin.checks.download(log[1], query)
                return status, text, {}, "text/plain; charset=utf-8"
            caller = standin._check_auth(authorization)
            status, reply, headers = standin.handle(method, path, query, body, caller)
            if method == "GET" and status == 200:
                return self._conditional(reply, headers, json_type)
            return status, reply, headers, json_type
        except _ApiError as err:
            return err.status, err.body, err.headers, json_type
        except Exception as exc:  # a bug in the stand-in: answer like a server would
            return 500, {"message": f"stand-in error: {exc}"}, {}, json_type

    def _conditional(
        self, reply: Any, headers: dict[str, str], content_type: str
    ) -> tuple[int, Any, Mapping[str, str], str]:
        """An ETag on every 200 GET, and 304 with no body when If-None-Match names it
        ("Conditional requests" in https://docs.github.com/en/rest/using-the-rest-api/
        best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate:
        "If the data has not changed, you will receive a 304 Not Modified response")."""
        digest = hashlib.sha256(json.dumps(reply, sort_keys=True).encode()).hexdigest()
        etag = f'W/"{digest[:32]}"'
        headers = {**headers, "ETag": etag, "Vary": "Accept, Authorization, Cookie"}
        asked = self.headers.get("If-None-Match") or ""
        tags = {t.strip().removeprefix("W/") for t in asked.split(",") if t.strip()}
        if etag.removeprefix("W/") in tags or "*" in tags:
            return 304, None, headers, content_type
        return 200, reply, headers, content_type

    do_GET = _dispatch
    do_POST = _dispatch
    do_PATCH = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local GitHub REST API stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--repo", action="append", default=[], help="owner/name to pre-register")
    parser.add_argument("--token", default=None, help="accept only this token (default: any)")
    parser.add_argument("--state", default=None, help="JSON file mirroring the stand-in's state")
    parser.add_argument(
        "--git-dir",
        action="append",
        default=[],
        metavar="OWNER/NAME=PATH",
        help="check PR branches against this git directory (e.g. the bare origin)",
    )
    args = parser.parse_args(argv)
    git_dirs = dict(item.split("=", 1) for item in args.git_dir)
    standin = GitHubStandIn(
        host=args.host,
        port=args.port,
        repos=args.repo,
        token=args.token,
        state_path=args.state,
        git_dirs=git_dirs,
    ).start()
    print(f"GitHub stand-in listening at {standin.url} (GITHUB_API_URL={standin.url})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


__all__ = ["Fault", "GitHubStandIn", "RequestRecord", "main"]

if __name__ == "__main__":
    main()
