"""What a loop waits for a person on, with the exact commands that answer it.

Printed by `--wait` and the demo the moment a hold appears, so nobody has to
think of running `status` in another terminal to learn why a loop stands still.
"""

from __future__ import annotations

import json
import string

from cli.output import Commands, paint, temporal_command
from contracts.build import BuildStatus
from contracts.design import DesignStatus
from contracts.human import PendingDecision
from contracts.release import ReleaseStatus


def decision_lines(d: PendingDecision, cmds: Commands, scope: str | None = None) -> list[str]:
    """One pasteable `decide` command per option (the usage everywhere:
    `orchestrator decide DIR [SCOPE] CHOICE`)."""
    named = [scope] if scope else []
    return [f"  {option}: {cmds.verb('decide', *named, option)}" for option in d.options]


def answers(
    st: DesignStatus | BuildStatus,
    decisions: list[PendingDecision],
    cmds: Commands,
    decisions_only: bool = False,
) -> list[str]:
    """Every hold: its reason, then the commands that answer it (`decisions_only`: not the
    questions and the approval gate, which the demo answers itself)."""
    out: list[str] = []
    if st.paused:
        out += ["Paused: no new agent starts.", f"  resume: {cmds.verb('resume')}"]
    for d in decisions:
        held = d.failure.scopes if d.failure else []
        where = d.scope if d.scope not in ("failure", "budget") else ", ".join(held) or d.kind
        out.append(paint(f"Held ({d.kind}{': ' + where if where else ''}): ", "yellow") + d.prompt)
        if d.kind == "budget":
            signal = ["workflow", "signal", "--workflow-id", f"build-{st.feature}"]
            limit = ["--name", "raise_budget", "--input", '{"max_cost_usd": 20}']
            out.append(
                f"  raise: {temporal_command(*signal, *limit)} (your limit), then "
                + cmds.verb("decide", "budget", "raise")
            )
            out.append(f"  stop: {cmds.verb('decide', 'budget', 'stop')}")
            continue
        # A failure holding several scopes is answered as one; any other prompt by its scope.
        scope = None if d.kind == "failure" or len(decisions) == 1 else d.scope
        out += decision_lines(d, cmds, scope)
    if decisions_only:
        return out
    if isinstance(st, DesignStatus):
        for q in st.open_questions:
            out.append(paint(f"Question {q.id}: ", "yellow") + q.text)
            letters = string.ascii_uppercase[: len(q.options)]
            out += [
                f"  {letter}) {text}: {cmds.verb('answer', q.id, letter)}"
                for letter, text in zip(letters, q.options, strict=True)
            ]
        if st.phase == "awaiting-approval":
            out += [
                paint("At the approval gate: ", "yellow") + "every scope cleared the bar.",
                f"  approve: {cmds.verb('approve')}",
                f"  send it back: {cmds.verb('request-changes', 'what to change')}",
            ]
    elif st.change is not None and st.change.state == "awaiting-decision":
        c = st.change
        out += [
            paint(f"Change {c.id} waits for a decision: ", "yellow")
            + f"{c.description} ({c.scope}; report {c.report_path})",
            f"  approve: {cmds.verb('change-approve')}",
            f"  cancel: {cmds.verb('change-cancel')}",
        ]
    return out


def release_answers(st: ReleaseStatus, workflow_id: str) -> list[str]:
    """What the release loop waits for, with the `temporal` CLI command that answers it:
    its gates and decisions are signals to `workflow_id`, sent by a person."""
    signal = ["workflow", "signal", "--workflow-id", workflow_id, "--name"]
    out: list[str] = []
    if st.paused:
        out += ["Paused: no new agent starts.", f"  resume: {temporal_command(*signal, '!resume')}"]
    for d in st.decisions:
        out.append(paint(f"Held ({d.kind}: {d.scope}): ", "yellow") + d.prompt)
        out += [
            f"  {option}: "
            + temporal_command(
                *signal, "decide", "--input", json.dumps({"choice": option, "scope": d.scope})
            )
            for option in d.options
        ]
    if st.next_gate:
        out += [
            paint(f"At the gate {st.next_gate}: ", "yellow") + "it opens when a person sends it.",
            f"  send it: {temporal_command(*signal, st.next_gate)}",
        ]
    return out


def still_running(workflow_id: str, kind: str, cmds: Commands) -> str:
    """Ctrl-C while following: the loop goes on without us; how to come back or stop it."""
    return "\n".join(
        [
            f"Stopped following. {workflow_id} keeps running on the server (the worker goes on).",
            f"  follow it again: {cmds.verb(kind, '--wait')}",
            f"  its state:       {cmds.verb('status')}",
            f"  pause it:        {cmds.verb('pause')}   (resume: {cmds.verb('resume')})",
            f"  cancel it:       {cmds.verb('cancel')}   (branches and worktrees are kept)",
        ]
    )
