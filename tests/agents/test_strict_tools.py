"""Strict tool use: sent where the model takes it, in the subset the API accepts.

Every request goes over real HTTP to the Messages stand-in, which refuses strict
schemas the way the API does; the agents run in a real worker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from activities.agents import strict
from activities.agents.loop import submit_tool
from activities.agents.outputs import (
    AnswerSubmission,
    DraftSubmission,
    EditSubmission,
    ReviewSubmission,
)
from activities.agents.tools import ALL_TOOLS, tool_definitions
from contracts.agents import ChangeAnalysis
from simulators.messages_api import MessagesStandIn
from simulators.strict_tools import fits
from tests.agents.conftest import UNREAD_SCORE, Runner, git, request
from tests.agents.steps import post, review_req, scenario
from tests.support import edit_file, rule, shell, write

STRICT_MODEL = "claude-sonnet-4-6"
READ = {"tool": "read_file", "input": {"path": "src/core.py"}}
OUTPUTS: dict[str, type[BaseModel]] = {
    "review": ReviewSubmission,
    "edit": EditSubmission,
    "answer": AnswerSubmission,
    "draft": DraftSubmission,
    "change": ChangeAnalysis,
}
SUPPORTING = sorted(m for m, on in strict.STRICT_TOOL_MODELS.items() if on)


def body(tools: list[dict[str, Any]], model: str = STRICT_MODEL) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": tools,
    }


def sent_tools(kind: str, model: str = STRICT_MODEL) -> list[dict[str, Any]]:
    """The tools a request of this kind carries, built as the agent loop builds them."""
    return strict.for_model([*tool_definitions(ALL_TOOLS), submit_tool(kind, OUTPUTS[kind])], model)


def transcript(repo: Path, req: dict) -> dict[str, Any]:
    return json.loads((repo / req["transcript_path"]).read_text())


def tool_inputs(repo: Path, req: dict, name: str) -> list[dict[str, Any]]:
    return [
        block["input"]
        for message in transcript(repo, req)["messages"]
        if message["role"] == "assistant"
        for block in message["content"]
        if block.get("type") == "tool_use" and block["name"] == name
    ]


@pytest.mark.parametrize("model", SUPPORTING)
@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_every_schema_we_send_is_accepted_in_strict_mode(kind: str, model: str) -> None:
    """Each submit tool and every file tool, all strict at once, as a builder's request
    of that kind would carry them: within the API's subset and its per-request limits."""
    tools = sent_tools(kind, model)
    assert all(t.get("strict") is True for t in tools)
    with MessagesStandIn() as api:
        status, answer = post(api.url, body(tools, model), {"x-api-key": "k"})
        assert status == 200, answer
        assert api.refused == [] and api.requests[0].strict == sorted(t["name"] for t in tools)


def test_a_model_without_strict_tool_use_gets_the_plain_schemas() -> None:
    plain = [*tool_definitions(ALL_TOOLS), submit_tool("review", ReviewSubmission)]
    for model in ("claude-sonnet-4-20250514", "claude-opus-4-1", "sim-model-1"):
        assert strict.for_model(plain, model) == plain
    # Dated snapshots of a supporting family do get them.
    assert all(t["strict"] for t in strict.for_model(plain, "claude-haiku-4-5-20251001"))


def test_what_strict_mode_cannot_say_is_dropped_from_the_schema_and_still_checked() -> None:
    read_file = next(t for t in sent_tools("review") if t["name"] == "read_file")
    limit = read_file["input_schema"]["properties"]["limit"]
    assert limit["type"] == "integer" and "minimum" not in limit and "maximum" not in limit
    assert "(minimum 1, maximum 2000)" in limit["description"]
    score = sent_tools("review")[-1]["input_schema"]["properties"]["score"]
    assert score == {
        "description": "0..1 in the band of your worst verified open issue "
        "(maximum 1.0, minimum 0.0)",
        "title": "Score",
        "type": "number",
    }


def test_past_the_apis_limits_the_submit_tool_stays_strict_and_the_rest_go_plain() -> None:
    many = [
        {
            "name": f"tool_{n}",
            "description": "x",
            "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}},
        }
        for n in range(25)
    ]
    tools = strict.for_model([*many, submit_tool("draft", DraftSubmission)], STRICT_MODEL)
    assert tools[-1]["strict"] is True
    # The draft's 9 optional fields leave room for 15 one-option tools of the 24 allowed.
    assert sum(1 for t in tools if t.get("strict")) == 16
    with MessagesStandIn() as api:
        assert post(api.url, body(tools), {"x-api-key": "k"})[0] == 200


def _object(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "additionalProperties": False}


