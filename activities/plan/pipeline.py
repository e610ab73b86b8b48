"""The plan engine's entry points: parse -> analyze -> (write), and the subtask checks.

Validation always completes before anything is written, so a broken design
directory is never left with half-regenerated plan files.
"""

from __future__ import annotations

import os
from pathlib import Path

from activities.plan.design_dir import display_path, load_design
from activities.plan.graph import analyze
from activities.plan.render import write_plan_files
from activities.plan.subtask_xml import (
    parse_subtask_xml,
    read_subtasks,
    subtask_from_subplan,
    subtask_to_xml,
    write_subtask,
)
from contracts.plan import DesignDoc, Plan, PlanError, PlanIssue, SubplanMeta
from contracts.subtask import SubtaskSpec


def run_plan(design_dir: str, write: bool = False) -> tuple[DesignDoc, Plan]:
    """Parse and analyze a design directory; with `write`, also write plan/dag.md and
    plan/batches.md. Raises `PlanError` (and writes nothing) on any problem."""
    doc, plan, _written = plan_and_write(design_dir, write)
    return doc, plan


def plan_and_write(design_dir: str, write: bool) -> tuple[DesignDoc, Plan, list[str]]:
    doc = load_design(design_dir)
    plan = analyze(doc)
    written = write_plan_files(design_dir, doc, plan) if write else []
    return doc, plan, written


def _design_first(design_dir: str) -> str:
    return f"run `orchestrator design {design_dir}` first to review the design and generate them"


def load_checked_subtasks(design_dir: str) -> list[SubtaskSpec]:
    """The subtask XMLs, checked against the subplans and their DAG.

    Every subplan must have its XML, every XML its subplan, and both must declare the
    same dependencies, or the build would schedule a different DAG than was approved.
    """
    doc, _plan = run_plan(design_dir)
    folder = display_path(design_dir, "subtasks")
    if not doc.subplans:
        raise PlanError(
            display_path(design_dir, "subplans"),
            "no subplans, so there is nothing to build",
            _design_first(design_dir),
        )
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise PlanError(
            folder, "is not a directory", f"remove it, then {_design_first(design_dir)}"
        )
    specs = read_subtasks(design_dir)
    if not specs:
        raise PlanError(folder, "no XML subtasks found", _design_first(design_dir))
    by_id = {s.id: s for s in specs}
    issues: list[PlanIssue] = []
    for sub in doc.subplans:
        spec = by_id.get(sub.name)
        if spec is None:
            issues.append(
                PlanIssue(
                    file=display_path(design_dir, "subtasks", f"{sub.name}.xml"),
                    problem=f"missing: {sub.path} has no subtask XML",
                    fix=_design_first(design_dir),
                )
            )
        else:
            issues.extend(subtask_issues(design_dir, sub, spec))
    names = {s.name for s in doc.subplans}
    for spec in specs:
        if spec.id not in names:
            issues.append(
                PlanIssue(
                    file=display_path(design_dir, "subtasks", f"{spec.id}.xml"),
                    problem=f"has no subplan subplans/{spec.id}.md",
                    fix="delete the stale XML, or restore its subplan and re-run"
                    f" `orchestrator design {design_dir}`",
                )
            )
    if issues:
        raise PlanError.from_issues(issues)
    return specs


def subtask_issues(design_dir: str, sub: SubplanMeta, spec: SubtaskSpec) -> list[PlanIssue]:
    """What the build refuses in one subtask against its subplan (see load_checked_subtasks);
    the subtask drafter applies it before it writes an XML."""
    issues: list[PlanIssue] = []
    shown = display_path(design_dir, "subtasks", f"{sub.name}.xml")
    try:  # the XML as written must read back as the build reads it
        parse_subtask_xml(subtask_to_xml(spec).encode("utf-8"), shown, expected_id=sub.name)
    except PlanError as exc:
        issues.extend(exc.issues)
    if sorted(spec.dependencies) != sorted(sub.dependencies):
        issues.append(
            PlanIssue(
                file=shown,
                problem=(
                    f"<dependencies> lists {sorted(spec.dependencies) or 'none'} but"
                    f" {sub.path} declares {sorted(sub.dependencies) or 'none'}"
                ),
                fix=f"make them agree, or re-run `orchestrator design {design_dir}`"
                " to regenerate the subtasks",
            )
        )
    return issues


def seed_subtask_files(design_dir: str, overwrite: bool = False) -> list[str]:
    """Write `subtasks/<name>.xml` seeded from each subplan (deterministic, no LLM).

    Existing XML is kept unless `overwrite`, so a retry or a re-run never clobbers a
    subtask an agent or a person refined. Returns the paths written.
    """
    doc, _plan = run_plan(design_dir)
    written: list[str] = []
    for sub in doc.subplans:
        target = display_path(design_dir, "subtasks", f"{sub.name}.xml")
        if not overwrite and Path(target).exists():
            continue
        write_subtask(target, subtask_from_subplan(sub))
        written.append(target)
    return written
