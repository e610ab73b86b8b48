"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from simulators.github_api import GitHubStandIn
from tests.cli.commands import IDS


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    """The GitHub REST stand-in."""
    with GitHubStandIn() as standin:
        yield standin


@pytest.fixture
async def no_leftovers(client: Client) -> AsyncIterator[None]:
    """The CLI derives ids from the feature name: leave none of them running for the next test."""
    yield
    for wid in IDS:
        with contextlib.suppress(RPCError):
            handle = client.get_workflow_handle(wid)
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test cleanup")
