"""A failure a person can fix holds the loop; `retry` finishes it with nothing redone.

The Messages API stand-in starts refusing the key (401, as a revoked key is
refused) in the middle of each loop, then accepts it again.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from activities.tracker import read_tracker
from cli.demo_repo import DemoRepo
from contracts.build import BuildResult, BuildStatus
from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import DecideInput, PendingDecision
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from simulators.messages_api import LoggedRequest, MessagesStandIn
from tests.support import (
    example_design,
    make_project,
    record_history,
    review_files,
    scripted_model,
    status_of,
    until,
)
from tests.workflows.builds import (
    ONE_REVIEWER,
    approve_artifacts,
    git_out,
    passes_review,
    start_build,
    tiny_design,
    tiny_project,
    writes_file_rule,
)
from worker import build_worker
from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow

EXAMPLE_SUBPLANS = Path(__file__).resolve().parents[2] / "examples/link-shortener/subplans"
HELD_BUILD = ("01-models", "02-storage", "03-codec")  # of the example's subplans
REVOKED = "a-key-nobody-holds"  # the stand-in now accepts only this: every request is a 401


async def start_design(client: Client, repo: DemoRepo, task_queue: str) -> WorkflowHandle:
    return await client.start_workflow(
        DesignReviewWorkflow.run,
        DesignInput(design_dir=str(repo.design_dir)),
        id=f"design-link-shortener-{uuid.uuid4().hex[:6]}",
        task_queue=task_queue,
    )


async def _failure(handle: WorkflowHandle, status_type: type) -> list[PendingDecision] | None:
    st = await status_of(handle, status_type)
    held = [d for d in st.decisions if d.kind == "failure"]
    return held or None


def _assert_revoked_key_decision(held: list[PendingDecision]) -> None:
    assert len(held) == 1, held  # one outage, one decision
    failure = held[0].failure
    assert failure is not None and held[0].options[:3] == ["retry", "skip", "stop"]
    if held[0].options[3:]:  # every step it holds is a code reviewer: one may be skipped
        assert held[0].options[3:] == ["skip-reviewer"] and failure.step.startswith("review ")
    assert "401" in failure.error and "ANTHROPIC_API_KEY" in failure.error  # cause and fix
    assert failure.attempts == 1 and failure.retry_state == "non retryable failure"


async def test_revoked_key_holds_the_design_and_retry_finishes_it(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scripted_model(link_shortener_scenario(), monkeypatch) as sim:
        repo = make_project(tmp_path)
        async with build_worker(client, task_queue):
            handle = await start_design(client, repo, task_queue)
            # Mid-review: some scopes reviewed, the individual reviews under way.
            await _seen(sim, lambda r: r.kind == "review" and r.scope == "03-codec")
            sim.api_key = REVOKED
            held = await until(lambda: _failure(handle, DesignStatus), what="a failure hold")
            _assert_revoked_key_decision(held)
            st = await status_of(handle, DesignStatus)
            assert st.waiting_for.startswith("decide retry / skip / stop")
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

            sim.api_key = None  # the person rotated the key
            await handle.signal(DesignReviewWorkflow.decide, DecideInput(choice="retry"))

            async def question_or_gate() -> DesignStatus | None:
                st = await status_of(handle, DesignStatus)
                return st if st.open_questions or st.phase == "awaiting-approval" else None

            st = await until(question_or_gate, limit=120, what="Q2")
            assert not [d for d in st.decisions if d.kind == "failure"]
            await handle.signal(DesignReviewWorkflow.answer, {"question_id": "Q2", "choice": "B"})

            async def at_gate() -> DesignStatus | None:
                st = await status_of(handle, DesignStatus)
                return st if st.phase == "awaiting-approval" else None

            await until(at_gate, limit=120, what="the approval gate")
            await handle.signal(DesignReviewWorkflow.approved)
            result = DesignResult.model_validate(await handle.result())
    assert result.result == "DESIGN_DOC_APPROVED"
    # Every review written once, exactly as in an undisturbed run (6 scopes x 3 x 2 rounds).
    assert len(review_files(repo.design_dir)) == 36
    log = git_out(repo.root, "log", "--format=%s")
    assert log.count("revise consistency after review round 1") == 1


async def test_revoked_key_holds_the_build_and_retry_finishes_it(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        GitHubStandIn() as github,
        scripted_model(link_shortener_scenario(), monkeypatch, github.url) as sim,
    ):
        # The example's first three subtasks: 01-models, then 02-storage and 03-codec side by
        # side, which the revoked key hits both (04 and 05 would only come after the retry).
        source = example_design(tmp_path, *HELD_BUILD)
        repo = make_project(tmp_path, github.url, design_source=source)
        approve_artifacts(repo.design_dir, repo.root)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            # 02-storage and 03-codec run side by side: both are hit by the revoked key.
            await _seen(sim, lambda r: r.scope in ("02-storage", "03-codec"))
            sim.api_key = REVOKED
            held = await until(lambda: _failure(handle, BuildStatus), what="a failure hold")
            _assert_revoked_key_decision(held)
            st = await status_of(handle, BuildStatus)
            assert st.waiting_for.startswith("decide retry/skip/stop")
            tracker = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))

            async def tracker_says_why() -> bool:
                rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
                return any("401" in r.notes for r in rows[repo.design_dir.name])

            await until(tracker_says_why, what="the tracker to carry the real cause")
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

            sim.api_key = None
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="retry"))
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)
            for name in held[0].failure.scopes:  # type: ignore[union-attr]
                await record_history(client.get_workflow_handle(f"{handle.id}-{name}"))
        pulls = github.pulls("demo/link-shortener")
    assert tracker  # read while held
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    assert sorted(sub.subtask for sub in result.subtasks) == list(HELD_BUILD)
    for name in HELD_BUILD:
        # Nothing reviewed twice: the two rounds of an undisturbed run, three reviewers each.
        reviews = list((repo.design_dir / "build-reviews" / name).glob("*_code-*.md"))
        assert len(reviews) == 6, (name, reviews)
    assert len(pulls) == len(HELD_BUILD) + 1  # one per subtask, one for the integration


async def test_a_seven_subtask_design_and_build_hold_once_each_and_retry_finishes_them(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's bar: the key revoked mid-design and again mid-build of 7 subtasks."""
    dag = {"a": [], "b": ["a"], "c": ["a"], "d": ["a"], "e": ["b", "c"], "f": ["d"]}
    dag["g"] = ["e", "f"]
    config = '\n[reviewers]\ndesign = ["design-requirements"]\ncode = ["code-correctness"]\n'
    with (
        GitHubStandIn() as github,
        scripted_model(
            {"rules": [*(writes_file_rule(n) for n in dag), passes_review()]},
            monkeypatch,
            github.url,
        ) as sim,
    ):
        design_src = tiny_design(tmp_path / "src", dag)
        repo = make_project(tmp_path / "p", github.url, config, design_source=design_src)
        async with build_worker(client, task_queue):
            design = await start_design(client, repo, task_queue)
            await _seen(sim, lambda r: r.kind == "review" and r.scope == "c")
            sim.api_key = REVOKED
            held = await until(lambda: _failure(design, DesignStatus), what="the design's hold")
            _assert_revoked_key_decision(held)
            sim.api_key = None
            await design.signal(DesignReviewWorkflow.decide, DecideInput(choice="retry"))

            async def at_gate() -> bool:
                return (await status_of(design, DesignStatus)).phase == "awaiting-approval"

            await until(at_gate, limit=120, what="the approval gate")
            await design.signal(DesignReviewWorkflow.approved)
            designed = DesignResult.model_validate(await design.result())
            assert designed.result == "DESIGN_DOC_APPROVED", designed

            build = await start_build(client, repo, task_queue)
            await _seen(sim, lambda r: r.scope in ("b", "c", "d") and r.role == "builder")
            sim.api_key = REVOKED
            held = await until(lambda: _failure(build, BuildStatus), what="the build's hold")
            _assert_revoked_key_decision(held)
            sim.api_key = None
            await build.signal(BuildWorkflow.decide, DecideInput(choice="retry"))
            result = BuildResult.model_validate(await build.result())
        pulls = github.pulls("demo/link-shortener")
    # Every earlier review kept, none redone: one reviewer, one round, per scope.
    assert len(review_files(repo.design_dir)) == 1 + len(dag)
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    integration = "integration/link-shortener"
    assert sorted(p["head"]["ref"] for p in pulls) == [*(f"feat/{n}" for n in dag), integration]
    for name in dag:
        assert len(list((repo.design_dir / "build-reviews" / name).glob("*_code-*.md"))) == 1
    # Issue 13's bar: the 7 subtasks integrated as a whole, pushed, reported, tracked.
    assert result.integration is not None and result.integration.status == "passed", result
    pushed = git_out(repo.origin, "rev-parse", integration)
    assert pushed == git_out(repo.root, "rev-parse", integration)
    for name in dag:
        ancestor = ["git", "merge-base", "--is-ancestor", f"feat/{name}", pushed]
        assert subprocess.run(ancestor, cwd=repo.origin).returncode == 0, name
    report = (repo.design_dir / "build-reviews/INTEGRATION.md").read_text()
    assert "- Outcome: **passed**" in report
    assert all(f"`feat/{name}`" in report for name in dag)
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    row = next(r for r in rows["link-shortener"] if r.subtask == "integration")
    assert row.status == "pr_created" and row.pr == result.integration.pr_url


