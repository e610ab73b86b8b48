"""Fixtures for the agent tests: a scripted Messages API, a git repository, a worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.agents import ACTIVITIES
from simulators.messages_api import READABLE_CALLERS, MessagesStandIn
from tests.agents.agent_workflow import AgentActivityProbe, AgentJob

API_KEY = "sk-ant-sim-SECRET-key-4711"
MODEL = "sim-model-1"  # made up: real, deprecated names make the SDK warn
# The stand-in's default reviewer scores 0.85 with a medium issue quoting the first file
# it read; one that read no file has nothing to quote, so its issue is unverified, does
# not count, and the score is derived into the top band (activities/agents/rubric.py).
UNREAD_SCORE = 0.96


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesStandIn]:
    """A scripted model; the real anthropic client reaches it through ANTHROPIC_BASE_URL."""
    with MessagesStandIn() as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
        for name, value in READABLE_CALLERS.items():
            monkeypatch.setenv(name, value)
        yield api


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit and a small design directory."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = tmp_path / "repo"
    design = root / "design-docs" / "active" / "demo"
    (design / "subplans").mkdir(parents=True)
    (design / "overview.md").write_text("# Demo\n\nA tiny feature.\n## Requirements\n- R1\n")
    (design / "subplans" / "01-core.md").write_text(
        "# 01-core: Core\n\n**Dependencies**: None\n**Files Modified**: src/core.py\n"
    )
    (root / "src").mkdir()
    (root / "src" / "core.py").write_text("def add(a, b):\n    return a + b\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def request(repo: Path, role: str, scope: str = "demo", round: int = 1, **fields: Any) -> dict:
    """A request dict for any agent activity (the worker turns it into the pydantic model)."""
    settings = {"model": MODEL, **fields.pop("settings", {})}
    return {
        "role": role,
        "scope": scope,
        "round": round,
        "workdir": str(repo),
        "transcript_path": f".orchestrator/{role}-{scope}-{round}.transcript.json",
        "settings": settings,
        **fields,
    }


class Runner:
    """Runs agent activities through a real worker and the test workflow."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client, self.task_queue = client, task_queue

    async def start(self, activity: str, req: dict, **job: Any) -> WorkflowHandle:
        return await self.client.start_workflow(
            AgentActivityProbe.run,
            AgentJob(activity=activity, request=req, **job),
            id=f"agent-test-{uuid.uuid4().hex[:10]}",
            task_queue=self.task_queue,
        )

    async def run(self, activity: str, req: dict, **job: Any) -> dict:
        handle = await self.start(activity, req, **job)
        return await handle.result()


@pytest.fixture
async def runner(client: Client, task_queue: str) -> AsyncIterator[Runner]:
    async with Worker(
        client, task_queue=task_queue, workflows=[AgentActivityProbe], activities=ACTIVITIES
    ):
        yield Runner(client, task_queue)


@pytest.fixture
async def gate_runner(client: Client, task_queue: str) -> AsyncIterator[Runner]:
    """Agents and gates, as a subtask runs them in its worktree."""
    from activities.gates import run_gates

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[AgentActivityProbe],
        activities=[*ACTIVITIES, run_gates],
    ):
        yield Runner(client, task_queue)


def alive(token: str) -> bool:
    """A process on this machine whose command line holds `token` (a unique sleep length:
    pids inside the sandbox's PID namespace mean nothing out here)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline.split(b"\0"):
                return True
    return False


async def started(token: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if alive(token):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no process with {token} ever started")


async def ended(token: str, within: float = 10.0) -> bool:
    """Whether every process with `token` ended within `within` seconds (a bound, not a
    guess: a cancellation the workflow does not wait for lands a moment later)."""
    deadline = time.monotonic() + within
    while alive(token):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
