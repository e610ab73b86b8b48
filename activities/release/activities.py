"""Release activities: the build integrated?, offline scanners, reports, tracker rows.

Each is idempotent: the check and the criteria only read, a scan is run again whole,
a report and the tracker's rows are rewritten whole (atomically).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
from pathlib import Path

from temporalio import activity

from activities import files, gates, sandbox
from activities.agents.errors import non_retryable
from activities.config import read_config
from activities.git.branches import fetch_branch
from activities.git.command import run_git
from activities.git.queries import has_remote, local_branch_sha
from activities.plan.subtask_xml import read_subtasks
from activities.release import report
from activities.sandbox.paths import project_environment
from activities.tracker import locked, read_tracker, render_section, replace_section
from contracts.agents import Severity
from contracts.build import GateRequest
from contracts.integration import integration_branch
from contracts.plan import PlanError
from contracts.release import (
    CriteriaRequest,
    CriteriaResult,
    Criterion,
    IntegratedRequest,
    IntegratedResult,
    ReleaseFinding,
    ReleaseReport,
    ReleaseRowsRequest,
    ScanRequest,
    ScanResult,
)
from contracts.tracker import TrackerRow

PASSED_LINE = "- Outcome: **passed**"
RELEASE_ROWS = ("critic", "security", "verify")


def integrated(req: IntegratedRequest) -> IntegratedResult:
    """The integration branch, if the build integrated; else what to do first."""
    branch = integration_branch(req.feature)
    fix = (
        f"Fix: run the build to its end (`orchestrator build {req.design_dir} --wait`) until "
        f"{req.design_dir}/build-reviews/INTEGRATION.md says Outcome: passed, then start the "
        "release again (or `decide retry` on this one)"
    )
    head, remote = _integration_head(req.repo_root, branch)
    if head is None:
        where = f" nor on remote {remote!r}" if remote else ""
        push = (
            f" (if it integrated in another clone, push {branch} to {remote} from it)"
            if remote
            else ""
        )
        raise non_retryable(
            f"the build of {req.feature} has not integrated: branch {branch} does not exist in "
            f"{req.repo_root}{where}. {fix}{push}",
            "NotIntegrated",
        )
    path = Path(req.design_dir) / "build-reviews" / "INTEGRATION.md"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    if PASSED_LINE not in text.splitlines():
        said = next((ln for ln in text.splitlines() if ln.startswith("- Outcome:")), "")
        raise non_retryable(
            f"the build of {req.feature} has not integrated: {path} "
            f"{'says ' + repr(said) if said else 'does not exist or names no outcome'}. {fix}",
            "NotIntegrated",
        )
    return IntegratedResult(branch=branch, head=head)


def _integration_head(root: str, branch: str) -> tuple[str | None, str | None]:
    """The branch here, else the remote's copy, fetched (a second host's clone has only
    `origin/<branch>`); and the remote asked (None: the branch is local, or no remote)."""
    head = local_branch_sha(root, branch)
    if head is not None:
        return head, None
    config, _ = read_config(Path(root))
    remote = config.forge.remote if has_remote(root, config.forge.remote) else None
    if remote is None:
        return None, None
    return fetch_branch(root, remote, branch, config.forge.git_token_hosts()), remote


@activity.defn(name="release.check_integrated")
def check_integrated(req: IntegratedRequest) -> IntegratedResult:
    return integrated(req)


@activity.defn(name="release.criteria")
def acceptance_criteria(req: CriteriaRequest) -> CriteriaResult:
    """Every acceptance criterion of every subtask (`subtasks/*.xml`)."""
    try:
        specs = read_subtasks(req.design_dir)
    except PlanError as exc:
        raise non_retryable(str(exc), "PlanError") from exc
    return CriteriaResult(
        criteria=[Criterion(subtask=s.id, text=c) for s in specs for c in s.acceptance_criteria],
        subtasks=[s.id for s in specs],
        commands=list(dict.fromkeys(c for s in specs for c in s.commands)),
    )


# bandit's custom format, one finding a line: path:line|SEVERITY|test id|message
BANDIT_FORMAT = "{relpath}:{line}|{severity}|{test_id}|{msg}"
_BANDIT_LINE = re.compile(
    r"^(?P<loc>\S.*?:\d+)\|(?P<sev>LOW|MEDIUM|HIGH)\|(?P<id>B\d+)\|(?P<msg>.*)$"
)
NETWORK_SKIPPED = (
    "skipped: network scanners (pip-audit, npm audit, osv-scanner) need the network, which "
    "the release loop's sandbox does not have"
)


def _bandit(workdir: Path) -> str | None:
    """bandit in the repository's environment, else on PATH."""
    venv = project_environment(workdir).venv
    if venv is not None and (venv / "bin" / "bandit").exists():
        return str(venv / "bin" / "bandit")
    return shutil.which("bandit")


