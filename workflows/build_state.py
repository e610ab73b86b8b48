"""The build's bookkeeping as pure functions of its state (no Temporal, no I/O).

Which subtask may start, what a subtask's report or result does to its view,
which failures hold, and what the build waits for: decided here from
`BuildState` alone, so it is unit-tested without a server, and the workflow
module keeps only the steps that call activities and children.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection

from contracts.build import (
    ALL_SUBTASKS_MERGEABLE,
    ALL_SUBTASKS_MERGED,
    ALL_SUBTASKS_PR_CREATED,
    FOLLOWING,
    HAS_PR,
    PR_FINAL,
    SUBTASKS_INCOMPLETE,
    BuildState,
    SubtaskProgress,
    SubtaskResult,
    SubtaskView,
)
from contracts.gate_hints import notice_lines
from contracts.human import FAILURE_SCOPE, FailureInfo, PendingDecision
from contracts.integration import (
    INTEGRATION,
    IntegrationOutcome,
    ReopenRecord,
    integration_branch,
)
from contracts.metrics import Ledger
from contracts.plan import Conflict
from contracts.search_attributes import Waiting
from contracts.tracker import TrackerRow
from workflows.fork_state import forking
from workflows.merge_order import waits_to_merge

DONE = (*PR_FINAL, "blocked", "skipped", "cancelled")


def held_by_change(s: BuildState) -> set[str]:
    """While a change is analysed or awaits its decision, what it reaches does not start."""
    c = s.change
    if c is None or c.state in ("done", "cancelled"):
        return set()
    if c.state == "analyzing":
        return set(s.subtasks)
    return {a.subtask for a in c.affected}


def ready(s: BuildState, running: Collection[str]) -> list[str]:
    """Pending subtasks whose own dependencies all have pull requests (DAG order);
    integration waits until each is done with its PR (followed until mergeable, or with
    `merge = "auto"` merged)."""
    held = held_by_change(s)

    def done_with(d: SubtaskView) -> bool:
        return d.status in PR_FINAL and not waits_to_merge(d)

    return [
        name
        for name, view in s.subtasks.items()
        if view.status in ("pending", "stale")
        and name not in running
        and name not in held
        and name not in forking(s)
        and all(
            s.subtasks[d].status in HAS_PR if view.kind == "subtask" else done_with(s.subtasks[d])
            for d in view.dependencies
        )
    ]


def ended(v: SubtaskView) -> bool:
    """Done, PR and all: what its child reports last, just before it returns."""
    return v.status in DONE and not waits_to_merge(v)


def waits_on_forge(v: SubtaskView) -> bool:
    """A subtask that only follows its PR (waits on CI, a review, its turn to merge): no
    builder work, so it holds no `max_concurrent_subtasks` slot; one whose fixer works does."""
    following = v.status in (*FOLLOWING, "mergeable") and v.pull is not None
    return following and not (v.pull and v.pull.fixing)


def busy(s: BuildState, running: Collection[str]) -> int:
    """Running children that count against `max_concurrent_subtasks`."""
    return sum(1 for n in running if n not in s.subtasks or not waits_on_forge(s.subtasks[n]))


def conflicts_prompt(conflicts: list[Conflict]) -> str:
    listed = "; ".join(
        f"stage {c.stage}: {c.file} ({', '.join(c.subtasks)})" for c in conflicts[:20]
    ) + (f"; ... {len(conflicts) - 20} more" if len(conflicts) > 20 else "")
    return (
        f"Subtasks of one stage change the same files: {listed}. continue: build them in "
        "parallel (integration merges them); serialize: build them one after another (each "
        "starts from the work of the one before, as from a dependency); stop: end the build "
        "before anything starts."
    )


def serialize(s: BuildState, conflicts: list[Conflict], order: list[str]) -> None:
    """`serialize`: each conflicting subtask waits for the one before it in plan order, and
    starts from its work, as from a dependency (edges follow the plan order: no cycle)."""
    rank = {name: i for i, name in enumerate(order)}
    for c in conflicts:
        chain = sorted(c.subtasks, key=lambda n: rank.get(n, len(rank)))
        for before, after in itertools.pairwise(chain):
            view = s.subtasks[after]
            if before not in view.dependencies:
                view.dependencies.append(before)
                s.serialized.setdefault(after, []).append(before)


def block_orphans(s: BuildState) -> None:
    """A subtask whose dependency was skipped or blocked cannot start: say so."""
    changed = True
    while changed:
        changed = False
        for view in s.subtasks.values():
            if view.status != "pending":
                continue
            stuck = [
                d
                for d in view.dependencies
                if s.subtasks[d].status in ("blocked", "skipped", "cancelled")
            ]
            if stuck:
                view.status = "blocked"
                view.notes = f"dependency {', '.join(stuck)} has no PR"
                changed = True


def apply_progress(view: SubtaskView, progress: SubtaskProgress) -> bool:
    """A subtask's report; False when it is stale (an older generation, or after its end)."""
    if progress.generation != view.generation:
        return False  # a run a spec change replaced
    if view.status in DONE and progress.status not in DONE and not waits_to_merge(view):
        return False  # (a PR waiting to merge may be followed again: not done yet)
    view.status = progress.status
    view.phase = progress.phase
    view.round = progress.round
    view.scores = progress.scores
    view.round_scores = progress.round_scores
    view.gates_passed = progress.gates_passed
    view.decision = progress.decision
    view.pr_url = progress.pr_url or view.pr_url
    view.notes = progress.notes
    view.ledger = progress.ledger
    view.pull = progress.pull
    view.patterns_offered = progress.patterns_offered
    view.patterns_used = progress.patterns_used
    return True


