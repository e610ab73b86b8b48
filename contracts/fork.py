"""Seed 004's `!fork` / `!merge` inside a build: two attempts at one subtask, then a pick.

A fork runs two isolated attempts (`fork/<name>-A`, `fork/<name>-B`) of one subtask,
each reviewed and gated like any subtask, compares them in
`build-reviews/<subtask>/FORK-<name>.md` and holds until a person sends `!merge A|B`
(or `[fork] pick = "best"` picks). The winner becomes `feat/<subtask>`; the loser is
kept as `archive/fork/<name>-<X>-<time>`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from contracts.git import subtask_slug_problem
from contracts.human import PendingDecision
from contracts.metrics import Ledger

Attempt = Literal["A", "B"]
ATTEMPTS: tuple[Attempt, Attempt] = ("A", "B")
FORK_PREFIX = "fork/"
MAX_APPROACH = 4_000  # kept in state and history: a paragraph, not a document


def fork_branch(name: str, attempt: str) -> str:
    return f"{FORK_PREFIX}{name}-{attempt}"


def attempt_scope(subtask: str, attempt: str) -> str:
    """How an attempt's agents, progress and decisions are named: `<subtask>@A`."""
    return f"{subtask}@{attempt}"


def report_name(name: str) -> str:
    return f"FORK-{name}.md"


class ForkRequest(BaseModel):
    """`!fork`'s input: the subtask, the fork's name (default: the subtask), and what a
    person wants each attempt to try (given to its builder as their instruction)."""

    subtask: str
    name: str | None = None
    approaches: dict[Attempt, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _a_slug(cls, value: str | None) -> str | None:
        if value is not None and (problem := subtask_slug_problem(value)):
            raise ValueError(
                f"the fork's name {value!r}: {problem}. Fix: name it with lowercase letters, "
                "digits, '.', '_' or '-' (it becomes the branches fork/<name>-A and -B)"
            )
        return value

    @field_validator("approaches")
    @classmethod
    def _short(cls, value: dict[Attempt, str]) -> dict[Attempt, str]:
        for attempt, text in value.items():
            if len(text) > MAX_APPROACH:
                raise ValueError(
                    f"approach {attempt} has {len(text)} characters. Fix: say it in at most "
                    f"{MAX_APPROACH}; point to a file in the design directory for more"
                )
        return {k: v.strip() for k, v in value.items()}


def parse_fork(text: str) -> ForkRequest:
    """`<subtask> [name]` (the `command` line's text); approaches need the JSON form."""
    parts = text.split()
    if not 1 <= len(parts) <= 2:
        raise ValueError(
            "!fork names one subtask and optionally the fork's name. Fix: send "
            "`!fork <subtask> [name]`, e.g. `!fork 02-parser parser-choice`; for approaches "
            "use `orchestrator fork <dir> <subtask> --approach A '...' --approach B '...'`"
        )
    return ForkRequest(subtask=parts[0], name=parts[1] if len(parts) > 1 else None)


class ForkAttemptSpec(BaseModel):
    """What makes a SubtaskWorkflow an attempt: its branch and worktree, its reviews'
    folder, its person's approach, and no pull request."""

    name: str
    attempt: Attempt
    approach: str = ""

    @property
    def branch(self) -> str:
        return fork_branch(self.name, self.attempt)

    @property
    def worktree_key(self) -> str:
        """`.worktrees/<key>`: a slug beside the subtasks' own worktrees."""
        return f"fork-{self.name}-{self.attempt.lower()}"

    @property
    def reviews_folder(self) -> str:
        """Under `build-reviews/<subtask>/`: the attempt's reviews and gate logs."""
        return f"fork-{self.name}-{self.attempt}"


ForkStatus = Literal["asked", "cancelling", "running", "deciding", "merging", "merged"]


class AttemptView(BaseModel):
    """One attempt as the build keeps it (progress while it runs, its result after)."""

    attempt: Attempt
    approach: str = ""
    branch: str
    status: str = "pending"
    phase: str = "pending"
    round: int = 0
    scores: dict[str, float] = Field(default_factory=dict)
    gates_passed: bool | None = None
    passed: bool = False
    passed_commit: str | None = None
    review_paths: list[str] = Field(default_factory=list)
    notes: str = ""
    decision: PendingDecision | None = None
    ledger: Ledger = Field(default_factory=Ledger)
    started_at: str | None = None
    ended_at: str | None = None


class ForkState(BaseModel):
    subtask: str
    name: str
    status: ForkStatus = "asked"
    asked_at: str
    attempts: dict[str, AttemptView] = Field(default_factory=dict)
    report_path: str | None = None
    winner: Attempt | None = None
    picked_by: Literal["person", "best"] | None = None
    archived: list[str] = Field(default_factory=list, description="the loser's archive branch")
    notes: str = Field(default="", description="how the merge went: what was kept, and why")
    spent_before: Ledger = Field(
        default_factory=Ledger, description="what the subtask's cancelled child had spent"
    )


class AttemptReport(BaseModel):
    attempt: Attempt
    branch: str
    approach: str = ""
    passed: bool
    status: str
    rounds: int
    scores: dict[str, float] = Field(default_factory=dict)
    gates_passed: bool | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    notes: str = ""


class ForkReportRequest(BaseModel):
    """Input of `build.write_fork_report`; diff sizes are measured by the activity."""

    repo_root: str
    path: str
    subtask: str
    name: str
    base_refs: list[str] = Field(description="what each attempt started from: base, deps")
    attempts: list[AttemptReport]
    threshold: float
    recommended: Attempt | None = None


class DiffSize(BaseModel):
    files: int = 0
    insertions: int = 0
    deletions: int = 0


class ForkReportResult(BaseModel):
    path: str
    diffs: dict[str, DiffSize] = Field(default_factory=dict)


class AdoptRecordsRequest(BaseModel):
    """The winner's records named `names` (its Migration Risk Report) copied from its
    reviews' folder `source` into the subtask's, `target`: the subtask's from now on."""

    source: str
    target: str
    names: list[str]


class PromoteRequest(BaseModel):
    """Make `source`'s tip the subtask's branch `target` (locally and on the remote),
    then remove `source`'s worktree and `source` itself (here and on the remote) where
    it is still the promoted commit; `target` had better be archived first."""

    repo_root: str
    source: str
    source_worktree: str
    target: str
    remote: str | None = "origin"
    token_hosts: list[str] = Field(default_factory=list)


class PromoteResult(BaseModel):
    target: str
    head: str
    source_kept: str = Field(default="", description="what of `source` was kept, and why")
