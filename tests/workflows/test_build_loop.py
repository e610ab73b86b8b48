"""The build loop end to end: real Temporal, real git (a bare `origin`), the real anthropic
client against the Messages API stand-in and PyGithub against the GitHub stand-in."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from activities.tracker import read_tracker
from contracts.build import BuildInput, BuildResult, BuildStatus
from contracts.human import DecideInput
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.support import make_project, record_history, scripted_model, status_of, until
from tests.workflows.builds import (
    ONE_REVIEWER,
    REPO,
    approve_artifacts,
    build,
    git_out,
    passes_review,
    start_build,
    tiny_design,
    tiny_project,
    wid,
    writes_file_rule,
)
from worker import build_worker
from workflows.build import BuildWorkflow
from workflows.subtask import SubtaskWorkflow


async def progress_reports(handle: WorkflowHandle) -> dict[str, list[dict]]:
    """Each subtask's `subtask_progress` signals, in the order the build received them."""
    found: dict[str, list[dict]] = {}
    async for event in handle.fetch_history_events():
        attrs = event.workflow_execution_signaled_event_attributes
        if event.HasField("workflow_execution_signaled_event_attributes") and (
            attrs.signal_name == "subtask_progress"
        ):
            report = json.loads(attrs.input.payloads[0].data)
            found.setdefault(report["subtask"], []).append(report)
    return found


async def test_example_builds_to_one_pr_per_subtask(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model(link_shortener_scenario(), monkeypatch, github.url) as messages:
        repo = make_project(tmp_path, github.url)
        approve_artifacts(repo.design_dir, repo.root)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id="build-link-shortener",  # the id the CLI derives; recorded for replay
                task_queue=task_queue,
            )
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)
            await record_history(client.get_workflow_handle(f"{handle.id}-04-service"))
            await record_history(client.get_workflow_handle(f"{handle.id}-integration"))
            reports = await progress_reports(handle)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    names = ["01-models", "02-storage", "03-codec", "04-service", "05-cli"]
    assert [s.subtask for s in result.subtasks] == names
    pulls = github.pulls(REPO)
    integration = next(p for p in pulls if p["head"]["ref"] == "integration/link-shortener")
    pulls.remove(integration)
    assert sorted(p["head"]["ref"] for p in pulls) == [f"feat/{n}" for n in names]
    assert all(p["state"] == "open" for p in pulls)
    # Stacked: a subtask with one dependency is reviewed against that dependency's branch.
    bases = {p["head"]["ref"]: p["base"]["ref"] for p in pulls}
    assert bases == {
        "feat/01-models": "main",
        "feat/02-storage": "feat/01-models",
        "feat/03-codec": "feat/01-models",
        "feat/04-service": "main",  # two dependencies: the body lists them to merge first
        "feat/05-cli": "feat/04-service",
    }
    body = next(p["body"] for p in pulls if p["head"]["ref"] == "feat/04-service")
    assert "code-correctness" in body and "0.97" in body
    # Seed 002's Testing section: the subtask's pytest gate, counted from its output.
    assert "- `pytest -q tests/test_service.py` (pytest): " in body, body
    assert " passed, 0 failed, 0 skipped" in body
    assert "review record `design-docs/active/link-shortener/build-reviews/04-service`" in body
    # Dependencies: the diamond's join starts from both of its dependencies' work.
    for dep in ("feat/02-storage", "feat/03-codec"):
        merged = subprocess.run(
            ["git", "merge-base", "--is-ancestor", dep, "feat/04-service"], cwd=repo.root
        )
        assert merged.returncode == 0, dep
    assert git_out(repo.root, "show", "feat/04-service:shortener/storage.py")
    # Integration passed: nothing more will be done in the worktrees, so they are gone
    # (their work is on origin); the report says what was freed.
    assert not any((repo.root / ".worktrees").iterdir())
    assert result.cleanup is not None and result.cleanup.kept == {}
    assert sorted(result.cleanup.removed) == [*names, "integration"]
    # Each subtask: builder, a round below the bar, a fix, a round above it, and green gates.
    for sub in result.subtasks:
        assert sub.rounds == 2 and min(sub.scores.values()) >= 0.96, sub
        reviews = sorted((repo.design_dir / "build-reviews" / sub.subtask).glob("*_code-*.md"))
        assert len(reviews) == 6
        assert (repo.design_dir / f"build-reviews/{sub.subtask}/gates/round-2").is_dir()
    tracker = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    rows = tracker["link-shortener"]
    assert [r.subtask for r in rows] == [*names, "integration"]
    assert [r.status for r in rows] == ["pr_created"] * 6
    assert [r.batch for r in rows] == [1, 2, 2, 3, 4, 5]
    assert [r.pr for r in rows] == [
        next(p["html_url"] for p in pulls if p["head"]["ref"] == f"feat/{n}") for n in names
    ] + [integration["html_url"]]
    report = (repo.design_dir / "build-reviews/REPORT.md").read_text()
    assert "ALL_SUBTASKS_PR_CREATED" in report and "**passed**" in report
    assert "- Removed: 01-models, 02-storage," in report and " MB freed)" in report
    # Integration: every branch merged in DAG order onto integration/<feature> from main,
    # verified (gates and smell checks), one PR against main that lists every subtask PR.
    assert result.integration is not None and result.integration.status == "passed"
    assert result.integration.pr_url == integration["html_url"]
    assert integration["base"]["ref"] == "main"
    assert all(p["html_url"] in integration["body"] for p in pulls)
    for n in names:
        ancestor = ["git", "merge-base", "--is-ancestor", f"feat/{n}", "integration/link-shortener"]
        assert subprocess.run(ancestor, cwd=repo.root).returncode == 0, n
        assert git_out(repo.origin, "rev-parse", "integration/link-shortener")
    merged = git_out(
        repo.root, "log", "--merges", "--format=%s", "main..integration/link-shortener"
    )
    order = [line.split("'")[1] for line in reversed(merged.splitlines()) if "into integ" in line]
    assert order == [f"feat/{n}" for n in names]
    text = (repo.design_dir / "build-reviews/INTEGRATION.md").read_text()
    assert "- Outcome: **passed**" in text and "None: every branch merged cleanly." in text
    assert text.index("`feat/01-models`") < text.index("`feat/05-cli`")
    assert "| `smell: imports resolve` | pass |" in text
    # A subtask reports only what changes its row (status, round, scores, PR), not each
    # phase or agent (one signal per phase change and per agent before): 7 agents, 2 rounds each.
    for sub in result.subtasks:
        shown = reports[sub.subtask]
        assert [r["status"] for r in shown][-1] == "pr_created"
        assert len(shown) <= 2 + 2 * sub.rounds + 1, shown
        tracked = [{k: v for k, v in r.items() if k not in ("phase", "ledger")} for r in shown]
        assert all(a != b for a, b in itertools.pairwise(tracked)), shown
    # Order: nothing started before its dependencies had PRs.
    first = {r.scope: r.at for r in reversed(messages.requests)}
    last = {r.scope: r.at for r in messages.requests}
    assert first["04-service"] > max(last["02-storage"], last["03-codec"])
    assert first["02-storage"] > last["01-models"] and first["05-cli"] > last["04-service"]


