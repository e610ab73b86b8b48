"""Cancellation: once it reaches the worker, nothing more lands.

Temporal delivers an activity's cancellation with a heartbeat's answer and
cancels its task: the awaited model request is aborted, a running command's
process group is killed (see tools.py). What runs in a thread cannot be
interrupted, so steps that leave something behind (a written file, a commit,
a review file) go through `finish_in_thread`: they do not start after the
cancellation arrived, check it again before each irreversible part, and the
activity reports itself cancelled only after they are done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import activity

T = TypeVar("T")


def cancel_requested() -> bool:
    """True once this activity's cancellation reached the worker (safe in threads)."""
    return activity.in_activity() and activity.is_cancelled()


def raise_if_cancelled() -> None:
    if cancel_requested():
        raise asyncio.CancelledError("activity cancelled")


async def finish_in_thread(fn: Callable[..., T], *args: Any, tidy: bool = False) -> T:
    """Run `fn(*args)` in a thread; a cancellation waits for it instead of leaving it running.

    `tidy`: a clean-up that runs even when the cancellation has already arrived."""
    if not tidy:
        raise_if_cancelled()
    future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({future})
        if not future.cancelled():
            future.exception()  # retrieved: the cancellation is what propagates
        raise
