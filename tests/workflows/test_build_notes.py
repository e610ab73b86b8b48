"""Build notes (seed 002's optional notes, issue 23): `orchestrator build <dir> --notes "..."` or
`notes` in the start input reach every builder, reviewer and fixer, and show in `status` and
REPORT.md."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.build import BuildInput, BuildResult, BuildStatus
from simulators.github_api import GitHubStandIn
from starter import main
from tests.support import scripted_model, status_of
from tests.workflows.builds import ONE_REVIEWER, tiny_project, writes_file_rule
from worker import build_worker
from workflows.build import BuildWorkflow

NOTES = "The client is ACME: keep every public name in British English."


async def test_notes_reach_every_agent_and_show_in_status_and_the_report(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": [writes_file_rule("a")]}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir), notes=NOTES),
                id=f"build-notes-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )
            result = BuildResult.model_validate(await handle.result())
            st = await status_of(handle, BuildStatus)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    roles = {r.role for r in messages.requests if r.scope == "a"}
    assert {"builder", "code-correctness", "fixer"} <= roles, roles
    for request in messages.requests:
        if request.scope == "a" and request.turn == 1:
            assert NOTES in request.prompt, (request.role, request.prompt)
    assert st.notes == NOTES
    assert f"Notes: {NOTES}" in (repo.design_dir / "build-reviews/REPORT.md").read_text()


def test_notes_longer_than_a_signal_are_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    design = tmp_path / "design-docs/active/feat"
    design.mkdir(parents=True)
    code = main(["build", str(design), "--notes", "x" * 20_001, "--no-embedded"])
    err = capsys.readouterr().err
    assert code == 2 and "--notes is 20001 characters, more than 20000" in err, err
    assert "Fix: put the details in a file" in err
