"""What a loop tells a person who said something (`say`), or asked `!help` / `!status`.

Pure functions of the loop's own `status` (the query's model), so the hint names only
what that loop can take now, the same way `status` and the CLI show it. The gate
itself is always the person's to send: a hint only names it.
"""

from __future__ import annotations

from typing import Protocol

from contracts.build import BuildStatus
from contracts.design import DesignStatus
from contracts.gate_phrases import Heard
from contracts.human import PendingDecision
from contracts.release import ReleaseStatus

Status = DesignStatus | BuildStatus | ReleaseStatus

# How a hint starts, by what the words sound like (seed 004: "It sounds like you're
# ready to proceed — type !build to activate the Builder").
LEADS = {
    "proceed": "It sounds like you're ready to proceed",
    "build": "It sounds like you're ready to build",
    "ship": "It sounds like you're ready to ship",
    "security": "It sounds like you want the security review",
}
# The release loop's gates (seed 004), which neither the design loop nor the build takes.
RELEASE_GATES = {"ship": "!verify", "security": "!security"}
NO_GATE = "no gate matches"


def pending_decisions(st: Status) -> list[PendingDecision]:
    """Every prompt that waits for `decide`, of any kind (stuck, conflict, budget, failure)."""
    found: list[PendingDecision] = list(st.decisions)
    if isinstance(st, BuildStatus):
        # Subtasks held by one failure are answered together, through that one decision.
        grouped = {s for d in found if d.failure for s in d.failure.scopes}
        found += [
            v.decision.model_copy(update={"scope": v.name})
            for v in st.subtasks
            if v.decision and v.name not in grouped
        ]
        if st.phase == "budget" and not any(d.scope == "budget" for d in found):
            found.append(
                PendingDecision(
                    scope="budget",
                    prompt="the budget is reached",
                    options=["raise", "stop"],
                    kind="budget",
                )
            )
    return found


def _loop(st: Status) -> str:
    if isinstance(st, ReleaseStatus):
        return "release loop"
    return "design loop" if isinstance(st, DesignStatus) else "build"


def _release_hint(lead: str, heard: Heard, st: ReleaseStatus) -> str:
    """The release loop takes its gates in order: the hint names the one it takes now."""
    if st.paused:
        return f"{lead} — send `!resume` first: the loop is paused. Nothing was advanced."
    decisions = pending_decisions(st)
    if decisions:
        return f"{lead} — send {_decide(decisions)}. Nothing was advanced."
    if st.next_gate is None:
        return (
            f"{lead}, but the release loop takes no gate now (phase {st.phase}; waiting for: "
            f"{st.waiting_for}). Nothing was advanced."
        )
    wanted = RELEASE_GATES.get(heard.intent)
    order = f" ({wanted} comes after {st.next_gate})" if wanted and wanted != st.next_gate else ""
    return (
        f"{lead} — type {st.next_gate} (orchestrator signal, or the `command` line "
        f'"{st.next_gate}"){order}. Nothing was advanced: the gate is yours to send.'
    )


def _decide(decisions: list[PendingDecision]) -> str:
    d = decisions[0]
    prompt = d.prompt if len(d.prompt) <= 120 else d.prompt[:117] + "..."
    more = f" ({len(decisions)} prompts wait; `status` lists them)" if len(decisions) > 1 else ""
    return (
        f"`decide {d.scope} <{' | '.join(d.options)}>` (orchestrator decide <dir> {d.scope} "
        f"<choice>), which answers: {prompt}{more}"
    )


def offer(st: Status, intent: str) -> str | None:
    """What the loop takes now for a go-ahead (`proceed`, `build`): the command to send."""
    if intent not in ("proceed", "build") or isinstance(st, ReleaseStatus):
        return None
    if st.paused:
        return "`!resume` (orchestrator resume <dir>): the loop is paused"
    decisions = pending_decisions(st)
    if decisions:
        return _decide(decisions)
    if isinstance(st, DesignStatus):
        if st.open_questions:
            q = st.open_questions[0]
            return (
                f"the answers first: `answer {q.id} <option>` (orchestrator answer <dir> {q.id} "
                f"<letter>) for each open question ({', '.join(x.id for x in st.open_questions)})"
            )
        if st.phase == "awaiting-approval":
            then = (
                "; `orchestrator build <dir>` starts the build once it is approved"
                if intent == "build"
                else ""
            )
            return f"`approved` (orchestrator approve <dir>){then}"
        return None
    if st.change is not None and st.change.state == "awaiting-decision":
        return (
            f"`!change-approve` (orchestrator change-approve <dir>) to apply change "
            f"{st.change.id}, or `!change-cancel`"
        )
    return None


