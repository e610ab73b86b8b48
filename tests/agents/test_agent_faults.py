"""Each kind of failure ends as it should: retried (honouring retry-after) or failed fast."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from contracts.agents import Usage
from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import UNREAD_SCORE, Runner
from tests.agents.steps import failure, review_req, scenario


async def test_rate_limit_is_retried_after_the_servers_retry_after(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "429", "retry_after": 1.5}))
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == UNREAD_SCORE
    limited, retried = standin.requests
    assert limited.fault == "429" and retried.fault is None
    # The retry policy's own interval is 0.1s: the wait is the server's.
    assert retried.at - limited.at >= 1.4


@pytest.mark.parametrize(
    "fault",
    [
        {"type": "529"},
        {"type": "500"},
        {"type": "503", "retry_after_ms": 300},
        {"type": "sse_error"},  # an `error` event inside a 200 stream: overloaded_error
    ],
    ids=["overloaded", "server-error", "unavailable", "stream-error"],
)
async def test_transient_failures_are_retried(
    repo: Path, standin: MessagesStandIn, runner: Runner, fault: dict
) -> None:
    standin.reset(scenario(fault))
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == UNREAD_SCORE
    assert [r.fault for r in standin.requests] == [fault["type"], None]
    assert result["usage"]["requests"] == 1  # only the successful request produced tokens


async def test_a_burst_of_overloaded_answers_is_waited_out(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """529 overloaded_error, six times running (the API's answer under load): the agent
    waits as the server asks each time and finishes; nothing is held for a person."""
    standin.reset(scenario({"type": "529", "times": 6, "retry_after": 0.3}))
    result = await runner.run("agent.review", review_req(repo), max_attempts=10)
    assert result["score"] == UNREAD_SCORE
    requests = standin.requests
    assert [r.fault for r in requests] == ["529"] * 6 + [None]
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert all(gap >= 0.25 for gap in gaps)  # it waited every time, never hammered
    assert result["usage"]["requests"] == 1


async def test_the_servers_x_should_retry_header_decides_over_the_status(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # true: even a 400 is retried, after the server's retry-after.
    standin.reset(
        scenario({"type": "400", "headers": {"x-should-retry": "true"}, "retry_after": 1})
    )
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == UNREAD_SCORE
    refused, retried = standin.requests
    assert (refused.fault, retried.fault) == ("400", None)
    assert retried.at - refused.at >= 0.9

    # false: even an overload is final at once, and still says what to do.
    standin.reset(scenario({"type": "529", "headers": {"x-should-retry": "false"}}))
    error = await failure(runner, "agent.review", review_req(repo, round=2), max_attempts=5)
    assert error.non_retryable and error.type == "ModelRequestRejected"
    assert "529" in error.message and "the server said not to retry" in error.message
    assert "Fix: the API stays overloaded" in error.message
    assert len(standin.requests) == 1


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"type": "400", "message": "tools.0: bad schema"}, "refused the request with 400"),
        ({"type": "404", "message": "model: sim-model-1"}, "check the model name"),
        ({"type": "413"}, "narrow the focus files"),
    ],
)
async def test_client_errors_fail_fast_and_say_what_to_fix(
    repo: Path, standin: MessagesStandIn, runner: Runner, fault: dict, expected: str
) -> None:
    standin.reset(scenario(fault))
    error = await failure(runner, "agent.review", review_req(repo), max_attempts=5)
    assert error.non_retryable and error.type == "ModelRequestRejected"
    assert expected in error.message
    assert len(standin.requests) == 1


async def test_a_wrong_key_fails_fast_naming_the_variable(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.api_key = "the-right-key"
    error = await failure(runner, "agent.review", review_req(repo), max_attempts=5)
    assert error.non_retryable
    assert "401" in error.message and "set ANTHROPIC_API_KEY" in error.message
    assert len(standin.requests) == 0  # refused before the scripted model saw it


async def test_a_missing_key_fails_fast(
    repo: Path, standin: MessagesStandIn, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    error = await failure(runner, "agent.review", review_req(repo), max_attempts=5)
    assert error.non_retryable and error.type == "MissingApiKey"
    assert "ANTHROPIC_API_KEY is not set" in error.message


async def test_a_hung_request_times_out_and_resumes_from_the_last_completed_turn(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    steps = [
        {"tool": "list_files", "input": {}},
        {"tool": "read_file", "input": {"path": "src/core.py"}},
    ]
    standin.reset(scenario({"type": "hang", "at_turn": 2, "seconds": 30}, steps=steps))
    req = review_req(repo, settings={"request_timeout_s": 1.0})
    result = await runner.run("agent.review", req)
    assert result["score"] == 0.85
    assert [(r.turn, r.fault) for r in standin.requests] == [
        (1, None),
        (2, "hang"),
        (2, None),
        (3, None),
    ]
    assert standin.requests[1].action == "disconnected"


async def test_a_model_that_keeps_submitting_invalid_output_fails_for_good(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "invalid_submission", "times": 5}))
    error = await failure(runner, "agent.review", review_req(repo), max_attempts=5)
    assert error.non_retryable and error.type == "InvalidAgentOutput"
    assert "model kept submitting invalid output" in error.message
    assert len(standin.requests) == 3


async def test_the_model_hears_its_remaining_turns_and_submits_on_the_last(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """Near the limit every turn says how many remain; the last one asks for the submission,
    and a model that submits then is done, not failed."""
    standin.reset(scenario(steps=[{"tool": "list_files", "input": {}}] * 9))
    result = await runner.run("agent.review", review_req(repo, settings={"max_turns": 10}))
    assert result["score"] == UNREAD_SCORE
    said = [r.last_text for r in standin.requests]
    assert len(said) == 10 and not any("turns left" in t for t in said[:7])
    assert [t.split(";")[0] for t in said[7:9]] == [
        "[3 turns left of 10",
        "[2 turns left of 10",
    ]
    assert said[9].startswith("This is your last turn of 10: call submit_review now")
    assert "You have 10 turns" in standin.requests[0].system


async def test_turn_and_token_limits_stop_a_runaway_agent(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    steps = [{"tool": "list_files", "input": {}}] * 5
    standin.reset(scenario(steps=steps))
    error = await failure(
        runner, "agent.review", review_req(repo, settings={"max_turns": 2}), max_attempts=5
    )
    assert error.type == "AgentTurnLimit" and error.non_retryable
    assert "used all 2 turns" in error.message and "max_turns" in error.message
    assert len(standin.requests) == 2
    assert "This is your last turn of 2: call submit_review now" in standin.requests[1].last_text

    standin.reset(scenario(steps=steps))
    req = review_req(repo, round=2, settings={"max_total_tokens": 100})
    error = await failure(runner, "agent.review", req, max_attempts=5)
    assert error.type == "AgentTokenLimit" and error.non_retryable
    assert "max_total_tokens=100" in error.message
    assert len(standin.requests) == 1


async def test_the_token_cap_weighs_cached_tokens_by_their_price(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """A long run that mostly reads from the cache is not stopped as if it were all new."""
    steps = [{"tool": "read_file", "input": {"path": "src/core.py"}}] * 6
    standin.reset(scenario(steps=steps))
    done = await runner.run("agent.review", review_req(repo))
    usage = Usage.model_validate(done["usage"])
    assert usage.cache_read_input_tokens > usage.input_tokens  # mostly cached
    assert usage.weighted_tokens == round(
        usage.input_tokens
        + usage.output_tokens
        + 1.25 * usage.cache_creation_input_tokens
        + 0.1 * usage.cache_read_input_tokens
    )
    assert usage.weighted_tokens < usage.total_tokens
    # A cap between the two: counted at full weight the run would stop, weighed it finishes.
    cap = (usage.weighted_tokens + usage.total_tokens) // 2
    standin.reset(scenario(steps=steps))
    req = review_req(repo, settings={"max_total_tokens": cap}, transcript_path="again.json")
    again = await runner.run("agent.review", req)
    assert again["usage"] == {**done["usage"], "duration_s": again["usage"]["duration_s"]}


async def test_a_slow_model_is_not_taken_for_a_dead_worker(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # The model takes 3s to answer; the heartbeat timeout is 1s. Background heartbeats
    # keep the attempt alive, so there is exactly one request and no retry.
    standin.reset(scenario({"type": "hang", "seconds": 3}))
    result = await runner.run("agent.review", review_req(repo), heartbeat_timeout_s=1.0)
    assert result["score"] == UNREAD_SCORE
    assert [(r.turn, r.fault) for r in standin.requests] == [(1, "hang")]


async def test_a_burst_of_overloaded_answers_is_ridden_out(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "529", "times": 3}))
    result = await runner.run("agent.review", review_req(repo), max_attempts=5)
    assert result["score"] == UNREAD_SCORE
    assert [r.fault for r in standin.requests] == ["529", "529", "529", None]
