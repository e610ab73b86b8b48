"""`all_or_cancel`: parallel steps that stop together, and close cleanly on eviction."""

import asyncio

import pytest

from workflows.failures import all_or_cancel


async def test_the_first_failure_cancels_the_siblings_and_waits_for_them() -> None:
    finished: list[str] = []

    async def sibling() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # its cleanup still runs before the failure is raised
            finished.append("sibling cleaned up")
            raise

    async def failing() -> None:
        await asyncio.sleep(0)
        raise ValueError("reviewer failed")

    with pytest.raises(ValueError, match="reviewer failed"):
        await all_or_cancel(sibling(), failing())
    assert finished == ["sibling cleaned up"]


async def test_closing_it_as_a_worker_evicts_a_run_does_not_await() -> None:
    """The SDK closes an evicted run's coroutine; awaiting in that state is a RuntimeError
    ("coroutine ignored GeneratorExit") that CI printed as an unraisable warning."""
    coro = all_or_cancel(asyncio.sleep(60), asyncio.sleep(60))
    gathered = coro.send(None)  # runs up to its await on the gathered steps
    coro.close()  # raises RuntimeError if the coroutine awaits again
    gathered.cancel()  # what eviction does to the steps it ran
    await asyncio.wait([gathered])
    with pytest.raises(asyncio.CancelledError):
        gathered.result()
