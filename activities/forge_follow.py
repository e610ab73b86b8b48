"""Activities that follow a pull request on GitHub: one short poll, a failing check's
details, one reply per review comment, update-branch, merge and retarget.

Each is short and idempotent, so the workflow waits with timers between them and a retry
repeats nothing that already happened. Errors are classified as forge_github.classify does
(a bad token stops with its fix, the network and rate limits are retried, with GitHub's
wait); GITHUB_TOKEN is read from the worker's environment and never leaves it.
"""

from __future__ import annotations

import collections
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities import forge_github
from activities.forge_conditional import ConditionalReader, default_cache_dir
from contracts.follow import (
    LOG_TAIL_CAP,
    TEXT_CAP,
    CheckDetails,
    CheckDetailsRequest,
    CheckInfo,
    CommentInfo,
    MergeRequest,
    MergeResult,
    PollRequest,
    PollResult,
    PullState,
    PullTarget,
    ReplyRequest,
    ReplyResult,
    RetargetRequest,
    RetargetResult,
    ReviewInfo,
    UpdateBranchRequest,
    UpdateBranchResult,
)

if TYPE_CHECKING:  # imported where used, as in forge_github: the CLI imports the loops, so
    # this module, and PyGithub with requests would cost every verb most of a second
    from github import Github, GithubException

_JOB = re.compile(r"/job/(\d+)")
ACTIONS_APP = "github-actions"


def _attempt() -> int:
    try:
        return activity.info().attempt
    except RuntimeError:
        return 1


@contextmanager
def github(target: PullTarget, doing: str) -> Iterator[Github]:
    """A PyGithub client for the target's API; failures become classified ApplicationErrors."""
    import requests
    from github import GithubException

    token = forge_github.read_token()
    repository = forge_github.check_repository(target.repository)
    api_url = forge_github.resolve_api_url(target.api_url)
    gh = forge_github.client(api_url, token)
    try:
        yield gh
    except (GithubException, requests.exceptions.RequestException) as exc:
        raise forge_github.classify(
            exc, doing=doing, repository=repository, api_url=api_url, attempt=_attempt()
        ) from exc
    finally:
        gh.close()


