"""A failed agent call still reports what it spent: every exception carries `usage`.

A worker interceptor copies `exc.usage` into the failure, so a workflow can book
the tokens of calls that failed; here we check the activities set it, for every
way an agent activity can fail, through the real client and the stand-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.agents.activities import (
    agent_analyze_change,
    agent_answer_questions,
    agent_draft_subtask,
    agent_edit,
    agent_review,
)
from contracts.agents import (
    AnswerRequest,
    ChangeRequest,
    EditRequest,
    ReviewRequest,
    SubtaskDraftRequest,
    Usage,
)
from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import request

LIST = {"tool": "list_files", "input": {}}


def rule(role: str, *faults: dict, steps: list | None = None, **more: Any) -> dict:
    return {
        "rules": [{"match": {"role": role}, "steps": steps or [], "faults": list(faults), **more}]
    }


async def fails(activity: Any, req: Any) -> BaseException:
    with pytest.raises(BaseException) as info:
        await ActivityEnvironment().run(activity, req)
    return info.value


def spent(exc: BaseException) -> Usage:
    usage = getattr(exc, "usage", None)
    assert isinstance(usage, Usage), f"{type(exc).__name__} carries no usage: {exc}"
    return usage


def review(repo: Path, **fields: Any) -> ReviewRequest:
    return ReviewRequest.model_validate(
        request(repo, "code-correctness", review_path="reviews/r.md", title="t", **fields)
    )


async def test_a_rejected_request_carries_the_turns_before_it(
    repo: Path, standin: MessagesStandIn
) -> None:
    standin.reset(rule("code-correctness", {"type": "400", "at_turn": 3}, steps=[LIST, LIST]))
    exc = await fails(agent_review, review(repo))
    assert isinstance(exc, ApplicationError) and exc.type == "ModelRequestRejected"
    usage = spent(exc)
    assert usage.requests == 2 and usage.total_tokens > 0 and usage.cost_usd > 0
    assert usage.total_tokens == sum(sum(r.usage.values()) for r in standin.requests[:2])


async def test_usage_on_a_failure_counts_the_whole_call_like_a_result_does(
    repo: Path, standin: MessagesStandIn
) -> None:
    # Attempt 1 completes two turns and is overloaded on the third; attempt 2 resumes,
    # completes turn 3 and is refused on turn 4. The refusal reports all three turns,
    # as a result after a resumed attempt would: the call's transcript is its ledger.
    standin.reset(
        rule(
            "code-correctness",
            {"type": "529", "at_turn": 3},
            {"type": "400", "at_turn": 4},
            steps=[LIST, LIST, LIST],
        )
    )
    req = review(repo)
    first = await fails(agent_review, req)
    assert isinstance(first, ApplicationError) and not first.non_retryable
    assert spent(first).requests == 2
    second = await fails(agent_review, req)
    assert isinstance(second, ApplicationError) and second.non_retryable
    assert spent(second).requests == 3
    assert spent(second).total_tokens > spent(first).total_tokens


async def test_invalid_output_and_turn_limits_carry_usage(
    repo: Path, standin: MessagesStandIn
) -> None:
    standin.reset(rule("code-correctness", {"type": "invalid_submission", "times": 5}))
    exc = await fails(agent_review, review(repo))
    assert isinstance(exc, ApplicationError) and exc.type == "InvalidAgentOutput"
    assert spent(exc).requests == 3 and spent(exc).total_tokens > 0

    standin.reset(rule("code-correctness", steps=[LIST] * 5))
    exc = await fails(agent_review, review(repo, round=2, settings={"max_turns": 2}))
    assert isinstance(exc, ApplicationError) and exc.type == "AgentTurnLimit"
    assert spent(exc).requests == 2

    standin.reset(rule("code-correctness", steps=[LIST] * 5))
    exc = await fails(agent_review, review(repo, round=3, settings={"max_total_tokens": 100}))
    assert isinstance(exc, ApplicationError) and exc.type == "AgentTokenLimit"
    assert spent(exc).requests == 1 and spent(exc).total_tokens > 100


async def test_a_failure_after_the_agent_finished_carries_its_whole_usage(
    tmp_path: Path, standin: MessagesStandIn
) -> None:
    # Not a git checkout: the builder works and submits, then the commit fails.
    plain = tmp_path / "plain"
    plain.mkdir()
    write = {"tool": "write_file", "input": {"path": "a.py", "content": "A = 1\n"}}
    standin.reset(rule("builder", steps=[write]))
    req = EditRequest.model_validate(request(plain, "builder", commit_message="build"))
    exc = await fails(agent_edit, req)
    assert isinstance(exc, ApplicationError) and exc.non_retryable  # retrying cannot fix it
    assert "commit=False" in exc.message
    assert spent(exc).requests == 2 and spent(exc).total_tokens > 0


async def test_failures_before_any_request_carry_zero_usage(
    repo: Path, standin: MessagesStandIn
) -> None:
    exc = await fails(agent_review, review(repo).model_copy(update={"role": "no-such-role"}))
    assert isinstance(exc, ApplicationError) and exc.type == "UnknownRole"
    assert spent(exc) == Usage()

    missing = review(repo).model_copy(update={"workdir": str(repo / "gone")})
    exc = await fails(agent_review, missing)
    assert spent(exc) == Usage()
    assert standin.requests == []


async def test_every_agent_activity_reports_usage_when_it_fails(
    repo: Path, standin: MessagesStandIn
) -> None:
    invalid = {"type": "invalid_submission", "times": 5}
    standin.reset(
        {
            "rules": [
                {"match": {"kind": "answer"}, "steps": [], "submit": {"answers": []}},
                {"match": {"kind": "change"}, "steps": [], "faults": [invalid]},
                {
                    "match": {"kind": "draft"},
                    "steps": [LIST],
                    "faults": [{"type": "403", "at_turn": 2}],
                },
            ]
        }
    )
    questions = [{"id": "Q1", "text": "Sync?", "options": ["yes", "no"]}]
    answer = AnswerRequest.model_validate(request(repo, "question-answerer", questions=questions))
    # An answerer whose output is unusable does not fail: the person answers instead, and
    # the tokens it spent are booked with the result.
    settled = await ActivityEnvironment().run(agent_answer_questions, answer)
    assert [(a.id, a.answered) for a in settled.answers] == [("Q1", False)]
    assert "InvalidAgentOutput" in settled.note and "goes to a person" in settled.note
    assert settled.usage.requests == 3
    again = await ActivityEnvironment().run(agent_answer_questions, answer)  # a retry
    assert again.answers == settled.answers and len(standin.requests) == 3  # replayed

    change = ChangeRequest.model_validate(
        request(repo, "change-analyst", description="x", design_dir="design-docs/active/demo")
    )
    exc = await fails(agent_analyze_change, change)
    assert isinstance(exc, ApplicationError) and exc.type == "InvalidAgentOutput"
    assert spent(exc).requests == 3

    draft = SubtaskDraftRequest.model_validate(
        request(
            repo,
            "subtask-drafter",
            scope="01-core",
            subplan_path="design-docs/active/demo/subplans/01-core.md",
            xml_path="design-docs/active/demo/subtasks/01-core.xml",
        )
    )
    exc = await fails(agent_draft_subtask, draft)
    assert isinstance(exc, ApplicationError) and exc.type == "ModelRequestRejected"
    assert spent(exc).requests == 1
