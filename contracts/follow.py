"""Inputs and results of the activities that follow a pull request on GitHub.

Small on purpose: they enter workflow history on every poll. Text from the forge (check
output, logs, comment bodies) is capped here, and GITHUB_TOKEN never appears: the worker
reads it from its environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# Caps on forge text kept in history (a log tail, an output text, a comment body).
TEXT_CAP = 4_000
LOG_TAIL_CAP = 16_000


class PullTarget(BaseModel):
    """One pull request: `owner/name` and number; api_url None = GITHUB_API_URL or github.com."""

    repository: str
    number: int
    api_url: str | None = None


class PollRequest(PullTarget):
    # The digest of the state the workflow already holds: an equal one comes back unchanged.
    known_digest: str | None = None
    # Where the worker keeps ETags and bodies between polls; None = $ORCHESTRATOR_HOME/forge-cache.
    cache_dir: str | None = None
    # At or below this many requests left in GitHub's window, the result asks to wait.
    rate_reserve: int = 50


class CheckInfo(BaseModel):
    """A check run or a commit status on the head commit."""

    name: str
    kind: Literal["check_run", "status"]
    # queued / in_progress / completed for a check run; a status is `completed` unless pending.
    status: str
    # success / failure / neutral / cancelled / skipped / timed_out / action_required / stale,
    # or a status' error / failure / success; None while not completed.
    conclusion: str | None = None
    url: str | None = None
    check_run_id: int | None = None
    app: str | None = None


class ReviewInfo(BaseModel):
    id: int
    author: str
    state: str  # APPROVED / CHANGES_REQUESTED / COMMENTED / DISMISSED
    body: str = ""


class CommentInfo(BaseModel):
    """A top-level review comment by someone else, and whether we already answered it."""

    id: int
    author: str
    path: str
    line: int | None = None
    body: str
    url: str = ""
    replied: bool = False


class PullState(BaseModel):
    head_sha: str
    base: str
    state: str  # open / closed
    merged: bool = False
    # None while GitHub is still computing it (mergeable_state is then `unknown`).
    mergeable: bool | None = None
    mergeable_state: str = "unknown"
    checks: list[CheckInfo] = Field(default_factory=list)
    reviews: list[ReviewInfo] = Field(default_factory=list)
    comments: list[CommentInfo] = Field(default_factory=list)


class PollResult(BaseModel):
    changed: bool
    digest: str
    # The whole state when it changed, else None (the workflow keeps the one it has).
    state: PullState | None = None
    requests: int = 0
    # How many of them GitHub answered 304 Not Modified (free against the rate limit).
    not_modified: int = 0
    rate_remaining: int | None = None
    # > 0: GitHub's window is nearly spent; wait this long before polling again.
    wait_seconds: int = 0


class CheckDetailsRequest(PullTarget):
    check_run_id: int
    # Bytes of the GitHub Actions job log's end to keep (at most LOG_TAIL_CAP).
    log_tail_bytes: int = TEXT_CAP


class CheckDetails(BaseModel):
    name: str
    conclusion: str | None = None
    url: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    # The end of the Actions job's log, or None (not an Actions check, or no log).
    log_tail: str | None = None
    log_truncated: bool = False


class ReplyRequest(PullTarget):
    comment_id: int
    body: str
    # Unique per thread and round (e.g. the workflow id and the comment id): a reply that
    # carries it already is found instead of posting a second one.
    marker: str


class ReplyResult(BaseModel):
    reply_id: int
    url: str
    posted: bool  # False: an earlier attempt had already replied


class UpdateBranchRequest(PullTarget):
    expected_head_sha: str


class UpdateBranchResult(BaseModel):
    # updating: GitHub accepted (202); head_moved: the head is not expected_head_sha;
    # up_to_date: the base has nothing new; conflict: base and head conflict.
    outcome: Literal["updating", "head_moved", "up_to_date", "conflict"]
    message: str = ""


class MergeRequest(PullTarget):
    sha: str
    method: Literal["merge", "squash", "rebase"] = "squash"


class MergeResult(BaseModel):
    # merged (now or by an earlier attempt); head_moved: 409, the head is not `sha`;
    # not_mergeable: 405, GitHub refused (conflict, blocked, behind).
    outcome: Literal["merged", "head_moved", "not_mergeable"]
    sha: str | None = None
    message: str = ""


class RetargetRequest(PullTarget):
    base: str


class RetargetResult(BaseModel):
    changed: bool
    base: str


class ForgeEvent(BaseModel):
    """A verified webhook delivery about one pull request (`orchestrator webhook`).

    It only says "look now": the loop's wait ends early and it polls the forge, which stays
    the one source of truth. So a forged or stale event can cost one poll, nothing more.
    """

    delivery: str  # X-GitHub-Delivery
    event: str  # check_run, check_suite, status, pull_request, pull_request_review, ...
    pr_number: int | None = None
    head_sha: str | None = None


# Conclusions of a check run (or states of a commit status) that are red: a fixer's work.
RED_CONCLUSIONS = frozenset(
    {"failure", "timed_out", "cancelled", "action_required", "startup_failure", "error"}
)


class FollowRound(BaseModel):
    """One round of following a PR: red CI, review comments or a conflict with the base sent
    to a fixer, or the branch brought up to date with its base (REPORT.md and the PR body
    list them)."""

    kind: Literal["ci", "review", "update", "conflict"]
    round: int
    head: str = Field(description="the PR's head the round looked at")
    at: str = ""
    checks: list[str] = Field(default_factory=list, description="`name: conclusion` of red ones")
    reviews: list[str] = Field(default_factory=list, description="`author: state`")
    comments: int = 0
    commit: str | None = Field(default=None, description="the fix (or merge) commit pushed")
    replies: int = 0
    note: str = ""


class PendingReply(BaseModel):
    """A reply owed to a review comment: the fix is pushed, the reply not yet posted."""

    comment_id: int
    body: str


# waiting: clean, waits for its turn (the build's `may_merge`); merging: its turn came;
# merged: GitHub merged it. "": not waiting to merge (following, or merge = "manual").
MergeStage = Literal["", "waiting", "merging", "merged"]


class PullSummary(BaseModel):
    """What `status` shows of a followed PR: its checks, reviews and what it waits for."""

    head_sha: str = ""
    mergeable_state: str = "unknown"
    checks: dict[str, str] = Field(default_factory=dict, description="name -> conclusion/status")
    reviews: dict[str, str] = Field(default_factory=dict, description="author -> latest state")
    waiting_for: str = ""
    ci_rounds: int = 0
    review_rounds: int = 0
    conflict_rounds: int = 0
    fixing: bool = Field(
        default=False, description="a fixer works on it (builder work: it holds a build slot)"
    )
    merge: MergeStage = Field(
        default="", description='`[forge] merge = "auto"`: where its merge stands'
    )
    merge_sha: str | None = Field(default=None, description="the merge commit on the base")
    may_merge: bool = Field(default=False, description="it holds the build's leave to merge")


class FollowState(BaseModel):
    """A subtask's following of its PR, kept in its state (so across continue-as-new)."""

    digest: str | None = None
    pull: PullState | None = None
    wait_s: float = Field(default=0.0, description="the current wait between polls")
    stale: bool = Field(default=False, description="poll before deciding (after a step or a wait)")
    ci_rounds: int = Field(default=0, description="red-CI fix rounds since a person decided")
    review_rounds: int = Field(default=0, description="review rounds since a person decided")
    conflict_rounds: int = Field(
        default=0, description="rounds resolving a conflict with the base since a person decided"
    )
    merged_heads: list[str] = Field(
        default_factory=list, description="heads a fixer resolved the base's conflict on"
    )
    ci_head: str = Field(default="", description="the head whose checks are being waited on")
    ci_since: float = Field(
        default=0.0, description="when (epoch seconds, workflow time) that wait began"
    )
    fixed_heads: list[str] = Field(
        default_factory=list, description="heads whose red checks a fixer committed a fix for"
    )
    handled_reviews: list[int] = Field(default_factory=list)
    answered: list[int] = Field(default_factory=list, description="comment ids replied to")
    owed: list[PendingReply] = Field(default_factory=list)
    updated_heads: list[str] = Field(
        default_factory=list, description="heads brought up to date with the base"
    )
    rounds: list[FollowRound] = Field(default_factory=list)
    fixing: bool = Field(default=False, description="a fixer works on the PR's branch now")
    merge: MergeStage = ""
    may_merge: bool = Field(
        default=False, description="the build let this clean PR merge (its dependencies merged)"
    )
    refreshed: list[str] = Field(
        default_factory=list,
        description="merged dependencies the PR was retargeted / brought up to date after",
    )
    unmergeable_heads: list[str] = Field(
        default_factory=list,
        description="heads from before a dependency merged: followed again, never merged",
    )
    declined: str = Field(
        default="", description="why it will not merge by itself: a dependency ended unmerged"
    )
    merge_refusals: int = Field(
        default=0, description="merges GitHub refused (405) while it said clean, in a row"
    )
    held_head: str = Field(
        default="", description="a clean head from before a merge, waiting for update-branch"
    )
    held_polls: int = Field(
        default=0, description="polls that found that head still the PR's (bounded)"
    )
    merge_sha: str | None = None
    polls: int = 0
    requests: int = 0
    not_modified: int = 0
    waiting_for: str = ""
