"""Merging in dependency order (`[forge] merge = "auto"`), as pure functions of the build's
state (no Temporal, no I/O).

The build knows the plan, so it decides: a subtask's PR may merge only once every
dependency's PR merged, one PR at a time, the first waiting one in plan order; and each
running subtask hears of its dependencies' merges, to retarget and refresh its PR. The
subtask merges (its loop holds the head it saw clean) and says so in its reports.
Integration's PR is one more, last: it depends on every subtask, and starts only once
each is done with its PR.
"""

from __future__ import annotations

from collections.abc import Collection

from contracts.build import BuildState, SubtaskView

MERGING = ("waiting", "merging")


def waits_to_merge(v: SubtaskView) -> bool:
    """Clean, and waiting for its turn or merging: not done with its PR yet."""
    return v.pull is not None and v.pull.merge in MERGING


def news(s: BuildState, running: Collection[str]) -> dict[str, list[str]]:
    """Per running subtask: its dependencies whose PRs merged and it was not told of yet."""
    found: dict[str, list[str]] = {}
    for name in running:
        v = s.subtasks.get(name)
        if v is None:
            continue
        told = s.merge_told.get(name, [])
        new = [d for d in v.dependencies if s.subtasks[d].status == "merged" and d not in told]
        if new:
            found[name] = new
    return found


def declined(s: BuildState, running: Collection[str]) -> dict[str, str]:
    """Per running subtask following its PR: why it never may merge by itself, when a
    dependency's PR ended without merging (a person skipped following it, or blocked it);
    told once."""
    found: dict[str, str] = {}
    for name in running:
        v = s.subtasks.get(name)
        if v is None or v.pull is None or name in s.merge_declined:
            continue
        ended = [
            f"{d} {s.subtasks[d].status}"
            for d in v.dependencies
            if d not in running and s.subtasks[d].status != "merged"
        ]
        if ended:
            found[name] = f"dependency {', '.join(ended)}: not merged, so neither is this one"
    return found


def next_turn(s: BuildState, running: Collection[str]) -> str | None:
    """The subtask to tell it may merge now (kept in `s.merge_turn`), or None: the one
    whose turn it is holds its leave, or none waits with every dependency merged (and
    told so)."""
    holder = s.subtasks.get(s.merge_turn or "")
    if holder is not None and _has_turn(holder, running):
        # Waiting without the leave: it left clean and came back (or the leave is still
        # on its way): say it again, which is harmless twice.
        pull = holder.pull
        lost = pull is not None and pull.merge == "waiting" and not pull.may_merge
        return holder.name if lost else None
    s.merge_turn = None
    for name, v in s.subtasks.items():
        told = s.merge_told.get(name, [])
        waiting = v.pull is not None and v.pull.merge == "waiting"
        if waiting and _has_turn(v, running):
            if all(s.subtasks[d].status == "merged" and d in told for d in v.dependencies):
                s.merge_turn = name
                return name
    return None


def _has_turn(v: SubtaskView, running: Collection[str]) -> bool:
    return v.name in running and v.status == "mergeable" and waits_to_merge(v)
