"""Replay recorded histories against today's workflow code.

The cheapest guard against a non-deterministic change: if a change to a
workflow would break executions already running, replaying these checked-in
histories fails. Each folder under `histories/` is one recording of this
workflow code version (contracts/version.py); a subfolder holds another run of an
id recorded beside it. A change that must stay
replay-compatible goes behind `workflow.patched`; a new version retires the
patches, moves to new task queues and replaces the recordings
(docs/development.md#changing-workflow-code). Record a set deliberately (the
folder is the label):

    RECORD_HISTORIES=2026-12-07-v4 ./run test tests/workflows/test_build_loop.py \
        tests/workflows/test_design_loop.py tests/workflows/test_continue_as_new.py \
        tests/workflows/test_change_and_budget.py tests/workflows/test_multi_worker.py \
        tests/workflows/test_failure_hold.py tests/workflows/test_release.py \
        tests/workflows/test_pr_merge.py tests/workflows/test_build_reset.py \
        tests/workflows/test_migration_hold.py tests/workflows/test_integration_follow.py \
        tests/workflows/test_fork.py tests/workflows/test_build_replay.py \
        tests/workflows/test_orphan_children.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.support import HISTORIES as FOLDER
from worker import workflows

HISTORIES = sorted(FOLDER.rglob("*.json"))


@pytest.mark.parametrize(
    "path", HISTORIES, ids=[str(p.relative_to(FOLDER).with_suffix("")) for p in HISTORIES]
)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    replayer = Replayer(workflows=workflows(), data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_histories_are_checked_in() -> None:
    kinds = {
        json.loads(p.read_text())["events"][0]["workflowExecutionStartedEventAttributes"][
            "workflowType"
        ]["name"]
        for p in HISTORIES
    }
    assert {
        "DesignReviewWorkflow",
        "BuildWorkflow",
        "SubtaskWorkflow",
        "IntegrationWorkflow",
        "ReleaseWorkflow",
    } <= kinds
    assert len({p.relative_to(FOLDER).parts[0] for p in HISTORIES}) >= 1
