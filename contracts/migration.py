"""A schema change's risk, found before a subtask's pull request opens (seed 004).

A high-risk statement (a drop, a rename, a NOT NULL column without a default on an
existing table, a narrowing type change) holds the subtask with a Migration Risk Report
until a person sends `!migration-approve` or `!migration-cancel`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["high", "medium", "low"]
MigrationChoice = Literal["approve", "cancel"]
MIGRATION_OPTIONS: list[str] = ["approve", "cancel"]
# The build's signals (and command lines) that answer a pending report.
MIGRATION_SIGNALS: dict[str, MigrationChoice] = {
    "!migration-approve": "approve",
    "!migration-cancel": "cancel",
}


class MigrationFinding(BaseModel):
    """One risky statement: where it is, what it does, and how to undo it if we can tell."""

    path: str  # relative to the repository
    line: int
    statement: str  # as written, shortened
    kind: str  # "drop table", "drop column", "rename column", "not null without default", ...
    severity: Severity
    rollback: str = ""  # a statement that undoes it, or "" when none can be derived
    why: str = ""


class MigrationScanRequest(BaseModel):
    worktree: str
    design_dir: str
    subtask: str
    # The subtask's own commits are those on HEAD but on none of these branches.
    base_branch: str
    dependency_branches: list[str] = Field(default_factory=list)
    remote: str | None = "origin"
    # Where the report goes: "" is build-reviews/<subtask>/MIGRATION.md; a fork's attempt
    # has its own, in its reviews' folder, so the two attempts never write one file.
    report: str = ""


class MigrationScan(BaseModel):
    findings: list[MigrationFinding] = Field(default_factory=list)
    report_path: str | None = None  # build-reviews/<subtask>/MIGRATION.md, when written
    fingerprint: str = ""  # of the high findings: an approval holds for exactly these
    approved: bool = False  # a person approved exactly these findings already

    @property
    def high(self) -> list[MigrationFinding]:
        return [f for f in self.findings if f.severity == "high"]


class MigrationDecisionRequest(BaseModel):
    scan: MigrationScanRequest
    choice: MigrationChoice
    fingerprint: str
    paths: list[str] = Field(default_factory=list)  # the files with high findings


class MigrationDecisionResult(BaseModel):
    reverted: list[str] = Field(default_factory=list)  # paths a cancel took back
    commit: str | None = None  # the revert commit, when one was made
    problem: str | None = None  # a revert that did not apply cleanly: what to do
