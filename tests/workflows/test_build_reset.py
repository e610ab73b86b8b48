"""`!reset` on a build (seed 004, issue 27 item 6): asked, then confirmed within five minutes
(else it lapses); the running subtasks are cancelled, every branch is kept as
`archive/<branch>-<time>` on the remote, and every subtask is built again from the approved
design: nothing is lost."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contracts.build import BuildResult, BuildStatus
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from tests.support import record_history, scripted_model, status_of, temporal_cli, until, write
from tests.workflows.builds import (
    ONE_REVIEWER,
    a_done_b_building,
    builder,
    git_out,
    held_at_conflicts,
    notice_with,
    passes_review,
    start_build,
    tiny_project,
)
from worker import build_worker
from workflows.build import BuildWorkflow

RULES = [
    builder("a", [write("src/a.txt", "a\n")]),
    {  # b's first builder holds until the test has reset the build
        **builder("b", [write("src/b.txt", "b\n")]),
        "faults": [{"type": "hang", "until": "b", "seconds": 600}],
    },
    passes_review("a"),
    passes_review("b"),
    passes_review("integration"),
]


async def test_reset_archives_every_branch_and_builds_again_from_the_design(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    temporal_server: DevServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": RULES}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            await a_done_b_building(handle, messages)
            old_a = git_out(repo.origin, "rev-parse", "feat/a")

            # Confirmed before it was asked: refused, nothing moves.
            sent = await asyncio.to_thread(
                temporal_cli,
                temporal_server.address, "workflow", "signal", "--workflow-id", handle.id,
                "--name", "!reset-confirm",
            )  # fmt: skip
            assert sent.returncode == 0, sent.stderr
            refused = await until(
                lambda: notice_with(handle, "refused !reset-confirm"), what="the refusal"
            )
            assert "no !reset is waiting. Fix: send !reset, then !reset-confirm" in refused

            await handle.signal(BuildWorkflow.command, "!reset")
            asked = await until(lambda: notice_with(handle, "!reset asked"), what="the ask")
            assert "Send !reset-confirm within 5 minutes" in asked
            await handle.signal(BuildWorkflow.confirm_reset)
            done = await until(lambda: notice_with(handle, "!reset done"), limit=120, what="reset")
            messages.release("b")  # b's first conversation was cancelled with its subtask
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)
            st = await status_of(handle, BuildStatus)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    archives = git_out(
        repo.origin,
        "for-each-ref",
        "--format=%(refname:short) %(objectname)",
        "refs/heads/archive/",
    ).splitlines()
    kept = dict(line.split() for line in archives)
    a_archive = next(name for name in kept if name.startswith("archive/feat/a-"))
    assert kept[a_archive] == old_a, "a's old work is kept on the remote"
    assert any(name.startswith("archive/feat/b-") for name in kept), kept
    assert a_archive in done and len(st.resets) == 1 and a_archive in st.resets[0]
    # Built again from the design: a's builder ran twice, and feat/a is a new branch.
    assert len([r for r in messages.requests if r.role == "builder" and r.scope == "a"]) >= 2
    assert git_out(repo.origin, "show", "feat/a:src/a.txt") == "a"
    assert git_out(repo.origin, "rev-parse", "feat/a") != old_a
    descends = subprocess.run(
        ["git", "merge-base", "--is-ancestor", old_a, "feat/a"], cwd=repo.origin, check=False
    )
    assert descends.returncode == 1, "feat/a is built afresh, not on top of its old work"


async def test_a_reset_not_confirmed_within_five_minutes_lapses(
    time_skipping_env: WorkflowEnvironment,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = time_skipping_env
    # Held for a person: nothing runs.
    async with held_at_conflicts(env, tmp_path, github.url, monkeypatch) as handle:
        await handle.signal(BuildWorkflow.ask_reset)
        await until(lambda: notice_with(handle, "!reset asked"), what="the ask")
        await env.sleep(timedelta(minutes=6))
        await handle.signal(BuildWorkflow.confirm_reset)
        lapsed = await until(lambda: notice_with(handle, "refused !reset-confirm"), what="lapse")
        assert "lapsed after 5 minutes. Fix: send !reset again" in lapsed
        assert (await status_of(handle, BuildStatus)).resets == []
        await handle.signal(BuildWorkflow.command, "decide file-conflicts stop")
        result = BuildResult.model_validate(await handle.result())
    assert result.result == "SUBTASKS_INCOMPLETE"
