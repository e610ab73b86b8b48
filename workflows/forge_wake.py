"""Waiting on the forge: a timer that a webhook delivery ends early.

A loop that follows its pull request sleeps on a workflow timer between polls (a week
of waiting holds no worker slot). The `forge_event` signal, sent by `orchestrator
webhook`, ends the sleep so the next poll runs at once; polling stays the fallback.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.follow import ForgeEvent
    from workflows.inputs import checked_signal
    from workflows.loop_control import LoopControl


class ForgeWake:
    """Counts deliveries; `sleep` returns early when one arrives while it waits."""

    def __init__(self) -> None:
        self.received = 0
        self.last: ForgeEvent | None = None
        self.nudged = False

    def receive(self, event: ForgeEvent) -> None:
        self.received += 1
        self.last = event

    def nudge(self) -> None:
        """What the loop waits for changed (its build's word): the next wait ends at once,
        or the one under way now."""
        self.received += 1
        self.nudged = True

    async def sleep(self, seconds: float) -> bool:
        """Wait up to `seconds`; True when a delivery (or a nudge) ended the wait."""
        if self.nudged:
            self.nudged = False
            return True
        before = self.received
        try:
            await workflow.wait_condition(
                lambda: self.received > before, timeout=timedelta(seconds=max(seconds, 1))
            )
        except TimeoutError:
            return False
        self.nudged = False
        return True


class ForgeEventMessages:
    """Not a base class: the `forge_event` handler, declared once and assigned by each loop
    that follows a pull request (`forge_event = forge_event_handler()`)."""

    control: LoopControl
    wake: ForgeWake

    @checked_signal("forge_event", ForgeEvent)
    def forge_event(self, event: ForgeEvent) -> None:
        self.wake.receive(event)


def forge_event_handler() -> Any:
    return ForgeEventMessages.forge_event
