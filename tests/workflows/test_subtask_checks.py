"""Seed 003's checks on every subtask, before its PR (issue 23): a model that writes a TODO the
first time it writes a file has it fixed by the subtask's own fixer, so every PR opens clean
and integration passes at its first run; one that leaves a promised file out is put to a
person, the file named. Real Temporal, real git, the real clients against the stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from contracts.build import BuildResult, BuildStatus
from contracts.human import DecideInput, PendingDecision
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model, status_of, until
from tests.workflows.test_build_loop import REPO, git_out, github, start_build, tiny_project
from tests.workflows.test_integration import ONE_REVIEWER, build, builder, passes_review, write
from worker import build_worker

__all__ = ["github"]


async def test_a_marker_is_fixed_before_any_pr_and_integration_passes_at_once(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = [
        builder("a", [write("src/a.txt", "a\n"), write("src/a_impl.py", "A = 1\n")]),
        builder("b", [write("src/b.txt", "b\n"), write("src/b_impl.py", "B = 2\n")]),
        passes_review("a"),
        passes_review("b"),
    ]
    scenario = {"rules": rules, "quirks": {"first_write_marker": "TODO: finish this"}}
    with scripted_model(scenario, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        result = await build(client, task_queue, repo.design_dir)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    for name in ("a", "b"):
        # Round 1 found the marker; the subtask's own fixer removed it; round 2 passed.
        sub = next(s for s in result.subtasks if s.subtask == name)
        assert sub.rounds == 2, sub
        log = repo.design_dir / f"build-reviews/{name}/gates/round-1/smell-3.log"
        assert f"src/{name}_impl.py:2: `TODO` outside tests" in log.read_text()
        assert "TODO" not in git_out(repo.root, "show", f"feat/{name}:src/{name}_impl.py")
    fixers = sorted(r.scope for r in messages.requests if r.role == "fixer" and r.turn == 1)
    assert fixers == ["a", "b"]
    assert result.integration is not None and result.integration.status == "passed"
    assert result.integration.rounds == 1
    assert not [r for r in messages.requests if r.role == "integrator"]
    body = next(p["body"] for p in github.pulls(REPO) if p["head"]["ref"] == "feat/a")
    assert "smell: no TODO, FIXME, placeholder or mock code outside tests`: pass" in body


async def test_a_promised_file_left_out_is_put_to_a_person_naming_it(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = [
        builder("a", [write("src/a.txt", "a\n"), write("src/a_impl.py", "A = 1\n")]),
        passes_review("a"),
    ]
    scenario = {"rules": rules, "quirks": {"omit_files": ["src/a.txt"]}}
    with scripted_model(scenario, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER, top="stuck_rounds = 1")
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            async def asked() -> PendingDecision | None:
                st = await status_of(handle, BuildStatus)
                return next((v.decision for v in st.subtasks if v.name == "a"), None)

            question = await until(asked, limit=120, what="a's question")
            assert "gates red: smell: every promised file exists (src/a.txt: a's XML " in (
                question.prompt
            ), question.prompt
            await handle.signal("decide", DecideInput(scope="a", choice="skip"))
            result = BuildResult.model_validate(await handle.result())

    assert result.result == "SUBTASKS_INCOMPLETE"
    assert github.pulls(REPO) == []  # no PR opened with the file missing
