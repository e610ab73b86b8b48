"""The integration step: every subtask branch merged into one and verified as a whole.

Seed 003 ends its loop by merging every worktree, verifying the tests after the
merge and running smell checks; these are the inputs and results of those steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, Field

from contracts.follow import FollowRound
from contracts.sandbox import SandboxConfig

INTEGRATION = "integration"  # the tracker row, the child workflow's suffix, the worktree name
IntegrationStatus = Literal["passed", "failed", "skipped"]


def integration_branch(feature: str) -> str:
    return f"integration/{feature}"


class IntegrateRequest(BaseModel):
    """Merge `branches`, in this order, into the integration worktree's branch."""

    worktree: str
    branch: str
    base_branch: str
    branches: list[str]
    remote: str | None = "origin"
    token_hosts: list[str] = Field(default_factory=list)


class MergeConflict(BaseModel):
    branch: str = Field(description="the subtask branch whose merge conflicted")
    files: list[str]
    commit: str = Field(description="the merge commit, conflict markers included")


class IntegrateResult(BaseModel):
    head: str
    base: str = Field(description="where the integration branch left the base branch")
    merged: list[str] = Field(default_factory=list, description="merged by this call")
    # Set when a merge conflicted: it is committed with its markers (so the state is
    # durable and any host can continue), and the branches after it are not merged yet.
    conflict: MergeConflict | None = None
    ahead: int | None = Field(
        default=None,
        description="commits of the integration branch that the base lacks (None: not counted)",
    )


class OwnWorkRequest(BaseModel):
    """Does the verified integration branch hold anything the base does not (a PR to open)?"""

    worktree: str
    branch: str
    base_branch: str
    remote: str | None = "origin"
    token_hosts: list[str] = Field(default_factory=list)


class OwnWork(BaseModel):
    """The integration branch against the base as the remote has it now. With nothing of its
    own, a copy of the branch the remote holds is deleted when it holds nothing the base
    lacks either (the orchestrator pushed it; nothing is lost), else left and named."""

    ahead: int = Field(description="commits of the integration head that the base lacks")
    base: str = Field(description="the base commit counted against")
    removed: bool = Field(default=False, description="the remote's branch was deleted")
    left: str | None = Field(
        default=None, description="the remote branch's tip, left: it holds commits the base lacks"
    )


class SmellRequest(BaseModel):
    """Seed 003's smell checks over what the feature changed (base..HEAD)."""

    worktree: str
    base: str
    bases: list[str] = Field(
        default_factory=list,
        description="more branches whose work is not this work's (a subtask's dependencies)",
    )
    promised_files: dict[str, list[str]] = Field(
        default_factory=dict, description="subtask -> the files its XML names"
    )
    branches: dict[str, str] = Field(
        default_factory=dict,
        description="subtask -> its branch, in DAG order: a finding is attributed to the first "
        "whose branch holds the commit that wrote it",
    )
    log_dir: str
    timeout_s: float = 900.0
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)


class SmellFinding(BaseModel):
    check: str
    path: str
    line: int | None = None
    message: str
    subtask: str | None = Field(default=None, description="the subtask whose own work it is in")


# Who named the subtask at fault: a check (a file it promised, a line it wrote), the
# integrator agent, or a person answering `reopen:<subtask>`.
ReopenBy = Literal["checks", "integrator", "person"]
CONTINUE: Final = "continue"
SKIP: Final = "skip"
REOPEN_PREFIX = "reopen:"


@dataclass(frozen=True)
class Reopen:
    """A person's `reopen:<subtask>`, parsed once where it arrives."""

    subtask: str


def integration_options(merge_order: list[str]) -> list[str]:
    """What integration's prompts offer: continue, skip, or reopen one of the subtasks."""
    return [CONTINUE, SKIP, *(f"{REOPEN_PREFIX}{n}" for n in merge_order)]


def integration_choice(choice: str) -> Literal["continue", "skip"] | Reopen:
    """An answer to integration's prompts: `skip`, `reopen:<subtask>`, else continue."""
    if choice == SKIP:
        return SKIP
    if choice.startswith(REOPEN_PREFIX):
        return Reopen(choice[len(REOPEN_PREFIX) :])
    return CONTINUE


class ReopenRecord(BaseModel):
    """One reopening of a subtask by integration: the same check failing again after it asks
    a person instead of reopening once more."""

    subtask: str
    why: str
    checks: list[str] = Field(default_factory=list, description="the checks that failed")
    by: ReopenBy = "integrator"


class IntegrationOutcome(BaseModel):
    """What the build's result says about integration."""

    status: IntegrationStatus
    reason: str = ""
    branch: str | None = None
    pr_url: str | None = None
    rounds: int = 0
    pr_status: str = Field(
        default="",
        description="its PR as following left it ([forge] follow): mergeable, merged, or "
        "pr_created (not followed to the end); empty when not followed",
    )


class IntegrationRound(BaseModel):
    round: int
    run: int = Field(default=1, description="integration runs again after a reopened subtask")
    gates: dict[str, bool] = Field(default_factory=dict, description="command -> passed")
    scores: dict[str, float] = Field(default_factory=dict)
    fixer_summary: str = ""
    culprit: str | None = None
    culprit_by: str = Field(default="integrator", description="who named it: checks, integrator")


class IntegrationReport(BaseModel):
    """Input of `integration.write_report`: build-reviews/INTEGRATION.md."""

    path: str
    feature: str
    branch: str
    base_branch: str
    merge_order: list[str]
    conflicts: list[MergeConflict] = Field(default_factory=list)
    resolutions: dict[str, str] = Field(
        default_factory=dict, description="conflicted branch -> how the integrator resolved it"
    )
    rounds: list[IntegrationRound] = Field(default_factory=list)
    reopened: list[str] = Field(default_factory=list, description="subtask: why")
    outcome: IntegrationOutcome
    subtask_prs: dict[str, str] = Field(default_factory=dict)
    follow_rounds: list[FollowRound] = Field(
        default_factory=list, description="CI and review rounds on the integration PR"
    )
