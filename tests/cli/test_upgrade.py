"""Loops an older release started: this release names them and the fix, and never serves them.

A release with new workflow code runs on new task queues (contracts/version.py); a
worker of it replaying an old loop's history would fail that loop's every task.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from temporalio.client import Client

from contracts.design import DesignInput
from contracts.version import TASK_QUEUE, UPGRADING, older_loop, older_version
from tests.cli.commands import orchestrator
from tests.conftest import EXAMPLE, REPO_ROOT
from workflows.design_review import DesignReviewWorkflow


def test_queues_of_older_releases_are_told_apart() -> None:
    assert older_version("orchestrator") == 1
    assert older_version("orchestrator-host-alpha") == 1
    assert older_version("orchestrator-v2") == 2
    assert older_version("orchestrator-v2-host-alpha") == 2
    assert older_version("orchestrator-v3") == 3
    assert older_version("orchestrator-v3-host-alpha") == 3
    assert TASK_QUEUE == "orchestrator-v4"
    assert older_version(TASK_QUEUE) is None
    assert older_version(f"{TASK_QUEUE}-host-alpha") is None
    # Queues this project does not name as a release's: a person's own, the demo's.
    assert older_version("my-team-queue") is None
    assert older_version("orchestrator-demo-1a2b3c4d") is None


def test_the_upgrade_note_exists_where_the_messages_point() -> None:
    page, _, anchor = UPGRADING.partition("#")
    text = (REPO_ROOT / page).read_text()
    assert f"\n### {anchor.replace('-', ' ').capitalize()}\n" in text
    assert 'TaskQueue = "orchestrator"' in text
    assert 'TaskQueue = "orchestrator-v3"' in text


def test_a_worker_of_this_release_refuses_an_older_queue() -> None:
    started = subprocess.run(
        [sys.executable, "-m", "worker", "--task-queue", "orchestrator-v3", "--no-embedded"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 2
    assert "holds loops of an older release (workflow code version 3)" in started.stderr
    assert f"--task-queue {TASK_QUEUE}" in started.stderr and UPGRADING in started.stderr


async def test_verbs_name_a_loop_of_an_older_release_and_the_fix(
    client: Client, temporal_env: dict[str, str], tmp_path: Path
) -> None:
    feature = f"old-{uuid.uuid4().hex[:8]}"
    design = tmp_path / "design-docs" / "active" / feature
    shutil.copytree(EXAMPLE, design)
    loop_id = f"design-{feature}"
    # As the previous release started it: on its queue, which nothing of ours serves.
    handle = await client.start_workflow(
        DesignReviewWorkflow.run,
        DesignInput(design_dir=str(design)),
        id=loop_id,
        task_queue="orchestrator-v3",
    )
    try:
        shown = await orchestrator(temporal_env, "status", str(design))
        assert shown.returncode == 0, shown.stderr
        expected = older_loop(loop_id, "orchestrator-v3")
        assert expected is not None and expected in shown.stdout
        assert f"temporal workflow terminate --workflow-id {loop_id}" in expected

        approve = await orchestrator(temporal_env, "approve", str(design))
        assert approve.returncode == 2
        assert "was started by an older release" in approve.stderr
        # Nothing was sent to it: its history holds only its start.
        events = [e async for e in handle.fetch_history_events()]
        assert not any(e.HasField("workflow_execution_signaled_event_attributes") for e in events)
    finally:
        await handle.terminate("test cleanup")
