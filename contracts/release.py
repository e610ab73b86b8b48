"""The release loop (seed 004's gates after integration): `!critic` -> `!security` -> `!verify`.

Each gate is a person's to send, in this order; the loop never advances by itself.
These are its inputs, state, `status` answer, result and the activities' requests.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.agents import Severity
from contracts.build import GateCommand
from contracts.human import PendingDecision, ToPerson
from contracts.metrics import Ledger
from contracts.sandbox import SandboxConfig

Stage = Literal["critic", "security", "verify"]
STAGES: Final[tuple[Stage, ...]] = ("critic", "security", "verify")
GATES: Final[dict[str, Stage]] = {f"!{s}": s for s in STAGES}
DOCS_GATE: Final = "!docs"  # the docs agent: any time between the check and the end
DOCS_FILES: Final[tuple[str, ...]] = ("OVERVIEW.md", "CHANGELOG.md", "API.md")
SHIPPED: Final = "SHIPPED"
NOT_SHIPPED: Final = "NOT_SHIPPED"
ReleaseVerdict = Literal["SHIPPED", "NOT_SHIPPED"]

# The critic's twelve dimensions and the security review's twenty domains (seed 004).
CRITIC_DIMENSIONS: Final[tuple[str, ...]] = (
    "fitness to the design",
    "correctness",
    "completeness against acceptance criteria",
    "tests",
    "error handling",
    "performance",
    "security posture",
    "maintainability",
    "readability",
    "documentation",
    "operability",
    "user experience",
)
SECURITY_DOMAINS: Final[tuple[str, ...]] = (
    "authentication",
    "authorisation",
    "input validation",
    "injection",
    "secrets",
    "cryptography",
    "dependencies",
    "logging of sensitive data",
    "SSRF",
    "path traversal",
    "deserialisation",
    "rate limiting",
    "CSRF/CORS",
    "sessions",
    "error disclosure",
    "file upload",
    "supply chain",
    "configuration",
    "data protection",
    "infrastructure",
)
SEVERITY_RANK: Final[dict[str, int]] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def area_slug(area: str) -> str:
    """An area's name as an agent scope and a file name: `CSRF/CORS` -> `csrf-cors`."""
    out = "".join(c if c.isalnum() else "-" for c in area.lower())
    return "-".join(part for part in out.split("-") if part)


def at_or_above(severity: str, floor: str) -> bool:
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[floor]


class ReleaseFinding(BaseModel):
    """One finding of a gate: which area (dimension, domain, subtask, scanner) and where."""

    area: str
    severity: Severity
    description: str
    location: str | None = None
    evidence: str = Field(default="", description="the review file or log that holds it")


class StageState(BaseModel):
    name: Stage
    status: Literal["waiting", "running", "fixing", "deciding", "done", "stopped"] = "waiting"
    round: int = 0
    fix_rounds: int = 0
    scores: dict[str, float] = Field(default_factory=dict, description="area -> 0..1")
    evidence: dict[str, str] = Field(default_factory=dict, description="area -> review file")
    findings: list[ReleaseFinding] = Field(default_factory=list)
    fixes: list[str] = Field(default_factory=list, description="what each fixer round did")
    scanners: list[str] = Field(default_factory=list, description="what each scanner said")
    gates: list[GateCommand] = Field(default_factory=list, description="verify: the suite")
    accepted: bool = Field(default=False, description="a person kept the findings as they are")
    report: str | None = None


def _stages() -> dict[str, StageState]:
    return {str(s): StageState(name=s) for s in STAGES}


class ReleaseState(ToPerson):
    phase: str = "starting"
    paused: bool = False
    opened: list[Stage] = Field(default_factory=list, description="gates a person sent")
    stages: dict[str, StageState] = Field(default_factory=lambda: _stages())
    worktree: str | None = None
    branch: str | None = None
    host_queue: str | None = Field(default=None, description="the claimed host's task queue")
    hosts: list[str] = Field(default_factory=list, description="every host queue claimed")
    host_moves: int = Field(default=0, description="hosts lost since a person last decided")
    head: str | None = Field(default=None, description="the worktree's head, as the loop made it")
    unpushed: list[str] = Field(
        default_factory=list, description="the loop's commits the remote has not confirmed"
    )
    decisions: list[PendingDecision] = Field(default_factory=list)
    answers: dict[str, str] = Field(default_factory=dict)
    result: ReleaseVerdict | None = None
    stop_reason: str = ""
    docs: Literal["none", "requested", "running", "done"] = "none"
    docs_files: list[str] = Field(default_factory=list, description="what the docs agent wrote")
    ledger: Ledger = Field(default_factory=Ledger)
    started_at: str | None = None
    last_stamp: dict[str, str] = Field(default_factory=dict)


class ReleaseInput(BaseModel):
    """Only `design_dir` is required (absolute, as for the other loops)."""

    model_config = ConfigDict(extra="forbid")

    design_dir: str
    state: ReleaseState | None = Field(default=None, description="carried by continue-as-new")


class StageView(BaseModel):
    name: Stage
    status: str
    round: int
    fix_rounds: int
    lowest: float | None
    findings: dict[str, int] = Field(description="severity -> count")
    report: str | None


class ReleaseStatus(BaseModel):
    workflow: Literal["release"] = "release"
    feature: str
    phase: str
    paused: bool
    waiting_for: str
    next_gate: str | None = Field(description="the gate a person sends next (`!critic`, ...)")
    stages: list[StageView]
    decisions: list[PendingDecision]
    cost_usd: float
    tokens: int
    result: ReleaseVerdict | None = None
    docs: str = "none"
    docs_files: list[str] = Field(default_factory=list)
    notice: str = ""
    hint: str = ""
    hosts: list[str] = Field(
        default_factory=list, description="the host queues it ran on, in order (moves)"
    )


class ReleaseResult(BaseModel):
    result: ReleaseVerdict
    feature: str
    branch: str
    reports: list[str] = Field(default_factory=list)
    findings: dict[str, int] = Field(default_factory=dict, description="open, by severity")
    stop_reason: str = ""
    cost_usd: float = 0.0


class IntegratedRequest(BaseModel):
    repo_root: str
    design_dir: str
    feature: str


class IntegratedResult(BaseModel):
    branch: str
    head: str


class ScanRequest(BaseModel):
    """Offline scanners over the integration worktree (bandit for Python)."""

    workdir: str
    log_dir: str
    timeout_s: float = 900.0
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)


class ScanResult(BaseModel):
    notes: list[str] = Field(default_factory=list, description="ran / skipped, and why")
    findings: list[ReleaseFinding] = Field(default_factory=list)


class Criterion(BaseModel):
    subtask: str
    text: str


class CriteriaRequest(BaseModel):
    design_dir: str


class CriteriaResult(BaseModel):
    criteria: list[Criterion] = Field(default_factory=list)
    subtasks: list[str] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list, description="every subtask's gate commands")


class ReleaseReport(BaseModel):
    """Input of `release.write_report`: `<design dir>/release/<NAME>.md`."""

    path: str
    feature: str
    branch: str
    stage: StageState
    fix_severity: str
    criteria: list[Criterion] = Field(default_factory=list)
    verdict: ReleaseVerdict | None = None


class ReleaseRowsRequest(BaseModel):
    """The tracker's `critic`, `security`, `verify` rows of a feature (other rows kept)."""

    repo_root: str
    feature: str
    tracker_path: str
    rows: dict[str, tuple[str, str]] = Field(description="row -> (status, notes)")
