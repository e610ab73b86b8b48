"""Finding a subtask's risky schema changes, reporting them, and taking them back.

Only the subtask's own commits count (those on its branch and on neither the base nor
a dependency branch): a dependency's migration was that subtask's to answer for. The
report is `build-reviews/<subtask>/MIGRATION.md`; a person's approval is written into
it with a fingerprint of the findings it approved, so a restarted build does not ask
again about the same statements, and asks anew when they change.
"""

from __future__ import annotations

import hashlib
import os
import re

from temporalio import activity

from activities import files
from activities.git.activities import git_errors, heartbeating
from activities.git.branches import resolve_branch
from activities.git.command import git_out, run_git
from activities.git.commits import commit_changes
from activities.git.queries import head_commit
from activities.migration_risk import created_tables, findings, migration_format
from contracts.migration import (
    MigrationDecisionRequest,
    MigrationDecisionResult,
    MigrationFinding,
    MigrationScan,
    MigrationScanRequest,
)

REPORT = "MIGRATION.md"
_SCAN_CAP = 2_000_000  # bytes of migration text read per scan
_APPROVED = re.compile(r"^Approved by a person for findings ([0-9a-f]{16})", re.M)


def report_path(design_dir: str, subtask: str) -> str:
    return os.path.join(design_dir, "build-reviews", subtask, REPORT)


def _report_of(req: MigrationScanRequest) -> str:
    return req.report or report_path(req.design_dir, req.subtask)


def _others(req: MigrationScanRequest) -> list[str]:
    """Commits of the branches the subtask's work started from (no fetch: the worktree's
    refs are what the branch was built on)."""
    shas = []
    for name in [req.base_branch, *req.dependency_branches]:
        sha = resolve_branch(req.worktree, name, req.remote, fetch=False)
        if sha:
            shas.append(sha)
    return shas


def _own_changes(req: MigrationScanRequest, others: list[str]) -> dict[str, bool]:
    """Paths the subtask's own commits touched and HEAD still has -> whether the path is
    new (on none of the branches it started from)."""
    listing = git_out(
        req.worktree,
        "log",
        "--no-merges",
        "--no-renames",
        "--name-only",
        "-z",
        "--format=",
        "HEAD",
        "--not",
        *others,
        "--",
    )
    paths = sorted({p.strip("\n") for p in listing.split("\0") if p.strip("\n")})
    if not paths:
        return {}
    tree = git_out(req.worktree, "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", *paths)
    present = set(tree.split("\0"))
    out: dict[str, bool] = {}
    for path in paths:
        if path in present:
            out[path] = not any(_exists(req.worktree, sha, path) for sha in others)
    return out


def _exists(worktree: str, sha: str, path: str) -> bool:
    return run_git(worktree, "cat-file", "-e", f"{sha}:{path}", check=False).returncode == 0


def _added_lines(worktree: str, others: list[str], path: str, length: int) -> str:
    """The lines the subtask's own commits added to `path`, at their line numbers (other
    lines blank), so a changed SQL file is judged on what this change wrote."""
    patch = git_out(
        worktree,
        "log",
        "-p",
        "-U0",
        "--no-merges",
        "--format=",
        "HEAD",
        "--not",
        *others,
        "--",
        path,
    )
    lines = [""] * max(length, 1)
    at = 0
    for row in patch.splitlines():
        if m := re.match(r"@@ -\S+ \+(\d+)", row):
            at = int(m.group(1)) - 1
        elif row.startswith("+") and not row.startswith("+++"):
            if 0 <= at < len(lines):
                lines[at] = row[1:]
            at += 1
    return "\n".join(lines)


def _scan(req: MigrationScanRequest) -> list[MigrationFinding]:
    others = _others(req)
    changed = _own_changes(req, others)
    texts: dict[str, str] = {}
    budget = _SCAN_CAP
    for path in changed:
        if budget <= 0:
            break
        text = git_out(req.worktree, "show", f"HEAD:{path}")
        budget -= len(text)
        if migration_format(path, text):
            texts[path] = text
    if not texts:
        return []
    # Column types the repository declared before this change: how a narrowing shows.
    types: dict[tuple[str, str], str] = {}
    for path in git_out(req.worktree, "ls-files", "-z").split("\0"):
        if path.lower().endswith(".sql") and path not in texts and budget > 0:
            text = git_out(req.worktree, "show", f"HEAD:{path}")
            budget -= len(text)
            findings(path, text, types=types)
    for path, text in texts.items():  # a changed SQL file is judged on what this change wrote
        if migration_format(path, text) == "sql" and not changed[path]:
            texts[path] = _added_lines(req.worktree, others, path, text.count("\n") + 1)
    created: set[str] = set()
    for path, text in texts.items():
        created |= created_tables(path, text)
    found: list[MigrationFinding] = []
    for path, text in sorted(texts.items()):
        found += findings(path, text, created, types)
    return found


def fingerprint(found: list[MigrationFinding]) -> str:
    """Of the high findings only: what an approval is an approval of."""
    high = sorted(f"{f.path}\0{f.kind}\0{f.statement}" for f in found if f.severity == "high")
    return hashlib.sha256("\n".join(high).encode()).hexdigest()[:16] if high else ""


