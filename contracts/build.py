"""BuildWorkflow and SubtaskWorkflow: inputs, per-subtask state, status, results."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.agents import GateOutcome
from contracts.change import PendingChange
from contracts.cleanup import CleanResult
from contracts.config import OrchestratorConfig, ProjectContext
from contracts.follow import FollowRound, FollowState, PullSummary
from contracts.fork import ForkAttemptSpec, ForkState
from contracts.git import ref_name_problem
from contracts.human import MAX_SIGNAL_TEXT, PendingDecision, ToPerson
from contracts.integration import (
    IntegrationOutcome,
    IntegrationRound,
    MergeConflict,
    ReopenRecord,
)
from contracts.metrics import Ledger, Metrics
from contracts.plan import Conflict
from contracts.reset import ReplayState, ResetState
from contracts.sandbox import SandboxConfig

ALL_SUBTASKS_PR_CREATED = "ALL_SUBTASKS_PR_CREATED"
# Every subtask's PR followed until GitHub's mergeable_state was clean (`[forge] follow`).
ALL_SUBTASKS_MERGEABLE = "ALL_SUBTASKS_MERGEABLE"
# Every subtask's PR merged, in dependency order (`[forge] merge = "auto"`).
ALL_SUBTASKS_MERGED = "ALL_SUBTASKS_MERGED"
SUBTASKS_INCOMPLETE = "SUBTASKS_INCOMPLETE"

SubtaskStatus = Literal[
    "pending",
    "in_progress",
    "pr_created",
    "ci_running",
    "ci_failed",
    "changes_requested",
    "mergeable",
    "merged",
    "blocked",
    "skipped",
    "stale",
    "cancelled",
]
# A followed PR's statuses while its loop waits on the forge or fixes what it found.
FOLLOWING: tuple[str, ...] = ("ci_running", "ci_failed", "changes_requested")
# The subtask has its pull request (a dependent may start from its branch) and is done with it.
PR_FINAL: tuple[str, ...] = ("pr_created", "mergeable", "merged")
HAS_PR: tuple[str, ...] = (*PR_FINAL, *FOLLOWING)
# How a review round (a subtask's, or integration's verify round) ends: pass opens the PR,
# fix goes on to the next round, stop ends this run (skipped, blocked or reopened).
RoundVerdict = Literal["pass", "fix", "stop"]


class SuiteCounts(BaseModel):
    """Tests a gate ran, read from its runner's summary (activities/test_counts.py)."""

    runner: str
    unit: Literal["tests", "packages"] = "tests"
    passed: int = 0
    failed: int = 0
    skipped: int = 0


class GateCommand(BaseModel):
    command: str
    exit_code: int | None
    passed: bool
    duration_s: float
    log_path: str
    tail: str = Field(default="", description="last lines of output, for the fixer's issue")
    culprits: list[str] = Field(
        default_factory=list,
        description="smell checks: the subtasks whose own work a finding is in (a file one "
        "promised, a line one's commits wrote)",
    )
    kind: Literal["command", "smell", "lint"] = Field(
        default="command", description="a gate command, a smell check or a linter"
    )
    tests: SuiteCounts | None = Field(
        default=None, description="tests run, passed, failed, skipped (a known test runner)"
    )


class GateRequest(BaseModel):
    workdir: str
    commands: list[str]
    log_dir: str
    timeout_s: float = 900.0
    output_limit: int = 20_000
    setup: list[str] = Field(default_factory=list, description="[gates] setup, once per worktree")
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)


def gate_request(
    config: OrchestratorConfig, workdir: str, commands: list[str], log_dir: str
) -> GateRequest:
    """The gates of one round as `[gates]` and `[sandbox]` configure them."""
    return GateRequest(
        workdir=workdir,
        commands=commands,
        log_dir=log_dir,
        timeout_s=config.gates.timeout_s,
        output_limit=config.gates.output_limit,
        setup=config.gates.setup,
        sandbox=config.sandbox,
    )


class GateResult(BaseModel):
    results: list[GateCommand] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def outcomes(self) -> list[GateOutcome]:
        """The gates as a reviewer is told them: the round's verdicts and where each log is."""
        return [
            GateOutcome(
                command=g.command, passed=g.passed, exit_code=g.exit_code, log_path=g.log_path
            )
            for g in self.results
        ]


