"""Human gates never time out on their own: a week of (skipped) time changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import AnswerInput
from simulators.demo_scenario import link_shortener_scenario
from tests.support import make_project, scripted_model, status_of, until
from worker import build_worker
from workflows.design_review import DesignReviewWorkflow


async def test_the_approval_gate_waits_for_a_person_however_long(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = time_skipping_env
    task_queue = f"ts-{uuid.uuid4().hex[:8]}"
    with scripted_model(link_shortener_scenario(), monkeypatch):
        repo = make_project(tmp_path)
        async with build_worker(env.client, task_queue):
            handle = await env.client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir), reviewers=["design-requirements"]),
                id=f"design-ts-{task_queue}",
                task_queue=task_queue,
            )

            async def gate() -> bool:
                st = await status_of(handle, DesignStatus)
                for q in st.open_questions:
                    await handle.signal(
                        DesignReviewWorkflow.answer, AnswerInput(question_id=q.id, choice="A")
                    )
                return st.phase == "awaiting-approval"

            await until(gate, limit=120, what="the approval gate")
            before = await env.get_current_time()
            await env.sleep(timedelta(days=7))
            assert await env.get_current_time() - before >= timedelta(days=7)
            st = await status_of(handle, DesignStatus)
            assert st.phase == "awaiting-approval"  # never auto-advances
            await handle.signal(DesignReviewWorkflow.approved)
            result = DesignResult.model_validate(await handle.result())
    assert result.result == "DESIGN_DOC_APPROVED"
