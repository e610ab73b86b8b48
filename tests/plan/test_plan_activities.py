"""The plan activities: in an ActivityEnvironment, and once through a real server and worker."""

from __future__ import annotations

import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.plan import ACTIVITIES, load_subtasks, plan_design, seed_subtasks
from contracts.plan import PlanRequest, PlanResult, SeedSubtasksRequest
from contracts.subtask import SubtaskSpec
from tests.conftest import EXAMPLE
from tests.plan.conftest import MakeDesign, subplan


def example_copy(tmp_path: Path) -> Path:
    root = tmp_path / "link-shortener"
    shutil.copytree(EXAMPLE, root)
    return root


def test_activity_names_are_stable() -> None:
    names = [fn.__temporal_activity_definition.name for fn in ACTIVITIES]  # type: ignore[attr-defined]
    assert names == ["plan.design", "plan.load_subtasks", "plan.seed_subtasks"]


def test_plan_design_activity(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    result = ActivityEnvironment().run(plan_design, PlanRequest(design_dir=str(root), write=True))
    assert result.feature == "link-shortener"
    assert result.design_dir == str(root)
    assert result.written == [f"{root}/plan/dag.md", f"{root}/plan/batches.md"]
    assert (root / "plan" / "batches.md").is_file()
    assert result.plan.stages[1] == ["02-storage", "03-codec"]
    service = result.subtasks[3]
    assert service.model_dump() == {
        "name": "04-service",
        "title": "Shortener service",
        "dependencies": ["02-storage", "03-codec"],
        "files_modified": ["shortener/service.py", "tests/test_service.py"],
        "path": "subplans/04-service.md",
    }
    # Retrying is safe: same result, nothing rewritten.
    again = ActivityEnvironment().run(plan_design, PlanRequest(design_dir=str(root), write=True))
    assert again == result


def test_plan_error_becomes_non_retryable_application_error(make_design: MakeDesign) -> None:
    root = make_design({"01-a": subplan("A", deps="02-b"), "02-b": subplan("B", deps="01-a")})
    with pytest.raises(ApplicationError) as info:
        ActivityEnvironment().run(plan_design, PlanRequest(design_dir=str(root), write=True))
    err = info.value
    assert err.type == "PlanError"
    assert err.non_retryable
    assert err.message == (
        f"{root}/subplans/01-a.md: dependency cycle: 01-a -> 02-b -> 01-a."
        " Fix: remove one of these dependencies so the subtasks can be ordered."
    )
    assert err.details[0]["file"] == f"{root}/subplans/01-a.md"
    assert not (root / "plan").exists()


def test_load_subtasks_activity(tmp_path: Path) -> None:
    root = example_copy(tmp_path)
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as info:
        env.run(load_subtasks, str(root))
    assert info.value.non_retryable and info.value.type == "PlanError"
    assert f"run `orchestrator design {root}` first" in str(info.value)

    written = env.run(seed_subtasks, SeedSubtasksRequest(design_dir=str(root)))
    assert len(written) == 5
    specs = env.run(load_subtasks, str(root))
    assert [s.id for s in specs] == ["01-models", "02-storage", "03-codec", "04-service", "05-cli"]
    assert all(isinstance(s, SubtaskSpec) for s in specs)


@workflow.defn(name="PlanProbe", sandboxed=False)
class PlanProbe:
    """Stands in for the design/build workflows: calls the real activities by reference."""

    @workflow.run
    async def run(self, design_dir: str) -> tuple[PlanResult, list[SubtaskSpec]]:
        options = {
            "start_to_close_timeout": timedelta(seconds=30),
            "retry_policy": RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1)),
        }
        result = await workflow.execute_activity(
            plan_design, PlanRequest(design_dir=design_dir, write=True), **options
        )
        await workflow.execute_activity(
            seed_subtasks, SeedSubtasksRequest(design_dir=design_dir), **options
        )
        specs = await workflow.execute_activity(load_subtasks, design_dir, **options)
        return result, specs


async def test_activities_through_a_real_worker(
    client: Client, task_queue: str, tmp_path: Path, make_design: MakeDesign
) -> None:
    root = example_copy(tmp_path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[PlanProbe],
            activities=ACTIVITIES,
            activity_executor=pool,
        ):
            result, specs = await client.execute_workflow(
                PlanProbe.run,
                str(root),
                id=f"plan-probe-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue,
                result_type=tuple[PlanResult, list[SubtaskSpec]],
            )
            assert result.plan.critical_path[-1] == "05-cli"
            assert [s.id for s in specs][-1] == "05-cli"
            assert specs[3].dependencies == ["02-storage", "03-codec"]

            bad = make_design({"01-a": subplan("A", deps="nope")})
            with pytest.raises(WorkflowFailureError) as info:
                await client.execute_workflow(
                    PlanProbe.run,
                    str(bad),
                    id=f"plan-probe-{uuid.uuid4().hex[:8]}",
                    task_queue=task_queue,
                )
    activity_error = info.value.cause
    assert isinstance(activity_error, ActivityError)
    assert activity_error.retry_state == RetryState.NON_RETRYABLE_FAILURE
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError) and cause.type == "PlanError"
    assert "depends on unknown subtask 'nope'" in cause.message
    assert "use one of the valid names: 01-a" in cause.message
