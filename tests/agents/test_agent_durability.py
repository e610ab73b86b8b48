"""A worker killed mid-agent resumes from its last completed turn; cancellation is prompt."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from activities.agents import ACTIVITIES
from activities.agents.telemetry import read_rows
from runtime.server import DevServer
from simulators.messages_api import MessagesStandIn
from tests.agents.agent_workflow import AgentActivityProbe
from tests.agents.conftest import Runner, ended, git, request, started
from tests.support import rule, shell

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_worker(address: str, task_queue: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.agents.worker_process", address, task_queue],
        cwd=REPO_ROOT,
        env=dict(os.environ),  # carries ANTHROPIC_BASE_URL and the key, as a real worker's would
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "worker ready"
    return proc


async def killed_mid_agent(
    client: Client, address: str, task_queue: str, req: dict, when: Callable[[], Awaitable[object]]
) -> dict:
    """Run the agent on a worker process, SIGKILL it once `when` returns, and finish the
    activity on a fresh worker (it picks the activity up once the dead one misses its
    heartbeat); the activity's result."""
    worker = start_worker(address, task_queue)
    try:
        handle = await Runner(client, task_queue).start("agent.edit", req, heartbeat_timeout_s=2.0)
        await when()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    async with Worker(
        client, task_queue=task_queue, workflows=[AgentActivityProbe], activities=ACTIVITIES
    ):
        result: dict = await handle.result()
    return result


async def test_a_worker_killed_mid_agent_resumes_from_its_last_completed_turn(
    repo: Path,
    standin: MessagesStandIn,
    client: Client,
    temporal_server: DevServer,
    task_queue: str,
) -> None:
    steps = [
        {"tool": "write_file", "input": {"path": f"src/part{n}.py", "content": f"N = {n}\n"}}
        for n in (1, 2, 3)
    ]
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "builder"},
                    "steps": steps,
                    "faults": [{"type": "hang", "at_turn": 3, "seconds": 60}],
                }
            ]
        }
    )
    token_log = repo / "design-docs" / "active" / "demo" / "telemetry" / "token_log.jsonl"
    req = request(
        repo, "builder", scope="01-core", commit_message="01-core: build", token_log=str(token_log)
    )
    result = await killed_mid_agent(
        client,
        temporal_server.address,
        task_queue,
        req,
        lambda: asyncio.to_thread(standin.wait_for, lambda r: r.turn == 3, 30),
    )

    turns = [(r.turn, r.fault) for r in standin.requests]
    assert turns == [(1, None), (2, None), (3, "hang"), (3, None), (4, None)]
    assert result["files_changed"] == ["src/part1.py", "src/part2.py", "src/part3.py"]
    assert result["commit"] == git(repo, "rev-parse", "HEAD")
    # Usage covers both attempts' completed turns (the killed request produced none).
    assert result["usage"]["requests"] == 4
    # The token log: one row per answered request. Turns 1-2 were answered before the
    # kill and never asked again; the killed request of turn 3 had no answer, so no row.
    rows = read_rows(token_log)
    answered = [r for r in standin.requests if r.fault is None]
    # The killed attempt answered turns 1-2 and the next one 3-4. Which attempt was killed is
    # not fixed: at a load of 20 on 2 cores the first attempt once missed this test's 2 s
    # heartbeat before its first call (a fair retry; the product's timeout is 30 s).
    killed = rows[0].attempt
    assert [(r.turn, r.attempt) for r in rows] == [
        (1, killed),
        (2, killed),
        (3, killed + 1),
        (4, killed + 1),
    ]
    assert [(r.input_tokens, r.output_tokens) for r in rows] == [
        (r.usage["input_tokens"], r.usage["output_tokens"]) for r in answered
    ]
    assert [(r.cache_read_input_tokens, r.cache_creation_input_tokens) for r in rows] == [
        (r.usage.get("cache_read_input_tokens", 0), r.usage.get("cache_creation_input_tokens", 0))
        for r in answered
    ]
    assert round(sum(r.cost_usd for r in rows), 6) == result["usage"]["cost_usd"]
    assert {(r.role, r.scope) for r in rows} == {("builder", "01-core")}
    assert len({r.workflow_id for r in rows}) == 1 and rows[0].workflow_id.startswith("agent-test-")
    assert len({r.key for r in rows}) == 4
    assert all(0 < r.context_tokens < r.context_window for r in rows)


async def test_cancelling_the_workflow_kills_the_agents_running_command(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset({"rules": [rule("builder", [shell("sleep 60.4713")])]})
    handle = await runner.start(
        "agent.edit",
        request(repo, "builder", commit_message="x"),
        heartbeat_timeout_s=1.0,
    )
    await started("60.4713")  # pids inside the sandbox mean nothing out here
    await handle.cancel()
    try:
        await handle.result()
    except WorkflowFailureError:
        pass
    assert await ended("60.4713"), "the agent's command survived cancellation"


async def test_a_turn_answered_but_lost_with_its_worker_is_logged_once_per_request(
    repo: Path,
    standin: MessagesStandIn,
    client: Client,
    temporal_server: DevServer,
    task_queue: str,
) -> None:
    """The answer of turn 2 arrives, its tool runs, the worker dies before the turn is
    saved: the next attempt asks turn 2 again. Two requests, both billed: two rows."""
    steps = [
        {"tool": "write_file", "input": {"path": "src/part1.py", "content": "N = 1\n"}},
        {"tool": "run_command", "input": {"command": "sleep 3.4712"}},
        {"tool": "write_file", "input": {"path": "src/part3.py", "content": "N = 3\n"}},
    ]
    standin.reset({"rules": [{"match": {"role": "builder"}, "steps": steps}]})
    token_log = repo / "design-docs" / "active" / "demo" / "telemetry" / "token_log.jsonl"
    req = request(repo, "builder", commit_message="build", token_log=str(token_log))
    # Killed once turn 2 is answered and logged, while its command runs.
    result = await killed_mid_agent(
        client, temporal_server.address, task_queue, req, lambda: started("3.4712")
    )

    assert [r.turn for r in standin.requests] == [1, 2, 2, 3, 4]
    rows = read_rows(token_log)
    assert [(r.turn, r.attempt) for r in rows] == [(1, 1), (2, 1), (2, 2), (3, 2), (4, 2)]
    assert [r.output_tokens for r in rows] == [r.usage["output_tokens"] for r in standin.requests]
    # The transcript resumes from its saved turns, so the result's usage misses the lost
    # answer: the log has every request that was answered.
    assert result["usage"]["requests"] == 4