async def test_dag_scheduling_beats_the_batch_barrier(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """a -> b and c -> d: b starts as soon as a has its PR, while c is still in review."""
    design = tiny_design(tmp_path / "src", {"a": [], "b": ["a"], "c": [], "d": ["c"]})
    slow_c = {  # c needs four rounds; a needs one
        "match": {"role": "code-correctness", "scope": "c"},
        "submit": {"score": 0.9, "recommended_fixer": "fixer"},
    }
    c_done = {"match": {"role": "code-correctness", "scope": "c", "round": 4}, "submit": {}}
    fast = {"match": {"kind": "review", "scope": "a"}, "submit": {"score": 0.99}}
    rules = [writes_file_rule(n) for n in "abcd"]
    scenario = {"rules": [fast, c_done, slow_c, *rules]}
    with scripted_model(scenario, monkeypatch, github.url) as messages:
        repo = make_project(
            tmp_path / "p", github.url, ONE_REVIEWER,
            design_source=design,
        )  # fmt: skip
        approve_artifacts(repo.design_dir, repo.root)
        async with build_worker(client, task_queue):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir), max_concurrent_subtasks=3),
                id=wid(),
                task_queue=task_queue,
            )
            result = BuildResult.model_validate(await handle.result())
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    started = {r.scope: r.at for r in reversed(messages.requests) if r.role == "builder"}
    c_reviews = [r.at for r in messages.requests if r.scope == "c" and r.kind == "review"]
    # A batch barrier would hold b until every stage-1 subtask (c too) had its PR.
    assert started["b"] < max(c_reviews)
    assert result.max_running >= 2


