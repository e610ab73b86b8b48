"""Cancellation stops an agent or a gate within seconds, and nothing lands afterwards.

Real worker, real workflow (waiting for the cancellation to complete, as the
loops do), the real client against the stand-in, real git and real processes.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.agents.cancel import cancel_requested, finish_in_thread
from activities.agents.commit import TRAILER, Cancelled, commit_agent_changes
from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner, alive, git, request, started
from tests.agents.steps import cancel_and_wait


async def test_a_cancelled_builder_stops_at_once_and_commits_nothing(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # Turn 1 writes a file; turn 2's request hangs (the model is "thinking").
    write = {"tool": "write_file", "input": {"path": "src/new.py", "content": "NEW = 1\n"}}
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "builder"},
                    "steps": [write, {"tool": "list_files", "input": {}}],
                    "faults": [{"type": "hang", "at_turn": 2, "seconds": 120}],
                }
            ]
        }
    )
    head = git(repo, "rev-parse", "HEAD")
    handle = await runner.start(
        "agent.edit",
        request(repo, "builder", scope="01-core", commit_message="01-core: build"),
        heartbeat_timeout_s=1.0,
        wait_for_cancel=True,
    )
    await asyncio.to_thread(standin.wait_for, lambda r: r.turn == 2, 30)

    took = await cancel_and_wait(handle)
    assert took < 5, f"cancellation took {took:.1f}s"
    # The in-flight request was aborted: the stand-in saw the client hang up.
    hung = await asyncio.to_thread(standin.wait_for, lambda r: r.action == "disconnected", 5)
    assert hung.turn == 2

    seen = len(standin.requests)
    await asyncio.sleep(3)  # longer than a retry or the next turn would take
    assert len(standin.requests) == seen == 2
    assert git(repo, "rev-parse", "HEAD") == head
    assert TRAILER not in git(repo, "log", "--format=%B")
    assert (repo / "src/new.py").read_text() == "NEW = 1\n"  # the work stays, uncommitted


async def test_a_cancelled_builder_kills_its_command_and_commits_nothing(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    command = {"command": "sleep 60.4711; echo late > late.txt"}
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "builder"},
                    "steps": [{"tool": "run_command", "input": command}],
                }
            ]
        }
    )
    head = git(repo, "rev-parse", "HEAD")
    handle = await runner.start(
        "agent.edit",
        request(repo, "builder", commit_message="x"),
        heartbeat_timeout_s=1.0,
        wait_for_cancel=True,
    )
    await started("60.4711")
    took = await cancel_and_wait(handle)
    assert took < 5, f"cancellation took {took:.1f}s"
    assert not alive("60.4711"), "the command survived the cancelled activity"
    seen = len(standin.requests)
    await asyncio.sleep(2)
    assert len(standin.requests) == seen == 1  # the command's result was never sent
    assert git(repo, "rev-parse", "HEAD") == head
    assert not (repo / "late.txt").exists()


async def test_a_cancelled_reviewer_writes_no_review(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(
        {
            "rules": [
                {
                    "match": {"role": "code-correctness"},
                    "steps": [{"tool": "list_files", "input": {}}],
                    "faults": [{"type": "hang", "at_turn": 2, "seconds": 120}],
                }
            ]
        }
    )
    handle = await runner.start(
        "agent.review",
        request(repo, "code-correctness", review_path="reviews/r.md", title="t"),
        heartbeat_timeout_s=1.0,
        wait_for_cancel=True,
    )
    await asyncio.to_thread(standin.wait_for, lambda r: r.turn == 2, 30)
    assert await cancel_and_wait(handle) < 5
    await asyncio.sleep(2)
    assert len(standin.requests) == 2
    assert not (repo / "reviews").exists()


async def test_a_cancelled_gate_is_killed_and_writes_no_log(
    repo: Path, tmp_path: Path, gate_runner: Runner
) -> None:
    logs = tmp_path / "logs"
    handle = await gate_runner.start(
        "gates.run",
        {
            "workdir": str(repo),
            "commands": [
                "echo run >> runs.txt",
                "sleep 60.4712",
                "echo never > never.txt",
            ],
            "log_dir": str(logs),
        },
        heartbeat_timeout_s=1.0,
        wait_for_cancel=True,
    )
    await started("60.4712")
    await asyncio.sleep(2)  # past the heartbeat timeout
    took = await cancel_and_wait(handle)
    assert took < 5, f"cancellation took {took:.1f}s"
    assert not alive("60.4712"), "the gate's command survived the cancelled activity"
    await asyncio.sleep(1)
    assert sorted(p.name for p in logs.iterdir()) == ["01-echo-run-runs-txt.log"]  # finished one
    # Heartbeats kept the one attempt alive: the gates were not started twice.
    assert (repo / "runs.txt").read_text() == "run\n"
    assert not (repo / "never.txt").exists()


async def test_a_step_running_when_cancellation_arrives_finishes_before_it_is_reported(
    tmp_path: Path,
) -> None:
    """What runs in a thread cannot be stopped: the cancellation waits for it, and the
    step sees the cancellation before its irreversible part."""
    started, release = threading.Event(), threading.Event()
    done: list[str] = []

    def step(target: Path) -> None:
        started.set()
        release.wait(10)
        if cancel_requested():
            done.append("skipped")
            return
        target.write_text("landed")
        done.append("wrote")

    @activity.defn(name="finish")
    async def finish(target: str) -> None:
        await finish_in_thread(step, Path(target))

    env = ActivityEnvironment()
    task = asyncio.ensure_future(env.run(finish, str(tmp_path / "out.txt")))
    await asyncio.to_thread(started.wait, 10)
    env.cancel()
    await asyncio.sleep(0.3)
    assert not task.done()  # still waiting for the thread, not reported cancelled yet
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["skipped"] and not (tmp_path / "out.txt").exists()

    # Once cancelled, such a step does not even start.
    ran: list[int] = []

    @activity.defn(name="late")
    async def late() -> None:
        activity_env.cancel()  # arrives between two steps, before the next await
        await finish_in_thread(ran.append, 1)

    activity_env = ActivityEnvironment()
    with pytest.raises(asyncio.CancelledError):
        await activity_env.run(late)
    assert ran == []


def test_a_commit_stopped_after_staging_commits_nothing_and_unstages(repo: Path) -> None:
    (repo / "src" / "new.py").write_text("NEW = 1\n")
    head = git(repo, "rev-parse", "HEAD")
    answers = iter([False, True])  # not yet cancelled before staging; cancelled before commit
    with pytest.raises(Cancelled):
        commit_agent_changes(
            repo, ["src/new.py"], "build", f"{TRAILER}: x", stop=lambda: next(answers)
        )
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == "?? src/new.py"  # the work stays, unstaged