class BuildInput(BaseModel):
    """Only `design_dir` is required; everything else defaults from orchestrator.toml.

    Checked as strictly as the file: a misspelt or out-of-range field is refused at the
    start (a negative `max_concurrent_subtasks` used to leave the build idle forever).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    design_dir: str = Field(min_length=1)
    max_concurrent_subtasks: int | None = Field(default=None, ge=1)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, ge=1)
    forge: Literal["github", "none"] | None = None
    base_branch: str | None = None
    notes: str = Field(
        default="",
        max_length=MAX_SIGNAL_TEXT,
        description="the person's notes for this build: given to builders, reviewers, fixers",
    )

    @field_validator("base_branch")
    @classmethod
    def _a_branch(cls, value: str | None) -> str | None:
        problem = ref_name_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"{problem}; name a branch git accepts, e.g. main")
        return value

    state: BuildState | None = None


class SubtaskInput(BaseModel):
    ctx: ProjectContext
    subtask: str
    title: str
    summary: str = ""
    files: list[str] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list, description="the XML's gate commands")
    batch: int
    base_branch: str
    forge: Literal["github", "none"] | None = None
    dependency_branches: list[str] = Field(default_factory=list)
    dependency_prs: dict[str, str] = Field(default_factory=dict)
    merged_dependencies: list[str] = Field(
        default_factory=list, description="dependencies whose PRs had merged when it started"
    )
    threshold: float
    parent_id: str | None = None
    paused: bool = False
    generation: int = Field(default=1, description="bumped when a spec change restarts it")
    rebuild: str | None = Field(default=None, description="an approved spec change to re-derive")
    replaces: str | None = Field(
        default=None,
        description="its branch's remote head a !replay archived: built afresh, pushed over it",
    )
    rebuild_by: Literal["change", "integration"] = Field(
        default="change", description="who reopened it: a spec change, or integration's finding"
    )
    budgeted: bool = Field(
        default=False, description="the build has a budget: report each agent's tokens at once"
    )
    notes: str = Field(default="", description="the build's notes, for every agent")
    fork: ForkAttemptSpec | None = Field(
        default=None, description="an attempt of a `!fork`: its own branch, no pull request"
    )
    state: SubtaskState | None = None


class IntegrationInput(SubtaskInput):
    """The integration step runs like a subtask, over every subtask's branch."""

    feature: str
    merge_order: list[str] = Field(description="subtask names in DAG order")
    promised_files: dict[str, list[str]] = Field(default_factory=dict)
    subtask_prs: dict[str, str] = Field(default_factory=dict)
    reopened: list[str] = Field(
        default_factory=list, description="subtasks integration reopened before, and why"
    )
    earlier_rounds: list[IntegrationRound] = Field(
        default_factory=list, description="rounds of earlier integration runs"
    )
    reopens: list[ReopenRecord] = Field(
        default_factory=list, description="every reopening so far (bounded: max_reopens)"
    )
    state: IntegrationState | None = None


class RoundRecord(BaseModel):
    round: int
    scores: dict[str, float] = Field(default_factory=dict)
    gates_passed: bool = True
    commit: str | None = Field(default=None, description="head reviewed in this round")
    fixer: str | None = None
    fix_commit: str | None = None
    review_paths: list[str] = Field(default_factory=list)


class SubtaskState(BaseModel):
    status: SubtaskStatus = "pending"
    phase: str = "pending"
    round: int = 0
    worktree: str | None = None
    branch: str | None = None
    built: bool = False
    rebuilt: bool = False
    scores: dict[str, float] = Field(default_factory=dict)
    gates: list[GateCommand] = Field(default_factory=list)
    rounds: list[RoundRecord] = Field(default_factory=list)
    best: float = -1.0
    rounds_without_progress: int = 0
    round_cap: int = 0
    decision: PendingDecision | None = None
    pr_url: str | None = None
    pr_number: int | None = None
    pr_repository: str | None = Field(default=None, description="GitHub's owner/name of the PR")
    notes: str = ""
    refused: list[str] = Field(
        default_factory=list,
        description="agent changes refused in the worktree (discarded): configuration, "
        ".gitmodules, nested repositories, files git cannot store",
    )
    ledger: Ledger = Field(default_factory=Ledger)
    paused: bool = False
    budget_hold: bool = Field(default=False, description="the build's budget gate holds")
    failure_hold: bool = Field(default=False, description="the build holds a failure")
    last_stamp: dict[str, str] = Field(default_factory=dict, description="reviewer -> stamp")
    host_queue: str | None = Field(default=None, description="the claimed host's task queue")
    hosts: list[str] = Field(default_factory=list, description="every host queue claimed")
    host_moves: int = Field(default=0, description="hosts lost since a person last decided")
    notice: str = Field(
        default="", description="the last signal refused and why, or `!budget`'s answer"
    )
    skipped_reviewers: dict[str, str] = Field(
        default_factory=dict, description="reviewer -> why a person chose skip-reviewer"
    )
    follow: FollowState | None = Field(
        default=None, description="following the PR on the forge ([forge] follow)"
    )
    patterns_offered: list[str] = Field(
        default_factory=list, description="library patterns offered to its builder"
    )
    patterns_used: list[str] = Field(
        default_factory=list, description="of those, the ones its builder says it used"
    )
    merged_dependencies: list[str] = Field(
        default_factory=list, description="dependencies whose PRs merged (the build says so)"
    )
    passed_commit: str | None = Field(
        default=None, description="a fork's attempt: the head that passed review"
    )


