"""A workflow cancel that the SDK drops while a signal is sent, raised again.

temporalio (1.35) treats the cancellation of a task awaiting a signal it sent to
another workflow as "cancel that signal": `_await_temporal_operation` issues
`cancel_signal_workflow`, clears the task's cancellation (`uncancel`) and goes on
waiting for the signal's outcome. When the cancellation was the workflow's own
(a person's `cancel`, a parent's close policy), it is lost: a subtask that
reported its progress just as the build cancelled it (Ctrl-C on the demo makes
that likely: the interrupted git and agent steps fail and report at once) ran on,
or held for a person, forever. Sending signals through here keeps the cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from temporalio import workflow


async def send(signal: Awaitable[None], main: asyncio.Task[object] | None) -> None:
    """Await `signal`; in the workflow's main task (`main`), raise the cancel it swallowed.

    Signal handlers send signals too: their tasks are not the one a workflow cancel
    reaches, so they never raise it here.
    """
    await signal
    if (
        main is not None
        and asyncio.current_task() is main
        and workflow.cancellation_reason() is not None
    ):
        raise asyncio.CancelledError("the workflow was cancelled while it sent a signal")
