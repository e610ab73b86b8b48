"""A subtask's bookkeeping as pure functions of its state (no Temporal, no I/O).

Which fixer a round calls for, what a round's scores and gates mean for
progress and for being stuck, what the fixer is told, and what the subtask
reports to its build: decided here from `SubtaskState` alone, so it is
unit-tested without a server.
"""

from __future__ import annotations

from typing import TypeVar

from contracts.agents import Fixer, ReviewIssue, ReviewResult, Severity
from contracts.build import PR_FINAL, GateResult, RoundRecord, SubtaskProgress, SubtaskState
from contracts.search_attributes import Waiting
from workflows import follow_state

S = TypeVar("S", bound=SubtaskState)


def carried_or_new(carried: S | None, new: type[S], paused: bool, round_cap: int) -> S:
    """A child loop's state: the one it carries (continue-as-new, a host move), else a new
    one, paused if its build is, bounded by its round cap."""
    if carried is not None:
        return carried
    s = new()
    s.paused, s.round_cap = paused, round_cap
    return s


def choose_fixer(reviews: list[ReviewResult], gates_passed: bool, bar: float) -> str:
    """Seed 002: missing code -> builder, bugs/failing gates -> fixer, performance -> perf fixer."""
    votes = {r.recommended_fixer for r in reviews if r.score < bar and r.recommended_fixer}
    if Fixer.builder in votes:
        return Fixer.builder.value
    if not gates_passed or Fixer.fixer in votes:
        return Fixer.fixer.value
    if Fixer.performance_fixer in votes:
        return Fixer.performance_fixer.value
    return Fixer.fixer.value


def record_round(
    s: SubtaskState, rnd: int, commit: str, gates: GateResult, reviews: list[ReviewResult]
) -> tuple[RoundRecord, float]:
    """Keep one round; returns its record and the lowest score.

    Red gates count a full point below any green round, so fixing them is progress.
    """
    s.scores = {r.role: r.score for r in reviews}
    s.gates = gates.results
    record = RoundRecord(
        round=rnd,
        scores=dict(s.scores),
        gates_passed=gates.passed,
        commit=commit,
        review_paths=[r.review_path for r in reviews],
    )
    s.rounds.append(record)
    # No score at all: 0, unless a person skipped every reviewer (then the gates decide).
    lowest = min(s.scores.values()) if s.scores else (1.0 if s.skipped_reviewers else 0.0)
    progress = lowest if gates.passed else lowest - 1.0
    if progress > s.best + 1e-9:
        s.best, s.rounds_without_progress = progress, 0
    else:
        s.rounds_without_progress += 1
    return record, lowest


def stuck_reason(s: SubtaskState, rnd: int, stuck_after: int) -> str | None:
    """Why the subtask is stuck (no progress, or the round cap), or None."""
    if s.rounds_without_progress >= stuck_after:
        return f"{s.rounds_without_progress} rounds without a better score"
    if rnd >= s.round_cap:
        return f"the round cap ({s.round_cap})"
    return None


def fix_issues(reviews: list[ReviewResult], gates: GateResult, bar: float) -> list[ReviewIssue]:
    """What the fixer is told: the verified critical, high and medium issues of reviews
    below the bar (a low one never blocks) and every red gate."""
    issues = [i for r in reviews if r.score < bar for i in r.issues if i.blocking]
    issues += [
        ReviewIssue(
            severity=Severity.high,
            description=f"gate `{g.command}` failed (exit {g.exit_code}):\n{g.tail}",
            location=g.log_path,
        )
        for g in gates.results
        if not g.passed
    ]
    return issues or [ReviewIssue(severity=Severity.medium, description="Address the reviews.")]


def failing_gates(s: SubtaskState, limit: int = 800) -> str:
    """`: <gate> (<what it found>); ...` for the red gates of the last round, so a person
    asked about a stuck subtask reads which file or test it is."""
    red = []
    for g in (g for g in s.gates if not g.passed):
        lines = g.tail.strip().splitlines()
        # A smell check lists its findings first; a command's verdict is at its end.
        shown = lines[:2] if g.command.startswith("smell:") else lines[-2:]
        red.append(f"{g.command} ({'; '.join(shown) or f'exit {g.exit_code}'})")
    text = "; ".join(red)
    return f": {text[:limit]}{'...' if len(text) > limit else ''}" if red else ""


def refuse(s: SubtaskState, role: str, paths: list[str]) -> None:
    """An agent changed what it may not (the orchestrator's configuration, .gitmodules,
    a nested repository: discarded, not committed): the subtask's notes say so until the
    end, so a person sees it in status and the tracker."""
    s.refused = sorted({*s.refused, *paths})
    s.notes = with_refusals(s, f"{role} left changes the orchestrator refuses")


def with_refusals(s: SubtaskState, notes: str) -> str:
    """`notes`, followed by the reviewers a person skipped and the agent changes refused
    so far (if any)."""
    if s.skipped_reviewers:
        notes = f"{notes}; reviewer(s) skipped by a person: {', '.join(s.skipped_reviewers)}"
    if not s.refused:
        return notes
    return f"{notes}; refused agent changes to {', '.join(s.refused)} (discarded, not committed)"


def waiting(s: SubtaskState) -> Waiting:
    """Who the loop waits for (the search attribute): a person it (or its build) asked,
    CI on its PR, nobody once it is done, else its agents and steps."""
    if s.decision is not None or s.paused or s.budget_hold or s.failure_hold:
        return "person"
    if s.follow is not None and s.follow.waiting_for:
        return "ci"
    if s.status in (*PR_FINAL, "blocked", "skipped", "cancelled"):
        return "nothing"
    return "agents"


def details(s: SubtaskState, subtask: str) -> str:
    """The Web UI's current-details pane: a short markdown status."""
    scores = ", ".join(f"{k} {v:.2f}" for k, v in s.scores.items()) or "-"
    gates = ", ".join(f"`{g.command}` {'ok' if g.passed else 'FAIL'}" for g in s.gates)
    lines = [f"**{subtask}** · {s.status} · {s.phase} · round {s.round}", f"scores: {scores}"]
    if gates:
        lines.append(f"gates: {gates}")
    if s.decision:
        lines.append(f"waiting for you: {s.decision.prompt}")
        lines.append(f"options: {' / '.join(s.decision.options)}")
    if s.pr_url:
        lines.append(f"PR: {s.pr_url}")
    return "\n".join(lines)


def progress(s: SubtaskState, subtask: str, generation: int) -> SubtaskProgress:
    """What the build is told (it owns the tracker and the status table)."""
    return SubtaskProgress(
        subtask=subtask,
        generation=generation,
        status=s.status,
        phase=s.phase,
        round=s.round,
        scores=dict(s.scores),
        round_scores=[dict(r.scores) for r in s.rounds],
        gates_passed=all(g.passed for g in s.gates) if s.gates else None,
        decision=s.decision,
        pr_url=s.pr_url,
        notes=s.notes,
        ledger=s.ledger,
        pull=follow_state.summary(s.follow) if s.follow else None,
        patterns_offered=list(s.patterns_offered),
        patterns_used=list(s.patterns_used),
    )


def report_due(last: SubtaskProgress | None, now: SubtaskProgress, budgeted: bool) -> bool:
    """Tell the build only what it shows or acts on: a change of status, round, scores,
    gates, decision, PR or notes (not every phase), and tokens only when it keeps a
    budget. Its timeline then shows what happened, not a stream of progress signals."""
    if last is None:
        return True
    ignored = {"phase"} if budgeted else {"phase", "ledger"}
    return last.model_dump(exclude=ignored) != now.model_dump(exclude=ignored)