def render(subtask: str, head: str, found: list[MigrationFinding], print_: str, status: str) -> str:
    rows = [
        f"| `{f.path}:{f.line}` | {f.severity} | {f.kind} | `{_cell(f.statement)}` | "
        f"{'`' + _cell(f.rollback) + '`' if f.rollback else 'none derivable'} | {_cell(f.why)} |"
        for f in sorted(
            found, key=lambda f: ({"high": 0, "medium": 1, "low": 2}[f.severity], f.path, f.line)
        )
    ]
    return "\n".join(
        [
            f"# Migration Risk Report: {subtask}",
            "",
            f"Commit `{head[:12]}` changes the database schema. High-risk statements hold the",
            "subtask before its pull request until a person decides.",
            "",
            status,
            "",
            "| Where | Severity | Kind | Statement | Rollback | Why |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "- `!migration-approve` (on the build): the change goes on to its pull request as is.",
            "- `!migration-cancel`: the schema change is reverted on the branch and the subtask is",
            "  reworked without it.",
            "",
            f"Findings fingerprint: {print_}",
            "",
        ]
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", " ")


@activity.defn(name="build.scan_migration_risk")
def scan_migration_risk(req: MigrationScanRequest) -> MigrationScan:
    """The subtask's risky schema statements; writes the report when any is high."""
    with heartbeating(f"scan the schema changes of {req.subtask}"), git_errors():
        found = _scan(req)
        print_ = fingerprint(found)
        path = _report_of(req)
        try:
            on_file = files.read_bytes(path).decode("utf-8", "replace")
        except FileNotFoundError:
            on_file = None
        approved = bool(print_) and any(
            m.group(1) == print_ for m in _APPROVED.finditer(on_file or "")
        )
        if not print_:
            if on_file is not None and "No high-risk statement remains" not in on_file:
                files.atomic_write_text(
                    path,
                    on_file.rstrip("\n")
                    + "\n\nNo high-risk statement remains at commit "
                    + f"`{head_commit(req.worktree)[:12]}`.\n",
                )
            return MigrationScan(findings=found, report_path=path if on_file is not None else None)
        if not approved:
            status = (
                "Status: **waiting for a person** (`!migration-approve` or `!migration-cancel`)."
            )
            files.atomic_write_text(
                path, render(req.subtask, head_commit(req.worktree), found, print_, status)
            )
        return MigrationScan(
            findings=found, report_path=path, fingerprint=print_, approved=approved
        )


@activity.defn(name="build.decide_migration")
def decide_migration(req: MigrationDecisionRequest) -> MigrationDecisionResult:
    """A person's answer: approve records it in the report; cancel takes the subtask's own
    changes to the risky files back and commits that. Safe to retry: an approval already
    on file is not written twice, and a file already taken back has nothing left to revert."""
    scan, path = req.scan, _report_of(req.scan)
    with heartbeating(f"{req.choice} the schema change of {scan.subtask}"), git_errors():
        on_file = files.read_bytes(path).decode("utf-8", "replace") if os.path.exists(path) else ""
        if req.choice == "approve":
            if not any(m.group(1) == req.fingerprint for m in _APPROVED.finditer(on_file)):
                files.atomic_write_text(
                    path,
                    on_file.rstrip("\n")
                    + f"\n\nApproved by a person for findings {req.fingerprint} "
                    f"(`!migration-approve`, commit `{head_commit(scan.worktree)[:12]}`).\n",
                )
            return MigrationDecisionResult()
        others = _others(scan)
        changed = _own_changes(scan, others)
        # Still risky: a retry after the revert (or a person's own fix) has nothing to do.
        risky = {f.path for f in _scan(scan) if f.severity == "high"}
        reverted, problem = [], None
        for rel in sorted(set(req.paths) & set(changed) & risky):
            if changed[rel]:
                os.remove(os.path.join(scan.worktree, rel))
                reverted.append(rel)
                continue
            patch = run_git(
                scan.worktree,
                "log",
                "-p",
                "--no-merges",
                "--format=",
                "HEAD",
                "--not",
                *others,
                "--",
                rel,
            ).stdout
            applied = run_git(scan.worktree, "apply", "-R", input=patch, check=False)
            if applied.returncode != 0:
                problem = (
                    f"{rel}: this subtask's changes to it do not revert cleanly "
                    f"({applied.stderr.strip()[:300]}); take them back by hand on the branch"
                )
                continue
            reverted.append(rel)
        commit = None
        if reverted:
            done = commit_changes(
                scan.worktree,
                f"revert({scan.subtask}): take back the risky schema change (!migration-cancel)",
                reverted,
            )
            commit = done.commit
            files.atomic_write_text(
                path,
                on_file.rstrip("\n")
                + f"\n\nCancelled by a person (`!migration-cancel`): reverted {', '.join(reverted)}"
                + (f" in commit `{commit[:12]}`" if commit else "")
                + "; the subtask is reworked without the schema change.\n",
            )
        return MigrationDecisionResult(reverted=reverted, commit=commit, problem=problem)


ACTIVITIES = [scan_migration_risk, decide_migration]
