"""The demo's fork (seed 004's `!fork` / `!merge`), done as a person does it.

Before the last subtask starts, the demo forks it with two approaches; both attempts
build and are reviewed side by side, `FORK-<name>.md` compares them, and the build holds
for a pick. The demo answers that hold with the attempt the comparison recommends. Each
step prints the `orchestrator` command a person would type and goes through the CLI's
own code (cli/fork_cmd.py), so what the demo shows is what the command does. When no
attempt passed (a real model's), there is nothing to recommend: the hold is printed for
a person, as every other hold is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import WorkflowHandle

from cli.common import CliError
from cli.demo_steps import Demo
from cli.fork_cmd import merge_text, send
from cli.loop_classes import BuildWorkflow
from cli.views import scores_text
from contracts.build import BuildStatus
from contracts.fork import ForkRequest, ForkState
from simulators.demo_scenario import FORK_APPROACHES, FORKED_SUBTASK
from workflows.fork_state import FORKABLE, best

Seen = set[tuple[str, object]]


@dataclass
class DemoFork:
    demo: Demo
    handle: WorkflowHandle
    subtask: str = FORKED_SUBTASK
    sent: bool = False
    merged: bool = False
    last: ForkState | None = field(default=None, repr=False)

    async def step(self, st: BuildStatus, seen: Seen, act: bool = True) -> None:
        """One poll: fork once the subtask is listed, say what the attempts did, merge
        (`act`: while the build runs; its last poll only reports)."""
        if act and not self.sent:
            await self._fork(st, seen)
        for f in st.forks:
            if f.subtask == self.subtask:
                self.last = f
                self._progress(f, seen)
                if act and not self.merged:
                    await self._merge(st, f, seen)

    async def _fork(self, st: BuildStatus, seen: Seen) -> None:
        view = next((v for v in st.subtasks if v.name == self.subtask), None)
        if view is None or view.status not in FORKABLE:
            return
        self.sent = True
        words = [self.subtask]
        for attempt, text in FORK_APPROACHES.items():
            words += ["--approach", attempt, text]
        self.demo.say(
            f"  forking {self.subtask} before it starts: two approaches, built side by side, "
            "as a person would:"
        )
        self.demo.say(f"  $ {self.demo.cmds.verb('fork', *words)}")
        request = ForkRequest(subtask=self.subtask, approaches=dict(FORK_APPROACHES))
        await self._send(BuildWorkflow.fork_subtask, request, "!fork", seen)

    def _progress(self, f: ForkState, seen: Seen) -> None:
        say = self.demo.say
        for a, v in sorted(f.attempts.items()):
            scope = f"{f.subtask}@{a}"
            if v.status != "pending" and (scope, "start") not in seen:
                seen.add((scope, "start"))
                say(
                    f"  {scope:<12} started on {v.branch}"
                    + (f": {v.approach}" if v.approach else "")
                )
            if v.ended_at and (scope, "end") not in seen:
                seen.add((scope, "end"))
                how = "passed" if v.passed else v.status + (f" ({v.notes})" if v.notes else "")
                say(f"  {scope:<12} {how} after {v.round} round(s): {scores_text(v.scores)}")
        if f.report_path and (f.subtask, "compared") not in seen:
            seen.add((f.subtask, "compared"))
            say(f"  {f.subtask:<12} fork {f.name} compared: {f.report_path}")

    async def _merge(self, st: BuildStatus, f: ForkState, seen: Seen) -> None:
        view = next(v for v in st.subtasks if v.name == f.subtask)
        asked = view.decision
        winner = best(f)
        if f.status != "deciding" or asked is None or asked.kind != "fork" or winner is None:
            return
        self.merged = True
        self.demo.holds_seen.add(asked.prompt)  # answered here, not left for a person
        lows = ", ".join(
            f"{a} {min(v.scores.values()):.2f}" for a, v in sorted(f.attempts.items()) if v.scores
        )
        self.demo.say(
            f"  the comparison recommends {winner} (lowest scores: {lows}); merging it as a "
            "person would:"
        )
        self.demo.say(f"  $ {self.demo.cmds.verb('merge', winner, f.subtask)}")
        await self._send(BuildWorkflow.merge_fork, merge_text(winner, f.subtask), "!merge", seen)

    async def _send(self, signal: object, arg: object, verb: str, seen: Seen) -> None:
        """Through the CLI's code; its answer said once (not again as the build's note)."""
        try:
            said = await send(self.handle, signal, arg, verb)
        except CliError as err:  # e.g. a real model's subtask already had its PR
            said = f"refused: {err}"
        seen.add(("notice", said))
        self.demo.say(f"     {said}")

    def summary(self) -> str:
        """The fork's outcome for the build's closing lines ("" when there was none)."""
        f = self.last
        if f is None:
            return ""
        if f.winner is None:
            return f"{f.subtask} forked ({f.status}); report {f.report_path or '-'}"
        kept = ", ".join(f.archived) or "nothing"
        by = "a person" if f.picked_by == "person" else "the best score"
        return (
            f"{f.subtask} forked, {f.winner} merged (picked by {by}) as "
            f"feat/{f.subtask}; kept {kept}; report {f.report_path}"
        )
