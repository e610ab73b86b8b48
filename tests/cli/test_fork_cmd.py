"""`orchestrator fork` / `orchestrator merge` as a person runs them, on a running build:
the approaches reach the attempts' builders, and a refusal is said with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from cli.common import build_id
from contracts.build import BuildInput, BuildResult, BuildStatus
from simulators.github_api import GitHubStandIn
from tests.cli.commands import orchestrator
from tests.support import scripted_model, status_of, until, write
from tests.workflows.builds import SUBTASKS_ONLY, builder, passes_review, tiny_project
from worker import build_worker
from workflows.build import BuildWorkflow

RULES = [
    {
        **builder("a", [write("src/a.txt", "a\n")]),
        "faults": [{"type": "529", "until": "a", "seconds": 600}],
    },
    builder("a@A", [write("src/a.txt", "A\n")]),
    builder("a@B", [write("src/a.txt", "B\n")]),
    passes_review("a@A"),
    passes_review("a@B"),
    passes_review("a"),
]


@pytest.mark.usefixtures("no_leftovers")
async def test_fork_and_merge_from_the_cli(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    temporal_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": RULES}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, SUBTASKS_ONLY)
        design = str(repo.design_dir)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=design),
                id=build_id(design),
                task_queue=task_queue,
            )

            async def a_building() -> bool:
                return any(r.scope == "a" for r in messages.requests)

            await until(a_building, what="a building")
            cli = ("--no-embedded",)
            unknown = await orchestrator(temporal_env, "fork", design, "zz", *cli)
            assert unknown.returncode == 2, unknown
            assert "!fork zz: no such subtask in this build. Fix: fork one of a" in unknown.stderr
            bad = await orchestrator(temporal_env, "fork", design, "a", "--approach", "C", "x")
            assert bad.returncode == 2 and "a fork has attempts A and B" in bad.stderr
            early = await orchestrator(temporal_env, "merge", design, "B", *cli)
            assert early.returncode == 2 and "no fork waits for a pick" in early.stderr

            forked = await orchestrator(
                temporal_env, "fork", design, "a", "--name", "store",
                "--approach", "A", "one file", "--approach", "B", "a database", *cli,
            )  # fmt: skip
            assert forked.returncode == 0, forked.stderr
            assert "fork/store-A and fork/store-B start now" in forked.stdout
            messages.release("a")

            async def deciding() -> bool:
                st = await status_of(handle, BuildStatus)
                return bool(st.forks and st.forks[0].status == "deciding")

            await until(deciding, limit=180, what="the pick")
            merged = await orchestrator(temporal_env, "merge", design, "b", *cli)
            assert merged.returncode == 0, merged.stderr
            assert "!merge B (a): fork store: B merged (picked by a person)" in merged.stdout
            result = BuildResult.model_validate(await handle.result())

    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    prompts = {r.scope: r.prompt for r in messages.requests if r.role == "builder"}
    assert "The person's instruction for this attempt: one file" in prompts["a@A"]
    assert "The person's instruction for this attempt: a database" in prompts["a@B"]
