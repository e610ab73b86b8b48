"""Render the plan for people: `plan/dag.md`, `plan/batches.md` and terminal text.

Output is a pure function of the parsed design and plan (no dates, no absolute
paths), so regenerating an unchanged design rewrites nothing and diffs stay quiet.
"""

from __future__ import annotations

import re

from activities.files import atomic_write_text
from activities.plan.design_dir import display_path
from activities.plan.graph import critical_path_hours
from contracts.plan import DesignDoc, Plan

GENERATED_NOTE = "Generated from subplans/ by the orchestrator; edit the subplans, not this file."


def _hours(value: float) -> str:
    return f"{value:g}h"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def mermaid_ids(names: list[str]) -> dict[str, str]:
    """Mermaid-safe, unique node ids (`01-models` -> `n01_models`)."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for name in sorted(names):
        base = "n" + re.sub(r"[^0-9A-Za-z_]", "_", name)
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        ids[name] = candidate
    return ids


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _edges(doc: DesignDoc, plan: Plan) -> list[tuple[str, str]]:
    """(dependent, dependency) pairs in plan order, dependencies sorted."""
    by_name = doc.by_name()
    return [(name, dep) for name in plan.order for dep in sorted(by_name[name].dependencies)]


def render_dag(doc: DesignDoc, plan: Plan) -> str:
    by_name = doc.by_name()
    edges = _edges(doc, plan)
    lines = [f"# Dependency DAG: {doc.feature}", "", GENERATED_NOTE, "", "## Nodes", ""]
    lines += [f"- {name} — {by_name[name].title}" for name in plan.order] or ["- (none)"]
    lines += ["", "## Edges (A -> B means A depends on B)", ""]
    lines += [f"- {a} -> {b}" for a, b in edges] or ["- (none)"]
    ids = mermaid_ids(plan.order)
    lines += ["", "## Graph", "", "```mermaid", "graph TD"]
    lines += [
        f'    {ids[name]}["{_mermaid_label(f"{name}: {by_name[name].title}")}"]'
        for name in plan.order
    ]
    lines += [f"    {ids[dep]} --> {ids[name]}" for name, dep in edges]
    lines += ["```", ""]
    return "\n".join(lines)


def render_batches(doc: DesignDoc, plan: Plan) -> str:
    lines = [
        f"# Batches: {doc.feature}",
        "",
        GENERATED_NOTE,
        "A subtask starts as soon as its own dependencies have pull requests;"
        " batches group the stages.",
    ]
    for number, stage in enumerate(plan.stages, start=1):
        parallel = "true" if len(stage) > 1 else "false"
        lines += ["", f"## Batch {number} (stage {number}, {_plural(len(stage), 'subtask')})", ""]
        lines += [f"- {name} (parallel: {parallel})" for name in stage]
    # The trailing sections avoid `- ` bullets: tools read a batch's subtasks as its `- ` lines.
    lines += ["", "## Critical path", ""]
    if plan.critical_path:
        hours = critical_path_hours(doc, plan)
        lines.append(f"{' -> '.join(plan.critical_path)} ({_hours(hours)})")
    else:
        lines.append("None.")
    lines += ["", "## File conflicts", ""]
    if plan.conflicts:
        lines += [
            f"* stage {c.stage}: {c.file} is modified by {', '.join(c.subtasks)}"
            for c in plan.conflicts
        ]
    else:
        lines.append("None.")
    lines.append("")
    return "\n".join(lines)


def format_plan_text(doc: DesignDoc, plan: Plan) -> str:
    """The plan as `orchestrator plan` prints it for a person."""
    by_name = doc.by_name()
    lines = [
        f"Plan: {doc.feature} — {_plural(len(plan.order), 'subtask')}"
        f" in {_plural(len(plan.stages), 'stage')}",
        "",
    ]
    for number, stage in enumerate(plan.stages, start=1):
        tag = " (parallel)" if len(stage) > 1 else ""
        lines.append(f"Stage {number}{tag}: {', '.join(stage)}")
    if plan.critical_path:
        hours = critical_path_hours(doc, plan)
        steps = " -> ".join(f"{n} ({_hours(by_name[n].hours)})" for n in plan.critical_path)
        lines += ["", f"Critical path ({_hours(hours)}): {steps}"]
    lines.append("")
    if plan.conflicts:
        lines.append("File conflicts (same stage, same file):")
        lines += [f"  stage {c.stage}: {c.file} — {', '.join(c.subtasks)}" for c in plan.conflicts]
    else:
        lines.append("File conflicts: none")
    if plan.warnings:
        lines.append("Warnings:")
        lines += [f"  {w}" for w in plan.warnings]
    else:
        lines.append("Warnings: none")
    return "\n".join(lines) + "\n"


def plan_file_paths(design_dir: str) -> tuple[str, str]:
    return display_path(design_dir, "plan", "dag.md"), display_path(
        design_dir, "plan", "batches.md"
    )


def write_plan_files(design_dir: str, doc: DesignDoc, plan: Plan) -> list[str]:
    """Write `plan/dag.md` and `plan/batches.md` atomically; return their paths."""
    dag_path, batches_path = plan_file_paths(design_dir)
    atomic_write_text(dag_path, render_dag(doc, plan))
    atomic_write_text(batches_path, render_batches(doc, plan))
    return [dag_path, batches_path]
