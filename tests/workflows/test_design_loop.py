"""The design-review loop end to end: real Temporal, real git, the real anthropic client
against the Messages API stand-in."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from activities.plan.subtask_xml import read_subtasks
from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import AnswerInput, DecideInput, FeedbackInput
from runtime.server import DevServer
from simulators.demo_scenario import link_shortener_scenario
from tests.support import (
    make_project,
    record_history,
    review_files,
    scripted_model,
    status_of,
    temporal_cli,
    until,
)
from worker import build_worker
from workflows.design_review import DesignReviewWorkflow

REVIEW_NAME = re.compile(r"^[0-9a-z][0-9a-z._-]*_\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}_[a-z-]+\.md$")


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch):
    with scripted_model(link_shortener_scenario(), monkeypatch) as standin:
        yield standin


def wid() -> str:
    return f"design-link-shortener-{uuid.uuid4().hex[:6]}"


async def test_full_design_run_to_approval(
    client: Client, temporal_server: DevServer, task_queue: str, tmp_path: Path, sim
) -> None:
    repo = make_project(tmp_path)
    async with build_worker(client, task_queue):
        handle = await client.start_workflow(
            DesignReviewWorkflow.run,
            DesignInput(design_dir=str(repo.design_dir)),
            id="design-link-shortener",  # the id the CLI derives; recorded for replay
            task_queue=task_queue,
        )

        async def open_question() -> DesignStatus | None:
            st = await status_of(handle, DesignStatus)
            return st if st.open_questions else None

        st = await until(open_question, what="an open question")
        # Q1 was settled from the codebase by the question answerer; Q2 waits for a person.
        answered = {q.id: q for q in st.answered_questions}
        assert answered["Q1"].answered_by == "codebase" and answered["Q1"].choice == "A"
        assert "base62" in answered["Q1"].reasoning
        assert [q.id for q in st.open_questions] == ["Q2"]

        with pytest.raises(WorkflowUpdateFailedError) as bad_id:
            await handle.execute_update(
                DesignReviewWorkflow.answer_question, AnswerInput(question_id="Q9", choice="A")
            )
        assert "unknown question id 'Q9'" in str(bad_id.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as bad_option:
            await handle.execute_update(
                DesignReviewWorkflow.answer_question, AnswerInput(question_id="Q2", choice="D")
            )
        assert "has no option 'D'" in str(bad_option.value.cause)
        reply = await handle.execute_update(
            DesignReviewWorkflow.answer_question, AnswerInput(question_id="Q2", choice="B")
        )
        assert reply == "Q2: B) In memory only"

        async def at_gate() -> DesignStatus | None:
            st = await status_of(handle, DesignStatus)
            return st if st.phase == "awaiting-approval" else None

        st = await until(at_gate, what="the approval gate")
        assert st.waiting_for == "approved or request_changes"
        for scope in st.scopes:
            assert scope.state == "passed" and scope.round == 2, scope
            assert min(scope.scores.values()) >= 0.96
            assert scope.history[0] < 0.96 <= scope.history[1]

        # The person approves from the plain temporal CLI.
        done = temporal_cli(
            temporal_server.address,
            "workflow", "signal", "--workflow-id", handle.id, "--name", "approved",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = DesignResult.model_validate(await handle.result())

    assert result.result == "DESIGN_DOC_APPROVED"
    assert result.subtasks == ["01-models", "02-storage", "03-codec", "04-service", "05-cli"]
    specs = read_subtasks(str(repo.design_dir))
    assert [s.id for s in specs] == result.subtasks
    assert specs[3].dependencies == ["02-storage", "03-codec"]
    assert (repo.design_dir / "plan/dag.md").read_text().count("->") >= 5
    assert "## Batch 2" in (repo.design_dir / "plan/batches.md").read_text()
    answers = (repo.design_dir / "design-reviews/answers.md").read_text()
    assert "Answer: B) In memory only" in answers and "Answered by: codebase" in answers
    reviews = review_files(repo.design_dir)
    # 6 scopes (consistency + 5 subplans) x 3 reviewers x 2 rounds, each written once.
    assert len(reviews) == 36
    assert all(REVIEW_NAME.match(p.name) for p in reviews)
    text = reviews[0].read_text()
    assert text.startswith("# Review: ") and "## SCORE: 0." in text and "\n---\n" in text
    # The writer's revision and the approved artifacts are committed.
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=repo.root, capture_output=True, text=True, check=True
    ).stdout
    assert "approved — subtasks, plan and reviews" in log
    assert "revise consistency after review round 1" in log
    assert "## Decisions" in (repo.design_dir / "overview.md").read_text()
    assert result.cost_usd > 0 and result.tokens > 0

    history = await handle.fetch_history()
    assert "sim-anthropic-key-do-not-leak" not in history.to_json()
    await record_history(handle)


async def test_request_changes_revises_and_re_reviews(
    client: Client, task_queue: str, tmp_path: Path, sim
) -> None:
    repo = make_project(tmp_path)
    async with build_worker(client, task_queue):
        handle = await client.start_workflow(
            DesignReviewWorkflow.run,
            DesignInput(design_dir=str(repo.design_dir), reviewers=["design-requirements"]),
            id=wid(),
            task_queue=task_queue,
        )
        for question in ("Q1", "Q2"):
            await until(lambda q=question: _has_question(handle, q), what=f"question {question}")
        await handle.execute_update(
            DesignReviewWorkflow.answer_question, AnswerInput(question_id="Q2", choice="A")
        )
        await until(lambda: _phase(handle, "awaiting-approval"), what="the gate")
        await handle.signal(
            DesignReviewWorkflow.request_changes, FeedbackInput(feedback="Add rate limiting")
        )
        await until(lambda: _cycle_reviewed(handle), what="a second review cycle")
        await until(lambda: _phase(handle, "awaiting-approval"), what="the gate again")
        await handle.signal(DesignReviewWorkflow.command, "approved")
        result = DesignResult.model_validate(await handle.result())
    assert result.result == "DESIGN_DOC_APPROVED"
    writer_prompts = [r.prompt for r in sim.requests if r.role == "design-writer"]
    assert any("Add rate limiting" in p for p in writer_prompts)
    # Every scope was reviewed again after the change request (rounds continue).
    assert result.rounds["consistency"] >= 3


async def _has_question(handle, qid: str) -> bool:  # type: ignore[no-untyped-def]
    st = await status_of(handle, DesignStatus)
    return any(q.id == qid for q in st.open_questions + st.answered_questions)


async def _phase(handle, phase: str) -> bool:  # type: ignore[no-untyped-def]
    return (await status_of(handle, DesignStatus)).phase == phase


async def _cycle_reviewed(handle) -> bool:  # type: ignore[no-untyped-def]
    st = await status_of(handle, DesignStatus)
    return all(s.round >= 3 for s in st.scopes if s.name == "consistency")


def stuck_scenario() -> dict:
    rules = link_shortener_scenario()["rules"]
    low = {
        "match": {"role": "design-requirements", "scope": "02-storage"},
        "submit": {"score": 0.7, "questions": []},
    }
    return {"rules": [low, *rules]}


@pytest.mark.parametrize("choice", ["accept", "continue", "review-together"])
async def test_stuck_scope_asks_the_person(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    with scripted_model(stuck_scenario(), monkeypatch):
        repo = make_project(tmp_path)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(
                    design_dir=str(repo.design_dir),
                    reviewers=["design-requirements"],
                    stuck_rounds=2,
                    max_rounds=10,
                ),
                id=wid(),
                task_queue=task_queue,
            )

            async def stuck() -> DesignStatus | None:
                st = await status_of(handle, DesignStatus)
                return st if st.decisions else None

            st = await until(stuck, what="the stuck prompt")
            decision = st.decisions[0]
            assert decision.scope == "02-storage"
            assert decision.options == ["continue", "accept", "review-together"]
            assert "02-storage" in st.waiting_for
            scope = next(s for s in st.scopes if s.name == "02-storage")
            assert scope.round == 3  # round 1, then two rounds without a better score

            if choice == "accept":
                await handle.signal(
                    DesignReviewWorkflow.decide, DecideInput(scope="02-storage", choice="accept")
                )
            elif choice == "continue":
                await handle.signal(DesignReviewWorkflow.decide, DecideInput(choice="continue"))
                st = await until(stuck, what="the second stuck prompt")
                assert next(s for s in st.scopes if s.name == "02-storage").round == 5
                await handle.signal(DesignReviewWorkflow.command, "decide 02-storage accept")
            else:
                await handle.signal(
                    DesignReviewWorkflow.decide, DecideInput(choice="review-together")
                )

                async def together() -> DesignStatus | None:
                    st = await status_of(handle, DesignStatus)
                    return (
                        st if st.decisions and st.decisions[0].kind == "review-together" else None
                    )

                st = await until(together, what="the review-together pause")
                assert st.decisions[0].options == ["continue", "accept"]
                await handle.signal(DesignReviewWorkflow.decide, DecideInput(choice="accept"))

            await until(lambda: _at_gate_or_questions(handle), what="the gate")
            st = await status_of(handle, DesignStatus)
            storage = next(s for s in st.scopes if s.name == "02-storage")
            assert storage.state == "accepted" and storage.threshold == pytest.approx(0.7)
            await handle.terminate("test done")


async def _at_gate_or_questions(handle) -> bool:  # type: ignore[no-untyped-def]
    st = await status_of(handle, DesignStatus)
    if st.open_questions:
        for q in st.open_questions:
            await handle.execute_update(
                DesignReviewWorkflow.answer_question, AnswerInput(question_id=q.id, choice="A")
            )
    return st.phase == "awaiting-approval"


async def test_directory_without_subplans_is_split(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Path(__file__).resolve().parents[2] / "examples/link-shortener/subplans"
    design_rel = "design-docs/active/link-shortener"
    steps = [
        {
            "tool": "write_file",
            "input": {
                "path": f"{design_rel}/subplans/{p.name}",
                "content": p.read_text(),
            },
        }
        for p in sorted(source.glob("*.md"))[:2]
    ]
    splitter = {
        "match": {"role": "subplan-splitter"},
        "steps": steps,
        "submit": {"summary": "split into 2 subplans", "files_changed": []},
    }
    scenario = {"rules": [splitter, *link_shortener_scenario()["rules"]]}
    with scripted_model(scenario, monkeypatch):
        repo = make_project(tmp_path, with_subplans=False)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir), reviewers=["design-performance"]),
                id=wid(),
                task_queue=task_queue,
            )
            await until(lambda: _at_gate_or_questions(handle), what="the gate")
            st = await status_of(handle, DesignStatus)
            assert [s.name for s in st.scopes] == ["consistency", "01-models", "02-storage"]
            await handle.signal(DesignReviewWorkflow.approved)
            result = DesignResult.model_validate(await handle.result())
    assert result.subtasks == ["01-models", "02-storage"]
    assert (repo.design_dir / "subtasks/02-storage.xml").exists()