def _has_python(workdir: Path) -> bool:
    listed = run_git(str(workdir), "ls-files", "-z", check=False).stdout
    return any(name.endswith(".py") for name in listed.split("\0"))


@activity.defn(name="release.scan")
async def scan(req: ScanRequest) -> ScanResult:
    """Offline scanners in the sandbox, like gates; never one that needs the network."""
    workdir = Path(req.workdir)
    if not await asyncio.to_thread(_has_python, workdir):
        return ScanResult(notes=["bandit: no Python files", NETWORK_SKIPPED])
    found = await asyncio.to_thread(_bandit, workdir)
    if found is None:
        return ScanResult(notes=["skipped: bandit not installed", NETWORK_SKIPPED])
    try:
        await sandbox.ensure_available(req.sandbox)
    except sandbox.SandboxUnavailable as exc:
        raise non_retryable(f"scanners run commands, and {exc}", "SandboxUnavailable") from exc
    command = (
        f"{shlex.quote(found)} -r . -q -x ./.venv,./.worktrees,./node_modules "
        f"-f custom --msg-template '{BANDIT_FORMAT}'"
    )
    request = GateRequest(
        workdir=req.workdir,
        commands=[command],
        log_dir=req.log_dir,
        timeout_s=req.timeout_s,
        sandbox=req.sandbox,
    )
    log_path = Path(req.log_dir) / "bandit.log"
    outcome = await gates.run_one(request, log_path, command)
    text = await asyncio.to_thread(files.read_bytes, log_path)
    findings = [
        ReleaseFinding(
            area="bandit",
            severity=Severity(m["sev"].lower()),
            description=f"{m['id']}: {m['msg'].strip()}",
            location=m["loc"],
            evidence=str(log_path),
        )
        for m in (_BANDIT_LINE.match(ln) for ln in text.decode("utf-8", "replace").splitlines())
        if m
    ]
    said = (
        f"bandit ran (exit {outcome.exit_code}): {len(findings)} finding(s); log {log_path}"
        if outcome.exit_code in (0, 1)
        else f"bandit failed (exit {outcome.exit_code}); log {log_path}"
    )
    return ScanResult(notes=[said, NETWORK_SKIPPED], findings=findings)


@activity.defn(name="release.write_report")
def write_report(r: ReleaseReport) -> str:
    """Rewritten whole each time: a retried write leaves the same file."""
    files.atomic_write_text(r.path, report.render(r))
    return r.path


@activity.defn(name="release.tracker")
def write_rows(req: ReleaseRowsRequest) -> str:
    """Set the `critic`, `security`, `verify` rows of the feature's section; the build's
    rows stay as they are (read and rewritten under the tracker's lock)."""
    path = (
        req.tracker_path
        if os.path.isabs(req.tracker_path)
        else os.path.join(req.repo_root, req.tracker_path)
    )
    with locked(path):
        try:
            current = files.read_bytes(path).decode("utf-8")
        except FileNotFoundError:
            current = ""
        rows = [r for r in read_tracker(path).get(req.feature, []) if r.subtask not in req.rows]
        batch = max((r.batch for r in rows), default=0) + 1
        for name in RELEASE_ROWS:
            if name in req.rows:
                status, notes = req.rows[name]
                rows.append(TrackerRow(subtask=name, batch=batch, status=status, notes=notes))  # type: ignore[arg-type]
        new = replace_section(current, req.feature, render_section(req.feature, rows))
        if new != current:
            files.atomic_write_text(path, new)
    return path


ACTIVITIES = [check_integrated, acceptance_criteria, scan, write_report, write_rows]
