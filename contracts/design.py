"""DesignReviewWorkflow's input, state, status and result."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.human import PendingDecision, ToPerson, TrackedQuestion
from contracts.metrics import Ledger

DESIGN_DOC_APPROVED = "DESIGN_DOC_APPROVED"
DESIGN_STOPPED = "DESIGN_STOPPED"
CONSISTENCY = "consistency"

Phase = Literal[
    "starting",
    "splitting",
    "consistency-review",
    "individual-review",
    "questions",
    "awaiting-approval",
    "revising",
    "artifacts",
    "approved",
    "cancelled",
]


class DesignInput(BaseModel):
    """Only `design_dir` is required; everything else defaults from orchestrator.toml.

    Checked as strictly as the file: a misspelt or out-of-range field is refused at the
    start, not run with (a negative `max_parallel_reviews` used to wedge the loop).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    design_dir: str = Field(min_length=1)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    reviewers: list[Annotated[str, Field(min_length=1)]] | None = None
    max_parallel_reviews: int | None = Field(default=None, ge=1)
    max_rounds: int | None = Field(default=None, ge=1)
    stuck_rounds: int | None = Field(default=None, ge=1)
    state: DesignState | None = Field(default=None, description="carried over by continue-as-new")


class ScopeState(BaseModel):
    """One reviewed scope: `consistency` (the whole set) or a subplan name."""

    name: str
    round: int = 0
    state: Literal[
        "pending", "reviewing", "revising", "passed", "accepted", "stuck", "waiting", "skipped"
    ] = "pending"
    scores: dict[str, float] = Field(default_factory=dict, description="latest, per reviewer")
    history: list[float] = Field(default_factory=list, description="lowest score per round")
    round_scores: list[dict[str, float]] = Field(
        default_factory=list, description="every reviewer's score, per completed round"
    )
    best: float = 0.0
    rounds_without_progress: int = 0
    threshold: float | None = Field(default=None, description="lowered by `accept`")
    review_paths: list[str] = Field(default_factory=list)
    notes: str = Field(default="", description="why it was skipped, or how it was drafted")

    @property
    def lowest(self) -> float:
        return min(self.scores.values()) if self.scores else 0.0


class DesignState(ToPerson):
    """Everything the workflow knows; enough to continue as new from a round boundary."""

    phase: Phase = "starting"
    scopes: dict[str, ScopeState] = Field(default_factory=dict)
    questions: list[TrackedQuestion] = Field(default_factory=list)
    decisions: list[PendingDecision] = Field(default_factory=list)
    approved: bool = False
    feedback: list[str] = Field(default_factory=list, description="request_changes not yet applied")
    applied_feedback: list[str] = Field(default_factory=list)
    answers_applied: list[str] = Field(default_factory=list)
    ledger: Ledger = Field(default_factory=Ledger)
    paused: bool = False
    reviews_cycle: int = 1
    artifacts: list[str] = Field(default_factory=list)
    started_at: str | None = None
    last_stamp: dict[str, str] = Field(default_factory=dict, description="scope/reviewer -> stamp")
    stop_reason: str = ""
    written: list[str] = Field(
        default_factory=list, description="files the loop wrote since its last commit"
    )


class DesignStatus(BaseModel):
    workflow: Literal["design"] = "design"
    feature: str
    phase: Phase
    paused: bool
    waiting_for: str
    threshold: float
    scopes: list[ScopeState]
    open_questions: list[TrackedQuestion]
    answered_questions: list[TrackedQuestion]
    decisions: list[PendingDecision]
    cost_usd: float
    tokens: int
    notice: str = ""
    hint: str = Field(default="", description="the gate hint for what a person last said (`say`)")
    retrying: list[str] = Field(
        default_factory=list,
        description="steps the server is retrying, with their last failure (read by the CLI "
        "from the pending activities; the workflow never sees a retry in progress)",
    )


class DesignResult(BaseModel):
    result: str = DESIGN_DOC_APPROVED
    feature: str
    rounds: dict[str, int]
    final_scores: dict[str, dict[str, float]]
    questions: list[TrackedQuestion]
    subtasks: list[str]
    artifacts: list[str]
    commit: str | None
    tokens: int
    cost_usd: float
    stop_reason: str = ""


DesignInput.model_rebuild()


class AnswersFile(BaseModel):
    """Input of `design.write_answers`: the questions and how each was settled."""

    path: str
    feature: str
    questions: list[TrackedQuestion]
