"""Inputs and results of agent activities.

Only small values cross the workflow boundary: paths, scores, issues and
usage. Review texts and transcripts stay on disk beside the work.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from contracts.sandbox import SandboxConfig


class Severity(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class Fixer(StrEnum):
    """Which role repairs what a review found (seed 002's fixer choice)."""

    builder = "builder"  # missing implementation
    fixer = "fixer"  # bugs, failing tests and gates
    performance_fixer = "performance-fixer"  # performance issues
    writer = "design-writer"  # design documents


class ReviewIssue(BaseModel):
    severity: Severity
    description: str
    location: str | None = Field(default=None, description="file:line when known")
    quote: str = Field(default="", description="the line(s) at location, as the reviewer quoted")
    failure: str = Field(default="", description="a case where it goes wrong")
    verified: bool = Field(
        default=True,
        description="False: a reviewer's finding whose quote is not in the file it names; it "
        "does not count toward the score (issues made by code are verified by nature)",
    )

    @property
    def blocking(self) -> bool:
        """What a fixer is given and what holds a pull request: verified, above low."""
        return self.verified and self.severity != Severity.low


class HumanQuestion(BaseModel):
    """A reviewer's question for the person; options are the multiple choices."""

    id: str = Field(description="Q1, Q2, ... unique within one review")
    text: str
    options: list[str] = Field(min_length=2, description="choices, shown as A), B), ...")


CACHE_WRITE_WEIGHT = 1.25
CACHE_READ_WEIGHT = 0.1


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0
    requests: int = 0
    duration_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    @property
    def weighted_tokens(self) -> int:
        """Tokens as a token cap counts them: cache writes and reads weighed by their price
        relative to plain input (Anthropic's prompt-caching pricing: a 5-minute cache write
        costs 1.25x input, a cache read 0.1x), so a long but mostly cached run is not
        stopped as if every token were new."""
        return round(
            self.input_tokens
            + self.output_tokens
            + CACHE_WRITE_WEIGHT * self.cache_creation_input_tokens
            + CACHE_READ_WEIGHT * self.cache_read_input_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
            requests=self.requests + other.requests,
            duration_s=round(self.duration_s + other.duration_s, 3),
        )


class AgentSettings(BaseModel):
    """Per-run agent knobs resolved from orchestrator.toml by the workflow's config step."""

    model: str | None = Field(
        default=None, description="overrides the role file's model ([models.roles] <role>)"
    )
    default_model: str | None = Field(
        default=None, description="used when the role file names no model ([models] default)"
    )
    max_turns: int = 40
    max_tokens_per_turn: int = 8000
    # The largest max_tokens the model accepts: a turn cut off at max_tokens is asked again
    # with twice the limit, up to this (32,000 fits every current Claude model).
    max_tokens_limit: int = 32_000
    max_total_tokens: int = 2_000_000
    command_timeout_s: float = 300.0
    command_output_limit: int = 20_000
    # A tool output longer than this (characters) is clipped in the conversation and kept
    # whole in a file the model pages through with read_file.
    tool_result_limit: int = 16_000
    context_windows: dict[str, int] = Field(
        default_factory=dict,
        description="model (or name prefix) -> context window in tokens; built-in: 200,000",
    )
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    request_timeout_s: float = 600.0  # one Messages API request; a hang ends as a retryable error
    agents_dir: str = ".orchestrator/agents"
    config_commit: str | None = Field(
        default=None,
        description="the commit roles are read from (the one the loop started from); None: "
        "the main checkout's HEAD at the call. Never a worktree an agent writes",
    )
    prices: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="model -> {input, output, cache_write, cache_read} USD per million tokens",
    )


class AgentCall(BaseModel):
    """What every agent activity needs: who, where, on what, in which round.

    `workdir` is the directory the agent's tools are confined to (the repository
    root for design work, the subtask's worktree for build work). All other
    paths are relative to it.
    """

    role: str
    scope: str = Field(description="what is worked on: 'consistency', '02-parser', ...")
    round: int = 1
    workdir: str
    focus_paths: list[str] = Field(default_factory=list, description="files to read first")
    instructions: str = Field(default="", description="short task text from the workflow")
    spec_path: str = Field(
        default="",
        description="the subtask's XML (relative to workdir): its steps, criteria and files "
        "are put in the first message",
    )
    gate_commands: list[str] = Field(
        default_factory=list,
        description="every gate command the work must pass (the subtask's and [gates]')",
    )
    transcript_path: str = Field(description="where the resumable transcript is kept")
    settings: AgentSettings = Field(default_factory=AgentSettings)
    token_log: str = Field(
        default="",
        description="the loop's token log (absolute: <design dir>/telemetry/token_log.jsonl): "
        "a row per model turn; empty: none",
    )


class GateOutcome(BaseModel):
    """One gate of the round, as a reviewer is told it (its log is readable by path)."""

    command: str
    passed: bool
    exit_code: int | None = None
    log_path: str = ""


