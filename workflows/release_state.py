"""The release loop's decisions, pure: what a person sees, what comes next, the verdict.

Functions of the loop's state (`ReleaseState`) only, so `status`, the tracker's rows,
the Web UI's details and the loop itself read the same answers, and a test can call
them without a server.
"""

from __future__ import annotations

from collections.abc import Iterable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.agents import Severity
    from contracts.build import GateResult
    from contracts.human import PendingDecision
    from contracts.release import (
        CRITIC_DIMENSIONS,
        NOT_SHIPPED,
        SECURITY_DOMAINS,
        STAGES,
        Criterion,
        ReleaseFinding,
        ReleaseState,
        Stage,
        StageState,
        StageView,
        area_slug,
        at_or_above,
    )
    from contracts.search_attributes import Waiting

SUITE = "test-suite"  # the area of the test suite's findings
SCANNER = "bandit"  # the area of the offline scanner's findings


def counts(findings: Iterable[ReleaseFinding]) -> dict[str, int]:
    """Findings by severity."""
    out: dict[str, int] = {}
    for f in findings:
        out[f.severity.value] = out.get(f.severity.value, 0) + 1
    return out


def view(st: StageState) -> StageView:
    return StageView(
        name=st.name,
        status=st.status,
        round=st.round,
        fix_rounds=st.fix_rounds,
        lowest=min(st.scores.values()) if st.scores else None,
        findings=counts(st.findings),
        report=st.report,
    )


def next_gate(s: ReleaseState) -> str | None:
    """The gate a person sends next (None: before the check, while one runs, or ended)."""
    if s.result is not None or s.branch is None:
        return None
    for stage in STAGES:
        if stage not in s.opened:
            running = any(s.stages[o].status != "done" for o in s.opened)
            return None if running else f"!{stage}"
    return None


def waiting_for(s: ReleaseState, decisions: list[PendingDecision]) -> str:
    return waiting(s, decisions)[1]


def waiting(s: ReleaseState, decisions: list[PendingDecision]) -> tuple[Waiting, str]:
    """Who the loop waits for (the search attribute) and what for (`status`)."""
    if decisions:
        return "person", f"a decision ({', '.join(d.scope for d in decisions)})"
    gate = next_gate(s)
    if gate is not None:
        return "person", f"a person to send {gate}"
    if s.result is not None:
        return "nothing", "nothing (ended)"
    return "agents", "the loop's own work"


def details(s: ReleaseState, feature: str, waiting: str, note: str = "") -> str:
    """The Web UI's details: the phase, each stage, what it waits for."""
    lines = [f"**release {feature}**: {s.phase}"]
    lines += [
        f"- {n}: {s.stages[n].status}, {len(s.stages[n].findings)} finding(s)" for n in STAGES
    ]
    lines.append(f"- waiting for: {waiting}")
    if s.notice:
        lines.append(f"- notice: {s.notice}")
    if note:
        lines.append(note)
    return "\n".join(lines)


def blocking(st: StageState, severity: str) -> list[ReleaseFinding]:
    """The findings a fixer round is for: at or above `[release] fix_severity`."""
    return [f for f in st.findings if at_or_above(f.severity.value, severity)]


def row(s: ReleaseState, st: StageState, severity: str) -> tuple[str, str]:
    """The tracker row of a stage: (status, notes)."""
    notes = f"{len(st.findings)} finding(s)"
    if st.scores:
        notes += f", lowest score {min(st.scores.values()):.2f}"
    if st.report:
        notes += f"; {st.report.rsplit('/', 2)[-2]}/{st.report.rsplit('/', 1)[-1]}"
    if st.name == "verify" and s.result is not None:
        notes += f"; {s.result}"
    if st.status == "done":
        failed = blocking(st, severity) or (st.name == "verify" and s.result == NOT_SHIPPED)
        return ("failed" if failed else "passed"), notes
    if st.status == "stopped":
        return "skipped", s.stop_reason[:200]
    if st.status == "deciding":
        return "blocked", notes
    if st.status in ("running", "fixing"):
        return "in_progress", notes
    return "pending", "waiting for !" + st.name


def areas(name: Stage) -> list[str]:
    """What a stage assesses first: every dimension, domain (and the scanner), or the suite
    (verify adds every subtask once the criteria are read)."""
    if name == "critic":
        return [area_slug(a) for a in CRITIC_DIMENSIONS]
    if name == "security":
        return [*(area_slug(a) for a in SECURITY_DOMAINS), SCANNER]
    return [SUITE]


def titles(name: Stage, subtasks: list[str]) -> dict[str, str]:
    """area -> what the agent is told it assesses."""
    if name == "critic":
        return {area_slug(a): a for a in CRITIC_DIMENSIONS}
    if name == "security":
        return {area_slug(a): a for a in SECURITY_DOMAINS}
    return {n: n for n in subtasks}


def suite_findings(st: StageState, suite: GateResult) -> None:
    """Each failing test command is a critical finding (the last round's replace earlier)."""
    st.findings = [f for f in st.findings if f.area != SUITE]
    st.findings += [
        ReleaseFinding(
            area=SUITE,
            severity=Severity.critical,
            description=f"`{g.command}` failed (exit {g.exit_code}): {g.tail.strip()[-400:]}",
            evidence=g.log_path,
        )
        for g in suite.results
        if not g.passed
    ]


def shippable(s: ReleaseState, severity: str) -> bool:
    """SHIPPED: the suite passed and no verify finding at or above the fix severity is open."""
    st = s.stages["verify"]
    return all(g.passed for g in st.gates) and not blocking(st, severity)


def instructions(
    name: Stage, title: str, feature: str, branch: str, criteria: list[Criterion]
) -> str:
    if name == "critic":
        return (
            f"Score the integrated product of {feature} (branch {branch}) on one dimension "
            f"only: {title}. Read the design first, then the code; state the evidence for your "
            "score in the summary."
        )
    if name == "security":
        return (
            f"Review the integrated product of {feature} (branch {branch}) for one security "
            f"domain only: {title}. If it does not apply, say so and report no issue."
        )
    said = [c.text for c in criteria if c.subtask == title]
    listed = "\n".join(f"- {c}" for c in said) or "- (the subtask lists none)"
    return (
        f"Verify subtask {title} of {feature} on the integrated branch {branch}: check each "
        f"acceptance criterion below with evidence (file:line or a test).\n{listed}"
    )


def focus(name: Stage, area: str, design_rel: str) -> list[str]:
    if name == "verify":
        return [f"{design_rel}/subtasks/{area}.xml", f"{design_rel}/plan/dag.md"]
    return [f"{design_rel}/overview.md", f"{design_rel}/plan/dag.md"]
