"""Every request fits the model's context window; large outputs are paged, never lost.

The stand-in refuses a prompt over its window with the API's 400 ("prompt is
too long: N tokens > M maximum"), so an agent that sent one and did not cope
would fail these tests; `standin.refused` lists every such refusal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from activities.agents.context import CLEARED
from activities.agents.tools import Workspace
from activities.agents.transcript import is_transcript
from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner
from tests.agents.steps import FILES, failure, long_files, review_req, transcript


def reading(window: int) -> dict[str, Any]:
    steps = [{"tool": "read_file", "input": {"path": p}} for p in FILES]
    return {
        "context_window": window,
        "rules": [{"match": {"role": "code-correctness"}, "steps": steps}],
    }


def prompt_tokens(standin: MessagesStandIn) -> list[int]:
    return [
        r.usage["input_tokens"]
        + r.usage["cache_read_input_tokens"]
        + r.usage["cache_creation_input_tokens"]
        for r in standin.requests
    ]


async def test_old_tool_results_are_cleared_before_the_window_is_reached(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    long_files(repo)
    standin.reset(reading(12_000))
    settings = {
        "context_windows": {"sim-model-1": 12_000},
        "max_tokens_per_turn": 1000,
        "max_tokens_limit": 1000,
    }
    result = await runner.run("agent.review", review_req(repo, settings=settings))
    assert result["score"] == 0.85
    assert [r.action for r in standin.requests] == ["read_file"] * 6 + ["submit_review"]
    assert standin.refused == []  # never a request the API would refuse
    # Six files of ~1,600 tokens each would not fit: old results were cleared on the way.
    assert max(prompt_tokens(standin)) <= 11_000
    messages = transcript(repo)["messages"]
    results = [
        b
        for m in messages
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert len(results) == 6
    assert results[0]["content"] == CLEARED  # the oldest went first ...
    assert "part 5 line 0" in results[-1]["content"]  # ... the newest is whole
    assert "call the tool again" in CLEARED  # the model is told how to get it back


async def test_a_prompt_too_long_refusal_is_learnt_from_and_never_resent(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    # The worker believes the default 200K window; the model's is much smaller.
    long_files(repo)
    standin.reset(reading(9_000))
    settings = {"max_tokens_per_turn": 1000, "max_tokens_limit": 1000}
    result = await runner.run("agent.review", review_req(repo, settings=settings))
    assert result["score"] == 0.85
    assert [r.action for r in standin.requests] == ["read_file"] * 6 + ["submit_review"]
    (refusal,) = standin.refused  # once: then the loop knows the window
    assert refusal.startswith("prompt is too long: ") and refusal.endswith(" > 9000 maximum")
    saved = transcript(repo)
    assert saved["context_window"] == 9000
    assert any(CLEARED in json.dumps(m["content"]) for m in saved["messages"])
    # The retried request was smaller than the refused one, and every later one fits.
    assert max(prompt_tokens(standin)) <= 9000


async def test_a_task_that_cannot_fit_fails_once_with_the_fix(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    standin.reset(reading(2_000))
    settings = {"context_windows": {"sim-model-1": 2_000}, "max_tokens_per_turn": 500}
    error = await failure(runner, "agent.review", review_req(repo, settings=settings))
    assert error.type == "ContextWindowExceeded" and error.non_retryable
    assert "models.context_windows" in error.message and "window of 2000" in error.message
    assert standin.requests == [] and standin.refused == []  # nothing was sent in vain


async def test_a_large_output_keeps_its_head_and_tail_and_is_kept_whole_in_a_hidden_file(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """A long read pages on the file itself; a long command output reaches the model as its
    head and its tail (where a test run's summary is), the whole kept in a hidden file."""
    long_files(repo, chars=30_000)
    command = f"cat {FILES[0]} && echo '=== 3 passed, 1 failed in 0.2s ==='"
    steps = [
        {"tool": "read_file", "input": {"path": FILES[0]}},
        {"tool": "run_command", "input": {"command": command}},
    ]
    standin.reset({"rules": [{"match": {"role": "code-correctness"}, "steps": steps}]})
    settings = {"tool_result_limit": 4000, "command_output_limit": 100_000}
    result = await runner.run("agent.review", review_req(repo, settings=settings))
    assert result["score"] == 0.85
    page = standin.requests[1].tool_results[0]["content"]
    assert len(page) < 4000 and page.startswith("     1\tpart 0 line 0")
    assert f"read on with read_file(path='{FILES[0]}', offset=" in page
    shown = standin.requests[2].tool_results[0]["content"]
    assert len(shown) < 4500 and shown.startswith("exit code: 0\npart 0 line 0")
    assert shown.rstrip().endswith("=== 3 passed, 1 failed in 0.2s ===")  # the summary
    saved = shown.split("All of it is saved in ", 1)[1].split(";")[0]
    whole = Path(saved).read_text()
    assert whole.count("\n") > 400 and "part 0 line 460" in whole
    # Beside the transcript: hidden from listings and commits, readable by its exact path
    # once granted, as the loop grants it.
    assert Path(saved).parent.name.endswith(".transcript.outputs")
    offset = int(shown.split("offset=", 1)[1].split(")")[0])
    workspace = Workspace(repo, frozenset({"read_file", "list_files"}))
    assert "transcript.outputs" not in (await workspace.call("list_files", {"path": "."}))[0]
    refused, is_error = await workspace.call("read_file", {"path": saved})
    assert is_error and "refused" in refused  # not granted: as hidden as a transcript
    workspace.extra_readable = frozenset({Path(saved).resolve()})
    middle, is_error = await workspace.call("read_file", {"path": saved, "offset": offset})
    assert not is_error and middle.split("\t", 1)[0].strip() == str(offset)
    assert whole.splitlines()[offset - 1] == middle.splitlines()[0].split("\t", 1)[1]
    assert is_transcript(Path(saved).relative_to(repo))  # what the edit activity never commits


async def test_cache_breakpoints_only_where_the_prefix_can_be_cached(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """Haiku 4.5 caches prefixes of 4,096 tokens or more (prompt-caching guide): shorter
    ones are not marked, longer ones are, and never more than the API's four marks."""
    long_files(repo)
    steps = [{"tool": "read_file", "input": {"path": p}} for p in FILES[:3]]
    standin.reset(
        {
            "min_cacheable_tokens": 4096,
            "rules": [{"match": {"role": "code-correctness"}, "steps": steps}],
        }
    )
    result = await runner.run(
        "agent.review", review_req(repo, settings={"model": "claude-haiku-4-5"})
    )
    assert result["score"] == 0.85
    marks = [r.breakpoints for r in standin.requests]
    assert marks[0] == []  # tools, system and task: well under 4,096 tokens
    assert marks[-1] == ["messages"]  # the conversation has grown past it
    assert all(len(m) <= 4 for m in marks) and standin.refused == []
    # What was marked was really cached and read back the next turn.
    assert standin.requests[-1].usage["cache_read_input_tokens"] > 4096
