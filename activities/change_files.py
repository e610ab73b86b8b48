"""The change protocol's files: the blast-radius report and CHANGE_LOG.md."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from temporalio import activity

from activities import files
from activities.agent_text import block, cell
from contracts.change import ChangeLogEntry, ChangeReport, PendingChange


def _table(change: PendingChange) -> list[str]:
    lines = [
        "| subtask | state | why | files | contracts | tests |",
        "|---|---|---|---|---|---|",
    ]
    for a in change.affected:
        cells = [
            a.subtask,
            a.state + (" → STALE" if a.becomes_stale else ""),
            a.why,
            ", ".join(a.files) or "-",
            ", ".join(a.contracts) or "-",
            ", ".join(a.tests) or "-",
        ]
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return lines


def render_report(report: ChangeReport) -> str:
    c = report.change
    stale = [a.subtask for a in c.affected if a.becomes_stale]
    lines = [
        f"# Blast radius: change {c.id} to {report.feature}",
        "",
        f"> {c.description}",
        "",
        f"Requested: {c.requested_at} · Scope: **{c.scope}** · "
        f"{len(c.affected)} subtask(s) affected",
        "",
        block(c.summary),
        "",
        *_table(c),
        "",
    ]
    if stale:
        lines += [
            f"**Warning:** {', '.join(stale)} already have pull requests; approving marks them "
            "STALE and reopens them on their branches (their PRs are updated, not duplicated).",
            "",
        ]
    lines += [
        "Nothing changes until a person decides: `!change-approve` (or `orchestrator "
        "change-approve <dir>`) or `!change-cancel`.",
        "",
    ]
    return "\n".join(lines)


@activity.defn(name="change.write_report")
def write_change_report(report: ChangeReport) -> str:
    files.atomic_write_text(Path(report.path), render_report(report))
    return report.path


@activity.defn(name="change.append_log")
def append_change_log(entry: ChangeLogEntry) -> str:
    """Append once: a retried call finds its own entry and leaves the file alone."""
    marker = f"<!-- change {entry.change.id} {entry.decision} -->"
    fd = files.open_file(entry.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
    with os.fdopen(fd, "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        existing = f.read()
        if marker in existing:
            return entry.path
        if not existing:
            f.write(f"# Change log: {entry.feature}\n\n")
        c = entry.change
        stale = ", ".join(a.subtask for a in c.affected if a.becomes_stale) or "none"
        if entry.decision == "cancelled":
            stale = "none (cancelled: nothing changed)"
        f.write(
            f"## Change {c.id} — {entry.decision} ({entry.at})\n\n{marker}\n\n"
            f"> {c.description}\n\n"
            f"- Scope: {c.scope}\n"
            f"- Affected: {', '.join(a.subtask for a in c.affected) or 'none'}\n"
            f"- Marked stale: {stale}\n"
            f"- Report: {c.report_path or '-'}\n\n"
        )
    return entry.path


ACTIVITIES = [write_change_report, append_change_log]
