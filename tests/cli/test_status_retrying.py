"""`status` says which step the server is retrying and why, while it retries."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from cli.loop_cmds import query_status, view
from contracts.build import BuildResult, BuildStatus
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model, until
from tests.workflows.builds import (
    ONE_REVIEWER,
    passes_review,
    start_build,
    tiny_project,
    writes_file_rule,
)
from worker import build_worker


async def test_status_shows_a_step_being_retried_with_its_last_error(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overloaded = writes_file_rule("a")
    # One 529 (the API's overload answer), asking for a retry in 5 s: attempt 2 waits.
    overloaded["faults"] = [{"type": 529, "times": 1, "retry_after": 5}]
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": [overloaded, passes_review()]}, monkeypatch, github.url),
    ):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            async def retrying() -> BuildStatus | None:
                st = await query_status(client, handle, "build")
                assert isinstance(st, BuildStatus)
                return st if st.retrying else None

            st = await until(retrying, what="the retried builder in status")
            assert len(st.retrying) == 1
            line = st.retrying[0]
            assert line.startswith(f"{handle.id}-a: agent.edit attempt 2: "), line
            assert "529" in line and "overloaded" in line.lower()
            assert "Retrying (the server retries these by itself" in view(st)
            assert not st.decisions  # a transient error is not put to a person
            result = BuildResult.model_validate(await handle.result())
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