async def test_failing_gate_gets_a_fix_round(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builder = writes_file_rule("a")
    builder["steps"] = [{"tool": "write_file", "input": {"path": "src/a.txt", "content": "bad"}}]
    fixer = {
        "match": {"role": "fixer", "scope": "a"},
        "steps": [{"tool": "write_file", "input": {"path": "src/a.txt", "content": "good"}}],
        "submit": {"summary": "fixed the gate", "files_changed": ["src/a.txt"]},
    }
    config = (
        '\n[reviewers]\ncode = ["code-correctness"]\n\n'
        '[gates]\ncommands = ["grep -q good src/a.txt"]\n'
    )
    with scripted_model(
        {"rules": [builder, fixer, passes_review()]}, monkeypatch, github.url
    ) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, config)
        result = await build(client, task_queue, repo.design_dir)
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    assert result.subtasks[0].rounds == 2
    fixer_prompt = next(r.prompt for r in messages.requests if r.role == "fixer")
    assert "grep -q good src/a.txt" in fixer_prompt  # the failing gate is the fixer's issue
    assert "0.99" not in fixer_prompt  # fixers never see scores
    log = repo.design_dir / "build-reviews/a/gates/round-1"
    assert any("[exit 1]" in p.read_text() for p in log.glob("*.log"))


@pytest.mark.parametrize("choice", ["skip", "simplify", "debug", "continue"])
async def test_stuck_subtask_asks_the_person(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
    choice: str,
) -> None:
    low = {"match": {"kind": "review", "scope": "a"}, "submit": {"score": 0.5}}
    rules = [low, passes_review()]
    with scripted_model(
        {"rules": [*(writes_file_rule(n) for n in "ab"), *rules]}, monkeypatch, github.url
    ) as messages:
        repo = tiny_project(
            tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER, top="stuck_rounds = 2"
        )
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            async def waiting(kind: str = "stuck", after: int = 0) -> BuildStatus | None:
                st = await status_of(handle, BuildStatus)
                if not st.subtasks:
                    return None
                a = st.subtasks[0]
                asked = a.decision is not None and a.decision.kind == kind
                return st if asked and a.round > after else None

            st = await until(waiting, what="the stuck prompt")
            assert st.subtasks[0].decision.options == ["skip", "simplify", "debug", "continue"]
            assert "decide a" in st.waiting_for
            if choice == "skip":
                await handle.signal(BuildWorkflow.decide, DecideInput(scope="a", choice="skip"))
                result = BuildResult.model_validate(await handle.result())
                assert result.result == "SUBTASKS_INCOMPLETE"
                by = {s.subtask: s for s in result.subtasks}
                assert by["a"].status == "blocked" and "skipped by a person" in by["a"].notes
                assert by["b"].status == "blocked" and "dependency a" in by["b"].notes
                assert github.pulls(REPO) == []
                return
            if choice == "simplify":
                messages.reset({"rules": [*(writes_file_rule(n) for n in "ab"), rules[1]]})
                await handle.signal(BuildWorkflow.command, "decide a simplify")
                result = BuildResult.model_validate(await handle.result())
                assert any(r.role == "design-writer" for r in messages.requests)
            elif choice == "debug":
                await handle.signal(BuildWorkflow.decide, DecideInput(scope="a", choice="debug"))
                await until(lambda: waiting("debug"), what="the debug pause")
                messages.reset({"rules": [*(writes_file_rule(n) for n in "ab"), rules[1]]})
                await handle.signal(BuildWorkflow.decide, DecideInput(scope="a", choice="continue"))
                result = BuildResult.model_validate(await handle.result())
                assert not any(r.role == "fixer" for r in messages.requests)
            else:
                await handle.signal(BuildWorkflow.decide, DecideInput(scope="a", choice="continue"))
                st = await until(lambda: waiting(after=3), what="the second stuck prompt")
                assert st.subtasks[0].round == 5
                messages.reset({"rules": [*(writes_file_rule(n) for n in "ab"), rules[1]]})
                await handle.signal(BuildWorkflow.decide, DecideInput(scope="a", choice="continue"))
                result = BuildResult.model_validate(await handle.result())
    assert result.result == "ALL_SUBTASKS_PR_CREATED"


