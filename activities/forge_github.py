"""GitHub pull requests through PyGithub, idempotent and with Temporal-style errors.

PyGithub's own retries and request pacing are switched off: Temporal owns
retries, so every attempt is visible in the workflow's event history.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import requests
from github import Auth, Github, GithubException
from github.PullRequest import PullRequest
from github.Repository import Repository
from temporalio.exceptions import ApplicationError

DEFAULT_API_URL = "https://api.github.com"
TOKEN_ENV = "GITHUB_TOKEN"
API_URL_ENV = "GITHUB_API_URL"
REQUEST_TIMEOUT = 30

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/\\].*)$")


def parse_repository(url: str | None) -> str | None:
    """`owner/name` from a GitHub remote URL (https, ssh, scp-like); None for local paths."""
    if not url:
        return None
    url = url.strip()
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in {"http", "https", "ssh", "git", "git+ssh", "ssh+git"}:
        path = parsed.path
    elif "://" not in url and (m := _SCP_LIKE.match(url)) and len(m["host"]) > 1:
        path = m["path"]
    else:
        return None
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 2:
        return None
    owner, name = parts[-2], parts[-1].removesuffix(".git")
    full = f"{owner}/{name}"
    return full if _REPOSITORY.match(full) else None


def resolve_api_url(api_url: str | None) -> str:
    return (api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")


def read_token() -> str:
    """GITHUB_TOKEN from the worker's environment (never from workflow input)."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ApplicationError(
            f"{TOKEN_ENV} is not set in the worker's environment; set it to a token with "
            "`repo` (or pull-requests: write) scope and restart the worker, or use forge 'none'",
            type="MissingGitHubToken",
            non_retryable=True,
        )
    return token


def check_repository(repository: str) -> str:
    if not _REPOSITORY.match(repository):
        raise ApplicationError(
            f"repository {repository!r} is not of the form owner/name; fix `repository` "
            "(or the origin remote URL)",
            type="InvalidRepository",
            non_retryable=True,
        )
    return repository


def client(api_url: str, token: str) -> Github:
    return Github(
        base_url=api_url,
        auth=Auth.Token(token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        timeout=REQUEST_TIMEOUT,
    )


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _retry_delay(headers: Mapping[str, Any] | None) -> timedelta | None:
    """The server's own advice on when to come back (Retry-After, else rate-limit reset)."""
    after = _header(headers, "retry-after")
    if after and after.strip().isdigit():
        return timedelta(seconds=int(after.strip()))
    reset = _header(headers, "x-ratelimit-reset")
    if reset and reset.strip().isdigit() and _header(headers, "x-ratelimit-remaining") == "0":
        return timedelta(seconds=max(1, int(reset.strip()) - int(time.time())))
    return None


def _details(data: Any) -> str:
    if not isinstance(data, dict):
        return str(data or "")
    parts = [str(data.get("message") or "")]
    for err in data.get("errors") or []:
        if isinstance(err, dict):
            parts.append(str(err.get("message") or f"{err.get('field')}: {err.get('code')}"))
        else:
            parts.append(str(err))
    return "; ".join(p for p in parts if p)


def _is_rate_limited(exc: GithubException) -> bool:
    if exc.status == 429:
        return True
    text = _details(exc.data).lower()
    return exc.status == 403 and (
        "rate limit" in text or _header(exc.headers, "x-ratelimit-remaining") == "0"
    )


def classify(exc: Exception, *, doing: str, repository: str, api_url: str) -> ApplicationError:
    """Map a PyGithub/requests failure to retryable or non-retryable, with what to fix."""
    if isinstance(exc, requests.exceptions.RequestException):
        return ApplicationError(
            f"{doing}: cannot reach {api_url} ({type(exc).__name__}: {exc})",
            type="GitHubUnavailable",
        )
    if not isinstance(exc, GithubException):
        return ApplicationError(f"{doing}: {type(exc).__name__}: {exc}", type="GitHubError")
    status = exc.status
    details = _details(exc.data)
    where = f"{doing} ({api_url}, {repository}) got HTTP {status}: {details}"
    if status >= 500 or status in (408, 409) or _is_rate_limited(exc):
        return ApplicationError(
            where,
            type="GitHubRateLimited" if _is_rate_limited(exc) else "GitHubUnavailable",
            next_retry_delay=_retry_delay(exc.headers),
        )
    if status == 401:
        fix = f"{TOKEN_ENV} was rejected; set a valid, unexpired token in the worker's environment"
        kind = "GitHubBadCredentials"
    elif status == 403:
        fix = f"the token lacks permission on {repository}; grant it pull-request write access"
        kind = "GitHubForbidden"
    elif status == 404:
        fix = (
            f"repository {repository} was not found at {api_url} or the token cannot see it; "
            "check `repository` (or the origin remote URL), GITHUB_API_URL and the token's access"
        )
        kind = "GitHubNotFound"
    elif status == 422:
        fix = (
            "GitHub rejected the pull request; check that the base branch exists on GitHub and "
            "that the branch has commits the base lacks"
        )
        kind = "GitHubValidationFailed"
    else:
        fix = "unexpected response; see the message"
        kind = "GitHubError"
    return ApplicationError(f"{where}; {fix}", type=kind, non_retryable=True)


def _already_exists(exc: GithubException) -> bool:
    return exc.status == 422 and "already exists" in _details(exc.data).lower()


def find_open_pull(repo: Repository, owner: str, branch: str) -> PullRequest | None:
    for pr in repo.get_pulls(state="open", head=f"{owner}:{branch}"):
        if pr.head.ref == branch:
            return pr
    return None


def _bring_up_to_date(pr: PullRequest, title: str, body: str, base: str) -> None:
    changes: dict[str, str] = {}
    if pr.title != title:
        changes["title"] = title
    if (pr.body or "") != body:
        changes["body"] = body
    if pr.base.ref != base:
        changes["base"] = base
    if changes:
        pr.edit(**changes)


def upsert_pull_request(
    gh: Github, repository: str, branch: str, base: str, title: str, body: str
) -> tuple[PullRequest, bool]:
    """The open PR for `branch`, updated, or a new one. Returns (pr, created).

    Looks before creating, and treats GitHub's "already exists" 422 (a
    create that raced a retry) as "look again": never two PRs for one branch.
    """
    repo = gh.get_repo(repository)
    owner = repo.owner.login
    existing = find_open_pull(repo, owner, branch)
    if existing is not None:
        _bring_up_to_date(existing, title, body, base)
        return existing, False
    try:
        return repo.create_pull(base=base, head=branch, title=title, body=body), True
    except GithubException as exc:
        if not _already_exists(exc):
            raise
        existing = find_open_pull(repo, owner, branch)
        if existing is None:
            raise ApplicationError(
                f"GitHub says a pull request for {owner}:{branch} exists but none is open "
                "in the listing yet; retrying",
                type="GitHubInconsistent",
            ) from exc
        _bring_up_to_date(existing, title, body, base)
        return existing, False