def _cap(value: Any, limit: int = TEXT_CAP) -> str:
    text = str(value or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the poll -------------------------------------------------------------------


def _checks(runs: list[dict[str, Any]], combined: dict[str, Any]) -> list[CheckInfo]:
    found = [
        CheckInfo(
            name=run["name"],
            kind="check_run",
            status=run["status"],
            conclusion=run.get("conclusion"),
            url=run.get("details_url") or run.get("html_url"),
            check_run_id=run["id"],
            app=(run.get("app") or {}).get("slug"),
        )
        for run in runs
    ]
    for status in (combined or {}).get("statuses", []):
        pending = status["state"] == "pending"
        found.append(
            CheckInfo(
                name=status["context"],
                kind="status",
                status="pending" if pending else "completed",
                conclusion=None if pending else status["state"],
                url=status.get("target_url"),
            )
        )
    return sorted(found, key=lambda c: (c.name, c.kind))


def _comments(listing: list[dict[str, Any]], own: str) -> list[CommentInfo]:
    replied = {
        c["in_reply_to_id"]
        for c in listing
        if c.get("in_reply_to_id") and (c.get("user") or {}).get("login") == own
    }
    return [
        CommentInfo(
            id=c["id"],
            author=c["user"]["login"],
            path=c["path"],
            line=c.get("line"),
            body=_cap(c.get("body")),
            url=c.get("html_url") or "",
            replied=c["id"] in replied,
        )
        for c in listing
        if not c.get("in_reply_to_id") and (c.get("user") or {}).get("login") != own
    ]


def read_state(
    reader: ConditionalReader, repository: str, number: int
) -> tuple[PullState, set[str]]:
    """The PR, its head's checks and statuses, reviews and comments; and the URLs used."""
    api = f"/repos/{repository}"
    user, _ = reader.get("/user")
    own = user["login"]
    pr_url = f"{api}/pulls/{number}"
    pr, _ = reader.get(pr_url)
    head = pr["head"]["sha"]
    runs, used = reader.get_all(f"{api}/commits/{head}/check-runs?per_page=100", "check_runs")
    combined_url = f"{api}/commits/{head}/status?per_page=100"
    combined, _ = reader.get(combined_url)
    reviews, review_urls = reader.get_all(f"{pr_url}/reviews?per_page=100")
    comments, comment_urls = reader.get_all(f"{pr_url}/comments?per_page=100")
    state = PullState(
        head_sha=head,
        base=pr["base"]["ref"],
        state=pr["state"],
        merged=bool(pr.get("merged")),
        mergeable=pr.get("mergeable"),
        mergeable_state=pr.get("mergeable_state") or "unknown",
        checks=_checks(runs, combined),
        reviews=[
            ReviewInfo(
                id=r["id"], author=r["user"]["login"], state=r["state"], body=_cap(r.get("body"))
            )
            for r in reviews
            if r["user"]["login"] != own and r["state"] != "PENDING"
        ],
        comments=_comments(comments, own),
    )
    return state, {"/user", pr_url, combined_url} | used | review_urls | comment_urls


@activity.defn(name="forge.poll_pull_request")
def poll_pull_request(req: PollRequest) -> PollResult:
    """Read a PR's whole state once, with conditional requests; say whether it changed."""
    doing = f"reading pull request #{req.number}"
    with github(req, doing) as gh:
        key = f"{forge_github.resolve_api_url(req.api_url)}|{req.repository}|{req.number}"
        reader = ConditionalReader(gh, req.cache_dir or default_cache_dir(), key)
        state, used = read_state(reader, req.repository, req.number)
        reader.save(used)
    digest = hashlib.sha256(state.model_dump_json().encode()).hexdigest()[:32]
    remaining, reset_in = reader.rate()
    changed = digest != req.known_digest
    return PollResult(
        changed=changed,
        digest=digest,
        state=state if changed else None,
        requests=reader.requests,
        not_modified=reader.not_modified,
        rate_remaining=remaining,
        wait_seconds=reset_in if remaining is not None and remaining <= req.rate_reserve else 0,
    )


# --- a failing check's details ---------------------------------------------------


def _tail(url: str, limit: int) -> tuple[str, bool]:
    """The last `limit` bytes of a log behind a signed link (sent no Authorization: the
    link is the credential, and the token must not reach the storage host)."""
    import requests

    kept: collections.deque[bytes] = collections.deque()
    size = total = 0
    with requests.get(url, stream=True, timeout=forge_github.REQUEST_TIMEOUT) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_content(chunk_size=8192):
            kept.append(chunk)
            size += len(chunk)
            total += len(chunk)
            while kept and size - len(kept[0]) >= limit:
                size -= len(kept.popleft())
    data = b"".join(kept)[-limit:]
    return data.decode("utf-8", errors="replace"), total > limit


@activity.defn(name="forge.check_details")
def check_details(req: CheckDetailsRequest) -> CheckDetails:
    """A check run's output and, for GitHub Actions, the end of its job's log (bounded)."""
    from github import GithubException

    limit = max(1, min(req.log_tail_bytes, LOG_TAIL_CAP))
    with github(req, f"reading check run {req.check_run_id}") as gh:
        _, run = gh.requester.requestJsonAndCheck(
            "GET", f"/repos/{req.repository}/check-runs/{req.check_run_id}"
        )
        output = run.get("output") or {}
        details = CheckDetails(
            name=run["name"],
            conclusion=run.get("conclusion"),
            url=run.get("details_url") or run.get("html_url"),
            title=_cap(output.get("title")) or None,
            summary=_cap(output.get("summary")) or None,
            text=_cap(output.get("text")) or None,
        )
        if (run.get("app") or {}).get("slug") != ACTIONS_APP:
            return details
        job = _JOB.search(run.get("html_url") or "")
        job_id = job[1] if job else str(run["id"])  # an Actions job's check run has its id
        # actions/download-job-logs-for-workflow-run answers 302 with the link in Location
        # (PyGithub's WorkflowJob.logs_url reads it the same way).
        try:
            headers, _ = gh.requester.requestBlobAndCheck(
                "GET", f"/repos/{req.repository}/actions/jobs/{job_id}/logs"
            )
        except GithubException as exc:
            if exc.status in (404, 410):  # no log (yet, or any more): the output stands alone
                return details
            raise
        location = {k.lower(): v for k, v in headers.items()}.get("location")
        if location:
            details.log_tail, details.log_truncated = _tail(location, limit)
        return details


# --- one reply per comment --------------------------------------------------------


def _marked(body: str, marker: str) -> str:
    return f"{body}\n\n<!-- {marker} -->"


@activity.defn(name="forge.reply_to_comment")
def reply_to_comment(req: ReplyRequest) -> ReplyResult:
    """Reply once to a review comment: a reply of ours carrying the marker is found first,
    so a retry after a lost answer, or a restarted workflow, never posts a second one."""
    with github(req, f"replying to review comment {req.comment_id}") as gh:
        own = gh.get_user().login
        # Listed through the requester: PyGithub's comment objects fetch each top-level
        # comment again to learn it has no `in_reply_to_id` (GitHub leaves the key out).
        listing, _ = ConditionalReader(gh, None).get_all(
            f"/repos/{req.repository}/pulls/{req.number}/comments?per_page=100"
        )
        tag = f"<!-- {req.marker} -->"
        for comment in listing:
            if (
                comment.get("in_reply_to_id") == req.comment_id
                and comment["user"]["login"] == own
                and tag in (comment.get("body") or "")
            ):
                return ReplyResult(reply_id=comment["id"], url=comment["html_url"], posted=False)
        pr = gh.withLazy(True).get_repo(req.repository).get_pull(req.number)
        reply = pr.create_review_comment_reply(req.comment_id, _marked(req.body, req.marker))
        return ReplyResult(reply_id=reply.id, url=reply.html_url, posted=True)


# --- update-branch, merge, retarget ----------------------------------------------


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    return str(data.get("message") or "")


@activity.defn(name="forge.update_branch")
def update_branch(req: UpdateBranchRequest) -> UpdateBranchResult:
    """Merge the base into the PR's head on GitHub, only if the head is still the one we saw.

    PyGithub's PullRequest.update_branch returns False on a 422 and drops GitHub's reason,
    so the PUT goes through its requester to tell a moved head from a conflict."""
    from github import GithubException

    with github(req, f"updating the branch of pull request #{req.number}") as gh:
        url = f"/repos/{req.repository}/pulls/{req.number}/update-branch"
        try:
            _, data = gh.requester.requestJsonAndCheck(
                "PUT", url, input={"expected_head_sha": req.expected_head_sha}
            )
        except GithubException as exc:
            if exc.status != 422:
                raise
            text = _message(exc)
            lowered = text.lower()
            if "expected head sha" in lowered:
                return UpdateBranchResult(outcome="head_moved", message=text)
            if "no new commits" in lowered:
                return UpdateBranchResult(outcome="up_to_date", message=text)
            if "conflict" in lowered:
                return UpdateBranchResult(outcome="conflict", message=text)
            raise
        return UpdateBranchResult(outcome="updating", message=str((data or {}).get("message", "")))


@activity.defn(name="forge.merge_pull_request")
def merge_pull_request(req: MergeRequest) -> MergeResult:
    """Merge with `method` only if the head is `sha`; a PR already merged (an earlier
    attempt whose answer was lost) is reported merged, not merged again."""
    from github import GithubException

    with github(req, f"merging pull request #{req.number}") as gh:
        pr = gh.withLazy(True).get_repo(req.repository).get_pull(req.number)
        if pr.merged:
            return MergeResult(outcome="merged", sha=pr.merge_commit_sha, message="already merged")
        try:
            status = pr.merge(merge_method=req.method, sha=req.sha)
        except GithubException as exc:
            if exc.status == 409:
                return MergeResult(outcome="head_moved", message=_message(exc))
            if exc.status == 405:
                return MergeResult(outcome="not_mergeable", message=_message(exc))
            raise
        return MergeResult(outcome="merged", sha=status.sha, message=status.message)


@activity.defn(name="forge.retarget_pull_request")
def retarget_pull_request(req: RetargetRequest) -> RetargetResult:
    """Point the PR at another base (after its dependency merged); nothing when it is."""
    with github(req, f"retargeting pull request #{req.number} to {req.base}") as gh:
        pr = gh.withLazy(True).get_repo(req.repository).get_pull(req.number)
        if pr.base.ref == req.base:
            return RetargetResult(changed=False, base=req.base)
        pr.edit(base=req.base)
        return RetargetResult(changed=True, base=req.base)


ACTIVITIES = [
    poll_pull_request,
    check_details,
    reply_to_comment,
    update_branch,
    merge_pull_request,
    retarget_pull_request,
]
