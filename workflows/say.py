"""`say`, `!help`, `!status` and `!budget`: what a person says to a loop that advances nothing.

`say "looks good"` shows a gate hint in `status` (seed 004's natural-language gate
hints: `contracts.gate_phrases` hears the words, `contracts.gate_hints` names what
this loop takes now); `!help`, `!status` and `!budget`, sent as `command` lines, show the
commands the loop takes now, its stage and its spending (a signal cannot answer, so
`status` does). `GateHints.run` routes a loop's `command` line: its own lines, then these.
Each loop owns one `GateHints` and assigns the `say` handler in its class body
(`say = say_handler()`), declared once here like `build_child.child_messages()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import gate_hints
    from contracts.gate_phrases import heard
    from contracts.human import MAX_SIGNAL_TEXT
    from workflows.commands import Handler, run_command
    from workflows.inputs import checked_signal
    from workflows.loop_control import LoopControl


class Hinted(Protocol):
    """The part of a loop's state that keeps the last hint (carried across continue-as-new)."""

    hint: str
    hint_waiting_for: str


class GateHints:
    """`state` returns the loop's state, `status` its `status` query's answer, `shown`
    refreshes what a person sees (status, the Web UI's details), `budget` says what the
    loop spent against its limits."""

    def __init__(
        self,
        state: Callable[[], Hinted],
        status: Callable[[], gate_hints.Status],
        control: LoopControl,
        shown: Callable[[], None],
        budget: Callable[[], str],
    ) -> None:
        self.state, self.status, self.control, self.shown = state, status, control, shown
        self.budget = budget

    def say(self, text: str) -> None:
        """A newer `say` replaces the hint: with the new one, or with none."""
        if not text.strip() or len(text) > MAX_SIGNAL_TEXT:
            self.control.refuse(
                f"say: {len(text)} characters, more than {MAX_SIGNAL_TEXT}. Fix: say it shorter"
                if text.strip()
                else 'say: the text is empty. Fix: say what you think, e.g. "looks good"'
            )
            return
        st, s = self.status(), self.state()
        s.hint, s.hint_waiting_for = gate_hints.hint(heard(text), st), st.waiting_for
        self.shown()

    def help(self) -> None:
        self.control.tell(gate_hints.help_text(self.status()))

    def stage(self) -> None:
        self.control.tell(gate_hints.status_text(self.status()))

    def standing(self, waiting_for: str) -> str:
        """The hint, while the loop still waits for what it waited for when it was given."""
        s = self.state()
        return gate_hints.standing(s.hint, s.hint_waiting_for, waiting_for)

    def commands(self) -> dict[str, Handler]:
        """The `command` lines these take: `say <words>`, `!help`, `!status`, `!budget`."""
        return {
            "say": self.say,
            "!status": lambda _: self.stage(),
            "!help": lambda _: self.help(),
            "!budget": lambda _: self.control.tell(self.budget()),
        }

    async def run(self, line: str, handlers: Mapping[str, Handler]) -> None:
        """A `command` line: one of the loop's own `handlers`, or of these; anything else
        is refused in `status`."""
        await run_command(line, {**handlers, **self.commands()}, self.control.refuse)


class _Say:
    """Not a base class: the holder of the `say` handler `say_handler` hands out."""

    control: LoopControl
    gate_hints: GateHints

    @checked_signal("say", str)
    def say(self, text: str) -> None:
        self.gate_hints.say(text)


def say_handler() -> Any:
    """A loop's `say` signal, to assign in its class body (`say = say_handler()`); it
    answers through the loop's `gate_hints` (`GateHints`)."""
    return _Say.say
