"""One place that chooses the Temporal environment for the whole suite.

The embedded dev server is started from the packaged `temporal` binary, the
same way the CLI starts it for users; the time-skipping server from the
packaged `temporal-test-server` binary.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from xdist.scheduler import LoadScopeScheduling

from runtime.server import DevServer, free_port, start_dev_server, temporal_binary
from simulators.github_api import RECORD_ENV
from tests.durations import DURATIONS, DurationStore, longest_first
from tests.support import connect

# The shared sequence of demos (`interrupted_demos`) and its helpers.
pytest_plugins = ["tests.demo_runs"]

RECORDING = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Every GitHub stand-in of the run (and of workers it spawns) records its requests, for
    the OpenAPI contract test; `after_all` tests run last, to read the whole recording."""
    config.addinivalue_line("markers", "after_all: run after every other test of the session")
    if config.getoption("store_durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationStore(), "duration-store")
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


# The suite runs in parallel workers (pytest-xdist, `addopts` in pyproject.toml). Each has its
# own Temporal servers, ORCHESTRATOR_HOME and temporary directories; they share the recording,
# which the controller made before starting them. The scheduler below hands out units (a test,
# or the tests that must share a worker) a few at a time in collection order, which is longest
# first by the measured durations in DURATIONS, so that the workers end on short tests instead
# of one running a long one alone; an `after_all` test is the last its worker runs. It then
# waits until every other worker has finished its tests, so that it reads the whole run's
# recording.
ONE_WORKER = (
    "tests/badinput/test_cli.py",  # one `held` set of loops; a test reads the one before it
    "tests/badinput/test_signals.py",  # the same
    "tests/workflows/test_continue_as_new.py",  # one server of its own settings for both tests
)
# Tests that share a module fixture too costly to make twice (the fixture: its tests), so that
# they run on the worker that makes it, one after the other.
SHARED_RUNS = {
    "interrupted_demos": (
        "tests/cli/test_first_hour.py::test_ctrl_c_on_the_demo_ends_its_loops_and_a_rerun_finishes",
        "tests/cli/test_first_hour.py::test_a_killed_demo_leaves_nothing_that_stops_the_next_one",
        "tests/cli/test_first_hour.py::test_a_hold_in_the_demo_is_printed_and_its_command_works",
        "tests/webui/test_web_ui.py::test_a_person_sees_the_loops_in_the_web_ui",
    ),
}
_SHARED_UNIT = {nodeid: name for name, ids in SHARED_RUNS.items() for nodeid in ids}


def _unit(nodeid: str) -> str:
    """What the scheduler hands out whole."""
    module = nodeid.split("::", 1)[0]
    return _SHARED_UNIT.get(nodeid, module if module in ONE_WORKER else nodeid)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        action="store_true",
        help=f"write the measured durations of the run's tests to tests/{DURATIONS.name}",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, ids in SHARED_RUNS.items():
            if fixture in getattr(item, "fixturenames", ()) and item.nodeid not in ids:
                raise pytest.UsageError(
                    f"{item.nodeid} uses {fixture}: add it to SHARED_RUNS in tests/conftest.py"
                )
    longest_first(items, _unit)


class _Scheduling(LoadScopeScheduling):
    """`--dist load`, but each ONE_WORKER module and each SHARED_RUNS group is one unit, in
    collection order. (xdist's `loadgroup` groups by rewriting node ids, which pytest 9.2 no
    longer lets it do: pytest-xdist issue 1386.)"""

    def _split_scope(self, nodeid: str) -> str:
        return _unit(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    if config.getvalue("dist") != "load":
        return None
    config.option.loadscopereorder = False  # by number of tests; the collection's order is kept
    return _Scheduling(config, log)


AFTER_ALL_WAIT_S = 540.0


def _running_dir() -> Path | None:
    recording = os.environ.get(RECORD_ENV)
    return Path(recording).parent / "workers-running" if recording else None


def _worker_id(config: pytest.Config) -> str | None:
    workerinput: dict[str, str] = getattr(config, "workerinput", {})
    return workerinput.get("workerid")


def pytest_sessionstart(session: pytest.Session) -> None:
    worker, running = _worker_id(session.config), _running_dir()
    if worker and running:
        running.mkdir(parents=True, exist_ok=True)
        (running / worker).write_text(str(os.getpid()))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    worker, running = _worker_id(session.config), _running_dir()
    if worker and running:
        (running / worker).unlink(missing_ok=True)


def _others_running(me: str, running: Path) -> list[str]:
    others = []
    for marker in running.iterdir() if running.is_dir() else []:
        if marker.name == me:
            continue
        try:
            os.kill(int(marker.read_text()), 0)
        except (OSError, ValueError):
            continue  # a worker that died: the controller reports its test as failed
        others.append(marker.name)
    return others


def pytest_runtest_setup(item: pytest.Item) -> None:
    worker, running = _worker_id(item.config), _running_dir()
    if not (item.get_closest_marker("after_all") and worker and running):
        return
    deadline = time.monotonic() + AFTER_ALL_WAIT_S
    while others := _others_running(worker, running):
        if time.monotonic() > deadline:
            pytest.fail(f"workers {others} still running tests after {AFTER_ALL_WAIT_S:.0f} s")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """The worker's shared server. Its state is in memory: it is never restarted, and a file
    (what the CLI's embedded server keeps, tested by the tests that restart one or start it
    through the CLI) cost a third more of its CPU and a disk sync per write."""
    home = tmp_path_factory.mktemp("orchestrator-home")
    os.environ["ORCHESTRATOR_HOME"] = str(home)
    server = start_dev_server(
        port=free_port(),
        ui_port=free_port(),
        db_file=None,
        detach=False,
        log_path=home / "temporal.log",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def client(temporal_server: DevServer) -> Client:
    return await connect(temporal_server.address)


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
