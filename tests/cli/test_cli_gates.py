"""Exit codes of `--wait`, refusals before a signal is sent, and loops of other directories.

Real CLI processes against the suite's dev server, with a worker on the CLI's
task queue in this process and the Messages API and GitHub stand-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from cli.loop_cmds import follow
from contracts.build import BuildResult
from contracts.plan import PlanRequest
from contracts.version import TASK_QUEUE
from runtime.server import DevServer
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from tests.cli.commands import IDS, orchestrator
from tests.support import make_project, scripted_model, temporal_cli
from tests.workflows.builds import ONE_REVIEWER, passes_review, tiny_project, writes_file_rule
from worker import build_worker
from workflows.design_review import DesignReviewWorkflow
from workflows.plan import PlanWorkflow

HANG = {
    "match": {"role": "design-architecture", "scope": "consistency"},
    "faults": [{"type": "hang", "at_turn": 2, "seconds": 120}],
}


async def test_budget_gate_exit_codes_and_refused_decisions(
    client: Client,
    temporal_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_leftovers: None,
) -> None:
    rules = [writes_file_rule("a"), writes_file_rule("b"), passes_review()]
    with GitHubStandIn() as github, scripted_model({"rules": rules}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        design = str(repo.design_dir)
        async with build_worker(client, TASK_QUEUE):
            held = await orchestrator(
                temporal_env, "build", design, "--wait", "--max-tokens", "1000"
            )
            # 3: the build holds at its budget for a person.
            assert held.returncode == 3, held.stdout + held.stderr
            last = held.stdout.rstrip().splitlines()
            assert last[-1].startswith("A person must act now: decide budget raise|stop")
            assert "Build link-shortener: budget;" in held.stdout

            wrong = await orchestrator(temporal_env, "decide", design, "budget", "maybe")
            assert wrong.returncode == 2, wrong.stdout + wrong.stderr
            assert "'maybe' is not an option for budget" in wrong.stderr
            assert "choose one of: raise, stop" in wrong.stderr
            assert "sent" not in wrong.stdout
            unscoped = await orchestrator(temporal_env, "decide", design, "skip")
            assert unscoped.returncode == 2 and "choose one of: raise, stop" in unscoped.stderr
            elsewhere = await orchestrator(temporal_env, "decide", design, "zz", "stop")
            assert elsewhere.returncode == 2
            assert "no prompt waits on 'zz'; waiting: budget (raise/stop)" in elsewhere.stderr

            early = await orchestrator(temporal_env, "change-approve", design)
            assert early.returncode == 2
            assert "nothing to change-approve: no change is open" in early.stderr
            first = await orchestrator(temporal_env, "change", design, "rename b")
            assert first.returncode == 0 and "sent !change" in first.stdout
            second = await orchestrator(temporal_env, "change", design, "rename a")
            assert second.returncode == 2, second.stdout + second.stderr
            assert "change 1 is still open (" in second.stderr and "'rename b'" in second.stderr
            assert "Fix: " in second.stderr

            stop = await orchestrator(temporal_env, "decide", design, "budget", "stop")
            assert stop.returncode == 0, stop.stderr
            assert "sent decide budget stop to build-link-shortener" in stop.stdout
            handle = client.get_workflow_handle(IDS[1])
            result = BuildResult.model_validate(await handle.result())
            assert result.result == "SUBTASKS_INCOMPLETE"

            # `--wait` on a build that ended without its result: 1, and the last line says why.
            capsys.readouterr()
            assert await follow(client, handle, "build", design) == 1
            shown = capsys.readouterr().out.rstrip().splitlines()
            assert shown[-1].startswith(
                "build-link-shortener: completed without its result: SUBTASKS_INCOMPLETE; "
            )
            assert " b " in shown[-1]

            status = await orchestrator(temporal_env, "status", design)
            assert status.returncode == 0, status.stderr
            assert "build (build-link-shortener): COMPLETED at " in status.stdout
            assert "  completed without its result: SUBTASKS_INCOMPLETE" in status.stdout


async def test_a_loop_of_another_directory_with_the_same_name_is_refused(
    client: Client,
    temporal_server: DevServer,
    temporal_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_leftovers: None,
) -> None:
    scenario = {"rules": [HANG, *link_shortener_scenario()["rules"]]}
    with scripted_model(scenario, monkeypatch) as messages:
        ours = make_project(tmp_path / "ours", extra_config="\n[agents]\nheartbeat_timeout_s = 4\n")
        theirs = make_project(tmp_path / "theirs")
        mine, other = str(ours.design_dir), str(theirs.design_dir)
        async with build_worker(client, TASK_QUEUE):
            started = await orchestrator(temporal_env, "design", mine)
            assert started.returncode == 0, started.stderr
            await asyncio.to_thread(messages.wait_for, lambda r: bool(r.fault), 60)
            for verb in (["design"], ["approve"], ["cancel"], ["decide", "accept"], ["pause"]):
                refused = await orchestrator(temporal_env, verb[0], other, *verb[1:])
                assert refused.returncode == 2, (verb, refused.stdout, refused.stderr)
                assert (
                    f"design-link-shortener belongs to another design directory: it was started "
                    f"for {mine}, not {other}" in refused.stderr
                ), refused.stderr
                assert "Fix: finish or cancel the other loop" in refused.stderr
                assert "rename this feature directory" in refused.stderr
            looked = await orchestrator(temporal_env, "status", other)
            assert looked.returncode == 2 and f"started for {mine}" in looked.stderr
            # Nothing reached our loop: it still runs, unpaused.
            handle = client.get_workflow_handle(IDS[0])
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            assert (await handle.query(DesignReviewWorkflow.status)).paused is False
            # A third directory's build under our build's id (a killed demo's, say) does not
            # stop a verb from reaching our own design, and is not touched itself.
            elsewhere = str(tmp_path / "elsewhere" / "link-shortener")
            started = temporal_cli(
                temporal_server.address,
                "workflow", "start", "--type", "BuildWorkflow", "--task-queue", "nobody-serves",
                "--workflow-id", IDS[1], "--input", json.dumps({"design_dir": elsewhere}),
            )  # fmt: skip
            assert started.returncode == 0, started.stderr
            paused = await orchestrator(temporal_env, "pause", mine)
            assert paused.returncode == 0, paused.stdout + paused.stderr
            assert (await handle.query(DesignReviewWorkflow.status)).paused is True
            theirs_build = client.get_workflow_handle(IDS[1])
            events = [e async for e in theirs_build.fetch_history_events()]
            assert not [
                e for e in events if e.HasField("workflow_execution_signaled_event_attributes")
            ]
            await theirs_build.terminate("test over")
            cancelled = await orchestrator(temporal_env, "cancel", mine)
            assert cancelled.returncode == 0, cancelled.stderr


async def test_terminated_loop_says_why(
    client: Client,
    temporal_server: DevServer,
    temporal_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_leftovers: None,
) -> None:
    scenario = {"rules": [HANG, *link_shortener_scenario()["rules"]]}
    with scripted_model(scenario, monkeypatch) as messages:
        repo = make_project(tmp_path, extra_config="\n[agents]\nheartbeat_timeout_s = 4\n")
        design = str(repo.design_dir)
        async with build_worker(client, TASK_QUEUE):
            following = asyncio.ensure_future(
                orchestrator(temporal_env, "design", design, "--wait")
            )
            await asyncio.to_thread(messages.wait_for, lambda r: bool(r.fault), 60)
            done = temporal_cli(
                temporal_server.address,
                "workflow", "terminate", "--workflow-id", IDS[0], "--reason", "wrong branch",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            followed = await following
            assert followed.returncode == 1, followed.stdout + followed.stderr
            assert followed.stdout.rstrip().splitlines()[-1] == (
                "design-link-shortener: terminated: wrong branch"
            )
            shown = await orchestrator(temporal_env, "status", design, "--json")
    assert '"status": "TERMINATED"' in shown.stdout
    assert '"outcome": "terminated: wrong branch"' in shown.stdout


async def test_failed_loop_shows_its_failure(
    client: Client, temporal_env: dict[str, str], tmp_path: Path, no_leftovers: None
) -> None:
    """A workflow under the loop's id that failed: status shows the failure's message."""
    repo = make_project(tmp_path)
    (repo.design_dir / "overview.md").unlink()  # the plan step refuses the directory
    async with build_worker(client, TASK_QUEUE):
        handle = await client.start_workflow(
            PlanWorkflow.run,
            PlanRequest(design_dir=str(repo.design_dir)),
            id=IDS[0],
            task_queue=TASK_QUEUE,
        )
        with contextlib.suppress(Exception):
            await handle.result()
    shown = await orchestrator(temporal_env, "status", str(repo.design_dir))
    assert shown.returncode == 0, shown.stderr
    assert "design (design-link-shortener): FAILED at " in shown.stdout
    assert "  failed: " in shown.stdout and "overview.md" in shown.stdout