@pytest.mark.parametrize(
    ("tools", "model", "said"),
    [
        (
            [{"name": "t", "input_schema": _object(n={"type": "integer", "minimum": 1})}],
            STRICT_MODEL,
            "tools.0.custom: For 'integer' type, property 'minimum' is not supported",
        ),
        (
            [
                {"name": "a", "input_schema": _object()},
                {
                    "name": "t",
                    "input_schema": _object(n={"type": "integer", "minimum": 1, "maximum": 9}),
                },
            ],
            STRICT_MODEL,
            "tools.1.custom: For 'integer' type, properties maximum, minimum are not supported",
        ),
        (
            [{"name": "t", "input_schema": _object(s={"type": "string", "maxLength": 8})}],
            STRICT_MODEL,
            "tools.0.custom: For 'string' type, property 'maxLength' is not supported",
        ),
        (
            [{"name": "t", "input_schema": _object(a={"type": "array", "maxItems": 3})}],
            STRICT_MODEL,
            "tools.0.custom: For 'array' type, property 'maxItems' is not supported",
        ),
        (
            [{"name": "t", "input_schema": {"type": "object", "properties": {}}}],
            STRICT_MODEL,
            "tools.0.custom: For 'object' type, 'additionalProperties' must be explicitly set "
            "to false",
        ),
        (
            [{"name": "t", "input_schema": _object(o={"type": "object", "properties": {}})}],
            STRICT_MODEL,
            "tools.0.custom: For 'object' type, 'additionalProperties' must be explicitly set "
            "to false",
        ),
        (
            [{"name": f"t{n}", "input_schema": _object()} for n in range(21)],
            STRICT_MODEL,
            "Too many strict tools (21). The maximum number of strict tools supported is 20. "
            "Try reducing the number of tools marked as strict.",
        ),
        (
            [
                {
                    "name": "t",
                    "input_schema": _object(**{f"p{n}": {"type": "string"} for n in range(25)}),
                }
            ],
            STRICT_MODEL,
            "Schemas contains too many optional parameters (25), which would make grammar "
            "compilation inefficient. Reduce the number of optional parameters in your tool "
            "schemas (limit: 24).",
        ),
        (
            [{"name": "t", "input_schema": _object()}],
            "claude-sonnet-4-20250514",
            "tools.0.custom.strict: strict tool use is not supported for claude-sonnet-4-20250514",
        ),
    ],
    ids=[
        "minimum",
        "two-bounds",
        "maxLength",
        "maxItems",
        "open-object",
        "open-nested-object",
        "21-strict-tools",
        "25-optional-parameters",
        "model-without-strict",
    ],
)
def test_strict_schemas_the_api_refuses_are_refused_with_its_message(
    tools: list[dict[str, Any]], model: str, said: str
) -> None:
    with MessagesStandIn() as api:
        strict_tools = [{**t, "strict": True} for t in tools]
        status, error = post(api.url, body(strict_tools, model), {"x-api-key": "k"})
        assert status == 400 and error["error"]["type"] == "invalid_request_error"
        assert error["error"]["message"] == said
        assert api.refused == [said] and api.requests == []
        # The same tools without `strict` are plain JSON schemas: accepted.
        assert post(api.url, body(tools, model), {"x-api-key": "k"})[0] == 200


async def test_a_builder_on_a_strict_model_runs_end_to_end(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    steps = [
        READ,
        write("src/mul.py", "x = 1\n"),
        edit_file("src/mul.py", "1", "2"),
        {"tool": "search_files", "input": {"pattern": "x = 2", "regex": False}},
        shell("cat src/mul.py"),
    ]
    done = {"summary": "Added mul", "files_changed": ["src/mul.py"]}
    standin.reset({"rules": [rule("builder", steps, done)]})
    req = request(
        repo,
        "builder",
        scope="01-core",
        commit_message="01-core: build",
        settings={"model": STRICT_MODEL},
    )
    result = await runner.run("agent.edit", req)
    assert result["files_changed"] == ["src/mul.py"]
    assert git(repo, "show", "HEAD:src/mul.py") == "x = 2"
    requests = standin.requests
    assert [r.action for r in requests] == [
        "read_file",
        "write_file",
        "edit_file",
        "search_files",
        "run_command",
        "submit_edit",
    ]
    assert all(r.strict == sorted([*ALL_TOOLS, "submit_edit"]) for r in requests)
    assert requests[-1].tool_results[0]["content"] == "exit code: 0\nx = 2\n"
    assert standin.refused == []


async def test_a_strict_models_bad_call_has_the_right_types_and_code_checks_the_rest(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """The API guarantees a strict call's types; the bounds strict mode cannot say (and a
    NUL byte) are still the loop's to check, and the model hears about them."""
    standin.reset(scenario({"type": "bad_arguments"}, steps=[READ]))
    req = review_req(repo, settings={"model": STRICT_MODEL})
    result = await runner.run("agent.review", req, max_attempts=1)
    assert result["score"] == 0.85
    assert [r.action for r in standin.requests] == ["read_file", "read_file", "submit_review"]
    bad = tool_inputs(repo, req, "read_file")[0]
    assert bad == {"path": "src/\x00core.py", "offset": 0, "limit": -3}
    schema = next(t for t in sent_tools("review") if t["name"] == "read_file")["input_schema"]
    assert fits(bad, schema)
    (reply,) = standin.requests[1].tool_results
    assert reply["is_error"] and "must be an integer" not in reply["content"]
    for words in ("NUL byte", "'offset' must be at least 1", "'limit' must be at least 1"):
        assert words in reply["content"]


async def test_a_strict_model_never_calls_a_tool_it_was_not_given(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "unknown_tool"}, steps=[READ]))
    req = review_req(repo, settings={"model": STRICT_MODEL})
    result = await runner.run("agent.review", req, max_attempts=1)
    assert result["score"] == 0.85
    assert [(r.fault, r.action) for r in standin.requests] == [
        ("unknown_tool", "text"),
        (None, "read_file"),
        (None, "submit_review"),
    ]
    assert "call submit_review now" in standin.requests[1].last_text


async def test_an_invalid_strict_submission_fits_the_schema_and_pydantic_still_refuses_it(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(scenario({"type": "invalid_submission"}))
    req = review_req(repo, settings={"model": STRICT_MODEL})
    result = await runner.run("agent.review", req)
    assert result["score"] == UNREAD_SCORE
    invalid, valid = tool_inputs(repo, req, "submit_review")
    schema = sent_tools("review")[-1]["input_schema"]
    assert fits(invalid, schema) and fits(valid, schema) and invalid["score"] == 7
    rejection = standin.requests[1].tool_results[0]
    assert rejection["is_error"] and "submit_review rejected" in rejection["content"]
    assert "score: Input should be less than or equal to 1" in rejection["content"]
