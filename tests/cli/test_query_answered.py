"""A person's `status` or `decide` while a worker has just died: the server answers the
query CANCELLED ("context canceled" when it went to the dead worker's poll, "Timeout
expired" when no worker polls). The CLI asks once more, then explains instead of printing
a bare RPC error."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from cli.common import CliError
from cli.queues import answered


def cancelled(message: str) -> RPCError:
    return RPCError(message, RPCStatusCode.CANCELLED, b"")


async def test_a_query_that_went_to_a_dead_workers_poll_is_asked_again() -> None:
    calls: list[int] = []

    async def ask() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise cancelled("context canceled")
        return "the status"

    assert await answered("build-x", ask) == "the status"
    assert len(calls) == 2


async def test_no_answer_twice_is_explained_with_the_fix() -> None:
    async def ask() -> str:
        raise cancelled("context canceled")

    with pytest.raises(CliError) as err:
        await answered("build-x", ask)
    text = str(err.value)
    assert "no worker answered the query to build-x (Temporal: context canceled)" in text
    assert "Fix: make sure a worker runs" in text


async def test_other_errors_are_not_hidden() -> None:
    calls: list[int] = []

    async def ask() -> str:
        calls.append(1)
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

    with pytest.raises(RPCError):
        await answered("build-x", ask)
    assert len(calls) == 1


async def test_a_query_that_waited_for_a_worker_is_not_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "Timeout expired" comes after the server waited (30 s): a second wait helps nobody."""
    monkeypatch.setattr("cli.queues.QUICK_FAILURE_S", 0.0)
    calls: list[int] = []

    async def ask() -> str:
        calls.append(1)
        raise cancelled("Timeout expired")

    with pytest.raises(CliError, match=r"Temporal: Timeout expired"):
        await answered("design-x", ask)
    assert len(calls) == 1
