"""Helpers shared by the agent tests: requests and scenarios for the scripted model, the
steps it plays, the files it works on, and running or cancelling an agent."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner, git, request
from tests.support import rule

FILES = [f"docs/part{i}.md" for i in range(6)]
TRANSCRIPT = ".orchestrator/code-correctness-demo-1.transcript.json"


def review_req(repo: Path, **fields: Any) -> dict:
    return request(repo, "code-correctness", review_path="reviews/r.md", title="t", **fields)


def scenario(*faults: dict, steps: list | None = None) -> dict:
    reviewer = rule("code-correctness", steps if steps is not None else [])
    return {"rules": [{**reviewer, "faults": list(faults)}]}


async def failure(runner: Runner, activity: str, req: dict, **job: Any) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as info:
        await runner.run(activity, req, **job)
    activity_error = info.value.cause
    assert isinstance(activity_error, ActivityError)
    assert isinstance(activity_error.cause, ApplicationError)
    return activity_error.cause


async def cancel_and_wait(handle) -> float:  # type: ignore[no-untyped-def]
    """Cancel the run; seconds until its cancellation completed (the activity stopped)."""
    started = time.monotonic()
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return time.monotonic() - started


def worktree(repo: Path) -> Path:
    path = repo / ".worktrees" / "01-core"
    git(repo, "worktree", "add", "-q", "-b", "feat/01-core", str(path))
    return path


def script(standin: MessagesStandIn, **steps: list[dict[str, Any]]) -> None:
    """Each role (keyword) plays its steps, then submits."""
    standin.reset({"rules": [rule(role, s) for role, s in steps.items()]})


async def edit(runner: Runner, wt: Path, role: str, **job: Any) -> dict[str, Any]:
    return await runner.run(
        "agent.edit", request(wt, role, scope="01-core", commit_message=role), **job
    )


def agent_file(root: Path, name: str, text: str) -> Path:
    folder = root / ".orchestrator" / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(text)
    return path


def long_files(repo: Path, chars: int = 6000) -> None:
    for i, name in enumerate(FILES):
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"part {i} line {n}: {'x' * 50}\n" for n in range(chars // 64)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "docs")


def transcript(repo: Path) -> dict[str, Any]:
    return json.loads((repo / TRANSCRIPT).read_text())


def post(url: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
    """A raw POST to the Messages API stand-in: its status and JSON answer."""
    req = urllib.request.Request(
        f"{url}/v1/messages",
        json.dumps(body).encode(),
        {"content-type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
