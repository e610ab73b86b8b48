"""Readable tables for `orchestrator status` and `--wait` (plain text, no dependencies)."""

from __future__ import annotations

from contracts.build import PR_FINAL, BuildStatus
from contracts.design import DesignStatus
from contracts.follow import PullSummary
from contracts.fork import ForkState
from contracts.integration import IntegrationOutcome
from contracts.metrics import Metrics
from contracts.release import ReleaseStatus, StageView


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def scores_text(scores: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in scores.items()) or "-"


def design_view(s: DesignStatus) -> str:
    out = [
        f"Design {s.feature}: phase {s.phase}{' (paused)' if s.paused else ''}; "
        f"bar {s.threshold:.2f}; tokens {s.tokens}, cost ${s.cost_usd:.4f}",
        f"Waiting for: {s.waiting_for}",
        "",
        table(
            ["scope", "state", "round", "latest scores"],
            [[sc.name, sc.state, str(sc.round), scores_text(sc.scores)] for sc in s.scopes],
        ),
    ]
    notes = [f"  {sc.name}: {sc.notes}" for sc in s.scopes if sc.notes]
    if notes:
        out += ["", "Notes:", *notes]
    if s.open_questions:
        out += ["", "Open questions:"]
        out += [f"  {q.id}: {q.text}\n      {q.options_line()}" for q in s.open_questions]
    if s.answered_questions:
        out += ["", "Answered:"]
        out += [
            f"  {q.id}: {q.text} -> {q.choice}) {q.answer_text()} ({q.answered_by})"
            for q in s.answered_questions
        ]
    if s.notice:
        out += ["", f"Note: {s.notice}"]
    if s.hint:
        out += ["", f"Hint: {s.hint}"]
    return "\n".join(out + retrying_lines(s.retrying))


def retrying_lines(retrying: list[str]) -> list[str]:
    if not retrying:
        return []
    return ["", "Retrying (the server retries these by itself; nothing to decide):"] + [
        f"  {line}" for line in retrying
    ]


def integration_line(i: IntegrationOutcome) -> str:
    """`passed: integration/f (PR url)` (`; PR mergeable` when it was followed),
    `failed: why`, `skipped: why`."""
    where = f"{i.branch}" + (f" ({i.pr_url})" if i.pr_url else "")
    where += f"; PR {i.pr_status}" if i.pr_status else ""
    return f"{i.status}: {where}" + (f"; {i.reason}" if i.reason else "")


def pull_line(name: str, p: PullSummary) -> str:
    """`  a: checks tests failure; reviews alice APPROVED; GitHub blocked; CI rounds 1, ...`."""
    checks = ", ".join(f"{k} {v}" for k, v in p.checks.items()) or "none"
    reviews = ", ".join(f"{k} {v}" for k, v in p.reviews.items()) or "none"
    waits = f"; waiting for {p.waiting_for}" if p.waiting_for else ""
    return (
        f"  {name}: checks {checks}; reviews {reviews}; GitHub {p.mergeable_state}; "
        f"CI rounds {p.ci_rounds}, review rounds {p.review_rounds}"
        + (f", conflict rounds {p.conflict_rounds}" if p.conflict_rounds else "")
        + (f"; merged as {p.merge_sha[:10]}" if p.merge_sha else "")
        + waits
    )


def fork_lines(f: ForkState) -> list[str]:
    """A fork: what it is at, each attempt's progress and scores, the pick, the archive."""
    picked = f" {f.winner} picked by {f.picked_by}" if f.winner else ""
    head = f"  {f.subtask} as {f.name!r}: {f.status}{picked}"
    lines = [head + (f"; comparison {f.report_path}" if f.report_path else "")]
    for a in f.attempts.values():
        verdict = "passed" if a.passed else a.status
        gates = "-" if a.gates_passed is None else ("green" if a.gates_passed else "red")
        lines.append(
            f"    {a.attempt} {a.branch}: {verdict}, {a.phase}, round {a.round}, "
            f"scores {scores_text(a.scores)}, gates {gates}"
            + (f" ({a.approach})" if a.approach else "")
        )
    lines += [f"    kept as {b}" for b in f.archived]
    return lines + ([f"    {f.notes}"] if f.notes else [])


