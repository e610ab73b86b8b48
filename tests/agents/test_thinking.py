"""Thinking: each role asks for it at its effort, and the stand-in is as strict as the API.

The stand-in refuses what the Messages API refuses for thinking and tool use, in
the API's words (simulators/thinking_rules.py); the agents run in a real worker
against it over HTTP, so a request the API would refuse fails these tests.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from simulators.messages_api import MessagesStandIn
from simulators.thinking_rules import BINDING_BETA
from tests.agents.conftest import Runner, request
from tests.agents.steps import FILES, long_files, post, review_req, transcript

KEY = {"x-api-key": "k"}
TOOL = {
    "name": "read_file",
    "description": "Read a file.",
    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
}
CALLER = {"user_id": "orchestrator:code-correctness:demo:1:review"}


def body(model: str, **more: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": "Review src/core.py."}],
        "tools": [TOOL],
        **more,
    }


ADAPTIVE = {"type": "adaptive"}
REFUSED = [
    (
        body("claude-haiku-4-5", thinking={"type": "enabled", "budget_tokens": 4000}),
        "`max_tokens` must be greater than `thinking.budget_tokens`",
    ),
    (
        body("claude-haiku-4-5", thinking={"type": "enabled", "budget_tokens": 500}),
        "budget_tokens: Input should be greater than or equal to 1024",
    ),
    (
        body("claude-sonnet-4-6", thinking=ADAPTIVE, tool_choice={"type": "any"}),
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    (
        body("claude-sonnet-4-6", thinking=ADAPTIVE, tool_choice={"type": "tool", "name": "x"}),
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    (
        # Opus 5.5 thinks whatever the request says: forced tool use is refused outright.
        body("claude-opus-5-5", tool_choice={"type": "any"}),
        "Thinking may not be enabled when tool_choice forces tool use.",
    ),
    (
        body("claude-sonnet-4-6", thinking=ADAPTIVE, temperature=0.2),
        "`temperature` may only be set to 1 when thinking is enabled",
    ),
    (
        body("claude-sonnet-5-5", temperature=0.5),  # on by default
        "`temperature` may only be set to 1 when thinking is enabled",
    ),
    (body("claude-sonnet-4-5", thinking=ADAPTIVE), "adaptive thinking is not supported"),
    (body("claude-haiku-4-5", thinking=ADAPTIVE), "adaptive thinking is not supported"),
    (
        body("claude-opus-5-5", thinking={"type": "enabled", "budget_tokens": 2000}),
        '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive"',
    ),
    (
        body("claude-opus-5-5", thinking={"type": "disabled"}),
        '"thinking.type.disabled" is not supported for this model',
    ),
    (
        body("claude-haiku-4-5", output_config={"effort": "high"}),
        "This model does not support the effort parameter.",
    ),
    (
        body("claude-opus-4-6", thinking=ADAPTIVE, output_config={"effort": "xhigh"}),
        "'xhigh' is not supported for this model",
    ),
    (
        body("claude-sonnet-5-5", max_tokens=128_001),
        "max_tokens: 128001 > 128000, which is the maximum allowed number of output tokens",
    ),
    (
        body(
            "claude-sonnet-5-5",
            messages=[
                {"role": "user", "content": "Say hi."},
                {"role": "assistant", "content": "Hi"},
            ],
        ),
        "This model does not support assistant message prefill. The conversation must end",
    ),
]


@pytest.mark.parametrize(("sent", "words"), REFUSED, ids=lambda v: str(v)[:60])
def test_the_stand_in_refuses_what_the_api_refuses(sent: dict[str, Any], words: str) -> None:
    with MessagesStandIn() as api:
        status, answer = post(api.url, sent, KEY)
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    assert words in answer["error"]["message"]


def first_turn(api: MessagesStandIn, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A reviewer's first turn (it reads a file, thinking first) and the request that
    answers it, as the loop would send them."""
    sent = body(model, thinking=ADAPTIVE, metadata=CALLER)
    sent["messages"][0]["content"] = "Review it.\n\nFocus files (read these first):\n- a.py"
    status, answer = post(api.url, sent, KEY)
    assert status == 200, answer
    assert answer["content"][0]["type"] == "thinking" and answer["content"][0]["signature"]
    call = next(b for b in answer["content"] if b["type"] == "tool_use")
    after = copy.deepcopy(sent)
    after["messages"] += [
        {"role": "assistant", "content": answer["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "x = 1"}],
        },
    ]
    return sent, after


@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "claude-sonnet-4-6"])
def test_thinking_blocks_come_back_signed_and_unchanged_or_are_refused(model: str) -> None:
    with MessagesStandIn() as api:
        _, after = first_turn(api, model)
        assert post(api.url, after, KEY)[0] == 200
        unsigned = copy.deepcopy(after)
        del unsigned["messages"][1]["content"][0]["signature"]
        status, answer = post(api.url, unsigned, KEY)
        assert status == 400
        assert (
            answer["error"]["message"] == "messages.1.content.0.thinking.signature: Field required"
        )
        forged = copy.deepcopy(after)
        forged["messages"][1]["content"][0]["thinking"] = "Something else entirely."
        status, answer = post(api.url, forged, KEY)
        assert status == 400
        assert answer["error"]["message"].startswith(
            "messages.1.content.0: Invalid `signature` in `thinking` block"
        )


