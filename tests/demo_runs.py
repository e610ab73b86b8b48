"""The demo as a person runs it, in its own process and home: one shared sequence of demos.

`interrupted_demos` (a fixture: tests/conftest.py loads this module as a plugin) runs three
demos one after the other in one home, against the suite's dev server: one Ctrl-C'd once
its build started, one SIGKILLed there, then one held by a model refusing its key and run
to the end once the printed `retry` is pasted. A whole demo is about 50 s of CPU, so the
tests that need one read this sequence (SHARED_RUNS in tests/conftest.py keeps them on the
worker that runs it): the Ctrl-C, SIGKILL and hold tests (tests/cli/test_first_hour.py) and
the Web UI's view of a demo's loops (tests/webui/test_web_ui.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionDescription

from runtime.server import DevServer
from tests.cli.commands import orchestrator
from tests.conftest import REPO_ROOT
from tests.support import until


def own_home(tmp_path: Path, address: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATOR_RUN"}
    home = str(tmp_path / "home")
    return {**env, "ORCHESTRATOR_HOME": home, "TEMPORAL_ADDRESS": address, **extra}


def processes_of(home: Path) -> list[str]:
    """Processes that belong to this home: started with it in their environment or arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if str(home).encode() in blob and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:200]!r}")
    return found


def start_demo(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """In its own process group, SIGINT at its default: as a terminal starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "starter", "demo", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


async def wait_for_text(log: Path, text: str, limit: float = 300) -> str:
    async def seen() -> str:
        out = log.read_text(errors="replace")
        return out if text in out else ""

    return str(await until(seen, limit=limit, interval=0.3, what=f"{text!r} in {log}"))


def demo_dir(out: str) -> str:
    found = re.search(r"scratch repository (\S+) ", out)
    assert found, out
    return f"{found.group(1)}/design-docs/active/link-shortener"


@dataclass(frozen=True)
class InterruptedDemos:
    """What three demos in one home showed, run one after the other."""

    home: Path
    env: dict[str, str]
    held_out: str  # the first, held by a refused key: its output up to the hold's commands
    retry_sent: subprocess.CompletedProcess[str]  # its printed `retry`, pasted after the fix
    ctrl_c_code: int  # the first again, Ctrl-C once its build started
    ctrl_c_out: str
    build_after_ctrl_c: WorkflowExecutionDescription
    running_after_ctrl_c: list[str]
    killed_status: subprocess.CompletedProcess[str]  # the second, SIGKILLed once its build started
    rerun_dir: Path  # the third, with --dir, run to the end
    rerun: subprocess.CompletedProcess[str]


@pytest.fixture(scope="session")
async def interrupted_demos(
    temporal_server: DevServer, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InterruptedDemos]:
    """One sequence for the hold, Ctrl-C, SIGKILL and Web UI tests: a whole demo is about
    50 s of CPU. The first demo is held by the model refusing its key, goes on once the
    printed `retry` is pasted, and is Ctrl-C'd in its build; the second is SIGKILLed there;
    the third runs to the end after them (SHARED_RUNS in tests/conftest.py keeps the tests
    on the worker that runs it)."""
    tmp_path = tmp_path_factory.mktemp("interrupted-demos")
    env = own_home(tmp_path, temporal_server.address)
    home = Path(env["ORCHESTRATOR_HOME"])
    try:
        first_log = tmp_path / "ctrl-c.log"
        held, sent, code = await held_then_interrupted(env, first_log)
        # The pasted `decide` found the demo's loops served on the demo's own queue, so it
        # started no background worker on the default one (none would ever be used).
        assert not (home / "worker.pid").exists()
        build = await client.get_workflow_handle("build-link-shortener").describe()
        running = f"TaskQueue = '{build.task_queue}' AND ExecutionStatus = 'Running'"
        left = [w.id async for w in client.list_workflows(running)]

        killed_log = tmp_path / "killed.log"
        killed = start_demo(env, killed_log)
        await wait_for_text(killed_log, " started (running now:")
        os.killpg(killed.pid, signal.SIGKILL)
        await asyncio.to_thread(killed.wait, 60)
        shown = await orchestrator(env, "status", demo_dir(killed_log.read_text()))

        rerun_dir = tmp_path / "demo"
        rerun = await orchestrator(env, "demo", "--dir", str(rerun_dir), limit=600)
        yield InterruptedDemos(
            home, env, held, sent, code, first_log.read_text(), build, left, shown, rerun_dir,
            rerun,
        )  # fmt: skip
    finally:
        for line in processes_of(home):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)


async def held_then_interrupted(
    env: dict[str, str], log: Path
) -> tuple[str, subprocess.CompletedProcess[str], int]:
    """The demo against a model that refuses its key (`--real`, the scripted scenario on a
    Messages stand-in here): its output up to the hold's commands; the printed `retry`,
    pasted as a person would once the key is fixed; then, once its build started, Ctrl-C
    (to the terminal's foreground group) and its exit code."""
    from simulators.demo_scenario import link_shortener_scenario
    from simulators.messages_api import READABLE_CALLERS, MessagesStandIn

    with MessagesStandIn(link_shortener_scenario(), api_key="a-key-nobody-holds") as model:
        model_env = {
            **env,
            **READABLE_CALLERS,
            "ANTHROPIC_API_KEY": "sim-key",
            "ANTHROPIC_BASE_URL": model.url,
        }
        demo = start_demo(model_env, log, "--real")
        try:
            held = await wait_for_text(log, "  retry: ", limit=180)
            retry = shlex.split(re.findall(r"^ +retry: (.+)$", held, re.M)[0])
            model.api_key = None  # the person fixed the key
            sent = await asyncio.to_thread(
                subprocess.run, retry, env=env, capture_output=True, text=True,
                timeout=120, check=False,
            )  # fmt: skip
            await wait_for_text(log, " started (running now:")
            os.killpg(demo.pid, signal.SIGINT)
            code = await asyncio.to_thread(demo.wait, 120)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
    return held, sent, code
