"""Shared helpers for the loop tests: a project repository, stand-ins, workers."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from cli.demo_repo import (
    DEMO_REPOSITORY,
    EXAMPLES,
    FEATURE,
    DemoRepo,
    demo_config,
    make_test_venv,
    prepare_demo_repo,
)
from contracts.build import BuildStatus, SubtaskState
from contracts.design import DesignStatus
from runtime.server import free_port, temporal_binary
from simulators.github_api import GitHubStandIn
from simulators.messages_api import READABLE_CALLERS, MessagesStandIn
from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow
from workflows.subtask import SubtaskWorkflow

SIM_ENV = {
    "ANTHROPIC_API_KEY": "sim-anthropic-key-do-not-leak",
    "GITHUB_TOKEN": "sim-github-token-do-not-leak",
}


def make_project(
    tmp: Path,
    github_url: str | None = None,
    extra_config: str = "",
    with_subplans: bool = True,
    design_source: Path | None = None,
    top_config: str = "",
    forge_config: str = "follow = false",
) -> DemoRepo:
    """A demo project; `forge_config`: its `[forge]` lines (by default it does not follow
    its PRs, as the demo: tests about following turn it on)."""
    config = demo_config(github_url, top=top_config, forge=forge_config) + extra_config
    repo = prepare_demo_repo(tmp, config, with_subplans, design_source, example_venv())
    github = GitHubStandIn.serving(github_url)
    if github is not None:
        # As on GitHub, the repository exists before anyone opens a PR in it, and the PRs'
        # branches must be on its git remote: the bare origin the build pushes to.
        github.add_repo(DEMO_REPOSITORY, git_dir=str(repo.origin))
    return repo


def example_design(dest: Path, *names: str) -> Path:
    """The example's design (`make_project`'s `design_source`) with only the subplans
    `names`, its overview whole: for a test whose point is not the example's five subtasks,
    a build of the few it needs (each subplan is built, reviewed, gated and integrated, so
    each one left out is a tenth of such a test's CPU or more)."""
    design = dest / "example-design"  # beside what make_project(dest) makes
    (design / "subplans").mkdir(parents=True)
    shutil.copy2(EXAMPLES / FEATURE / "overview.md", design / "overview.md")
    for name in names:
        shutil.copy2(EXAMPLES / FEATURE / "subplans" / f"{name}.md", design / "subplans")
    return design


@functools.cache
def example_venv() -> Path:
    """The example project's venv as the demo makes it (pytest copied in), once per test
    process: every project's venv hard-links its packages (about 0.5 s of CPU a project
    less). Removed when the process ends; the projects' links keep their files."""
    home = Path(tempfile.mkdtemp(prefix="example-venv-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    make_test_venv(home / ".venv")
    return home / ".venv"


async def connect(address: str) -> Client:
    """A client of the server at `address`; its port opens a moment before the frontend
    reports healthy: retry briefly."""
    for attempt in range(60):
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            if attempt == 59:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def until(
    probe: Callable[[], Any], limit: float = 60.0, interval: float = 0.2, what: str = ""
) -> Any:
    """Poll an async probe until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + limit
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what or probe}; last: {last!r}")


# Each loop's `status` query, by the type it answers with.
STATUS_QUERIES: dict[type, Any] = {
    DesignStatus: DesignReviewWorkflow.status,
    BuildStatus: BuildWorkflow.status,
    SubtaskState: SubtaskWorkflow.status,
}


async def status_of(handle: WorkflowHandle, result_type: type) -> Any:
    """The loop's `status` (result_type: DesignStatus, BuildStatus or SubtaskState)."""
    return await handle.query(STATUS_QUERIES[result_type])


async def served_status(handle: WorkflowHandle, result_type: type) -> Any | None:
    """The status, or None while no worker answers: one was just killed and its successor
    is still starting (the query runs on a worker; the server gives up before one is up)."""
    try:
        return await status_of(handle, result_type)
    except RPCError as err:
        # CANCELLED: no live worker took the query. "Timeout expired" when none polls;
        # "context canceled" when it went to the poll of the worker just killed.
        if err.status != RPCStatusCode.CANCELLED:
            raise
        return None


def temporal_cli(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [temporal_binary(), *args, "--address", address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def sim_environ(messages_url: str, github_url: str | None = None) -> dict[str, str]:
    env = {**SIM_ENV, "ANTHROPIC_BASE_URL": messages_url, **READABLE_CALLERS}
    if github_url:
        env["GITHUB_API_URL"] = github_url
    return env


def review_files(design_dir: Path, sub: str = "design-reviews") -> list[Path]:
    return sorted(p for p in (design_dir / sub).rglob("*.md") if p.name != "answers.md")


def spawn_worker(
    address: str, task_queue: str, env_extra: dict[str, str], log: Path, *args: str
) -> subprocess.Popen[bytes]:
    """A worker in its own process, so a test can SIGKILL it like a crashed host."""
    env = {**os.environ, **env_extra, "TEMPORAL_ADDRESS": address}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker", "--task-queue", task_queue, "--no-embedded", *args],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


class WorkerProcess:
    """A worker in its own process (`spawn_worker`) for a `with` block: a test `crash`es it
    like a host that dies (SIGKILL: no shutdown, its activities abandoned) and `start`s
    it again with the same arguments; it is killed when the block ends."""

    def __init__(
        self, address: str, task_queue: str, env_extra: dict[str, str], log: Path, *args: str
    ) -> None:
        self.spawn = (address, task_queue, env_extra, log, *args)
        self.process = spawn_worker(*self.spawn)

    def crash(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def start(self) -> None:
        self.process = spawn_worker(*self.spawn)

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.crash()


def rule(
    role: str | None = None,
    steps: list[dict[str, Any]] | None = None,
    submit: dict[str, Any] | None = None,
    **match: Any,
) -> dict[str, Any]:
    """One rule of a scripted model's scenario: the requests it answers (`role`, and any
    other `match` field: `scope`, `kind`, `round`), the tool calls it makes (`steps`; None:
    the kind's default ones), then what it submits (None: the kind's default)."""
    found: dict[str, Any] = {"match": {**({"role": role} if role else {}), **match}}
    if steps is not None:
        found["steps"] = steps
    if submit is not None:
        found["submit"] = submit
    return found


def write(path: str, content: str) -> dict[str, Any]:
    """A scripted model's step: write_file `path` with `content`."""
    return {"tool": "write_file", "input": {"path": path, "content": content}}


def edit_file(path: str, old: str, new: str) -> dict[str, Any]:
    """A scripted model's step: edit_file `path`, `old` replaced by `new`."""
    return {"tool": "edit_file", "input": {"path": path, "old_string": old, "new_string": new}}


def shell(command: str) -> dict[str, Any]:
    """A scripted model's step: run_command `command` (in the sandbox)."""
    return {"tool": "run_command", "input": {"command": command}}


@contextlib.contextmanager
def scripted_model(
    scenario: Any, monkeypatch: Any, github_url: str | None = None
) -> Iterator[MessagesStandIn]:
    """The Messages API stand-in playing `scenario`, with the worker's environment pointed at it."""
    with MessagesStandIn(scenario) as standin:
        for key, value in sim_environ(standin.url, github_url).items():
            monkeypatch.setenv(key, value)
        yield standin


def break_bubblewrap(tmp_path: Path, monkeypatch: Any) -> None:
    """A bubblewrap that fails as it does without user namespaces (or in a container without
    the needed settings), first on PATH; the sandbox's self-test runs again."""
    from activities.sandbox import runner

    bindir = tmp_path / "broken-bin"
    bindir.mkdir()
    fake = bindir / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    runner.forget_self_test()


HISTORIES = Path(__file__).parent / "workflows" / "histories"


async def record_history(handle: Any, also: str = "") -> None:
    """With RECORD_HISTORIES=<label>, keep this run's history for the replay test.

    Written as `histories/<label>/<workflow id>.json` (`<label>/<also>/` for another
    run of the same id): the id is part of what replays (a build names its children
    after it).
    """
    label = os.environ.get("RECORD_HISTORIES")
    if not label:
        return
    folder = HISTORIES / label / also if also else HISTORIES / label
    folder.mkdir(parents=True, exist_ok=True)
    history = await handle.fetch_history()
    (folder / f"{handle.id}.json").write_text(history.to_json())


def holders_of(path: Path) -> list[int]:
    """Processes with `path` open (the dev server keeps its SQLite file open)."""
    target = str(path)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd).startswith(target):
                    found.append(int(entry.name))
                    break
            except OSError:
                continue
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def server_port() -> int:
    """A free port whose Web UI port (the embedded server's port + 1000) is free as well."""
    while True:
        port = free_port()
        if port + 1000 < 65536 and _port_free(port + 1000):
            return port
