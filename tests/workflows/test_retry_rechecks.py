"""`decide retry` after fixing the cause re-checks it (issue 21).

The hold's message says "fix the cause, then retry". The sandbox check used to
remember its failure for the worker's life, so after installing bubblewrap the
retry failed again within a second. Real server, real bubblewrap, real git.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from temporalio.client import Client

from activities.sandbox import runner
from contracts.build import BuildResult, BuildStatus
from contracts.human import DecideInput
from simulators.github_api import GitHubStandIn
from tests.support import break_bubblewrap, scripted_model, status_of, until
from tests.workflows.builds import (
    ONE_REVIEWER,
    passes_review,
    start_build,
    tiny_project,
    writes_file_rule,
)
from worker import build_worker
from workflows.build import BuildWorkflow


def test_the_sandbox_check_forgets_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = os.environ["PATH"]
    break_bubblewrap(tmp_path, monkeypatch)
    assert "No permissions to create new namespace" in (runner._self_test() or "")
    monkeypatch.setenv("PATH", saved)  # the person fixed it
    assert runner._self_test() is None


async def test_retry_after_fixing_the_sandbox_finishes_the_build(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = os.environ["PATH"]
    with (
        GitHubStandIn() as github,
        scripted_model(
            {"rules": [writes_file_rule("a"), passes_review()]}, monkeypatch, github.url
        ) as messages,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        break_bubblewrap(tmp_path, monkeypatch)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            async def held() -> BuildStatus | None:
                st = await status_of(handle, BuildStatus)
                return st if st.decisions else None

            st = await until(held, limit=120, what="the sandbox hold")
            failure = st.decisions[0].failure
            assert failure is not None and failure.error_type == "SandboxUnavailable"
            assert "Fix the cause, then `retry`" in st.decisions[0].prompt
            assert messages.requests == []  # the builder was never asked
            monkeypatch.setenv("PATH", saved)  # the person fixed it (installed bubblewrap)
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="retry"))
            raw = await asyncio.wait_for(handle.result(), timeout=180)
    assert BuildResult.model_validate(raw).result == "ALL_SUBTASKS_PR_CREATED"
