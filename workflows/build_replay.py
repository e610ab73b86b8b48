"""The build's `!replay <subtask>` (seed 004): back to the checkpoint right after it finished.

A subtask *finished* when the build recorded its PR; `BuildState.finished` keeps that order
(ties within one workflow task in plan order). What comes *after* `<subtask>` is every
other subtask (and integration) that had started and had not finished by then: it finished
later, or it still runs. The scheduling loop applies a replay between two passes, like
`!reset` (workflows/build_reset.py), but only to what comes after: those children are
cancelled and awaited, their branches kept as `archive/<branch>-<time>` while the remote
branch stays (so its open PR stays open), and they are pending again, built afresh on
what finished before and pushed over their old remote heads (force-with-lease on exactly
those): each PR shows the rebuilt work. `<subtask>` and what finished before it keep theirs.

No confirm step: the checkpoint is named, and nothing is lost (archives, reviews, ledger).
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.build import HAS_PR, BuildState
    from contracts.reset import RESET_WINDOW_S, ReplayState
    from workflows.build_reset import BuildReset, branches, pending_again


def note_finished(s: BuildState) -> None:
    """Keep `s.finished` the order in which subtasks got their PRs (one reopened leaves it)."""
    s.finished = [n for n in s.finished if n in s.subtasks and s.subtasks[n].status in HAS_PR]
    s.finished += [n for n, v in s.subtasks.items() if v.status in HAS_PR and n not in s.finished]
    for name in s.finished:
        s.replaced.pop(name, None)  # its rebuilt branch is pushed: nothing left to replace


def after(s: BuildState, subtask: str) -> list[str]:
    """What a replay from `subtask` makes pending again (it must have finished)."""
    note_finished(s)
    before = s.finished[: s.finished.index(subtask) + 1]
    return [n for n, v in s.subtasks.items() if n not in before and v.status != "pending"]


def refusal(s: BuildState, subtask: str, now: datetime, applying: bool = False) -> str:
    """Why `!replay <subtask>` cannot go ahead now ("" when it can). A fork still
    building or waiting for its pick after the checkpoint is decided first (its attempts
    would be cancelled mid-way, with nothing sensible left to pick from)."""
    done = [n for n in s.finished if s.subtasks[n].kind == "subtask"]
    fix_done = f"name one that has: {', '.join(done)}" if done else "wait until one has its PR"
    reset = s.reset
    if reset is not None and (
        reset.state != "asked"
        or (now - datetime.fromisoformat(reset.asked_at)).total_seconds() <= RESET_WINDOW_S
    ):
        return (
            f"a !reset is {'asked' if reset.state == 'asked' else 'under way'}. Fix: let it "
            f"finish, or let the !reset lapse ({RESET_WINDOW_S // 60} minutes), then replay"
        )
    if s.replay is not None and not applying:
        return f"the replay from {s.replay.subtask} is under way. Fix: wait until it is done"
    if s.change is not None and s.change.state not in ("done", "cancelled"):
        return (
            f"change {s.change.id} is open ({s.change.state}). Fix: approve or cancel it "
            "(!change-approve / !change-cancel), then replay"
        )
    view = s.subtasks.get(subtask)
    if view is None or view.kind != "subtask":
        names = ", ".join(n for n, v in s.subtasks.items() if v.kind == "subtask")
        return f"{subtask!r} is not a subtask of this build. Fix: name one of {names}"
    if view.status not in HAS_PR:
        return (
            f"{subtask} has not finished ({view.status}): only a subtask with its PR is a "
            f"checkpoint. Fix: {fix_done}"
        )
    if not after(s, subtask):
        return f"nothing started or finished after {subtask}: there is nothing to replay"
    undecided = [n for n in after(s, subtask) if n in s.forks and s.forks[n].status != "merged"]
    if undecided:
        f = s.forks[undecided[0]]
        return (
            f"the fork of {f.subtask} ({f.name}) is {f.status}. Fix: let it end and decide it "
            "(!merge A|B), then replay"
        )
    return ""


class BuildReplay:
    """The partial form of `BuildReset`: bound to the same `BuildLinks`, and archiving
    through it."""

    def __init__(self, reset: BuildReset) -> None:
        self.reset, links = reset, reset.links
        self.state, self.ctx, self.children = links.state, links.ctx, links.children
        self.control, self.changed = links.control, links.changed

    def ask(self, subtask: str) -> None:
        s, name = self.state(), subtask.strip()
        why = refusal(s, name, workflow.now())
        if why:
            self.control.refuse(f"!replay {name}: {why}")
            return
        s.replay = ReplayState(subtask=name, asked_at=workflow.now().isoformat())
        self.control.tell(
            f"!replay {name}: going back to the checkpoint after {name}: "
            f"{', '.join(after(s, name))} will be pending again (their branches kept as "
            "archive/<branch>-<time>, their PRs updated by the rebuild)"
        )
        self.changed()

    async def handle(self) -> None:
        """Apply the replay asked (again, after a crash or continue-as-new mid-way)."""
        s = self.state()
        if s.replay is None:
            return
        replay = s.replay
        if replay.state == "asked":
            why = refusal(s, replay.subtask, workflow.now(), applying=True)
            if why:  # it changed between the ask and this pass (a spec change reopened it)
                s.replay = None
                self.control.refuse(f"!replay {replay.subtask}: {why}")
                return
            replay.after, replay.state = after(s, replay.subtask), "applying"
        names = replay.after
        for name in names:
            if name in self.children.running:
                self.children.restarting.add(name)
                self.children.running[name].cancel()
        await workflow.wait_condition(lambda: not set(names) & set(self.children.running))
        self.children.restarting.difference_update(names)
        stamp = workflow.now().strftime("%Y%m%dT%H%M%SZ")
        branch_of = branches(s, self.ctx(), names)
        done = await self.reset.archive(
            branch_of, stamp, f"after {replay.subtask} (!replay)", keep_remote=True
        )
        for name in names:
            kept = done.archived.get(branch_of[name])
            why = f"replayed from {replay.subtask} at {stamp}"
            # The same PR, updated by the rebuild.
            s.subtasks[name] = pending_again(s.subtasks[name], why, kept, pr=True)
            if left := done.left.get(branch_of[name]):
                s.replaced[name] = left
            for table in (s.rebuild, s.rebuild_by, s.merge_told, s.merge_declined):
                table.pop(name, None)
        note_finished(s)
        archived = ", ".join(sorted(done.archived.values())) or "nothing"
        s.replays.append(f"{stamp}: from {replay.subtask}: {', '.join(names)}; kept {archived}")
        s.replay = None
        self.control.tell(
            f"!replay {replay.subtask} done at {stamp}: {', '.join(names)} pending again, "
            f"to be rebuilt; the old branches are kept as {archived}"
        )
        self.changed()
