"""The first durable workflow, and the CLI around the plan engine and the embedded server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from contracts.plan import PlanRequest, PlanResult
from contracts.version import TASK_QUEUE
from runtime.server import DevServer, ensure_server, free_port, start_dev_server
from tests.conftest import EXAMPLE, REPO_ROOT
from tests.support import server_port, temporal_cli
from worker import build_worker
from workflows.plan import PlanWorkflow

STAGES = [["01-models"], ["02-storage", "03-codec"], ["04-service"], ["05-cli"]]


def orchestrator(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starter", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


async def test_plan_workflow_from_the_python_client(client: Client, task_queue: str) -> None:
    async with build_worker(client, task_queue):
        result = await client.execute_workflow(
            PlanWorkflow.run,
            PlanRequest(design_dir=str(EXAMPLE)),
            id=f"plan-{task_queue}",
            task_queue=task_queue,
            result_type=PlanResult,
        )
    assert result.feature == "link-shortener"
    assert result.plan.stages == STAGES
    assert result.written == []


async def test_plan_workflow_from_the_temporal_cli_with_json(
    client: Client, temporal_server: DevServer, task_queue: str
) -> None:
    payload = json.dumps({"design_dir": str(EXAMPLE)})
    async with build_worker(client, task_queue):
        started = temporal_cli(
            temporal_server.address,
            "workflow", "start", "--type", "PlanWorkflow", "--task-queue", task_queue,
            "--workflow-id", f"plan-cli-{task_queue}", "--input", payload,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        handle = client.get_workflow_handle(f"plan-cli-{task_queue}", result_type=PlanResult)
        result = await handle.result()
    assert result.plan.critical_path == ["01-models", "02-storage", "04-service", "05-cli"]


async def test_orchestrator_plan_durable(
    client: Client, temporal_env: dict[str, str], tmp_path: Path
) -> None:
    # The CLI runs the workflow on task queue TASK_QUEUE: give it a worker there.
    async with build_worker(client, TASK_QUEUE):
        done = await _run(["plan", str(EXAMPLE), "--durable", "--json"], temporal_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stages"] == STAGES


async def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import asyncio

    return await asyncio.to_thread(orchestrator, *args, env=env)


def test_plan_json_has_exactly_the_documented_keys() -> None:
    done = orchestrator("plan", str(EXAMPLE), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == ["order", "stages", "critical_path", "conflicts", "warnings"]
    assert data["stages"] == STAGES and data["conflicts"] == [] and data["warnings"] == []


def test_plan_text_for_people() -> None:
    done = orchestrator("plan", str(EXAMPLE))
    assert done.returncode == 0
    assert "Stage 2 (parallel): 02-storage, 03-codec" in done.stdout
    assert "Critical path" in done.stdout


def write_design(root: Path, subplans: dict[str, str]) -> Path:
    (root / "subplans").mkdir(parents=True)
    (root / "overview.md").write_text("# Feature\n")
    for name, deps in subplans.items():
        (root / "subplans" / f"{name}.md").write_text(
            f"# {name}\n\n**Dependencies**: {deps}\n\n## Acceptance Criteria\n\n- [ ] works\n"
        )
    return root


@pytest.mark.parametrize(
    ("subplans", "expected"),
    [
        (
            {"01-a": "03-c", "02-b": "01-a", "03-c": "02-b"},
            "dependency cycle: 01-a -> 03-c -> 02-b -> 01-a",
        ),
        ({"01-a": "None", "02-b": "09-nope"}, "valid names: 01-a, 02-b"),
        ({"01-a": "None", "Bad Name": "None"}, "is not a slug"),
    ],
    ids=["cycle", "unknown-dependency", "bad-name"],
)
def test_plan_errors_exit_2_with_the_message(
    tmp_path: Path, subplans: dict[str, str], expected: str
) -> None:
    design = write_design(tmp_path / "feature", subplans)
    done = orchestrator("plan", str(design), "--write")
    assert done.returncode == 2
    assert expected in done.stderr and "Fix:" in done.stderr
    assert done.stdout == ""
    assert not (design / "plan").exists()  # nothing written


def test_embedded_server_starts_only_where_allowed(tmp_path: Path) -> None:
    address = f"127.0.0.1:{server_port()}"  # its UI port, port + 1000, free too
    with pytest.raises(Exception, match="drop --no-embedded"):
        ensure_server(address, "default", embedded=False)
    with pytest.raises(Exception, match="only started for a local address"):
        ensure_server(f"temporal.example:{free_port()}", "default", embedded=True)
    os.environ["ORCHESTRATOR_HOME"] = str(tmp_path)
    server = ensure_server(address, "default", embedded=True)
    try:
        assert server is not None and server.address.endswith(address.split(":")[1])
        assert ensure_server(address, "default", embedded=True) is None  # reused
    finally:
        assert server is not None
        server.stop()


async def test_server_state_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "temporal.db"
    server = start_dev_server(port=port, ui_port=free_port(), db_file=db, detach=False)
    try:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        await client.start_workflow(
            PlanWorkflow.run, PlanRequest(design_dir="x"), id="survivor", task_queue="nobody"
        )
    finally:
        server.stop()
    server = start_dev_server(port=port, ui_port=free_port(), db_file=db, detach=False)
    try:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        desc = await client.get_workflow_handle("survivor").describe()
        assert desc.workflow_type == "PlanWorkflow"
    finally:
        server.stop()