def integration_view(s: BuildState) -> SubtaskView | None:
    return next((v for v in s.subtasks.values() if v.kind == "integration"), None)


def subtask_views(s: BuildState) -> list[SubtaskView]:
    """The subtasks proper (integration is a row of the tracker, not a subtask)."""
    return [v for v in s.subtasks.values() if v.kind == "subtask"]


def add_integration(s: BuildState) -> str | None:
    """The integration row, after every subtask; why not, when a subtask has its name."""
    if INTEGRATION in s.subtasks:
        if s.subtasks[INTEGRATION].kind != "integration":
            return (
                f"integration is skipped: a subtask is named {INTEGRATION!r}, the name of the "
                "integration step; rename that subplan to build with integration"
            )
        return None
    views = subtask_views(s)
    s.subtasks[INTEGRATION] = SubtaskView(
        name=INTEGRATION,
        kind="integration",
        batch=max((v.batch for v in views), default=0) + 1,
        dependencies=[v.name for v in views],
    )
    return None


def reopen_for_integration(
    s: BuildState, name: str, why: str, record: ReopenRecord | None = None
) -> None:
    """Integration found a defect in one subtask's own work: rebuild it on its branch."""
    view = s.subtasks.get(name)
    if view is None or view.kind != "subtask":
        return
    if record is not None:
        s.reopens.append(record)
    view.generation += 1
    view.status, view.phase = "stale", "stale"
    view.notes = f"reopened by integration: {why}"
    s.rebuild[name] = why
    s.rebuild_by[name] = "integration"
    s.reopened.append(f"{name}: {why}")
    integ = integration_view(s)
    if integ is not None:
        integ.generation += 1
        integ.status, integ.phase = "pending", f"waiting for {name} (reopened)"


def integration_outcome(s: BuildState, feature: str) -> IntegrationOutcome | None:
    """What the build's result says about integration (None: not part of this build)."""
    v = integration_view(s)
    if v is None:
        return None
    branch = integration_branch(feature)
    if v.status in PR_FINAL:
        return IntegrationOutcome(
            status="passed",
            reason="" if v.pr_url else v.notes,  # no PR: nothing to integrate, it says so
            branch=branch,
            pr_url=v.pr_url,
            rounds=v.round,
            pr_status=v.status if v.pull is not None else "",
        )
    missing = [d for d in v.dependencies if s.subtasks[d].status not in PR_FINAL]
    if v.status in ("skipped", "pending", "stale") or (v.status == "blocked" and missing):
        reason = v.notes if v.status == "skipped" else f"not run: {', '.join(missing)} has no PR"
        return IntegrationOutcome(status="skipped", reason=reason, branch=branch, rounds=v.round)
    return IntegrationOutcome(
        status="failed", reason=v.notes or v.status, branch=branch, rounds=v.round
    )


