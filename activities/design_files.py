"""Design-directory files the workflow itself (not an agent) writes."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from activities.agent_text import cell, inline
from activities.files import atomic_write_text
from activities.forge import follow_round_line
from contracts.build import BuildReport
from contracts.design import AnswersFile


def render_answers(request: AnswersFile) -> str:
    """Reviewers wrote the questions and options, an agent may have written the reasoning:
    each is one line of text under the orchestrator's heading, never a heading itself."""
    lines = [f"# Questions and answers: {request.feature}", ""]
    for q in request.questions:
        lines.append(f"## {inline(q.id)}: {inline(q.text)}")
        lines.append("")
        lines.append(f"- Asked by: {q.reviewer} (scope {q.scope})")
        lines.append(f"- Options: {inline(q.options_line())}")
        if q.status == "answered":
            lines.append(f"- Answer: {q.choice}) {inline(q.answer_text())}")
            lines.append(f"- Answered by: {q.answered_by}")
            if q.reasoning:
                lines.append(f"- Reasoning: {inline(q.reasoning)}")
        else:
            lines.append("- Answer: (open)")
        lines.append("")
    return "\n".join(lines)


@activity.defn(name="design.write_answers")
def write_answers(request: AnswersFile) -> str:
    """Returns the file's path relative to the repository that holds it."""
    path = Path(request.path)
    atomic_write_text(path, render_answers(request))
    root = path
    while root.parent != root and not (root / ".git").exists():
        root = root.parent
    return str(path.relative_to(root)) if (root / ".git").exists() else str(path)


def render_report(report: BuildReport) -> str:
    m = report.metrics
    lines = [
        f"# Build report: {report.feature}",
        "",
        f"Result: **{report.result}**",
        "",
        *([f"Stopped: {inline(report.stop_reason)}", ""] if report.stop_reason else []),
        *([f"Notes: {inline(report.notes)}", ""] if report.notes else []),
        "| subtask | status | rounds | lowest score | PR | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in report.subtasks:
        low = f"{min(r.scores.values()):.2f}" if r.scores else "-"
        pr = cell(r.pr_url or "-")
        lines.append(f"| {r.subtask} | {r.status} | {r.rounds} | {low} | {pr} | {cell(r.notes)} |")
    i = report.integration
    if i is not None:
        reason = f": {inline(i.reason)}" if i.reason else ""
        lines += [
            "",
            f"Integration (`{i.branch}`): **{i.status}**{reason}"
            + (f" · {i.pr_url}" if i.pr_url else "")
            + (f" ({i.pr_status})" if i.pr_status else "")
            + " · see build-reviews/INTEGRATION.md",
        ]
    followed = [r for r in report.subtasks if r.follow_rounds]
    if followed:
        lines += ["", "## CI and review rounds on the PRs", ""]
        for r in followed:
            lines += [f"### {r.subtask}", "", *(follow_round_line(f) for f in r.follow_rounds), ""]
    c = report.cleanup
    if c is not None:
        lines += ["", "## Worktrees", ""]
        if c.removed:
            lines.append(f"- Removed: {', '.join(c.removed)} ({c.freed_bytes / 1e6:.1f} MB freed)")
        lines += [f"- Kept `{name}`: {why}" for name, why in c.kept.items()]
    lines += [
        "",
        "## Metrics",
        "",
        f"- Duration: {m.elapsed_s:.0f} s",
        f"- Agent calls: {m.agent_calls}, errors: {m.errors}",
        f"- Tokens: {m.total.total_tokens} (input {m.total.input_tokens}, output "
        f"{m.total.output_tokens}, cache write {m.total.cache_creation_input_tokens}, "
        f"cache read {m.total.cache_read_input_tokens})",
        f"- Cost: ${m.total.cost_usd:.4f}",
        "",
        "| role | tokens | cost (USD) | agent time (s) |",
        "|---|---|---|---|",
    ]
    for role, u in sorted(m.by_role.items()):
        lines.append(f"| {role} | {u.total_tokens} | {u.cost_usd:.4f} | {u.duration_s:.1f} |")
    lines += ["", "| subtask | tokens | cost (USD) |", "|---|---|---|"]
    for scope, u in sorted(m.by_scope.items()):
        lines.append(f"| {scope} | {u.total_tokens} | {u.cost_usd:.4f} |")
    return "\n".join(lines) + "\n"


@activity.defn(name="build.write_report")
def write_build_report(report: BuildReport) -> str:
    atomic_write_text(Path(report.path), render_report(report))
    return report.path


ACTIVITIES = [write_answers, write_build_report]
