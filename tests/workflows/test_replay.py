"""Replay recorded histories against today's workflow code.

The cheapest guard against a non-deterministic change: if a change to a
workflow would break executions already running in production, replaying
these checked-in histories fails. Each folder under `histories/` is one
recording, kept as long as executions like it may still be running; a change
that must stay replay-compatible goes behind `workflow.patched`. Record a new
set deliberately (the folder is the label, e.g. the date):

    RECORD_HISTORIES=2026-12-01 ./run test tests/workflows -k "full_design or one_pr or \
        holds_the_build or change_approve or continue_as_new or moves_to_another_host"
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

HISTORIES = sorted(FOLDER.glob("*/*.json"))
# The first recording named its files; later ones are named by workflow id.
LEGACY_IDS = {
    "design_full": "design-link-shortener",
    "build_full": "build-link-shortener",
    "subtask_04_service": "build-link-shortener-04-service",
}


def _id(path: Path) -> str:
    return LEGACY_IDS.get(path.stem, path.stem)


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(_id(path), json.loads(path.read_text()))
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
    } <= kinds
    assert len({p.parent for p in HISTORIES}) >= 1
