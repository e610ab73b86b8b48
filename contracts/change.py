"""Seed 004's `!change` protocol: a blast-radius report, then approve or cancel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from contracts.agents import ChangeScope

SCOPES: tuple[ChangeScope, ...] = ("Small", "Medium", "Large")


class Affected(BaseModel):
    subtask: str
    state: str = Field(description="pending / in_progress / pr_created / ... when reported")
    why: str = Field(description="named by the analyst, a dependent, or shares files")
    files: list[str] = Field(default_factory=list)
    contracts: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)

    @property
    def becomes_stale(self) -> bool:
        return self.state in ("pr_created", "mergeable", "merged")


class PendingChange(BaseModel):
    id: int
    description: str
    state: Literal["analyzing", "awaiting-decision", "approved", "applying", "cancelled", "done"]
    requested_at: str
    affected: list[Affected] = Field(default_factory=list)
    scope: ChangeScope = "Small"
    summary: str = ""
    report_path: str | None = None


class ChangeReport(BaseModel):
    """Input of `change.write_report` (plan/changes/<timestamp>.md)."""

    path: str
    feature: str
    change: PendingChange


class ChangeLogEntry(BaseModel):
    """Input of `change.append_log` (CHANGE_LOG.md in the design directory)."""

    path: str
    feature: str
    change: PendingChange
    decision: Literal["approved", "cancelled"]
    at: str


def blast_radius(
    touched: dict[str, Affected],
    dependencies: dict[str, list[str]],
    files: dict[str, list[str]],
    states: Mapping[str, str],
) -> list[Affected]:
    """What a change reaches: the named subtasks, those sharing their files, every dependent."""
    found: dict[str, Affected] = dict(touched)
    touched_files = {f for name in touched for f in files.get(name, [])}
    for name, own in files.items():
        shared = sorted(touched_files & set(own))
        if name not in found and shared:
            found[name] = Affected(
                subtask=name,
                state=states.get(name, "pending"),
                why=f"modifies the same files ({', '.join(shared)})",
                files=shared,
            )
    dependents: dict[str, set[str]] = {}
    for name, deps in dependencies.items():
        for dep in deps:
            dependents.setdefault(dep, set()).add(name)
    queue = sorted(found)
    while queue:
        current = queue.pop(0)
        for child in sorted(dependents.get(current, ())):
            if child not in found:
                found[child] = Affected(
                    subtask=child,
                    state=states.get(child, "pending"),
                    why=f"depends on {current}",
                    files=files.get(child, []),
                )
                queue.append(child)
    order = list(dependencies)
    return sorted(found.values(), key=lambda a: order.index(a.subtask) if a.subtask in order else 0)


def scope_of(affected: list[Affected], total: int, analyst: ChangeScope) -> ChangeScope:
    """The larger of the analyst's judgement and what the blast radius says."""
    finished = sum(a.becomes_stale for a in affected)
    if len(affected) <= 1 and not finished:
        measured: ChangeScope = "Small"
    elif len(affected) * 3 <= total or len(affected) <= 2:
        measured = "Medium"
    else:
        measured = "Large"
    return max(measured, analyst, key=SCOPES.index)
