"""Which agent call a request belongs to, said where the model never sees it.

The Messages API reference on `metadata.user_id`: "An external identifier for the
user who is associated with the request. This should be a uuid, hash value, or
other opaque identifier. Anthropic may use this id to help detect abuse. Do not
include any identifying information such as name, email address, or phone number."
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner
from tests.agents.steps import review_req, scenario

READ = {"tool": "read_file", "input": {"path": "src/core.py"}}


async def test_real_requests_carry_an_opaque_user_id(
    repo: Path, standin: MessagesStandIn, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API reference asks for "a uuid, hash value, or other opaque identifier" in
    metadata.user_id. A worker without ORCHESTRATOR_CALLER_IDS=readable sends a hash of
    the call's id; the stand-in, told the call ids to expect, knows the call by it."""
    monkeypatch.delenv("ORCHESTRATOR_CALLER_IDS")
    caller = "orchestrator:code-correctness:demo:1:review"
    standin.reset({**scenario(steps=[READ]), "known_callers": [caller]})
    result = await runner.run("agent.review", review_req(repo))
    assert result["score"] == 0.85
    opaque = hashlib.sha256(caller.encode()).hexdigest()[:32]
    assert [(r.user_id, r.role, r.action) for r in standin.requests] == [
        (opaque, "code-correctness", "read_file"),
        (opaque, "code-correctness", "submit_review"),
    ]
    assert re.fullmatch(r"[0-9a-f]{32}", opaque)


async def test_a_worker_for_the_stand_in_sends_the_readable_caller_id(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    """ORCHESTRATOR_CALLER_IDS=readable (set by the stand-in fixtures, the demo and the
    chaos benchmark): the readable id the stand-in scripts on, and nothing in the prompt."""
    standin.reset(scenario(steps=[READ]))
    await runner.run("agent.review", review_req(repo))
    (first, _) = standin.requests
    assert first.user_id == "orchestrator:code-correctness:demo:1:review"
    assert first.user_id not in f"{first.system}\n{first.prompt}"
