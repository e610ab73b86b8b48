"""Seed 004's migration risk (issue 27 item 5): a subtask whose change drops a column holds
before its pull request with `build-reviews/<subtask>/MIGRATION.md`; `!migration-approve`
takes the change to its PR as it is, `!migration-cancel` reverts the schema change on the
branch and has the builder rework the subtask without it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle

from cli.demo_repo import git
from contracts.build import BuildResult, BuildStatus
from contracts.gate_hints import pending_decisions
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from tests.support import record_history, scripted_model, status_of, temporal_cli, until
from tests.workflows.builds import (
    ONE_REVIEWER,
    REPO,
    git_out,
    passes_review,
    start_build,
    tiny_project,
)
from worker import build_worker
from workflows.build import BuildWorkflow

INIT = "CREATE TABLE links (id integer PRIMARY KEY, url text NOT NULL, clicks bigint);\n"
DROP = "ALTER TABLE links DROP COLUMN clicks;\n"


def _write(path: str, content: str) -> dict:
    return {"tool": "write_file", "input": {"path": path, "content": content}}


SCENARIO = {
    "rules": [
        {  # the first build drops a column
            "match": {"role": "builder", "scope": "a", "round": 0},
            "steps": [_write("src/a.txt", "a"), _write("db/002_drop_clicks.sql", DROP)],
            "submit": {"summary": "built a, dropping links.clicks"},
        },
        {  # the rework after a cancel keeps the column
            "match": {"role": "builder", "scope": "a", "round": 1},
            "steps": [_write("src/a.txt", "a, without the schema change")],
            "submit": {"summary": "reworked a without the schema change"},
        },
        passes_review("a"),
    ]
}


async def _held(handle: WorkflowHandle) -> BuildStatus:
    seen: list[BuildStatus] = []

    async def migration() -> BuildStatus | None:
        st = await status_of(handle, BuildStatus)
        seen[:] = [st]
        return st if any(d.kind == "migration" for d in pending_decisions(st)) else None

    try:
        return await until(migration, limit=240, what="the migration hold")
    except TimeoutError:
        raise AssertionError(
            f"no migration hold; last status: {seen[0] if seen else None}"
        ) from None


@pytest.mark.parametrize("answer", ["approve", "cancel"])
async def test_a_dropped_column_holds_before_the_pr_until_a_person_decides(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    temporal_server: DevServer,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
) -> None:
    with scripted_model(SCENARIO, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        (repo.root / "db").mkdir()
        (repo.root / "db/001_init.sql").write_text(INIT)
        git(repo.root, "add", "db")
        git(repo.root, "commit", "-qm", "the schema so far")
        git(repo.root, "push", "-q", "origin", "HEAD")
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            st = await _held(handle)
            decision = next(d for d in pending_decisions(st) if d.kind == "migration")
            assert decision.scope == "a" and decision.options == ["approve", "cancel"]
            assert "drop column: ALTER TABLE links DROP COLUMN clicks" in decision.prompt
            report = (repo.design_dir / "build-reviews/a/MIGRATION.md").read_text()
            assert "| `db/002_drop_clicks.sql:1` | high | drop column |" in report
            # The rollback is derived from the column's type where the repository declared it.
            assert "`ALTER TABLE links ADD COLUMN clicks bigint;`" in report
            assert github.pulls(REPO) == [], "no PR opens while the report waits"
            await handle.signal(BuildWorkflow.command, "!help")
            helped = await status_of(handle, BuildStatus)
            assert "!migration-approve [subtask] (report pending: a)" in helped.notice

            if answer == "approve":  # a command line, as a chat would send it
                await handle.signal(BuildWorkflow.command, "!migration-approve")
            else:  # the plain `temporal` CLI, by the seed's name
                sent = await asyncio.to_thread(
                    temporal_cli,
                    temporal_server.address, "workflow", "signal", "--workflow-id", handle.id,
                    "--name", "!migration-cancel",
                )  # fmt: skip
                assert sent.returncode == 0, sent.stderr
            result = BuildResult.model_validate(await handle.result())
            await record_history(client.get_workflow_handle(f"{handle.id}-a"))

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    report = (repo.design_dir / "build-reviews/a/MIGRATION.md").read_text()
    on_branch = git_out(repo.origin, "ls-tree", "-r", "--name-only", "feat/a").splitlines()
    if answer == "approve":
        assert "Approved by a person for findings" in report
        assert "db/002_drop_clicks.sql" in on_branch
        assert [r for r in messages.requests if r.role == "builder" and r.round == 1] == []
    else:
        assert (
            "Cancelled by a person (`!migration-cancel`): reverted db/002_drop_clicks.sql" in report
        )
        assert "No high-risk statement remains" in report
        assert "db/002_drop_clicks.sql" not in on_branch
        assert git_out(repo.origin, "show", "feat/a:src/a.txt") == "a, without the schema change"
        rework = [r for r in messages.requests if r.role == "builder" and r.round == 1]
        assert rework and "cancelled the risky schema change" in rework[0].prompt
    log = git_out(repo.origin, "log", "--format=%s", "feat/a")
    assert ("take back the risky schema change" in log) == (answer == "cancel"), log