def test_a_bound_thinking_block_refuses_an_edited_prefix_unless_dropped() -> None:
    """Preserved thinking (the 5.5 models): a block is bound to what precedes it. An older
    model (Sonnet 4.6) does not check the prefix."""
    with MessagesStandIn() as api:
        for model, bound in (("claude-sonnet-5-5", True), ("claude-sonnet-4-6", False)):
            _, after = first_turn(api, model)
            edited = copy.deepcopy(after)
            edited["messages"][0]["content"] += " (edited)"
            status, answer = post(api.url, edited, KEY)
            if not bound:
                assert status == 200, answer
                continue
            assert status == 400
            assert "The block is bound to a different conversation" in answer["error"]["message"]
            dropping = {**edited, "thinking": {**ADAPTIVE, "block_binding": DROP}}
            status, answer = post(api.url, dropping, KEY)
            assert status == 400 and BINDING_BETA in answer["error"]["message"]
            status, answer = post(api.url, dropping, {**KEY, "anthropic-beta": BINDING_BETA})
            assert status == 200, answer


DROP = {"prefix_mismatch_behavior": "drop_block"}


def thinking_of(api: MessagesStandIn, role: str) -> list[tuple[Any, Any, int]]:
    return [(r.thinking, r.effort, r.max_tokens) for r in api.requests if r.role == role]


async def test_builders_and_reviewers_think_hard_and_pass_their_thinking_back(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """On a current model every request carries adaptive thinking at the role's effort,
    with room for it; each later turn sends the earlier thinking back, signed."""
    settings = {"model": "claude-sonnet-5-5"}
    review = review_req(repo, focus_paths=["src/core.py"], settings=settings)
    assert (await runner.run("agent.review", review))["score"] == 0.85
    edit = request(repo, "builder", commit_message="feat: x", settings=settings)
    await runner.run("agent.edit", edit)
    assert standin.refused == []
    for role in ("code-correctness", "builder"):
        assert thinking_of(standin, role) and all(
            sent == ({"type": "adaptive"}, "high", 32_000) for sent in thinking_of(standin, role)
        )
    reviews = [r for r in standin.requests if r.role == "code-correctness"]
    assert [r.action for r in reviews] == ["read_file", "submit_review"]
    assert reviews[1].thinking_sent == ["thinking"]  # the first answer's, passed back
    saved = json.loads((repo / review["transcript_path"]).read_text())["messages"][1]
    assert saved["content"][0]["type"] == "thinking" and saved["content"][0]["signature"]


async def test_the_drafter_and_the_answerer_think_little(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    settings = {"model": "claude-opus-5-5"}
    questions = [{"id": "Q1", "text": "Which?", "options": ["a", "b"]}]
    await runner.run(
        "agent.answer_questions",
        request(repo, "question-answerer", questions=questions, settings=settings),
    )
    assert standin.refused == []
    assert thinking_of(standin, "question-answerer") == [({"type": "adaptive"}, "low", 8_000)]


async def test_a_model_with_only_extended_thinking_gets_a_budget_below_max_tokens(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """Haiku 4.5 takes `budget_tokens` and no effort; the budget stays below max_tokens."""
    review = review_req(repo, focus_paths=["src/core.py"], settings={"model": "claude-haiku-4-5"})
    await runner.run("agent.review", review)
    assert standin.refused == []
    sent = thinking_of(standin, "code-correctness")
    assert sent == [({"type": "enabled", "budget_tokens": 10_000}, None, 18_000)] * 2
    # The turn answering a tool call opens with the thinking block the API demands.
    assert standin.requests[1].thinking_sent == ["thinking"]


async def test_clearing_old_results_drops_the_thinking_it_would_unbind(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """Near the window, old tool results are cleared; on a model that binds thinking to
    its prefix that edit would make the API refuse every later request, so the thinking
    blocks after it are dropped and the call goes on."""
    long_files(repo, chars=16_000)
    steps = [{"tool": "read_file", "input": {"path": p}} for p in FILES]
    standin.reset(
        {
            "context_window": 50_000,
            "rules": [{"match": {"role": "code-correctness"}, "steps": steps}],
        }
    )
    settings = {"model": "claude-sonnet-5-5", "context_windows": {"claude-sonnet-5-5": 50_000}}
    result = await runner.run("agent.review", review_req(repo, settings=settings))
    assert result["score"] == 0.85
    assert standin.refused == []
    assert [r.action for r in standin.requests] == ["read_file"] * 6 + ["submit_review"]
    messages = transcript(repo)["messages"]
    cleared = [
        i
        for i, m in enumerate(messages)
        if isinstance(m["content"], list)
        and any(b.get("content", "").startswith("[tool result cleared") for b in m["content"])
    ]
    assert cleared, "the window forced clearing"
    thought = [m["content"][0]["type"] == "thinking" for m in messages if m["role"] == "assistant"]
    assert thought[0] and thought[-1]  # before the first edit, and after the last: kept
    assert not all(thought)  # in between: dropped (the stand-in refused none of it)
