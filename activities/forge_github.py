"""GitHub pull requests through PyGithub, idempotent and with Temporal-style errors.

PyGithub's own retries and request pacing are switched off: Temporal owns
retries, so every attempt is visible in the workflow's event history.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.exceptions import ApplicationError

if TYPE_CHECKING:  # imported where used: PyGithub and requests take most of a second, and
    # every CLI verb imports the loops (so this module), which call GitHub only in a worker
    from github import Github, GithubException
    from github.PullRequest import PullRequest
    from github.Repository import Repository

from activities.repository_url import REPOSITORY

DEFAULT_API_URL = "https://api.github.com"
TOKEN_ENV = "GITHUB_TOKEN"
API_URL_ENV = "GITHUB_API_URL"
REQUEST_TIMEOUT = 30
# GitHub asks every client to name itself in User-Agent (its name or the app's):
# https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent
USER_AGENT = "orchestrator-forge"


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
    if not REPOSITORY.match(repository):
        raise ApplicationError(
            f"repository {repository!r} is not of the form owner/name; fix `repository` "
            "(or the origin remote URL)",
            type="InvalidRepository",
            non_retryable=True,
        )
    return repository


def client(api_url: str, token: str) -> Github:
    from github import Auth, Github

    return Github(
        base_url=api_url,
        auth=Auth.Token(token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        timeout=REQUEST_TIMEOUT,
        user_agent=USER_AGENT,
    )


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _seconds(value: str | None) -> int | None:
    return int(value.strip()) if value and value.strip().isdigit() else None


# How GitHub asks clients to wait, from "Rate limits for the REST API", section "Exceeding
# the rate limit" (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
# #exceeding-the-rate-limit): a primary limit answers 403 or 429 with `x-ratelimit-remaining: 0`
# and the epoch second of `x-ratelimit-reset`; a secondary limit answers 403 or 429, perhaps
# with `retry-after` (seconds). "If the retry-after response header is present, you should not
# retry your request until after that many seconds has elapsed. ... If the
# x-ratelimit-remaining header is 0, you should not retry your request until after the time
# specified by the x-ratelimit-reset header. ... Otherwise, wait for at least one minute before
# retrying. If your request continues to fail due to a secondary rate limit, wait for an
# exponentially increasing amount of time between retries."
SECONDARY_MIN_WAIT = timedelta(seconds=60)
SECONDARY_MAX_WAIT = timedelta(hours=1)
# The wording of GitHub's secondary-limit messages (github.com: "You have exceeded a secondary
# rate limit..."; GitHub Enterprise Server before 3.x: "You have triggered an abuse detection
# mechanism..."), and PyGithub's own test for them (Requester.isSecondaryRateLimitError).
_SECONDARY_WORDS = (
    "secondary rate limit",
    "abuse detection",
    "abuse-rate-limits",
    "please retry your request again later",
    "please wait a few minutes before you try again",
)


def rate_limit_delay(exc: GithubException, attempt: int = 1) -> timedelta | None:
    """How long GitHub asks us to wait before `attempt` + 1, or None when not a rate limit."""
    from github import RateLimitExceededException

    if exc.status not in (403, 429):
        return None
    text = _details(exc.data).lower()
    told = _seconds(_header(exc.headers, "retry-after"))
    reset = _seconds(_header(exc.headers, "x-ratelimit-reset"))
    primary = _header(exc.headers, "x-ratelimit-remaining") == "0" or text.startswith(
        "api rate limit exceeded"
    )
    secondary = (
        exc.status == 429
        or told is not None
        or isinstance(exc, RateLimitExceededException)
        or any(words in text for words in _SECONDARY_WORDS)
    )
    if not (primary or secondary):
        return None
    if told is not None:
        return timedelta(seconds=max(1, told))
    if primary and reset is not None:
        return timedelta(seconds=max(1, reset - int(time.time()) + 1))
    # Not told: at least a minute, doubling with each attempt that meets a limit again.
    grown: timedelta = SECONDARY_MIN_WAIT * (2 ** max(0, attempt - 1))
    return min(grown, SECONDARY_MAX_WAIT)


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


def _errors(data: Any) -> list[dict[str, Any]]:
    found = data.get("errors") if isinstance(data, dict) else None
    return [e for e in found or [] if isinstance(e, dict)]


def validation_advice(data: Any, *, base: str, head: str) -> str:
    """What to do about a 422, chosen from GitHub's `errors[]`.

    GitHub's "Validation Failed" body lists each problem as {resource, field, code} (codes
    missing, missing_field, invalid, already_exists, unprocessable, custom; a `custom` one
    carries a `message`): https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
    and "Client errors" in https://docs.github.com/en/rest/overview/resources-in-the-rest-api
    """
    advice: list[str] = []
    for err in _errors(data):
        field, code = err.get("field"), err.get("code")
        message = str(err.get("message") or "").lower()
        if "no commits between" in message:
            advice.append(
                f"the branch {head} has no commits that {base} lacks; commit the subtask's "
                "work (or skip the subtask) before opening its pull request"
            )
        elif "too long" in message or code == "too_long":
            advice.append(
                f"GitHub finds `{field or 'a field'}` too long ({err.get('message')}); shorten "
                "the subtask's title or summary"
            )
        elif field == "head" and code == "invalid":
            advice.append(
                f"GitHub does not know the head branch {head}: push it to the repository (or to "
                "your fork, whose owner must then prefix it) and check `[forge] repository` "
                "and the remote"
            )
        elif field == "base" and code == "invalid":
            advice.append(
                f"GitHub does not know the base branch {base}: push it, or set "
                "`[forge] base_branch` to a branch that exists on GitHub"
            )
        elif code in ("missing", "missing_field"):
            advice.append(f"`{field}` is missing from the request; this is a bug to report")
    if not advice:
        advice.append(
            "GitHub rejected the pull request; check that the base branch exists on GitHub and "
            "that the branch has commits the base lacks"
        )
    return "; ".join(dict.fromkeys(advice))


def classify(
    exc: Exception,
    *,
    doing: str,
    repository: str,
    api_url: str,
    attempt: int = 1,
    base: str = "",
    head: str = "",
) -> ApplicationError:
    """Map a PyGithub/requests failure to retryable or non-retryable, with what to fix."""
    import requests
    from github import GithubException

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
    wait = rate_limit_delay(exc, attempt)
    if wait is not None:
        return ApplicationError(
            f"{where}; GitHub's rate limit: waiting {int(wait.total_seconds())} s as it asks",
            type="GitHubRateLimited",
            next_retry_delay=wait,
        )
    if status >= 500 or status in (408, 409):
        told = _seconds(_header(exc.headers, "retry-after"))
        return ApplicationError(
            where,
            type="GitHubUnavailable",
            next_retry_delay=timedelta(seconds=told) if told else None,
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
        fix = validation_advice(exc.data, base=base, head=head)
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
    changes: dict[str, Any] = {}
    if pr.title != title:
        changes["title"] = title
    if (pr.body or "") != body:
        changes["body"] = body
    if pr.base.ref != base:
        changes["base"] = base
    if changes:
        pr.edit(**changes)


def upsert_pull_request(
    repo: Repository, branch: str, base: str, title: str, body: str, head_owner: str | None = None
) -> tuple[PullRequest, bool]:
    """The open PR for `branch`, updated, or a new one. Returns (pr, created).

    `head_owner`: the fork's owner when the branch lives in a fork (GitHub then wants
    `head` as `owner:branch`). Looks before creating, and treats GitHub's "already exists"
    422 (a create that raced a retry) as "look again": never two PRs for one branch.
    """
    from github import GithubException

    owner = repo.owner.login
    head_owner = head_owner or owner
    head = branch if head_owner.lower() == owner.lower() else f"{head_owner}:{branch}"
    existing = find_open_pull(repo, head_owner, branch)
    if existing is not None:
        _bring_up_to_date(existing, title, body, base)
        return existing, False
    try:
        return repo.create_pull(base=base, head=head, title=title, body=body), True
    except GithubException as exc:
        if not _already_exists(exc):
            raise
        existing = find_open_pull(repo, head_owner, branch)
        if existing is None:
            raise ApplicationError(
                f"GitHub says a pull request for {head_owner}:{branch} exists but none is open "
                "in the listing yet; retrying",
                type="GitHubInconsistent",
            ) from exc
        _bring_up_to_date(existing, title, body, base)
        return existing, False
