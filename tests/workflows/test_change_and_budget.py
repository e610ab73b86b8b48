"""Spec changes mid-build (seed 004's `!change`) and the build's budget gate."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.build import BuildInput, BuildResult, BuildStatus
from contracts.human import DecideInput
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from tests.support import (
    example_design,
    make_project,
    record_history,
    scripted_model,
    status_of,
    until,
)
from tests.workflows.builds import (
    ONE_REVIEWER,
    approve_artifacts,
    passes_review,
    tiny_project,
    writes_file_rule,
)
from worker import build_worker
from workflows.build import BuildWorkflow

ANALYST = {
    "match": {"role": "change-analyst"},
    "submit": {
        "touched": [
            {
                "subtask": "03-codec",
                "reason": "codes become case-insensitive",
                "files": ["shortener/codec.py"],
                "contracts": ["decode()"],
                "tests": ["tests/test_codec.py"],
            }
        ],
        "scope": "Small",
        "summary": "The codec lower-cases codes; everything built on it must follow.",
    },
}


async def _status(handle) -> BuildStatus:  # type: ignore[no-untyped-def]
    return await status_of(handle, BuildStatus)


async def test_change_approve_reruns_exactly_the_affected_subtasks(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = {"rules": [ANALYST, *link_shortener_scenario()["rules"]]}
    with GitHubStandIn() as github, scripted_model(scenario, monkeypatch, github.url) as messages:
        # The example without 05-cli, one code reviewer: the change touches 03-codec, so
        # 04-service (built on it) is affected too, while 01-models (below it) and 02-storage
        # (beside it) are not.
        source = example_design(tmp_path, "01-models", "02-storage", "03-codec", "04-service")
        repo = make_project(tmp_path, github.url, ONE_REVIEWER, design_source=source)
        approve_artifacts(repo.design_dir, repo.root)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id=f"build-change-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )

            async def codec_done() -> bool:
                st = await _status(handle)
                return any(v.name == "03-codec" and v.status == "pr_created" for v in st.subtasks)

            await until(codec_done, limit=120, what="03-codec's PR")
            await handle.signal(BuildWorkflow.pause)
            await handle.signal(
                BuildWorkflow.command, "!change Short codes become case-insensitive"
            )

            async def reported() -> BuildStatus | None:
                st = await _status(handle)
                ok = st.change is not None and st.change.state == "awaiting-decision"
                return st if ok else None

            st = await until(reported, what="the blast-radius report")
            assert st.change is not None
            affected = {a.subtask: a for a in st.change.affected}
            assert set(affected) == {"03-codec", "04-service"}
            assert affected["03-codec"].state == "pr_created"
            assert affected["04-service"].why == "depends on 03-codec"
            assert "!change-approve" in st.waiting_for
            report = Path(st.change.report_path or "").read_text()
            assert "Short codes become case-insensitive" in report
            assert "03-codec already have pull requests" in report or "STALE" in report
            assert not (repo.design_dir / "CHANGE_LOG.md").exists()  # nothing until decided

            approved_at = time.monotonic()
            await handle.signal(BuildWorkflow.approve_change)
            await handle.signal(BuildWorkflow.resume)

            async def stale_seen() -> bool:
                st = await _status(handle)
                return any(v.name == "03-codec" and v.generation == 2 for v in st.subtasks)

            await until(stale_seen, what="03-codec reopened")
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)  # a build with an approved spec change
        heads = sorted(p["head"]["ref"] for p in github.pulls("demo/link-shortener"))

    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    # Builders started after the approval (a turn-1 request starts one): exactly the affected
    # subtasks. 02-storage runs beside 03-codec and may still be in the middle of its own
    # builder then; its later turns are that same builder, not a rebuild.
    after = [
        r for r in messages.requests if r.at > approved_at and r.role == "builder" and r.turn == 1
    ]
    assert {r.scope for r in after} == {"03-codec", "04-service"}
    rebuild_prompts = [r.prompt for r in after if r.scope == "03-codec"]
    assert rebuild_prompts and "approved spec change" in rebuild_prompts[0]
    assert len(heads) == len(set(heads)) == 4 + 1  # reopened PRs updated, not duplicated
    assert "integration/link-shortener" in heads  # integrated after the change
    assert result.integration is not None and result.integration.status == "passed"
    log = (repo.design_dir / "CHANGE_LOG.md").read_text()
    assert "Change 1 — approved" in log and "Marked stale: 03-codec" in log


async def test_change_cancel_changes_nothing(
    client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyst = {
        "match": {"role": "change-analyst"},
        "submit": {"touched": [{"subtask": "b", "reason": "b changes"}], "scope": "Small",
                   "summary": "only b"},
    }  # fmt: skip
    rules = [analyst, writes_file_rule("a"), writes_file_rule("b"), passes_review()]
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": rules}, monkeypatch, github.url) as messages,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id=f"build-cancel-change-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )
            await handle.signal(BuildWorkflow.request_change, "rename b")

            async def reported() -> BuildStatus | None:
                st = await _status(handle)
                ok = st.change is not None and st.change.state == "awaiting-decision"
                return st if ok else None

            st = await until(reported, what="the report")
            assert [a.subtask for a in st.change.affected] == ["b"]  # type: ignore[union-attr]
            await handle.signal(BuildWorkflow.cancel_change)
            result = BuildResult.model_validate(await handle.result())
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    builders = [r for r in messages.requests if r.role == "builder" and r.turn == 1]
    assert sorted(r.scope for r in builders) == ["a", "b"]  # each built once
    assert not any(r.role == "design-writer" for r in messages.requests)
    log = (repo.design_dir / "CHANGE_LOG.md").read_text()
    assert "Change 1 — cancelled" in log and "nothing changed" in log


@pytest.mark.parametrize("choice", ["stop", "raise"])
async def test_budget_gate_stops_or_raises(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    choice: str,
) -> None:
    rules = [writes_file_rule("a"), writes_file_rule("b"), passes_review()]
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": rules}, monkeypatch, github.url) as messages,
    ):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir), max_tokens=1000),
                id=f"build-budget-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )

            async def held() -> BuildStatus | None:
                st = await _status(handle)
                return st if "budget" in st.waiting_for else None

            st = await until(held, what="the budget gate")
            assert st.budget_tokens >= 1000 and st.max_tokens == 1000
            # `!budget` (a `command` line) answers in status: the ledger and the limit.
            await handle.signal(BuildWorkflow.command, "!budget")

            async def noted() -> str:
                notice = (await _status(handle)).notice
                return notice if notice.startswith("budget: ") else ""

            notice = await until(noted, what="the budget notice")
            assert "limit: 1,000 tokens weighed by price (used " in notice
            assert "by role: builder " in notice
            calls = len(messages.requests)
            if choice == "stop":
                await handle.signal(
                    BuildWorkflow.decide, DecideInput(scope="budget", choice="stop")
                )
                result = BuildResult.model_validate(await handle.result())
                assert result.result == "SUBTASKS_INCOMPLETE"
                assert not any(r.scope == "b" for r in messages.requests)
                assert len(messages.requests) <= calls + 10  # at most the agent in flight
            else:
                await handle.signal(BuildWorkflow.raise_budget, {"max_tokens": 10_000_000})
                result = BuildResult.model_validate(await handle.result())
                assert result.result == "ALL_SUBTASKS_PR_CREATED"
    metrics_total = result.tokens
    assert metrics_total >= 1000
