"""A child this run of the build did not start: signalled by id, looked at until it ends.

An earlier run started it: one a reset replaced, or one that continued as new while the
child followed its PR for days. The run cannot await its result, so it asks the server
(`children.check`). Since builds continue as new with children running, the child's own
last report (it reports to the build's workflow id, which every run shares) wakes the
look at once, and the poll is only the fallback for a child that ends without one (a
person terminated it): it backs off to `POLL_MAX`, so days of waiting cost a few checks
an hour, not one every 30 seconds.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError

# The first look without a wake comes after this long; each later one waits twice as long.
ADOPTED_POLL = timedelta(seconds=30)
# After a wake (the child's last report, a cancel): looks 1, 2, 4 ... seconds apart.
SOON = timedelta(seconds=1)
POLL_MAX = timedelta(minutes=30)


class Adopted:
    """Behind what the build uses of its own children's handles: `signal` and a
    synchronous `cancel`. The look waits for `wake`; its signals go to the child's newest
    run (a child continues as new too)."""

    def __init__(self, workflow_id: str) -> None:
        self.handle = workflow.get_external_workflow_handle(workflow_id)
        self.cancelling: asyncio.Task[None] | None = None
        self.soon, self.interval = False, ADOPTED_POLL

    async def signal(self, name: Any, *args: Any) -> None:
        await self.handle.signal(name, *args)

    def cancel(self) -> None:
        self.wake()  # the cancelled child ends soon: look again soon
        self.cancelling = asyncio.ensure_future(self._cancel())

    async def _cancel(self) -> None:
        try:
            await self.handle.cancel()
        except FailureError as err:  # it closed meanwhile: nothing left to cancel
            workflow.logger.info("cancel of %s not delivered: %s", self.handle.id, err)

    def wake(self) -> None:
        """It said it is done (or was told to end): look at once."""
        self.soon = True

    async def wait(self) -> None:
        """Until the next look at the server."""
        if not self.soon:
            try:
                await workflow.wait_condition(lambda: self.soon, timeout=self.interval)
            except TimeoutError:
                self.interval = min(self.interval * 2, POLL_MAX)
                return
        self.soon, self.interval = False, SOON