def build_view(s: BuildStatus) -> str:
    budget = []
    if s.max_cost_usd is not None:
        budget.append(f"max ${s.max_cost_usd:.2f}")
    if s.max_tokens is not None:
        budget.append(f"{s.budget_tokens} of max {s.max_tokens} tokens, cache weighed by price")
    out = [
        f"Build {s.feature}: {s.phase}; running {', '.join(s.running) or 'none'}; "
        f"tokens {s.tokens}, cost ${s.cost_usd:.4f}"
        + (f" ({', '.join(budget)})" if budget else ""),
        f"Waiting for: {s.waiting_for}",
        "",
        table(
            ["subtask", "batch", "status", "phase", "round", "scores", "gates", "PR", "tokens"],
            [
                [
                    v.name,
                    str(v.batch),
                    v.status,
                    v.phase,
                    str(v.round),
                    scores_text(v.scores),
                    "-" if v.gates_passed is None else ("green" if v.gates_passed else "red"),
                    v.pr_url or "-",
                    str(v.ledger.total.total_tokens),
                ]
                for v in s.subtasks
            ],
        ),
    ]
    pulls = [pull_line(v.name, v.pull) for v in s.subtasks if v.pull is not None]
    if pulls:
        out += ["", "Pull requests followed:", *pulls]
    patterns = [
        f"  {v.name}: "
        + ", ".join(f"{p} ({'used' if p in v.patterns_used else 'not used'})" for p in offered)
        for v in s.subtasks
        if (offered := v.patterns_offered)
    ]
    if patterns:
        out += ["", "Library patterns offered to builders:", *patterns]
    if s.forks:
        out += ["", "Forks:", *(line for f in s.forks for line in fork_lines(f))]
    if s.notes:
        out += ["", f"Notes: {s.notes}"]
    if s.file_conflicts:
        listed = "; ".join(
            f"stage {c.stage}: {c.file} ({', '.join(c.subtasks)})" for c in s.file_conflicts
        )
        out += ["", f"File conflicts: {listed}; chosen: {s.conflict_choice or 'not yet'}"]
    if s.stop_reason:
        out += ["", f"Stopped: {s.stop_reason}"]
    if s.notice:
        out += ["", f"Note: {s.notice}"]
    if s.hint:
        out += ["", f"Hint: {s.hint}"]
    # What waits for a person, with the commands that answer it, follows (cli/holds.py).
    for v in s.subtasks:
        # Done without a PR (integration with nothing of its own): the note says why.
        ended = v.status in ("blocked", "skipped", "cancelled", "stale")
        if v.notes and (ended or (v.status in PR_FINAL and not v.pr_url)):
            out.append(f"  {v.name}: {v.notes}")
    return "\n".join(out + retrying_lines(s.retrying))


def findings_text(findings: dict[str, int]) -> str:
    return ", ".join(f"{n} {severity}" for severity, n in findings.items() if n) or "none"


def stage_row(v: StageView) -> list[str]:
    lowest = "-" if v.lowest is None else f"{v.lowest:.2f}"
    return [v.name, v.status, str(v.round), str(v.fix_rounds), lowest]


def release_view(s: ReleaseStatus) -> str:
    """The release loop: its gates in order, each stage's rounds, findings and report."""
    out = [
        f"Release {s.feature}: {s.phase}{' (paused)' if s.paused else ''}; "
        f"tokens {s.tokens}, cost ${s.cost_usd:.4f}" + (f"; result {s.result}" if s.result else ""),
        f"Waiting for: {s.waiting_for}",
        "",
        table(
            ["gate", "status", "round", "fix rounds", "lowest", "findings", "report"],
            [[*stage_row(v), findings_text(v.findings), v.report or "-"] for v in s.stages],
        ),
    ]
    if s.docs != "none":
        out += ["", f"Docs ({s.docs}): {', '.join(s.docs_files) or '-'}"]
    if s.notice:
        out += ["", f"Note: {s.notice}"]
    if s.hint:
        out += ["", f"Hint: {s.hint}"]
    return "\n".join(out)


def metrics_view(m: Metrics) -> str:
    t = m.total
    out = [
        f"Duration {m.elapsed_s:.0f}s; agent calls {m.agent_calls}; errors {m.errors}",
        f"Tokens {t.total_tokens} (input {t.input_tokens}, output {t.output_tokens}, "
        f"cache write {t.cache_creation_input_tokens}, cache read {t.cache_read_input_tokens}); "
        f"cost ${t.cost_usd:.4f}",
        "",
        table(
            ["role", "tokens", "cost USD", "agent time s"],
            [
                [r, str(u.total_tokens), f"{u.cost_usd:.4f}", f"{u.duration_s:.1f}"]
                for r, u in sorted(m.by_role.items())
            ],
        ),
        "",
        table(
            ["scope / subtask", "tokens", "cost USD"],
            [[s, str(u.total_tokens), f"{u.cost_usd:.4f}"] for s, u in sorted(m.by_scope.items())],
        ),
    ]
    return "\n".join(out)
