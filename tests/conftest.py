"""One place that chooses the Temporal environment for the whole suite.

The embedded dev server is started from the packaged `temporal` binary, the
same way the CLI starts it for users; the time-skipping server from the
packaged `temporal-test-server` binary.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from runtime.server import DevServer, free_port, start_dev_server, temporal_binary
from simulators.github_api import RECORD_ENV

RECORDING = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Every GitHub stand-in of the run (and of workers it spawns) records its requests, for
    the OpenAPI contract test; `after_all` tests run last, to read the whole recording."""
    config.addinivalue_line("markers", "after_all: run after every other test of the session")
    if not os.environ.get(RECORD_ENV):
        directory = tempfile.mkdtemp(prefix="github-requests-")
        os.environ[RECORD_ENV] = os.path.join(directory, "requests.jsonl")
        config.stash[RECORDING] = directory


def pytest_unconfigure(config: pytest.Config) -> None:
    """The recording is the run's own: gone with it (one directory a run piled up in /tmp)."""
    directory = config.stash.get(RECORDING, None)
    if directory is not None:
        os.environ.pop(RECORD_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.get_closest_marker("after_all")]
    items[:] = [item for item in items if not item.get_closest_marker("after_all")] + last


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    home = tmp_path_factory.mktemp("orchestrator-home")
    os.environ["ORCHESTRATOR_HOME"] = str(home)
    server = start_dev_server(
        port=free_port(),
        ui_port=free_port(),
        db_file=home / "temporal.db",
        detach=False,
        log_path=home / "temporal.log",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def client(temporal_server: DevServer) -> Client:
    # The port opens a moment before the frontend reports healthy: retry briefly.
    for attempt in range(60):
        try:
            return await Client.connect(
                temporal_server.address, data_converter=pydantic_data_converter
            )
        except RuntimeError:
            if attempt == 59:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=temporal_binary("temporal-test-server"),
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A queue per test, so one test's worker never picks up another's tasks."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def temporal_env(temporal_server: DevServer) -> dict[str, str]:
    """Environment for CLI subprocesses that must talk to the test server."""
    env = dict(os.environ)
    env["TEMPORAL_ADDRESS"] = temporal_server.address
    env["TEMPORAL_NAMESPACE"] = "default"
    return env


REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "link-shortener"