def integrate_again(s: BuildState) -> None:
    """A subtask reopened (by a spec change) after integration ended: integrate again."""
    integ = integration_view(s)
    if integ is None or integ.status in ("pending", "in_progress", "skipped", *FOLLOWING):
        return
    if waits_to_merge(integ):  # still running: looked at again once it ended
        return
    if integ.status == "blocked" and any(
        s.subtasks[d].status in ("blocked", "skipped", "cancelled") for d in integ.dependencies
    ):
        return
    reopened = [d for d in integ.dependencies if s.subtasks[d].status in ("stale", "pending")]
    if reopened:
        integ.generation += 1
        integ.status, integ.phase = "pending", f"waiting for {', '.join(reopened)}"


def build_result(results: list[SubtaskResult], integration: SubtaskView | None = None) -> str:
    """ALL_SUBTASKS_MERGED when every PR merged (`[forge] merge = "auto"`);
    ALL_SUBTASKS_MERGEABLE when every followed PR ended clean (or merged);
    ALL_SUBTASKS_PR_CREATED when every subtask has its PR (not followed, or a person
    skipped following one); else SUBTASKS_INCOMPLETE. An integration PR that was
    followed (`integration`'s view has a `pull`) counts as one more PR: the build is no
    more done than it is. One that failed or was skipped leaves the subtasks' result."""
    if integration is not None and integration.pull is not None:
        if integration.status in PR_FINAL:
            results = [*results, SubtaskResult(subtask=INTEGRATION, status=integration.status)]
    if results and all(r.status == "merged" for r in results):
        return ALL_SUBTASKS_MERGED
    if results and all(r.status in ("mergeable", "merged") for r in results):
        return ALL_SUBTASKS_MERGEABLE
    if all(r.status in PR_FINAL for r in results):
        return ALL_SUBTASKS_PR_CREATED
    return SUBTASKS_INCOMPLETE


def apply_result(view: SubtaskView, result: SubtaskResult) -> None:
    view.status = result.status
    view.pr_url = result.pr_url or view.pr_url
    view.scores = result.scores or view.scores
    view.round = max(view.round, result.rounds)
    view.notes = result.notes
    view.ledger = result.ledger
    view.decision = None
    view.phase = result.status
    view.follow_rounds = result.follow_rounds or view.follow_rounds


def failure_decisions(s: BuildState, running: Collection[str]) -> list[PendingDecision]:
    """The subtasks' failure holds, one per cause (one outage, one decision)."""
    by_cause: dict[str, PendingDecision] = {}
    for name, view in s.subtasks.items():
        d = view.decision
        if d is None or d.kind != "failure" or name not in running:
            continue
        cause = d.failure.cause if d.failure else d.prompt
        if cause not in by_cause:
            by_cause[cause] = d.model_copy(deep=True)
            if by_cause[cause].failure is not None:
                by_cause[cause].failure.scopes = []  # type: ignore[union-attr]
        merged = by_cause[cause].failure
        if merged is not None and name not in merged.scopes:
            merged.scopes.append(name)
        # One answer goes to every held subtask: offer what all of them can do.
        held = by_cause[cause]
        held.options = [o for o in held.options if o in d.options]
    return list(by_cause.values())


def held_by_failure(s: BuildState, running: Collection[str], scope: str | None) -> list[str]:
    """The subtasks a `decide` answers: a named one, or every one held by the first cause."""
    groups = failure_decisions(s, running)
    if scope not in (None, FAILURE_SCOPE):
        held = {n for g in groups if g.failure for n in g.failure.scopes}
        return [scope] if scope in held else []
    return list(groups[0].failure.scopes) if groups and groups[0].failure else []


def tracker_rows(s: BuildState) -> list[TrackerRow]:
    return [
        TrackerRow(subtask=v.name, batch=v.batch, status=v.status, pr=v.pr_url, notes=_note(v))
        for v in s.subtasks.values()
    ]


def _note(v: SubtaskView) -> str:
    if v.decision is not None and v.decision.kind == "failure" and v.decision.failure:
        f = v.decision.failure
        return f"held for a person: {f.step} failed: {f.error}"
    return v.notes if v.status != "in_progress" else f"{v.phase}, round {v.round}"


