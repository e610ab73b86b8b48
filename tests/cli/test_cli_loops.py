"""The `orchestrator` verbs a person types, run as processes against a real server."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from contracts.version import TASK_QUEUE
from runtime.server import DevServer, free_port
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from tests.cli.commands import orchestrator
from tests.support import example_design, make_project, scripted_model, spawn_worker, until
from worker import build_worker
from workflows.design_review import DesignReviewWorkflow

NAMES = ["01-models", "02-storage"]


async def test_a_person_drives_both_loops_from_the_cli(
    client: Client,
    temporal_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with (
        GitHubStandIn() as github,
        scripted_model(link_shortener_scenario(), monkeypatch, github.url),
    ):
        # Two of the example's subplans, the second depending on the first: every verb and
        # table below is the same for two as for five.
        source = example_design(tmp_path, *NAMES)
        repo = make_project(tmp_path, github.url, design_source=source)
        design = str(repo.design_dir)
        # The CLI uses task queue TASK_QUEUE: a worker serves it here, so none is spawned.
        async with build_worker(client, TASK_QUEUE):
            started = await orchestrator(temporal_env, "design", design, "--wait")
            # 3: the loop waits for a person (here the open question Q2).
            assert started.returncode == 3, started.stdout + started.stderr
            assert "design-link-shortener" in started.stdout
            assert "Q2" in started.stdout and "A person must act now" in started.stdout

            shown = await orchestrator(temporal_env, "status", design)
            assert shown.returncode == 0, shown.stderr
            assert "Open questions" in shown.stdout and "consistency" in shown.stdout

            wrong = await orchestrator(temporal_env, "answer", design, "Q9", "B")
            assert wrong.returncode == 2 and "unknown question id 'Q9'" in wrong.stderr
            early = await orchestrator(temporal_env, "approve", design)
            assert early.returncode == 2 and "not at the approval gate" in early.stderr

            answered = await orchestrator(temporal_env, "answer", design, "Q2", "B")
            assert answered.returncode == 0 and "Q2: B) In memory only" in answered.stdout

            handle = client.get_workflow_handle("design-link-shortener")

            async def gate() -> bool:
                st = await handle.query(DesignReviewWorkflow.status)
                return st.phase == "awaiting-approval"

            await until(gate, what="the approval gate")
            for verb, paused in (("pause", True), ("resume", False)):
                sent = await orchestrator(temporal_env, verb, design)
                assert sent.returncode == 0, sent.stderr
                assert f"sent !{verb} to design-link-shortener" in sent.stdout, sent.stdout

                async def took(want: bool = paused) -> bool:
                    return (await handle.query(DesignReviewWorkflow.status)).paused is want

                await until(took, what=f"the loop to take {verb}")
            at_gate = await orchestrator(temporal_env, "design", design, "--wait")
            assert at_gate.returncode == 3, at_gate.stdout + at_gate.stderr
            assert "Waiting for: approved or request_changes" in at_gate.stdout
            assert (
                at_gate.stdout.rstrip()
                .splitlines()[-1]
                .startswith("A person must act now: approved or request_changes")
            )
            approved = await orchestrator(temporal_env, "approve", design)
            assert approved.returncode == 0, approved.stderr
            await handle.result()
            closed = await orchestrator(temporal_env, "status", design)
            assert closed.returncode == 0, closed.stderr
            assert "design (design-link-shortener): COMPLETED at " in closed.stdout
            assert "  completed: DESIGN_DOC_APPROVED" in closed.stdout

            built = await orchestrator(temporal_env, "build", design, "--wait")
            assert built.returncode == 0, built.stderr
            assert built.stdout.rstrip().endswith("ALL_SUBTASKS_PR_CREATED")
            assert "Integration passed: integration/link-shortener (http" in built.stdout
            # The last table is the closed loop's: every subtask has its PR.
            final_table = built.stdout.rsplit("Build link-shortener:", 1)[1]
            rows = [line.split() for line in final_table.splitlines() if line[:1].isdigit()]
            table = [(r[0], r[2]) for r in rows]  # subtask, status
            assert table == [(n, "pr_created") for n in NAMES], built.stdout[-3000:]
            finished = await orchestrator(temporal_env, "status", design, "--json")
            loops = json.loads(finished.stdout)
            assert loops["build"]["status"] == "COMPLETED"
            assert loops["build"]["finished_with_result"] is True
            assert loops["build"]["outcome"] == "ALL_SUBTASKS_PR_CREATED"
            assert loops["build"]["integration"]["status"] == "passed"
            # What did it cost? Answered after the loops have finished, per subtask and role.
            spent = await orchestrator(temporal_env, "metrics", design)
            assert spent.returncode == 0, spent.stderr
            assert "design (COMPLETED):" in spent.stdout and "build (COMPLETED):" in spent.stdout
            assert "02-storage" in spent.stdout and "builder" in spent.stdout
        assert len(github.pulls("demo/link-shortener")) == len(NAMES) + 1  # + the integration PR


async def test_cancel_stops_the_design_loop_and_leaves_files_whole(
    client: Client,
    temporal_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hang = {
        "match": {"role": "design-architecture", "scope": "consistency"},
        "faults": [{"type": "hang", "at_turn": 2, "seconds": 120}],
    }
    scenario = {"rules": [hang, *link_shortener_scenario()["rules"]]}
    with scripted_model(scenario, monkeypatch) as messages:
        repo = make_project(tmp_path, extra_config="\n[agents]\nheartbeat_timeout_s = 4\n")
        design = str(repo.design_dir)
        async with build_worker(client, TASK_QUEUE):
            # A person follows the loop; it is cancelled from another terminal.
            following = asyncio.ensure_future(
                orchestrator(temporal_env, "design", design, "--wait")
            )
            await asyncio.to_thread(messages.wait_for, lambda r: bool(r.fault), 60)
            cancelled = await orchestrator(temporal_env, "cancel", design)
            assert cancelled.returncode == 0 and "cancel requested" in cancelled.stdout
            handle = client.get_workflow_handle("design-link-shortener")
            followed = await following
            # 1: the loop ended without its result; the last line says how.
            assert followed.returncode == 1, followed.stdout + followed.stderr
            assert followed.stdout.rstrip().splitlines()[-1] == (
                "design-link-shortener: cancelled (branches and worktrees are kept)"
            )
            shown = await orchestrator(temporal_env, "status", design)
            assert "design (design-link-shortener): CANCELED at " in shown.stdout
            assert "  cancelled (branches and worktrees are kept)" in shown.stdout

            async def closed() -> bool:
                return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING

            began = asyncio.get_running_loop().time()
            await until(closed, limit=60, what="the cancelled design loop")
            assert asyncio.get_running_loop().time() - began < 30  # promptly, not after the hang
            assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    reviews = repo.design_dir / "design-reviews"
    leftovers = list(reviews.glob("*.tmp")) if reviews.exists() else []
    assert leftovers == []
    for review in reviews.glob("*.md") if reviews.exists() else []:
        assert review.read_text().count("## Full Review") == 1  # whole files only


async def test_worker_serves_prometheus_metrics(temporal_server: DevServer, tmp_path: Path) -> None:
    port = free_port()
    worker = spawn_worker(
        temporal_server.address, "metrics-test", {}, tmp_path / "w.log", "--metrics-port", str(port)
    )
    try:

        async def scraped() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    return r.read().decode()
            except OSError:
                return ""

        text = await until(scraped, limit=60, what="the metrics endpoint")
        assert "temporal_" in text
    finally:
        worker.kill()
        worker.wait()
