"""Replay recorded histories against today's workflow code.

The cheapest guard against a non-deterministic change: if a change to a
workflow would break executions already running in production, replaying
these checked-in histories fails. Refresh them deliberately with
`RECORD_HISTORIES=1 ./run test tests/workflows -k "full_design or one_pr"`
(and keep old ones when a change must stay replay-compatible via
`workflow.patched`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import workflows

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
WORKFLOW_IDS = {
    "design_full": "design-link-shortener",
    "build_full": "build-link-shortener",
    "subtask_04_service": "build-link-shortener-04-service",
}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    data = json.loads(path.read_text())
    workflow_id = WORKFLOW_IDS[path.stem]
    history = WorkflowHistory.from_json(workflow_id, data)
    replayer = Replayer(workflows=workflows(), data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_histories_are_checked_in() -> None:
    names = {p.stem for p in HISTORIES}
    assert {"design_full", "build_full", "subtask_04_service"} <= names
