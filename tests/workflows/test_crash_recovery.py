"""A worker SIGKILLed mid-run and restarted: the loops finish as if nothing happened."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from activities.tracker import read_tracker
from contracts.build import BuildInput, BuildResult
from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import AnswerInput
from runtime.server import DevServer
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.support import (
    WorkerProcess,
    example_design,
    make_project,
    review_files,
    served_status,
    sim_environ,
    until,
)
from tests.workflows.builds import approve_artifacts
from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow

FAST_HEARTBEAT = "\n[agents]\nheartbeat_timeout_s = 3\n"
BUILT = ("01-models", "02-storage", "03-codec")


async def test_design_loop_survives_a_killed_worker(
    client: Client, temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    with MessagesStandIn(link_shortener_scenario()) as messages:
        env = sim_environ(messages.url)
        # Two of the example's subplans: three scopes (with the consistency review), each
        # reviewed by three reviewers in two rounds.
        source = example_design(tmp_path, "01-models", "02-storage")
        repo = make_project(tmp_path, extra_config=FAST_HEARTBEAT, design_source=source)
        log = tmp_path / "worker.log"
        with WorkerProcess(temporal_server.address, task_queue, env, log) as worker:
            handle = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir)),
                id=f"design-crash-{task_queue}",
                task_queue=task_queue,
            )

            async def mid_round() -> bool:
                reviews = [r for r in messages.requests if r.kind == "review"]
                return len(reviews) >= 13  # some scopes reviewed, others in flight

            await until(mid_round, what="reviews in flight")
            worker.crash()
            worker.start()

            async def gate() -> bool:
                st = await served_status(handle, DesignStatus)
                if st is None:
                    return False
                for q in st.open_questions:
                    await handle.execute_update(
                        DesignReviewWorkflow.answer_question,
                        AnswerInput(question_id=q.id, choice="A"),
                    )
                return st.phase == "awaiting-approval"

            await until(gate, limit=120, what="the approval gate after the restart")
            await handle.signal(DesignReviewWorkflow.approved)
            result = DesignResult.model_validate(await handle.result())
    assert result.result == "DESIGN_DOC_APPROVED"
    files = review_files(repo.design_dir)
    assert len(files) == 3 * 3 * 2  # each review written exactly once, none lost
    per_scope_reviewer: dict[tuple[str, str], int] = {}
    for f in files:
        scope, _, reviewer = f.stem.split("_")
        per_scope_reviewer[(scope, reviewer)] = per_scope_reviewer.get((scope, reviewer), 0) + 1
    assert set(per_scope_reviewer.values()) == {2}
    assert not list(repo.design_dir.rglob("*.tmp"))


async def test_build_loop_survives_a_killed_worker(
    client: Client, temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    with GitHubStandIn() as github, MessagesStandIn(link_shortener_scenario()) as messages:
        env = sim_environ(messages.url, github.url)
        # Three of the example's subtasks: the worker dies at the first PR (01-models'); the
        # two that depend on it, built side by side, finish after the restart.
        source = example_design(tmp_path, *BUILT)
        repo = make_project(tmp_path, github.url, FAST_HEARTBEAT, design_source=source)
        approve_artifacts(repo.design_dir, repo.root)
        log = tmp_path / "worker.log"
        with WorkerProcess(temporal_server.address, task_queue, env, log) as worker:
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id=f"build-crash-{task_queue}",
                task_queue=task_queue,
            )

            async def first_pr() -> bool:
                return len(github.pulls("demo/link-shortener")) >= 1

            await until(first_pr, limit=120, what="the first PR")
            worker.crash()
            worker.start()
            result = BuildResult.model_validate(await handle.result())
        pulls = github.pulls("demo/link-shortener")
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    heads = sorted(p["head"]["ref"] for p in pulls)
    want = sorted([*(f"feat/{name}" for name in BUILT), "integration/link-shortener"])
    assert heads == want  # one PR each, and one for the integration
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    assert [r.status for r in rows["link-shortener"]] == ["pr_created"] * (len(BUILT) + 1)
