"""`orchestrator release <dir> [--wait]` and `orchestrator say` on the release loop, run as
a person runs them: refused with the fix before integration; started once, then reported;
--wait stops at the gate a person sends; a hint names that gate and advances nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle

from cli.common import EXIT_WAITING
from contracts.release import ReleaseStatus
from contracts.version import TASK_QUEUE
from simulators.github_api import GitHubStandIn
from tests.cli.commands import orchestrator
from tests.support import scripted_model, until
from tests.workflows.builds import ONE_REVIEWER, integrated, tiny_project
from worker import build_worker
from workflows.release import ReleaseWorkflow


async def paused_is(handle: WorkflowHandle, paused: bool) -> bool:
    st: ReleaseStatus = await handle.query(ReleaseWorkflow.status)
    return st.paused == paused


async def test_release_is_refused_before_the_build_integrated(
    temporal_env: dict[str, str], tmp_path: Path, github: GitHubStandIn
) -> None:
    repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
    done = await orchestrator(temporal_env, "release", str(repo.design_dir), "--no-embedded")
    assert done.returncode != 0, done.stdout
    assert "has not integrated" in done.stderr and "Fix: run the build" in done.stderr, done.stderr


async def test_release_starts_once_waits_at_the_gate_and_hints_it(
    client: Client,
    temporal_env: dict[str, str],
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": []}, monkeypatch, github.url):
        repo = integrated(tmp_path, github.url, "true")
        design = str(repo.design_dir)
        async with build_worker(client, TASK_QUEUE):
            handle = client.get_workflow_handle("release-link-shortener")
            try:
                first = await orchestrator(temporal_env, "release", design, "--no-embedded")
                assert first.returncode == 0, first.stderr
                assert "ReleaseWorkflow release-link-shortener running" in first.stdout
                waited = await orchestrator(
                    temporal_env, "release", design, "--wait", "--no-embedded"
                )
                assert waited.returncode == EXIT_WAITING, waited.stdout + waited.stderr
                assert "already running: attached, not started again" in waited.stdout
                assert "A person must act now: !critic" in waited.stdout
                said = await orchestrator(temporal_env, "say", design, "ready to ship")
                assert said.returncode == 0, said.stderr
                assert (
                    "type !critic" in said.stdout and "!verify comes after !critic" in said.stdout
                )
                st: ReleaseStatus = await handle.query(ReleaseWorkflow.status)
                assert st.next_gate == "!critic" and st.stages[0].status == "waiting"
                # `status` lists the release loop: its gates, the hint, the command to send.
                shown = await orchestrator(temporal_env, "status", design, "--no-embedded")
                assert shown.returncode == 0, shown.stderr
                out = shown.stdout
                assert "Release link-shortener: awaiting !critic" in out, out
                assert "critic    waiting" in out and "verify    waiting" in out, out
                assert "Hint: " in out and "type !critic" in out, out
                send = "workflow signal --workflow-id release-link-shortener --name '!critic'"
                assert "At the gate !critic" in out and send in out, out
                # pause and resume reach the release loop as they reach the others.
                paused = await orchestrator(temporal_env, "pause", design, "--no-embedded")
                assert "sent !pause to release-link-shortener" in paused.stdout, paused.stderr
                await until(lambda: paused_is(handle, True), what="the release paused")
                resumed = await orchestrator(temporal_env, "resume", design, "--no-embedded")
                assert "sent !resume to release-link-shortener" in resumed.stdout, resumed.stderr
                await until(lambda: paused_is(handle, False), what="the release resumed")
            finally:
                await handle.terminate("the test is over")