def ledger(s: BuildState) -> Ledger:
    """One ledger across the build's own agents and every subtask's."""
    total = Ledger()
    total.merge(s.ledger)
    for view in s.subtasks.values():
        total.merge(view.ledger)
    for fork in s.forks.values():  # both attempts count, and what a cancelled child spent
        total.merge(fork.spent_before)
        for attempt in fork.attempts.values():
            total.merge(attempt.ledger)
    return total


def waiting_for(s: BuildState, running: Collection[str], own: list[PendingDecision]) -> str:
    """What the build waits for, most pressing first (`own`: the build's own failure holds)."""
    return waiting(s, running, own)[1]


def waiting(
    s: BuildState, running: Collection[str], own: list[PendingDecision]
) -> tuple[Waiting, str]:
    """Who the build waits for (the search attribute) and what for (`status`)."""
    c = s.change
    if c is not None and c.state == "awaiting-decision":
        return "person", (
            f"!change-approve or !change-cancel (change {c.id}: {c.scope}, see {c.report_path})"
        )
    if s.budget_hold:
        return "person", "decide budget raise|stop (the budget is reached)"
    failures = [*own, *failure_decisions(s, running)]
    if failures:
        return "person", "; ".join(f"decide {'/'.join(d.options)} ({d.prompt})" for d in failures)
    if s.paused:
        return "person", "!resume (paused: no new agent starts)"
    asked = [
        f"decide {n} {'/'.join(v.decision.options)}" for n, v in s.subtasks.items() if v.decision
    ]
    if asked:
        return "person", "; ".join(asked)
    forge = [
        f"{n}'s PR: {v.pull.waiting_for}"
        for n, v in s.subtasks.items()
        if n in running and v.status in (*FOLLOWING, "mergeable") and v.pull and v.pull.waiting_for
    ]
    if forge and len(forge) == len(running):  # no agent works: only the forge is awaited
        return "ci", "; ".join(forge)
    return ("agents", "agents") if running else ("nothing", "nothing")


def stalled(s: BuildState, running: Collection[str], held: bool) -> str:
    """Work left, yet nothing runs and nothing is awaited ("" when all is well).

    A bug state (an unread error, a child nobody follows): the build holds with what
    it found instead of waiting for nothing.
    """
    c = s.change
    if running or held or (c is not None and c.state not in ("done", "cancelled")):
        return ""
    left = [(n, v) for n, v in s.subtasks.items() if v.status not in DONE]
    if not left:
        return ""
    ready_now = set(ready(s, running))

    def why(name: str, v: SubtaskView) -> str:
        if name in ready_now:
            return f"{name} {v.status}, ready to start"
        deps = [f"{d} {s.subtasks[d].status}" for d in v.dependencies if d in s.subtasks]
        return f"{name} {v.status}, waiting for {', '.join(deps) or 'nothing'}"

    return "nothing runs and nothing is awaited, yet work is left: " + "; ".join(
        why(n, v) for n, v in left
    )


def stall_failure(found: str) -> FailureInfo:
    return FailureInfo(
        step="schedule subtasks",
        scopes=["build"],
        error=(
            f"{found}. Fix: look at the worker log (~/.orchestrator/worker.log) and at "
            "`temporal workflow list` for leftovers of this build, then retry"
        ),
        error_type="Stalled",
        cause="Stalled",
    )


def final_details(s: BuildState, feature: str, result: str, report: str | None) -> str:
    """The Web UI's details once the build has ended: its result, every PR, the report."""
    lines = details(s, feature, "nothing: the build has ended").splitlines()
    lines[0] = f"**build {feature}** · ended: **{result}**"
    return "\n".join([*lines, f"report: {report or 'not written'}"])


def details(s: BuildState, feature: str, waiting: str) -> str:
    """The Web UI's current-details pane: a short markdown status."""
    lines = [f"**build {feature}** · waiting for: {waiting}"]
    for v in s.subtasks.values():
        scores = ", ".join(f"{k} {x:.2f}" for k, x in v.scores.items()) or "-"
        pr = f" · {v.pr_url}" if v.pr_url else ""
        lines.append(f"- {v.name} (batch {v.batch}): {v.status}, {v.phase}, {scores}{pr}")
    total = ledger(s).total
    lines.append(f"tokens {total.total_tokens}, cost ${total.cost_usd:.4f}")
    if s.stop_reason:
        lines.append(f"stopped: {s.stop_reason}")
    return "\n".join([*lines, *notice_lines(s, waiting)])