async def test_a_step_in_flight_during_the_outage_is_retried_with_the_others(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a's request was sent before the key was revoked and fails only after the person
    answered `retry` for b: that answer covers a too, so nobody is asked twice."""
    slow_a = writes_file_rule("a")
    slow_a["faults"] = [
        {
            "type": 401,
            "error_type": "authentication_error",
            "message": "invalid x-api-key",
            "until": "outage-answered",
        }
    ]
    with (
        GitHubStandIn() as github,
        scripted_model(
            {"rules": [slow_a, writes_file_rule("b"), passes_review()]}, monkeypatch, github.url
        ) as sim,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": []}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            await _seen(sim, lambda r: r.scope == "a")  # in flight, held by the stand-in
            sim.api_key = REVOKED
            held = await until(lambda: _failure(handle, BuildStatus), what="b's failure hold")
            assert held[0].failure is not None and held[0].failure.scopes == ["b"]
            sim.api_key = None
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="retry"))
            a = client.get_workflow_handle(f"{handle.id}-a")

            async def told() -> bool:
                async for event in a.fetch_history_events():
                    attrs = event.workflow_execution_signaled_event_attributes
                    if attrs.signal_name == "outage_retried":
                        return True  # a takes the signal before any later failure
                return False

            await until(told, what="the build to tell a about the retry")
            sim.release("outage-answered")  # now a's request fails with the outage's 401

            async def ended_or_held_again() -> str | None:
                if await _closed(handle):
                    return "closed"
                return "held again" if await _failure(handle, BuildStatus) else None

            assert await until(ended_or_held_again, limit=120, what="the build") == "closed"
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)
            await record_history(a)
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    a_turns = [r for r in sim.requests if r.scope == "a" and r.role == "builder" and r.turn == 1]
    assert [r.action for r in a_turns][:1] == ["error"] and len(a_turns) == 2


async def test_a_person_can_stop_a_held_design(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken design directory holds (the plan engine's message with its fix); `stop` ends it."""
    with scripted_model(link_shortener_scenario(), monkeypatch):
        repo = make_project(tmp_path)
        (repo.design_dir / "overview.md").unlink()
        async with build_worker(client, task_queue):
            handle = await start_design(client, repo, task_queue)
            held = await until(lambda: _failure(handle, DesignStatus), what="a failure hold")
            failure = held[0].failure
            assert failure is not None
            assert "overview.md" in failure.error and "Fix" in failure.error
            assert held[0].options == ["retry", "stop"]
            await handle.signal(DesignReviewWorkflow.decide, DecideInput(choice="stop"))
            result = DesignResult.model_validate(await handle.result())
    assert result.result == "DESIGN_STOPPED"
    assert "overview.md" in result.stop_reason


async def test_cancel_stops_the_agents_and_a_restart_redoes_nothing(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_b = writes_file_rule("b")
    slow_b["faults"] = [{"type": "hang", "at_turn": 2, "seconds": 120}]
    rules = [writes_file_rule("a"), slow_b, passes_review()]
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": rules}, monkeypatch, github.url) as sim,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            first = await start_build(client, repo, task_queue)
            # b's builder is mid-conversation (its second request hangs) when the cancel lands.
            await _seen(sim, lambda r: r.scope == "b" and r.turn == 2)
            await first.cancel()
            await until(lambda: _closed(first), what="the cancelled build")
            assert (await first.describe()).status == WorkflowExecutionStatus.CANCELED
            child = client.get_workflow_handle(f"{first.id}-b")
            # The subtask was cancelled (its cleanup ran), not terminated.
            assert (await child.describe()).status == WorkflowExecutionStatus.CANCELED
            # Its agent was stopped, and the subtask waited for that before it closed.
            events = [e.event_type async for e in child.fetch_history_events()]
            assert EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED in events
            rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
            statuses = {r.subtask: r.status for r in rows[repo.design_dir.name]}
            # Integration had not started (b has no PR): cancelled with the build.
            assert statuses == {"a": "pr_created", "b": "cancelled", "integration": "cancelled"}
            seen = len(sim.requests)

            # Started again: a already has its PR and its head passed review.
            second = await start_build(client, repo, task_queue)
            result = BuildResult.model_validate(await second.result())
        pulls = github.pulls("demo/link-shortener")
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    assert not [r for r in sim.requests[seen:] if r.scope == "a"]  # a is not reviewed again
    heads = sorted(p["head"]["ref"] for p in pulls)
    assert heads == ["feat/a", "feat/b", "integration/link-shortener"]  # a's not duplicated
    a_reviews = list((repo.design_dir / "build-reviews/a").glob("*_code-*.md"))
    assert len(a_reviews) == 1


async def _closed(handle: WorkflowHandle) -> bool:
    return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING


async def _seen(sim: MessagesStandIn, predicate: Callable[[LoggedRequest], bool]) -> None:
    """Wait (without blocking the worker's event loop) for a request to reach the stand-in."""

    async def probe() -> bool:
        return any(predicate(r) for r in sim.requests)

    await until(probe, limit=120, what="a request at the stand-in")


async def test_a_design_started_again_redoes_no_review(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled at the gate, then started again: no review of unchanged content, no revision
    applied twice (only the consistency check of the revised set is asked again)."""
    repo = make_project(tmp_path)
    subplan = repo.design_dir / "subplans/03-codec.md"
    revised = subplan.read_text() + "\nInvalid input raises ValueError naming the field.\n"
    rules = [
        {"match": {"kind": "review", "scope": "03-codec", "round": 1}, "submit": {"score": 0.8}},
        passes_review(),
        {
            "match": {"role": "design-writer", "scope": "03-codec"},
            "steps": [
                {
                    "tool": "write_file",
                    "input": {"path": str(subplan.relative_to(repo.root)), "content": revised},
                }
            ],
            "submit": {"summary": "error cases", "files_changed": [str(subplan)]},
        },
    ]
    with scripted_model({"rules": rules}, monkeypatch) as sim:
        async with build_worker(client, task_queue):

            async def at_gate(handle: WorkflowHandle) -> DesignStatus | None:
                st = await status_of(handle, DesignStatus)
                return st if st.phase == "awaiting-approval" else None

            first = await start_design(client, repo, task_queue)
            await until(lambda: at_gate(first), limit=120, what="the gate")
            await first.cancel()
            await until(lambda: _closed(first), what="the cancelled design")
            reviews = len(review_files(repo.design_dir))
            seen = len(sim.requests)

            second = await start_design(client, repo, task_queue)
            st = await until(lambda: at_gate(second), limit=120, what="the gate again")
            await second.terminate("test done")
    # consistency + 5 subplans x 3 reviewers, plus 03-codec's second round.
    assert reviews == 6 * 3 + 3
    again = [r for r in sim.requests[seen:] if r.kind == "review"]
    # Only the consistency of the set is looked at again: 03-codec changed after it passed.
    assert {r.scope for r in again} == {"consistency"}
    assert all(sc.state == "passed" and sc.round == 1 for sc in st.scopes), st.scopes
    log = git_out(repo.root, "log", "--format=%s")
    assert log.count("revise 03-codec after review round 1") == 1


async def test_a_split_that_yields_no_subplans_holds_until_a_person_writes_them(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scripted_model(link_shortener_scenario(), monkeypatch):
        repo = make_project(tmp_path, with_subplans=False)  # the scripted splitter writes none
        async with build_worker(client, task_queue):
            handle = await start_design(client, repo, task_queue)
            held = await until(lambda: _failure(handle, DesignStatus), what="a failure hold")
            failure = held[0].failure
            assert failure is not None and "wrote no subplans" in failure.error
            assert held[0].options == ["retry", "stop"]
            shutil.copytree(EXAMPLE_SUBPLANS, repo.design_dir / "subplans")  # the person's fix
            await handle.signal(DesignReviewWorkflow.decide, DecideInput(choice="retry"))

            async def reviewing() -> DesignStatus | None:
                st = await status_of(handle, DesignStatus)
                return st if len(st.scopes) == 6 and not st.decisions else None

            await until(reviewing, what="the reviews of the written subplans")
            await handle.terminate("test done")


async def test_stop_ends_a_held_build_with_its_report(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = [writes_file_rule("a"), writes_file_rule("b")]
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": rules}, monkeypatch, github.url) as sim,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        sim.api_key = REVOKED
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            held = await until(lambda: _failure(handle, BuildStatus), what="a failure hold")
            assert held[0].failure is not None and held[0].failure.scopes == ["a"]
            await handle.signal(BuildWorkflow.decide, DecideInput(choice="stop"))
            result = BuildResult.model_validate(await handle.result())
            child = client.get_workflow_handle(f"{handle.id}-a")
            assert (await child.describe()).status == WorkflowExecutionStatus.CANCELED
    assert result.result == "SUBTASKS_INCOMPLETE"
    assert "stopped by a person" in result.stop_reason and "401" in result.stop_reason
    assert {s.subtask: s.status for s in result.subtasks} == {"a": "cancelled", "b": "blocked"}
    report = (repo.design_dir / "build-reviews/REPORT.md").read_text()
    assert "Stopped: stopped by a person" in report
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    assert {r.subtask: r.status for r in rows[repo.design_dir.name]} == {
        "a": "cancelled",
        "b": "blocked",
        "integration": "blocked",
    }
    assert result.integration is not None and result.integration.status == "skipped"
