"""A complete first message: builders get the subtask and every gate inline; reviewers run
after the gates and get the exact range of the subtask's own work and the gates' results.

A stacked build (b depends on a) on real Temporal, real git, the real anthropic client
against the Messages stand-in and PyGithub against the GitHub stand-in.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.plan.subtask_xml import read_subtask
from contracts.build import BuildInput, BuildResult
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model
from tests.workflows.builds import passes_review, tiny_project, wid, writes_file_rule
from worker import build_worker
from workflows.build import BuildWorkflow

GATES = ["true", "test -f src/a.txt"]
CONFIG = '\n[reviewers]\ncode = ["code-correctness"]\n[gates]\ncommands = ' + (
    "[" + ", ".join(f'"{g}"' for g in GATES) + "]\n"
)
RANGE = re.compile(r"range `(?P<base>[0-9a-f]{12})\.\.(?P<head>[0-9a-f]{12})`")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


async def test_builders_get_the_subtask_and_its_gates_and_reviewers_the_range_and_results(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = {"rules": [writes_file_rule("a"), writes_file_rule("b"), passes_review()]}
    build_id = wid()
    with scripted_model(scenario, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, CONFIG)
        async with build_worker(client, task_queue):
            result = BuildResult.model_validate(
                await client.execute_workflow(
                    BuildWorkflow.run,
                    BuildInput(design_dir=str(repo.design_dir)),
                    id=build_id,
                    task_queue=task_queue,
                )
            )
            histories = {
                name: await client.get_workflow_handle(f"{build_id}-{name}").fetch_history()
                for name in "ab"
            }
    assert result.result == "ALL_SUBTASKS_PR_CREATED"

    firsts = {(r.role, r.scope): r for r in reversed(messages.requests) if r.turn == 1}
    for name in "ab":
        spec = read_subtask(repo.design_dir / "subtasks" / f"{name}.xml")
        prompt = firsts[("builder", name)].prompt
        assert f"## The subtask: {name}" in prompt
        assert spec.acceptance_criteria and all(c in prompt for c in spec.acceptance_criteria)
        assert all(f"`{command}`" in prompt for command in [*spec.commands, *GATES])
        assert all(f in prompt for f in spec.files)

    # b's branch stacks on a's: its reviewer is shown b's own work only.
    review = firsts[("code-correctness", "b")].prompt
    found = RANGE.search(review)
    assert found, review
    # Worktrees are removed once the build is done; the repository keeps every commit.
    own = git(repo.root, "diff", "--name-only", f"{found['base']}..{found['head']}").split()
    assert own == ["src/b.txt"]
    assert "src/b.txt" in review and "src/a.txt |" not in review  # the --stat
    assert git(repo.root, "merge-base", "--is-ancestor", "feat/a", found["base"]) == ""
    # The gates ran first, and the reviewer is told what they found.
    assert "## Gates of this round" in review
    assert all(f"`{g}`: passed" in review for g in GATES)
    assert "Do not run the test suite or these gates again" in review
    for history in histories.values():
        scheduled = {
            e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        }
        gates_done = min(
            e.event_id
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and scheduled[e.activity_task_completed_event_attributes.scheduled_event_id]
            == "gates.run"
        )
        assert gates_done < min(i for i, name in scheduled.items() if name == "agent.review")
