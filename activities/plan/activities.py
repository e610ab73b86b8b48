"""Temporal activities of the plan engine.

Plain `def`: parsing and writing files is blocking work, so the worker runs these
in its thread pool. A `PlanError` is the user's to fix, never a transient
fault, so it becomes a non-retryable `ApplicationError(type="PlanError")` whose
message names the file, the problem and the fix (details carry each issue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.plan.pipeline import load_checked_subtasks, plan_and_write, seed_subtask_files
from contracts.plan import (
    PlanError,
    PlanRequest,
    PlanResult,
    SeedSubtasksRequest,
    SubplanSummary,
)
from contracts.subtask import SubtaskSpec


def _fail(exc: PlanError) -> NoReturn:
    raise ApplicationError(
        str(exc),
        *[issue.model_dump() for issue in exc.issues],
        type="PlanError",
        non_retryable=True,
    ) from exc


@activity.defn(name="plan.design")
def plan_design(request: PlanRequest) -> PlanResult:
    """Validate the design directory and compute its plan; optionally write plan/*.md."""
    try:
        doc, plan, written = plan_and_write(request.design_dir, request.write)
    except PlanError as exc:
        _fail(exc)
    return PlanResult(
        feature=doc.feature,
        design_dir=request.design_dir,
        subtasks=[
            SubplanSummary(
                name=s.name,
                title=s.title,
                dependencies=s.dependencies,
                files_modified=s.files_modified,
                path=s.path,
            )
            for s in doc.subplans
        ],
        plan=plan,
        written=written,
    )


@activity.defn(name="plan.load_subtasks")
def load_subtasks(design_dir: str) -> list[SubtaskSpec]:
    """The approved subtasks, checked against the subplans and their DAG."""
    try:
        return load_checked_subtasks(design_dir)
    except PlanError as exc:
        _fail(exc)


@activity.defn(name="plan.seed_subtasks")
def seed_subtasks(request: SeedSubtasksRequest) -> list[str]:
    """Write subtasks/*.xml seeded from the subplans where none exists yet."""
    try:
        return seed_subtask_files(request.design_dir, request.overwrite)
    except PlanError as exc:
        _fail(exc)


ACTIVITIES: list[Callable[..., Any]] = [plan_design, load_subtasks, seed_subtasks]