class IntegrationState(SubtaskState):
    """A subtask's state plus what integration keeps for INTEGRATION.md."""

    base: str | None = Field(default=None, description="the base commit integration started on")
    merged: list[str] = Field(default_factory=list, description="branches merged so far")
    conflicts: list[MergeConflict] = Field(default_factory=list)
    resolutions: dict[str, str] = Field(default_factory=dict)
    log: list[IntegrationRound] = Field(default_factory=list)
    integrator_commits: int = Field(default=0, description="reviewers score the integrator's work")
    kept: list[str] = Field(
        default_factory=list,
        description="subtasks a person chose not to reopen in this run (not asked again)",
    )


class SubtaskProgress(BaseModel):
    """Child -> parent signal after every change of state (feeds status and the tracker)."""

    subtask: str
    generation: int = 1
    status: SubtaskStatus
    phase: str
    round: int
    scores: dict[str, float] = Field(default_factory=dict)
    round_scores: list[dict[str, float]] = Field(default_factory=list)
    gates_passed: bool | None = None
    decision: PendingDecision | None = None
    pr_url: str | None = None
    notes: str = ""
    ledger: Ledger = Field(default_factory=Ledger)
    pull: PullSummary | None = None
    patterns_offered: list[str] = Field(default_factory=list)
    patterns_used: list[str] = Field(default_factory=list)
    parent_run: str = Field(
        default="",
        description="the build run that started the reporting child (empty: older children)",
    )
    attempt: str = Field(default="", description="a fork's attempt (A, B): not the subtask's")


class SubtaskResult(BaseModel):
    subtask: str
    status: SubtaskStatus
    passed_commit: str | None = Field(
        default=None, description="a fork's attempt: the head that passed review"
    )
    pr_url: str | None = None
    pr_number: int | None = None
    rounds: int = 0
    scores: dict[str, float] = Field(default_factory=dict)
    notes: str = ""
    ledger: Ledger = Field(default_factory=Ledger)
    reopen: str | None = Field(
        default=None, description="integration: the subtask to reopen on its branch"
    )
    reopen_reason: str = ""
    reopen_record: ReopenRecord | None = None
    integration_rounds: list[IntegrationRound] = Field(
        default_factory=list, description="integration: its rounds, for INTEGRATION.md"
    )
    follow_rounds: list[FollowRound] = Field(
        default_factory=list, description="CI and review rounds on the PR, for REPORT.md"
    )


class SubtaskView(BaseModel):
    name: str
    kind: Literal["subtask", "integration"] = "subtask"
    batch: int
    dependencies: list[str]
    generation: int = 1
    status: SubtaskStatus = "pending"
    phase: str = "pending"
    round: int = 0
    scores: dict[str, float] = Field(default_factory=dict)
    round_scores: list[dict[str, float]] = Field(
        default_factory=list, description="scores of every completed review round"
    )
    gates_passed: bool | None = None
    decision: PendingDecision | None = None
    pr_url: str | None = None
    notes: str = ""
    ledger: Ledger = Field(default_factory=Ledger)
    pull: PullSummary | None = Field(
        default=None, description="a followed PR: checks, reviews, what it waits for"
    )
    follow_rounds: list[FollowRound] = Field(
        default_factory=list, description="CI and review rounds on the PR, for REPORT.md"
    )
    patterns_offered: list[str] = Field(
        default_factory=list, description="library patterns offered to its builder"
    )
    patterns_used: list[str] = Field(
        default_factory=list, description="of those, the ones its builder says it used"
    )