async def test_forge_faults_retry_and_existing_pr_is_reused(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model(
        {"rules": [writes_file_rule("a"), passes_review()]}, monkeypatch, github.url
    ):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        github.inject("POST", r"/pulls$", 502, count=1)
        github.inject("POST", r"/pulls$", 422, count=1, body={
            "message": "Validation Failed",
            "errors": [{"resource": "PullRequest", "code": "custom",
                        "message": "A pull request already exists for demo:feat/a."}],
        })  # fmt: skip
        result = await build(client, task_queue, repo.design_dir)
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    heads = sorted(p["head"]["ref"] for p in github.pulls(REPO))
    assert heads == ["feat/a", "integration/link-shortener"]  # feat/a's PR found, not doubled
    posts = [r for r in github.requests if r.method == "POST" and r.path.endswith("/pulls")]
    assert [r.status for r in posts][:2] == [502, 422]


async def test_pause_resume_and_cancel(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # b's builder hangs on its first request, so the cancellation always finds b mid-build.
    b_hangs = writes_file_rule("b") | {"faults": [{"type": "hang", "seconds": 300}]}
    rules = [writes_file_rule("a"), b_hangs, passes_review()]
    with scripted_model({"rules": rules}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            await handle.signal(BuildWorkflow.pause)
            a = client.get_workflow_handle(f"{handle.id}-a")

            async def quiet() -> bool:
                """Paused, and the agent that was already running has finished."""
                st = await status_of(handle, BuildStatus)
                try:
                    pending = (await a.describe()).raw_description.pending_activities
                except RPCError:
                    pending = []  # the pause came before a was started: it waits unstarted
                return st.paused and not pending

            await until(quiet, what="the paused build to go quiet")
            st = await status_of(handle, BuildStatus)
            assert st.paused and st.waiting_for.startswith("!resume")
            assert not any(r.scope == "b" for r in messages.requests)
            await handle.signal(BuildWorkflow.resume)
            await until(lambda: _started(messages, "b"), what="b to start after resume")
            await handle.cancel()
            await until(lambda: _closed(handle), what="the cancelled build")
            assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
            # From the pause to the resume, a started no agent (its history says so).
            between, agents_while_paused = False, []
            async for event in a.fetch_history_events():
                signaled = event.workflow_execution_signaled_event_attributes.signal_name
                if signaled in ("!pause", "!resume"):
                    between = signaled == "!pause"
                scheduled = event.activity_task_scheduled_event_attributes.activity_type.name
                if between and scheduled.startswith("agent."):
                    agents_while_paused.append(scheduled)
            assert agents_while_paused == []
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    statuses = {r.subtask: r.status for r in rows[repo.design_dir.name]}
    assert statuses["b"] == "cancelled"
    # Cancelling never deletes work: branches and worktrees stay.
    assert "feat/a" in git_out(repo.root, "branch", "--list", "feat/*")
    assert (repo.root / ".worktrees/a").is_dir()


async def _started(messages: MessagesStandIn, scope: str) -> bool:
    return any(r.scope == scope for r in messages.requests)


async def _closed(handle) -> bool:  # type: ignore[no-untyped-def]
    return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING


async def test_dependency_merge_conflict_is_put_to_the_person(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """a and b write the same file differently; c needs both: git cannot merge them."""

    def clash(name: str) -> dict:
        rule = writes_file_rule(name)  # its promised file, and the one both write
        rule["steps"].append(
            {"tool": "write_file", "input": {"path": "src/shared.txt", "content": name}}
        )
        return rule

    rules = [clash("a"), clash("b"), writes_file_rule("c"), passes_review()]
    with scripted_model({"rules": rules}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": [], "c": ["a", "b"]}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            async def conflict() -> BuildStatus | None:
                st = await status_of(handle, BuildStatus)
                c = next((v for v in st.subtasks if v.name == "c"), None)
                ok = c is not None and c.decision is not None and c.decision.kind == "conflict"
                return st if ok else None

            st = await until(conflict, what="the merge-conflict prompt")
            c = next(v for v in st.subtasks if v.name == "c")
            assert c.decision is not None and "src/shared.txt" in c.decision.prompt
            assert c.decision.options == ["continue", "skip"]
            # Nothing half-merged is left behind: no branch for c yet, the checkout is clean.
            assert git_out(repo.root, "branch", "--list", "feat/c") == ""
            assert git_out(repo.root, "status", "--porcelain", "--untracked-files=no") == ""
            await handle.signal(BuildWorkflow.decide, DecideInput(scope="c", choice="skip"))
            result = BuildResult.model_validate(await handle.result())
    by = {s.subtask: s for s in result.subtasks}
    assert by["a"].status == by["b"].status == "pr_created"
    assert by["c"].status == "blocked" and "merge conflict" in by["c"].notes


async def test_a_subtask_cancelled_mid_agent_says_so_and_keeps_its_work(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cancel that lands while an activity runs arrives as an ActivityError: still cancelled."""
    stalled = {**writes_file_rule("a"), "faults": [{"type": "hang", "seconds": 60}]}
    with scripted_model({"rules": [stalled]}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            await until(lambda: _started(messages, "a"), what="a's builder to be asked")
            child = client.get_workflow_handle(f"{handle.id}-a")
            await child.cancel()
            await until(lambda: _closed(child), what="the cancelled subtask")
            assert (await child.describe()).status == WorkflowExecutionStatus.CANCELED
            st = await child.query(SubtaskWorkflow.status)
            result = BuildResult.model_validate(await handle.result())
    assert st.status == "cancelled" and "worktree kept" in st.notes
    assert result.result == "SUBTASKS_INCOMPLETE"
    assert (repo.root / ".worktrees/a").is_dir()
