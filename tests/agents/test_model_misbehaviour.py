"""A model that misbehaves as real ones do, and gateways that do: the agent copes or says why.

Every answer comes from the stand-in over real HTTP through the real anthropic
client, in a real activity; the stand-in refuses every request the real API
would refuse, so a malformed follow-up request fails these tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import UNREAD_SCORE, Runner
from tests.agents.steps import failure, review_req, scenario

READ = {"tool": "read_file", "input": {"path": "src/core.py"}}


def transcript(repo: Path) -> dict[str, Any]:
    return json.loads((repo / ".orchestrator/code-correctness-demo-1.transcript.json").read_text())


async def test_an_empty_end_turn_is_never_stored_and_the_model_is_nudged(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "empty_end_turn", "at_turn": 2}, steps=[READ]))
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == 0.85
    assert [(r.turn, r.fault, r.action) for r in standin.requests] == [
        (1, None, "read_file"),
        (2, "empty_end_turn", "text"),
        (2, None, "submit_review"),
    ]
    # The nudge follows the tool result in the same user message.
    assert "call submit_review now" in standin.requests[2].last_text
    assert standin.requests[2].tool_results[0]["content"].startswith("     1\tdef add")
    assert all(m["content"] for m in transcript(repo)["messages"])


@pytest.mark.parametrize("kind", ["text_only", "stop_sequence"])
async def test_a_text_only_answer_is_kept_and_nudged_toward_the_submit_tool(
    repo: Path, standin: MessagesStandIn, runner: Runner, kind: str
) -> None:
    standin.reset(scenario({"type": kind}, steps=[READ]))
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == 0.85
    assert [(r.fault, r.stop_reason, r.action) for r in standin.requests] == [
        (kind, "end_turn" if kind == "text_only" else "stop_sequence", "text"),
        (None, "tool_use", "read_file"),
        (None, "tool_use", "submit_review"),
    ]
    assert "call submit_review now" in standin.requests[1].last_text


async def test_a_cut_off_answer_is_asked_again_with_more_room(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # The submission itself is cut off mid-input: not invalid output, just asked again.
    standin.reset(scenario({"type": "max_tokens", "times": 2}))
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == UNREAD_SCORE
    assert [(r.max_tokens, r.stop_reason) for r in standin.requests] == [
        (8000, "max_tokens"),
        (16000, "max_tokens"),
        (32000, "tool_use"),
    ]
    record = transcript(repo)
    assert record["invalid_submissions"] == 0 and record["usage"]["requests"] == 3


async def test_at_the_models_limit_a_cut_off_call_is_answered_and_not_invalid(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # Three cut-off submissions would have been three invalid ones, failing the agent.
    standin.reset(scenario({"type": "max_tokens", "times": 3}))
    settings = {"max_tokens_per_turn": 1000, "max_tokens_limit": 1000}
    result = await runner.run("agent.review", review_req(repo, settings=settings))
    assert result["score"] == UNREAD_SCORE
    assert [r.stop_reason for r in standin.requests] == ["max_tokens"] * 3 + ["tool_use"]
    for later in standin.requests[1:]:
        (reply,) = later.tool_results
        assert reply["is_error"] and "cut off at the output limit" in reply["content"]
    assert transcript(repo)["invalid_submissions"] == 0


async def test_a_paused_turn_is_sent_back_and_continued(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "pause_turn"}, steps=[READ]))
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == 0.85
    assert [(r.turn, r.stop_reason, r.action) for r in standin.requests] == [
        (1, "pause_turn", "text"),
        (1, "tool_use", "read_file"),  # the same turn, continued
        (2, "tool_use", "submit_review"),
    ]
    first_answer = transcript(repo)["messages"][1]
    assert [b["type"] for b in first_answer["content"]] == ["text", "tool_use"]


async def test_a_refusal_ends_the_agent_for_a_person_to_decide(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "refusal"}, steps=[READ]))
    error = await failure(runner, "agent.review", review_req(repo), max_attempts=5)
    assert error.non_retryable and error.type == "ModelRefused"
    assert "refused" in error.message and "use another model" in error.message
    assert len(standin.requests) == 1


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("unknown_tool", ["'browse_web' is not available", "read_file"]),
        (
            "bad_arguments",
            ["'offset' must be an integer", "NUL byte", "'limit' must be at least 1"],
        ),
    ],
)
async def test_bad_tool_calls_are_tool_errors_the_model_reads(
    repo: Path, standin: MessagesStandIn, runner: Runner, kind: str, said: list[str]
) -> None:
    standin.reset(scenario({"type": kind}, steps=[READ]))
    result = await runner.run("agent.review", review_req(repo), max_attempts=1)
    assert result["score"] == 0.85
    assert [r.action for r in standin.requests] == [
        "browse_web" if kind == "unknown_tool" else "read_file",
        "read_file",
        "submit_review",
    ]
    (reply,) = standin.requests[1].tool_results
    assert reply["is_error"]
    for words in said:
        assert words in reply["content"]


@pytest.mark.parametrize(
    "fault",
    [{"type": "stream_cut"}, {"type": "html_error", "code": 502}],
    ids=["stream-cut", "proxy-502-page"],
)
async def test_a_broken_stream_or_a_proxys_error_page_is_retried(
    repo: Path, standin: MessagesStandIn, runner: Runner, fault: dict
) -> None:
    standin.reset(scenario(fault, steps=[READ]))
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == 0.85
    assert [(r.turn, r.fault) for r in standin.requests] == [
        (1, fault["type"]),
        (1, None),
        (2, None),
    ]


@pytest.mark.parametrize(
    ("fault", "kind", "said"),
    [
        ({"type": "plain_json"}, "ModelResponseInvalid", "instead of an event stream"),
        ({"type": "html_error", "code": 403}, "ModelRequestRejected", "'403 Forbidden'"),
    ],
    ids=["plain-json-to-a-stream", "proxy-403-page"],
)
async def test_a_gateway_that_answers_wrongly_for_good_fails_fast_and_says_so(
    repo: Path, standin: MessagesStandIn, runner: Runner, fault: dict, kind: str, said: str
) -> None:
    standin.reset(scenario(fault))
    error = await failure(runner, "agent.review", review_req(repo), max_attempts=5)
    assert error.non_retryable and error.type == kind
    assert said in error.message and "ANTHROPIC_BASE_URL" in error.message
    assert len(standin.requests) == 1


async def test_a_transcript_saved_with_an_empty_answer_resumes_as_a_valid_conversation(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # Turn 1 is saved, then the refusal stops the agent (a person would retry it).
    standin.reset(scenario({"type": "refusal", "at_turn": 2}, steps=[READ]))
    req = review_req(repo)
    await failure(runner, "agent.review", req)
    path = repo / ".orchestrator/code-correctness-demo-1.transcript.json"
    record = transcript(repo)
    # As the loop stored it before it kept the API's rules: an empty answer, then a nudge.
    record["messages"] += [
        {"role": "assistant", "content": []},
        {"role": "user", "content": "Call submit_review now."},
    ]
    path.write_text(json.dumps(record))
    standin.reset(scenario(steps=[READ]))
    result = await runner.run("agent.review", req)
    assert result["score"] == 0.85
    (resumed,) = standin.requests
    assert (resumed.turn, resumed.action) == (2, "submit_review")
    assert resumed.last_text == "Call submit_review now."


async def test_an_empty_first_answer_nudges_in_the_task_message(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "empty_end_turn", "times": 2}))
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == UNREAD_SCORE
    assert [(r.turn, r.fault) for r in standin.requests] == [
        (1, "empty_end_turn"),
        (1, "empty_end_turn"),
        (1, None),
    ]
    (task,) = transcript(repo)["messages"][:1]
    assert [b["type"] for b in task["content"]] == ["text", "text"]  # nudged once
    assert transcript(repo)["turns"] == 3