class BuildState(ToPerson):
    subtasks: dict[str, SubtaskView] = Field(default_factory=dict)
    paused: bool = False
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    budget_hold: bool = False
    stopped: bool = False
    started_at: str | None = None
    max_running: int = 0
    change: PendingChange | None = None
    changes: int = 0
    reset: ResetState | None = Field(default=None, description="a !reset asked or under way")
    resets: list[str] = Field(default_factory=list, description="each reset: when, what it kept")
    replay: ReplayState | None = Field(default=None, description="a !replay under way")
    replays: list[str] = Field(default_factory=list, description="each replay: from, what it kept")
    finished: list[str] = Field(
        default_factory=list,
        description="subtasks with their PR, in the order they got it (!replay's checkpoints)",
    )
    replaced: dict[str, str] = Field(
        default_factory=dict,
        description="subtask -> its branch's remote head a !replay archived (pushed over)",
    )
    rebuild: dict[str, str] = Field(default_factory=dict, description="subtask -> change text")
    rebuild_by: dict[str, str] = Field(
        default_factory=dict, description="subtask -> who reopened it (absent: a spec change)"
    )
    reopened: list[str] = Field(
        default_factory=list, description="'subtask: why' for each reopening by integration"
    )
    reopens: list[ReopenRecord] = Field(default_factory=list, description="the same, with checks")
    integration_rounds: list[IntegrationRound] = Field(
        default_factory=list, description="earlier integration runs' rounds"
    )
    ledger: Ledger = Field(default_factory=Ledger, description="the build's own agents")
    file_conflicts: list[Conflict] = Field(
        default_factory=list, description="subtasks of one stage changing the same file"
    )
    conflict_decision: PendingDecision | None = Field(
        default=None, description="asked before anything starts: continue / serialize / stop"
    )
    conflict_choice: str | None = None
    serialized: dict[str, list[str]] = Field(
        default_factory=dict, description="subtask -> the conflicting ones it now waits for"
    )
    stop_reason: str = Field(default="", description="why the build stopped early")
    failure_hold: bool = Field(default=False, description="children told to start nothing new")
    merge_turn: str | None = Field(
        default=None, description='merge = "auto": the subtask whose PR may merge now'
    )
    merge_told: dict[str, list[str]] = Field(
        default_factory=dict, description="subtask -> its merged dependencies it was told of"
    )
    merge_declined: dict[str, str] = Field(
        default_factory=dict,
        description="subtask -> why it may not merge by itself (told once per run)",
    )
    children: dict[str, str] = Field(
        default_factory=dict,
        description="subtask -> the newest known run id of its running child, which outlives "
        "this run: the run after a continue-as-new follows it to its result",
    )
    forks: dict[str, ForkState] = Field(
        default_factory=dict, description="subtask -> its `!fork` (kept once merged)"
    )


class BuildStatus(BaseModel):
    workflow: Literal["build"] = "build"
    feature: str
    phase: str
    paused: bool
    waiting_for: str
    subtasks: list[SubtaskView]
    running: list[str]
    cost_usd: float
    tokens: int
    max_cost_usd: float | None
    max_tokens: int | None
    budget_tokens: int = Field(
        default=0, description="tokens as max_tokens counts them (cache weighed by price)"
    )
    change: PendingChange | None = None
    decisions: list[PendingDecision] = Field(
        default_factory=list,
        description="failure holds: the build's own, one per cause across subtasks",
    )
    stop_reason: str = ""
    notice: str = ""
    hint: str = Field(default="", description="the gate hint for what a person last said (`say`)")
    notes: str = Field(default="", description="the notes the build was started with")
    file_conflicts: list[Conflict] = Field(default_factory=list)
    conflict_choice: str | None = Field(
        default=None, description="continue / serialize / stop, once a person chose"
    )
    reset: ResetState | None = Field(default=None, description="a !reset asked or under way")
    resets: list[str] = Field(default_factory=list, description="each reset: when, what it kept")
    replay: ReplayState | None = Field(default=None, description="a !replay under way")
    replays: list[str] = Field(default_factory=list, description="each replay: from, what it kept")
    finished: list[str] = Field(
        default_factory=list, description="subtasks in the order they got their PRs"
    )
    forks: list[ForkState] = Field(default_factory=list, description="each `!fork` and its pick")
    retrying: list[str] = Field(
        default_factory=list,
        description="steps the server is retrying, with their last failure (read by the CLI "
        "from the pending activities; the workflow never sees a retry in progress)",
    )


class BuildResult(BaseModel):
    result: str
    feature: str
    subtasks: list[SubtaskResult]
    report_path: str | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    max_running: int = 0
    stop_reason: str = Field(default="", description="why the build ended early, if it did")
    integration: IntegrationOutcome | None = Field(
        default=None, description="the feature as a whole (None: integration is disabled)"
    )
    cleanup: CleanResult | None = Field(
        default=None, description="worktrees removed at the end, and those kept (and why)"
    )


BuildInput.model_rebuild()
SubtaskInput.model_rebuild()
IntegrationInput.model_rebuild()


class BuildReport(BaseModel):
    """Input of `build.write_report`: the final report beside the reviews."""

    path: str
    feature: str
    result: str
    subtasks: list[SubtaskResult]
    metrics: Metrics
    stop_reason: str = ""
    integration: IntegrationOutcome | None = None
    notes: str = ""
    cleanup: CleanResult | None = None


class ReviewPass(BaseModel):
    """The head that passed review and gates; a restarted build resumes from it."""

    subtask: str
    commit: str
    scores: dict[str, float] = Field(default_factory=dict)
    rounds: int = 0
    review_paths: list[str] = Field(default_factory=list)


class ReviewPassRequest(BaseModel):
    """Find (or, with `record`, write) the review pass of a subtask's branch head."""

    design_dir: str
    subtask: str
    worktree: str
    record: ReviewPass | None = None
