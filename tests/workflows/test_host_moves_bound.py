"""Moving hosts is a retry like any other (issue 23: no loop without a bound): a subtask whose
host queue nobody serves moves at most three times, then a person decides."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from activities.host import host_queue
from contracts.build import BuildResult, BuildStatus
from contracts.human import DecideInput, PendingDecision
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model, status_of, until
from tests.workflows.builds import ONE_REVIEWER, start_build, tiny_project, writes_file_rule
from worker import build_worker
from workflows.build import BuildWorkflow


async def test_a_subtask_no_host_takes_is_put_to_a_person_after_three_moves(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": [writes_file_rule("a")]}, monkeypatch, github.url) as messages:
        repo = tiny_project(
            tmp_path, github.url, {"a": []}, ONE_REVIEWER, top="host_timeout_s = 1.0"
        )
        # This worker claims subtasks for a host queue that no worker polls.
        async with build_worker(client, task_queue, host_queue=host_queue("ghost")):
            handle = await start_build(client, repo, task_queue)

            async def held() -> PendingDecision | None:
                st = await status_of(handle, BuildStatus)
                return next((d for d in st.decisions if d.kind == "failure"), None)

            decision = await until(held, limit=60, what="the host-move hold")
            assert decision.failure is not None
            assert decision.failure.step == "claim a host for a"
            assert "a moved hosts 3 times" in decision.failure.error
            assert "Fix: start a worker that serves its host queue" in decision.failure.error
            await handle.signal(BuildWorkflow.decide, DecideInput(scope="a", choice="skip"))
            result = BuildResult.model_validate(await handle.result())

    (a,) = result.subtasks
    assert a.status == "blocked" and "skipped by a person after claim a host" in a.notes
    assert messages.requests == []  # no agent ever ran
