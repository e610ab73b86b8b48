"""`build-reviews/<subtask>/FORK-<name>.md`: a fork's two attempts side by side.

Scores, gates, rounds, diff size, tokens, cost and time of each attempt, and a link to
each one's Migration Risk Report, so the person sending `!merge A|B` (or reading why
`[fork] pick = "best"` picked one) sees the whole comparison in one file. The diff size
is each attempt's own commits (merges of its base and dependencies left out), measured
here from git. Once merged, the winner's own records become the subtask's
(`adopt_fork_records`).
"""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from activities import files
from activities.agent_text import cell
from activities.files import atomic_write_text
from activities.git.command import git_out
from activities.git.queries import local_branch_sha, repo_root_of, resolve_commit
from activities.migration_scan import REPORT as MIGRATION
from contracts.fork import (
    AdoptRecordsRequest,
    Attempt,
    DiffSize,
    ForkAttemptSpec,
    ForkReportRequest,
    ForkReportResult,
)


def diff_size(root: str, branch: str, bases: list[str]) -> DiffSize:
    """Lines and files the branch's own (non-merge) commits changed."""
    if local_branch_sha(root, branch) is None:
        return DiffSize()
    excludes = [f"^{sha}" for b in bases if (sha := resolve_commit(root, b))]
    out = git_out(root, "log", "--no-merges", "--numstat", "--format=", branch, *excludes)
    size, paths = DiffSize(), set()
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        added, deleted, path = parts
        size.insertions += int(added) if added.isdigit() else 0
        size.deletions += int(deleted) if deleted.isdigit() else 0
        paths.add(path)
    size.files = len(paths)
    return size


def _migration(req: ForkReportRequest, attempt: Attempt) -> str:
    """A link to the attempt's own report, relative to FORK-<name>.md, when it wrote one."""
    rel = f"{ForkAttemptSpec(name=req.name, attempt=attempt).reviews_folder}/{MIGRATION}"
    return f"[{rel}]({rel})" if (Path(req.path).parent / rel).is_file() else "none"


def render(req: ForkReportRequest, diffs: dict[str, DiffSize]) -> str:
    lines = [
        f"# Fork {req.name}: subtask {req.subtask}",
        "",
        f"Two attempts, each reviewed and gated like any subtask (bar {req.threshold:.2f}).",
        "",
        "| | " + " | ".join(f"Attempt {a.attempt}" for a in req.attempts) + " |",
        "|---|" + "---|" * len(req.attempts),
    ]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(v) for v in values) + " |")

    row("Branch", [f"`{a.branch}`" for a in req.attempts])
    row("Approach", [a.approach or "(none given)" for a in req.attempts])
    row("Passed review", ["yes" if a.passed else f"no ({a.status})" for a in req.attempts])
    row(
        "Scores",
        [
            ", ".join(f"{k} {v:.2f}" for k, v in sorted(a.scores.items())) or "-"
            for a in req.attempts
        ],
    )
    row(
        "Lowest score", [f"{min(a.scores.values()):.2f}" if a.scores else "-" for a in req.attempts]
    )
    row(
        "Gates",
        [
            "none" if a.gates_passed is None else ("green" if a.gates_passed else "red")
            for a in req.attempts
        ],
    )
    row("Review rounds", [str(a.rounds) for a in req.attempts])
    row(
        "Diff",
        [
            f"{d.files} files, +{d.insertions} -{d.deletions}"
            for d in (diffs[a.attempt] for a in req.attempts)
        ],
    )
    row("Tokens", [str(a.tokens) for a in req.attempts])
    row("Cost", [f"${a.cost_usd:.4f}" for a in req.attempts])
    row("Time", [f"{a.seconds:.0f} s" for a in req.attempts])
    row("Migration Risk Report", [_migration(req, a.attempt) for a in req.attempts])
    row("Notes", [a.notes or "-" for a in req.attempts])
    lines.append("")
    if req.recommended:
        lines.append(
            f"Recommended: **{req.recommended}** (the passing attempt with the higher lowest "
            "score)."
        )
    else:
        lines.append("Recommended: none (no attempt passed review).")
    lines += [
        "",
        "Send `!merge A` or `!merge B`: the winner becomes the subtask's branch and goes on to "
        "its pull request; the other is kept as `archive/fork/...`.",
        "",
    ]
    return "\n".join(lines)


@activity.defn(name="build.write_fork_report")
def write_fork_report(req: ForkReportRequest) -> ForkReportResult:
    root = repo_root_of(req.repo_root)
    diffs: dict[str, DiffSize] = {
        a.attempt: diff_size(root, a.branch, req.base_refs) for a in req.attempts
    }
    atomic_write_text(Path(req.path), render(req, diffs))
    return ForkReportResult(path=req.path, diffs=diffs)


@activity.defn(name="build.adopt_fork_records")
def adopt_fork_records(req: AdoptRecordsRequest) -> list[str]:
    """Copy the winner's records into the subtask's folder (a scan of `feat/<subtask>` then
    finds its approval); the ones copied. Safe to retry: the same bytes are written again."""
    copied = []
    for name in req.names:
        try:
            data = files.read_bytes(Path(req.source) / name)
        except FileNotFoundError:
            continue
        files.atomic_write_bytes(Path(req.target) / name, data)
        copied.append(str(Path(req.target) / name))
    return copied


ACTIVITIES = [write_fork_report, adopt_fork_records]
