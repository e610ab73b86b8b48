"""The policy objects a top-level loop (design, build, release) owns, built in one place.

Each of these loops owns a `LoopControl` (pause, holds, refusals, its own steps held
for `retry` / `stop`), a `GateHints` (`say`, `!help`, `!status`, `!budget`) bound to
that control, and its search attributes. They are wired alike, so they are built here;
and each run begins alike (`loop_start`).
The factory is given the loop itself, typed by `TopLoop` (what it reads, checked by
mypy), and hands the objects callables that read the loop when they run: continue-as-new
and a restored state replace its state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import gate_hints
    from contracts.config import ProjectContext
    from contracts.human import RETRY_OR_STOP
    from contracts.metrics import Ledger, budget_summary
    from workflows.inputs import loop_input
    from workflows.loop_control import Holdable, LoopControl, Pausable
    from workflows.say import GateHints, Hinted
    from workflows.search_attrs import LoopAttributes
    from workflows.timestamps import Clocked, start_clock

In = TypeVar("In")


class LoopState(Pausable, Hinted, Protocol):
    """The part of a top-level loop's state its policy objects keep."""

    ledger: Ledger


class TopLoop(Protocol):
    """What the factory reads of the loop: its state, its project once resolved, its
    `status` query, how it shows what a person sees, and what a failure hold tells it."""

    @property
    def s(self) -> LoopState: ...

    @property
    def ctx(self) -> ProjectContext | None: ...

    def status(self) -> gate_hints.Status: ...

    def _details(self) -> None: ...

    async def _on_hold(self) -> None: ...


class LoopParts(NamedTuple):
    control: LoopControl
    gate_hints: GateHints
    attrs: LoopAttributes


def loop_parts(
    loop: TopLoop,
    name: str,
    scope: str,
    signals: tuple[str, ...],
    updates: tuple[str, ...] = (),
    *,
    held_by: Callable[[], Holdable] | None = None,
    shown: Callable[[], None] | None = None,
    budget: Callable[[], str] | None = None,
) -> LoopParts:
    """`name` names the loop in its refusals, `scope` its own steps in a failure hold.
    `shown` refreshes what a person sees after a change (else `_details` does); `budget`
    says what the loop spent against its limits (else its own ledger)."""
    control = LoopControl(
        name,
        signals,
        updates,
        state=lambda: loop.s,
        held_by=held_by,
        shown=shown or loop._details,
        notify=loop._on_hold,
        scope=lambda: scope,
        step_options=RETRY_OR_STOP,
    )
    spent = budget or (lambda: budget_summary(loop.s.ledger))
    hints = GateHints(lambda: loop.s, loop.status, control, loop._details, spent)
    return LoopParts(control, hints, LoopAttributes(lambda: loop.ctx))


def loop_start(name: str, args: tuple[Any, ...], shape: type[In], state: Clocked) -> In:
    """A top loop's run begins alike: its start input checked, its `design_dir` absolute
    (`loop_input`), and its clock started, once across continue-as-new (`start_clock`)."""
    inp: In = loop_input(name, args, shape)
    start_clock(state)
    return inp