class ReviewRequest(AgentCall):
    review_path: str = Field(description="where the review file is written (relative to workdir)")
    title: str = Field(description="'# Review: <title>'")
    threshold: float = Field(
        default=0.96, ge=0.0, le=1.0, description="the loop's bar: the top score band starts here"
    )
    head: str = Field(default="", description="the commit reviewed (set with diff_base_refs)")
    diff_base_refs: list[str] = Field(
        default_factory=list,
        description="branches whose commits are not the subtask's own work (base, dependencies): "
        "the review range starts where its own commits do",
    )
    gates: list[GateOutcome] = Field(
        default_factory=list, description="the round's gates, run before the review"
    )
    reuse: bool = Field(
        default=False,
        description="return the earlier review of identical input (role, model, prompt, scope, "
        "title, instructions, focus files' bytes) if its file still exists, without the model",
    )
    remember: bool = Field(
        default=False,
        description="keep this review for a later `reuse` (the latest review of the same input "
        "wins), without looking one up now",
    )


class ReviewResult(BaseModel):
    role: str
    scope: str
    round: int
    score: float
    issues: list[ReviewIssue] = Field(default_factory=list)
    questions: list[HumanQuestion] = Field(default_factory=list)
    recommended_fixer: Fixer | None = None
    review_path: str
    usage: Usage = Field(default_factory=Usage)


class EditRequest(AgentCall):
    """Writers, builders and fixers. They see issues and review paths, never scores."""

    issues: list[ReviewIssue] = Field(default_factory=list)
    review_paths: list[str] = Field(default_factory=list)
    commit_message: str = Field(description="first line of the commit the activity makes")
    commit: bool = True
    write_scope: list[str] = Field(
        default_factory=list,
        description="directories (relative to workdir) the agent may write under, e.g. the "
        "design directory for a design writer; empty: anywhere in the workdir",
    )
    culprits: list[str] = Field(
        default_factory=list,
        description="integration: the subtasks a failure may be attributed to (`culprit`)",
    )
    patterns_offered: list[str] = Field(
        default_factory=list,
        description="builder: the library's patterns offered (PATTERN-NNN, best first); it "
        "says which it used",
    )
    patterns_path: str = Field(
        default="",
        description="the offered patterns as quoted (absolute): put in the first message as "
        "reference material, never as instructions",
    )


class EditResult(BaseModel):
    role: str
    scope: str
    round: int
    files_changed: list[str] = Field(default_factory=list)
    summary: str = ""
    commit: str | None = None
    usage: Usage = Field(default_factory=Usage)
    culprit: str | None = Field(default=None, description="integration: the subtask to reopen")
    culprit_reason: str = ""
    patterns_used: list[str] = Field(
        default_factory=list, description="builder: the offered patterns it says it drew on"
    )
    refused: list[str] = Field(
        default_factory=list,
        description="changes the orchestrator refuses, discarded from the worktree and never "
        "committed: its configuration (.orchestrator/, orchestrator.toml) as paths; "
        "`path (why)` for .gitmodules, nested repositories and files git cannot store",
    )


class QuestionAnswer(BaseModel):
    id: str
    answered: bool = Field(description="true only when the codebase settles the question")
    choice: str | None = Field(default=None, description="the chosen option's letter, e.g. 'B'")
    reasoning: str = ""


class AnswerRequest(AgentCall):
    questions: list[HumanQuestion]


class AnswerResult(BaseModel):
    answers: list[QuestionAnswer]
    usage: Usage = Field(default_factory=Usage)
    note: str = Field(default="", description="set when the answerer's output was unusable")


class SubtaskDraftRequest(AgentCall):
    """Fill the XML subtask model from a subplan; the activity writes the file."""

    subplan_path: str
    xml_path: str
    draft: dict[str, Any] | None = Field(
        default=None, description="a starting SubtaskSpec (JSON) parsed from the subplan, if any"
    )


class SubtaskDraftResult(BaseModel):
    xml_path: str
    usage: Usage = Field(default_factory=Usage)
    note: str = Field(
        default="",
        description="set when the drafter's output was unusable and the deterministic draft "
        "from the subplan was written instead: why",
    )


class TouchedSubtask(BaseModel):
    """One subtask a spec change reaches, and what in it moves."""

    subtask: str
    reason: str
    files: list[str] = Field(default_factory=list)
    contracts: list[str] = Field(default_factory=list, description="interfaces/types that change")
    tests: list[str] = Field(default_factory=list, description="tests to add or revisit")


ChangeScope = Literal["Small", "Medium", "Large"]


class ChangeAnalysis(BaseModel):
    """The change-analyst's blast-radius report (seed 004's `!change`)."""

    touched: list[TouchedSubtask] = Field(default_factory=list)
    scope: ChangeScope
    summary: str


class ChangeRequest(AgentCall):
    """Name the subtasks a spec change touches; the plan itself is never changed here."""

    description: str = Field(description="the change as the person typed it")
    design_dir: str = Field(description="the design directory, relative to workdir")
    subtasks: list[str] = Field(default_factory=list, description="names of the existing subtasks")


class ChangeAnalysisResult(BaseModel):
    touched: list[TouchedSubtask] = Field(default_factory=list)
    scope: ChangeScope
    summary: str = ""
    usage: Usage = Field(default_factory=Usage)
