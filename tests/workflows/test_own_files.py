"""The design loop commits exactly the files it wrote, never a person's beside them.

Issue 22: an untracked `scratch-notes.txt` ("call Bob about the API key") and an
uncommitted edit in the design directory were committed as the approval and
pushed with the `feat/*` branches. Now the loop holds at its start while the
design directory holds a person's uncommitted files (naming them, with the
fix), and its commits take only what it wrote: a person working in the
directory while the loop runs keeps their files, uncommitted.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import DecideInput, PendingDecision
from simulators.demo_scenario import link_shortener_scenario
from tests.support import example_design, make_project, scripted_model, status_of, until
from worker import build_worker
from workflows.design_review import DesignReviewWorkflow

SCRATCH = "call Bob about the API key\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout.rstrip("\n")


async def test_the_design_loop_holds_on_a_persons_files_and_never_commits_them(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two of the example's subplans: what the loop commits is the same for two as for five.
    repo = make_project(tmp_path, design_source=example_design(tmp_path, "01-models", "02-storage"))
    scratch = repo.design_dir / "scratch-notes.txt"
    scratch.write_text(SCRATCH)
    overview = repo.design_dir / "overview.md"
    with scripted_model(link_shortener_scenario(), monkeypatch):
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir)),
                id=f"design-link-shortener-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )

            async def held() -> list[PendingDecision] | None:
                st = await status_of(handle, DesignStatus)
                return [d for d in st.decisions if d.kind == "failure"] or None

            (decision,) = await until(held, limit=30, what="a hold at the start")
            assert decision.failure is not None
            error = decision.failure.error
            assert "scratch-notes.txt" in error and "not committed" in error
            assert "stash push --include-untracked" in error and "Fix:" in error
            assert (await status_of(handle, DesignStatus)).scopes == []  # nothing reviewed

            scratch.unlink()  # the person puts it elsewhere, and retries
            await handle.signal(DesignReviewWorkflow.decide, DecideInput(choice="retry"))

            async def question_or_gate() -> DesignStatus | None:
                st = await status_of(handle, DesignStatus)
                return st if st.open_questions or st.phase == "awaiting-approval" else None

            await until(question_or_gate, limit=120, what="Q2")
            await handle.signal(DesignReviewWorkflow.answer, {"question_id": "Q2", "choice": "B"})

            async def at_gate() -> DesignStatus | None:
                st = await status_of(handle, DesignStatus)
                return st if st.phase == "awaiting-approval" else None

            await until(at_gate, limit=120, what="the approval gate")
            # While the loop waits, the person works in the design directory again.
            scratch.write_text(SCRATCH)
            with overview.open("a") as fh:
                fh.write("\n## Notes (mine, not finished)\n")
            await handle.signal(DesignReviewWorkflow.approved)
            result = DesignResult.model_validate(await handle.result())

    assert result.result == "DESIGN_DOC_APPROVED"
    everything = git(repo.root, "log", "--all", "--format=", "--name-only")
    assert "scratch-notes.txt" not in everything
    assert "(mine, not finished)" not in git(repo.root, "log", "--all", "-p")
    rel = repo.design_dir.relative_to(repo.root).as_posix()
    assert git(repo.root, "status", "--porcelain", "--", rel).splitlines() == [
        f" M {rel}/overview.md",
        f"?? {rel}/scratch-notes.txt",
    ]
    approval = git(repo.root, "show", "--format=", "--name-only", "HEAD").splitlines()
    assert f"{rel}/plan/dag.md" in approval and f"{rel}/subtasks/01-models.xml" in approval
    assert f"{rel}/design-reviews/answers.md" in approval
