"""Plan contracts: the parsed design directory, the dependency plan and the plan activity I/O.

Pure data (no I/O) so workflows, activities and the CLI share one vocabulary.
`PlanError` lives here too: every layer raises or translates the same error, and its
message always names the file, the problem and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from contracts.names import MAX_NAME

# Subtask names become branch names (`feat/<name>`) and paths, so they are slugs.
SLUG_RE = re.compile(r"^[0-9a-z][0-9a-z._-]*$")

# Seed 000: a subplan must stay under 20K tokens; we estimate 4 characters per token.
MAX_SUBPLAN_TOKENS = 20_000
# Seed 000: a subplan represents 1-2 days of work at most.
MAX_SUBPLAN_HOURS = 16.0
# Critical-path weight of a subtask that does not declare its estimate.
DEFAULT_HOURS = 1.0


def slug_problem(name: str) -> str | None:
    """Why `name` is not a safe subtask name, or None when it is one."""
    if not name:
        return "subtask name is empty"
    if ".." in name:
        return f"subtask name {name!r} contains '..'"
    if not SLUG_RE.match(name):
        return (
            f"subtask name {name!r} is not a slug (only lower-case letters, digits, '.', '_', '-',"
            " starting with a letter or digit)"
        )
    # git refuses such ref components, and the name becomes the branch `feat/<name>`.
    if name.endswith(".") or name.endswith(".lock"):
        return f"subtask name {name!r} cannot end with '.' or '.lock' (it becomes a git branch)"
    return None


def suggest_slug(name: str) -> str:
    """A slug close to `name`, offered in fix messages."""
    slug = re.sub(r"[^0-9a-z._-]+", "-", name.lower())
    slug = re.sub(r"\.{2,}", ".", slug)
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    if slug.endswith(".lock"):
        slug = slug[: -len(".lock")]
    return slug[:MAX_NAME].rstrip("-._") or "01-subtask"


class PlanIssue(BaseModel):
    """One problem found in a design directory."""

    model_config = ConfigDict(frozen=True)

    file: str
    problem: str
    fix: str

    def line(self) -> str:
        return f"{self.file}: {self.problem.rstrip('.')}. Fix: {self.fix.rstrip('.')}."


class PlanError(Exception):
    """A design directory (or subtask XML) the plan cannot be built from.

    Carries every issue found in one pass, so a person fixes them all at once; `file`,
    `problem` and `fix` are those of the first issue.
    """

    def __init__(self, file: str, problem: str, fix: str) -> None:
        self.issues: list[PlanIssue] = [PlanIssue(file=file, problem=problem, fix=fix)]
        super().__init__(self._message())

    @classmethod
    def from_issues(cls, issues: Iterable[PlanIssue]) -> PlanError:
        issues = list(issues)
        if not issues:
            raise ValueError("PlanError needs at least one issue")
        err = cls(issues[0].file, issues[0].problem, issues[0].fix)
        err.issues = issues
        err.args = (err._message(),)
        return err

    @property
    def file(self) -> str:
        return self.issues[0].file

    @property
    def problem(self) -> str:
        return self.issues[0].problem

    @property
    def fix(self) -> str:
        return self.issues[0].fix

    def _message(self) -> str:
        return "\n".join(issue.line() for issue in self.issues)

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self) -> tuple[object, ...]:
        # Keep every issue when the error crosses a process boundary (pickle).
        return (PlanError.from_issues, (self.issues,))


class SubplanMeta(BaseModel):
    """What the plan and the subtask seed need from one `subplans/NN-name.md`."""

    name: str
    title: str
    path: str = Field(description="path of the subplan relative to the design directory")
    goal: str = ""
    dependencies: list[str] = Field(default_factory=list)
    files_modified: list[str] = Field(default_factory=list)
    estimated_hours: float | None = None
    complexity: str | None = None
    implementation_steps: list[str] = Field(default_factory=list)
    acceptance_criteria: list[str] = Field(default_factory=list)
    validation_gates: list[str] = Field(default_factory=list)
    scope_in: list[str] = Field(default_factory=list)
    scope_out: list[str] = Field(default_factory=list)
    safety_notes: list[str] = Field(default_factory=list)
    token_estimate: int = 0

    @property
    def hours(self) -> float:
        """Critical-path weight: the estimate, or the default when none is declared."""
        return self.estimated_hours if self.estimated_hours is not None else DEFAULT_HOURS


class DesignDoc(BaseModel):
    """A parsed, structurally valid design directory (cycles are checked by the plan)."""

    feature: str
    design_dir: str
    title: str
    subplans: list[SubplanMeta] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    def by_name(self) -> dict[str, SubplanMeta]:
        return {s.name: s for s in self.subplans}


class Conflict(BaseModel):
    """Two or more subtasks of one stage that modify the same file."""

    stage: int
    file: str
    subtasks: list[str]


class Plan(BaseModel):
    """The dependency plan; its public JSON is what `orchestrator plan --json` prints."""

    order: list[str] = Field(default_factory=list)
    stages: list[list[str]] = Field(default_factory=list)
    critical_path: list[str] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    def to_public_json(self) -> str:
        """Exactly the documented keys, in the documented order."""
        doc = {
            "order": self.order,
            "stages": self.stages,
            "critical_path": self.critical_path,
            "conflicts": [
                {"stage": c.stage, "file": c.file, "subtasks": c.subtasks} for c in self.conflicts
            ],
            "warnings": self.warnings,
        }
        return json.dumps(doc, indent=2, ensure_ascii=False)

    def stage_of(self) -> dict[str, int]:
        return {name: i for i, stage in enumerate(self.stages, start=1) for name in stage}


class PlanRequest(BaseModel):
    """Input of the `plan_design` activity."""

    design_dir: str
    write: bool = False


class SubplanSummary(BaseModel):
    """Small per-subtask facts a workflow schedules with (no file contents)."""

    name: str
    title: str
    dependencies: list[str] = Field(default_factory=list)
    files_modified: list[str] = Field(default_factory=list)
    path: str


class PlanResult(BaseModel):
    """Result of the `plan_design` activity."""

    feature: str
    design_dir: str
    subtasks: list[SubplanSummary] = Field(default_factory=list)
    plan: Plan
    written: list[str] = Field(default_factory=list)


class SeedSubtasksRequest(BaseModel):
    """Input of the `seed_subtasks` activity."""

    design_dir: str
    overwrite: bool = False
