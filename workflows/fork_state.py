"""A fork's bookkeeping as pure functions of the build's state (no Temporal, no I/O):
what `!fork` and `!merge` refuse, what an attempt's report does to its view, which
attempt is best, and how the forked subtask's row reads."""

from __future__ import annotations

from contracts.build import HAS_PR, BuildState, SubtaskProgress, SubtaskResult
from contracts.fork import (
    ATTEMPTS,
    Attempt,
    AttemptView,
    ForkAttemptSpec,
    ForkRequest,
    ForkState,
    fork_branch,
)
from contracts.human import PendingDecision

FORKABLE = ("pending", "stale", "in_progress")


def refusal(s: BuildState, req: ForkRequest) -> str:
    """Why `!fork` cannot go ahead ("" when it can)."""
    subtasks = sorted(n for n, v in s.subtasks.items() if v.kind == "subtask")
    view = s.subtasks.get(req.subtask)
    if view is None or view.kind != "subtask":
        return (
            f"!fork {req.subtask}: no such subtask in this build. Fix: fork one of "
            f"{', '.join(subtasks) or '(none)'}"
        )
    if s.reset is not None:
        return (
            f"!fork {req.subtask}: a !reset is {s.reset.state}. Fix: fork once the reset is "
            "done (or has lapsed)"
        )
    if s.change is not None and s.change.state not in ("done", "cancelled"):
        return (
            f"!fork {req.subtask}: spec change {s.change.id} is {s.change.state}. Fix: approve "
            "or cancel it first (!change-approve / !change-cancel), then fork"
        )
    if req.subtask in s.forks:
        f = s.forks[req.subtask]
        return (
            f"!fork {req.subtask}: it is forked already (fork {f.name}, {f.status}). Fix: "
            "decide that fork with !merge A|B; a subtask is forked once"
        )
    if view.status not in FORKABLE:
        done = "has its pull request" if view.status in HAS_PR else f"is {view.status}"
        return (
            f"!fork {req.subtask}: it {done}, so there is nothing left to build twice. Fix: "
            "fork a subtask that is pending or building (see `status`)"
        )
    name = req.name or req.subtask
    taken = [f.subtask for f in s.forks.values() if f.name == name]
    if taken:
        return (
            f"!fork {req.subtask} {name}: the name {name} is taken by the fork of {taken[0]} "
            f"(its branches are {fork_branch(name, 'A')}, -B). Fix: give this fork another name"
        )
    return ""


def parse_merge(s: BuildState, text: str) -> tuple[str, str] | str:
    """`A`, `B`, `<subtask> B` or `B <subtask>` -> (subtask, winner); else a refusal.
    Subtask names are lowercase slugs (a subtask may be called `a`): the one of two words
    that names a waiting fork is the subtask, the other the winner."""
    deciding = sorted(n for n, f in s.forks.items() if f.status == "deciding")
    said, words = text.strip(), text.split()
    if not deciding:
        running = sorted(n for n, f in s.forks.items() if f.status in ("asked", "running"))
        still = f" (still building: {', '.join(running)})" if running else ""
        return (
            f"!merge {said}: no fork waits for a pick{still}. Fix: send it once "
            "`status` shows a fork waiting for !merge A|B"
        )
    several = f" with the subtask, e.g. `!merge {deciding[0]} B`" if len(deciding) > 1 else ""
    wrong = f"!merge {said}: name the winner, A or B. Fix: send `!merge A` or `!merge B`{several}"
    if len(words) == 1:
        if words[0].upper() not in ATTEMPTS:
            return wrong
        if len(deciding) > 1:
            return (
                f"!merge {said}: forks of {', '.join(deciding)} wait. Fix: name one, "
                f"e.g. `!merge {deciding[0]} {words[0].upper()}`"
            )
        return deciding[0], words[0].upper()
    if len(words) != 2:
        return wrong
    for subtask, letter in (words, reversed(words)):
        if subtask in deciding and letter.upper() in ATTEMPTS:
            return subtask, letter.upper()
    if not any(w in deciding for w in words):
        return (
            f"!merge {said}: no fork of {' or '.join(words)} waits for a pick. Fix: name one "
            f"of {', '.join(deciding)}"
        )
    return wrong


def apply_progress(view: AttemptView, progress: SubtaskProgress) -> None:
    if view.ended_at is not None:
        return
    view.status, view.phase, view.round = progress.status, progress.phase, progress.round
    view.scores, view.gates_passed = dict(progress.scores), progress.gates_passed
    view.notes, view.ledger = progress.notes, progress.ledger
    view.decision = progress.decision


def apply_result(view: AttemptView, result: SubtaskResult) -> None:
    view.status, view.round = result.status, result.rounds
    view.scores = result.scores or view.scores
    view.notes, view.ledger = result.notes, result.ledger
    view.passed_commit = result.passed_commit
    view.passed = result.passed_commit is not None
    if view.passed:
        view.status = "passed"


def _rank(v: AttemptView) -> tuple[float, float]:
    scores = list(v.scores.values()) or [0.0]
    return min(scores), sum(scores) / len(scores)


def best(f: ForkState) -> Attempt | None:
    """The passing attempt with the higher lowest score (then mean; then A)."""
    passing = [v for a, v in sorted(f.attempts.items()) if v.passed]
    if not passing:
        return None
    return max(passing, key=_rank).attempt  # max keeps the first of equals: A


def outcome(f: ForkState) -> str:
    parts = []
    for a, v in sorted(f.attempts.items()):
        low = f"lowest {min(v.scores.values()):.2f}" if v.scores else "no scores"
        parts.append(f"{a} {'passed' if v.passed else v.status} ({low}, {v.round} round(s))")
    return "; ".join(parts)


def show(s: BuildState, f: ForkState) -> None:
    """The forked subtask's row: both attempts in its phase, an attempt's question (or
    the pick) as its decision, so `status`, the tracker and the search attribute show it."""
    view = s.subtasks[f.subtask]
    if f.status == "deciding":
        view.phase = f"fork {f.name}: waiting for !merge A|B"
        return
    parts = [f"{a} {v.phase} r{v.round}" for a, v in sorted(f.attempts.items())]
    view.phase = f"fork {f.name}: " + ", ".join(parts)
    view.round = max((v.round for v in f.attempts.values()), default=0)
    asked = next(
        ((a, v.decision) for a, v in sorted(f.attempts.items()) if v.decision is not None), None
    )
    view.decision = (
        None
        if asked is None
        else PendingDecision(
            scope=f.subtask,
            kind=asked[1].kind,
            prompt=f"attempt {asked[0]} of fork {f.name}: {asked[1].prompt}",
            options=asked[1].options,
            failure=asked[1].failure,
        )
    )


def forking(s: BuildState) -> set[str]:
    """Subtasks a fork holds: the scheduler does not start them itself."""
    return {n for n, f in s.forks.items() if f.status != "merged"}


def attempt_branches(forks: list[ForkState], worktrees: str) -> dict[str, str]:
    """branch -> worktree of each attempt of `forks` (what `!reset` archives of them)."""
    specs = [ForkAttemptSpec(name=f.name, attempt=a) for f in forks for a in ATTEMPTS]
    return {spec.branch: f"{worktrees}/{spec.worktree_key}" for spec in specs}