def hint(heard: Heard | None, st: Status) -> str:
    """The suggestion for what a person said, given the loop's status ("" for none)."""
    if heard is None:
        return ""
    lead = f'{LEADS[heard.intent]} (you said "{heard.words}")'
    if isinstance(st, ReleaseStatus):
        return _release_hint(lead, heard, st)
    loop = _loop(st)
    gate = RELEASE_GATES.get(heard.intent)
    if gate is not None:
        return (
            f"{lead}, but the {loop} takes no {gate}: it is a gate of the release loop "
            "(!critic, !security, !verify), which comes after the build and its integration. "
            "Nothing was advanced."
        )
    send = offer(st, heard.intent)
    if send is None:
        return (
            f"{lead}, but nothing on the {loop} waits for a go-ahead now (phase {st.phase}; "
            f"waiting for: {st.waiting_for}). Nothing was advanced."
        )
    return f"{lead} — send {send}. Nothing was advanced: the gate is yours to send."


def standing(hint: str, given_while: str, waiting_for: str) -> str:
    """The hint while the loop still waits for what it waited for when it was given ("" once
    that changed: the gate was taken, or another waits), so it never names a stale command."""
    return hint if given_while == waiting_for else ""


def commands_now(st: Status) -> list[str]:
    """The command lines this loop takes now (`!help`), most pressing first."""
    out: list[str] = []
    decisions = pending_decisions(st)
    if decisions:
        scopes = ", ".join(d.scope for d in decisions)
        out.append(f"decide [scope] <choice> (waiting: {scopes})")
        migrations = [d.scope for d in decisions if d.kind == "migration"]
        if migrations:
            out += [
                f"!migration-approve [subtask] (report pending: {', '.join(migrations)})",
                "!migration-cancel [subtask]",
            ]
        forks = [d.scope for d in decisions if d.kind == "fork"]
        if forks:
            out.append(f"!merge A|B [subtask] (fork waiting: {', '.join(forks)})")
    if isinstance(st, ReleaseStatus):
        if st.next_gate:
            out += [st.next_gate, "!docs"]
    elif isinstance(st, DesignStatus):
        if st.open_questions:
            ids = ", ".join(q.id for q in st.open_questions)
            out.append(f"answer <question> <option> (open: {ids})")
        if st.phase == "awaiting-approval":
            out += ["approved", "request_changes <feedback>"]
    else:
        change = st.change
        if change is not None and change.state == "awaiting-decision":
            out += ["!change-approve", "!change-cancel"]
        elif change is None or change.state in ("done", "cancelled"):
            out.append("!change <description>")
        if st.phase == "budget":
            out.append("raise_budget (a signal: --input '{\"max_cost_usd\": 20}')")
        asked = st.reset is not None and st.reset.state == "asked"
        out.append("!reset-confirm (within 5 minutes of !reset)" if asked else "!reset")
        if st.finished:
            out.append(f"!replay <subtask> (finished: {', '.join(st.finished)})")
        out += ["!pattern-add <finished subtask>", "!pattern-list", "!fork <subtask> [name]"]
    out.append("!resume" if st.paused else "!pause")
    out += ["say <words>", "!status", "!budget", "!help"]
    return out


def help_text(st: Status) -> str:
    """`!help`: the commands this loop takes now, as `command` lines."""
    return f"!help: the {_loop(st)} takes now: {'; '.join(commands_now(st))}"


def status_text(st: Status) -> str:
    """`!status`: a signal cannot answer, so the loop shows its stage here and points on."""
    paused = ", paused" if st.paused else ""
    return (
        f"!status: the {_loop(st)} is in phase {st.phase}{paused}, waiting for: "
        f"{st.waiting_for}. The whole status: the `status` query (orchestrator status <dir>); "
        "!help lists the commands it takes now"
    )


class Noticed(Protocol):
    """The part of a loop's state a person's notice and hint live in."""

    notice: str
    hint: str
    hint_waiting_for: str


def notice_lines(s: Noticed, waiting_for: str) -> list[str]:
    """The last lines of a loop's details: its notice, and its hint while it stands."""
    hint = standing(s.hint, s.hint_waiting_for, waiting_for)
    return [*([f"note: {s.notice}"] if s.notice else []), *([f"hint: {hint}"] if hint else [])]
