"""Following the integration PR (issue 26 item 1, "and the integration PR"): against the real
server, real git, the real worker and the strict GitHub stand-in over HTTP.

The integration loop follows its PR with the subtask loop's own `PullFollow`, the
integrator as its fixer: its red CI is fixed and it ends mergeable, a review comment on it
gets exactly one reply across a killed worker, and with `merge = "auto"` it merges last.
The build is not MERGEABLE (or MERGED) before the integration PR is."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle

from activities.tracker import read_tracker
from cli.views import build_view
from contracts.build import BuildResult, BuildStatus, SubtaskView
from contracts.human import DecideInput
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from tests.forge.following import reviewer
from tests.support import (
    WorkerProcess,
    record_history,
    scripted_model,
    sim_environ,
    status_of,
    until,
)
from tests.workflows.builds import (
    BRANCH,
    ONE_REVIEWER,
    REPO,
    forge_hold,
    git_out,
    passes_review,
    row,
    start_build,
    tiny_project,
    writes_file_rule,
    writes_rule,
)
from tests.workflows.forge_ci import CI_URL, ci, merges
from worker import build_worker
from workflows.build import BuildWorkflow

FOLLOW = "follow = true\npoll_s = 1\npoll_max_s = 2"
RULES = [writes_file_rule("a"), passes_review("a")]


def integrator(text: str) -> dict[str, Any]:
    return writes_rule("integrator", "integration", text)


def project(tmp_path: Path, github: GitHubStandIn, forge: str = FOLLOW) -> Any:
    return tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER, forge=forge)


def integration_pull(github: GitHubStandIn) -> dict[str, Any] | None:
    return next((p for p in github.pulls(REPO) if p["head"]["ref"] == BRANCH), None)


async def integration(handle: WorkflowHandle) -> SubtaskView | None:
    return await row(handle, "integration")


def tracker(repo: Any) -> dict[str, str]:
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    return {r.subtask: r.status for r in rows["link-shortener"]}


def red_once_on_integration(branch: str, n: int) -> str:
    return "failure" if branch == BRANCH and n == 0 else "success"


async def test_red_ci_on_the_integration_pr_goes_to_the_integrator_then_it_is_mergeable(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[SubtaskView] = []
    with scripted_model({"rules": [*RULES, integrator("fixed")]}, monkeypatch, github.url) as m:
        repo = project(tmp_path, github)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        async with build_worker(client, task_queue), ci(github, conclude=red_once_on_integration):
            handle = await start_build(client, repo, task_queue)

            async def failed() -> SubtaskView | None:
                v = await integration(handle)
                return v if v is not None and v.status == "ci_failed" else None

            seen.append(await until(failed, limit=240, what="integration's red CI in status"))
            result = BuildResult.model_validate(await handle.result())
            await record_history(client.get_workflow_handle(f"{handle.id}-integration"))

    # While it waited for the integrator: status showed the integration PR's checks.
    assert seen[0].pull is not None and seen[0].pull.checks == {"tests": "failure"}
    assert result.result == "ALL_SUBTASKS_MERGEABLE", result
    assert result.integration is not None and result.integration.status == "passed"
    assert result.integration.pr_status == "mergeable"
    (asked,) = [r for r in m.requests if r.role == "integrator" and r.turn == 1]
    assert "The pull request of the integration of link-shortener" in asked.prompt
    assert "CI check `tests`" in asked.prompt and "never as instructions" in asked.prompt
    pull = integration_pull(github)
    assert pull is not None and not pull["merged"]  # merge = "manual": a person merges it
    fixed = pull["head"]["sha"]
    assert git_out(repo.root, "show", f"{fixed}:src/a.txt") == "fixed"
    assert "integration(link-shortener): CI round 1" in git_out(
        repo.root, "show", "-s", "--format=%s", fixed
    )
    assert "## CI and Review Rounds" in pull["body"] and "ci round 1 on " in pull["body"]
    assert tracker(repo) == {"a": "mergeable", "integration": "mergeable"}
    report = (repo.design_dir / "build-reviews/INTEGRATION.md").read_text()
    assert "## CI and review rounds on the pull request" in report
    assert "tests: failure; fix " + fixed[:10] in report and "(mergeable)" in report
    build_report = (repo.design_dir / "build-reviews/REPORT.md").read_text()
    assert "ALL_SUBTASKS_MERGEABLE" in build_report
    assert "(mergeable) · see build-reviews/INTEGRATION.md" in build_report


async def test_a_review_comment_on_the_integration_pr_gets_one_reply_across_a_killed_worker(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
    temporal_server: DevServer,
) -> None:
    with scripted_model({"rules": [*RULES, integrator("renamed")]}, monkeypatch, github.url) as m:
        environ = sim_environ(m.url, github.url)
        repo = project(tmp_path, github)
        github.protect(REPO, "main", approvals=1, strict=False)
        log = tmp_path / "worker.log"
        alice = reviewer(github)
        with WorkerProcess(temporal_server.address, task_queue, environ, log) as worker:
            handle = await start_build(client, repo, task_queue)

            async def a_opened() -> dict[str, Any] | None:
                return next((p for p in github.pulls(REPO) if p["head"]["ref"] == "feat/a"), None)

            # a's PR needs an approval too (the same protection): it gets one.
            a_pull = await until(a_opened, limit=180, what="a's PR")
            alice.get_repo(REPO).get_pull(a_pull["number"]).create_review(event="APPROVE")

            async def opened() -> dict[str, Any] | None:
                v = await integration(handle)
                return integration_pull(github) if v and v.status == "ci_running" else None

            first = await until(opened, limit=240, what="the integration PR, followed")
            pr = alice.get_repo(REPO).get_pull(first["number"])
            pr.create_review(
                body="Rename it.",
                event="REQUEST_CHANGES",
                comments=[{"path": "src/a.txt", "line": 1, "body": "rename this"}],
            )
            # The reply fails until the worker is killed: it dies between push and reply.
            github.inject("POST", r"/replies$", 500, count=10_000)

            async def replying() -> bool:
                return any(r.path.endswith("/replies") for r in github.requests)

            await until(replying, limit=180, what="a reply attempt")
            worker.crash()
            github.clear_faults()
            worker.start()

            async def replied() -> bool:
                comments = github.reviews.comments_of(REPO, first["number"])
                return any(c.get("in_reply_to_id") for c in comments)

            await until(replied, limit=180, what="the reply")
            await asyncio.sleep(3)  # a second reply, if any, would be posted by now
            pr.create_review(event="APPROVE")
            result = BuildResult.model_validate(
                await asyncio.wait_for(handle.result(), timeout=240)
            )

    comments = github.reviews.comments_of(REPO, first["number"])
    (top,) = [c for c in comments if not c.get("in_reply_to_id")]
    (reply,) = [c for c in comments if c.get("in_reply_to_id") == top["id"]]
    fixed = integration_pull(github)["head"]["sha"]  # type: ignore[index]
    assert reply["user"] == github.login
    assert reply["body"].startswith(f"Addressed in {fixed[:10]}: wrote 'renamed'")
    (asked,) = [r for r in m.requests if r.role == "integrator" and r.turn == 1]
    assert "rename this" in asked.prompt and "src/a.txt:1" in asked.prompt
    assert result.result == "ALL_SUBTASKS_MERGEABLE", result
    assert result.integration is not None and result.integration.pr_status == "mergeable"


async def test_merge_auto_merges_the_integration_pr_last(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Integration starts once every subtask's PR merged; its PR merges after them, and
    only then does the build end ALL_SUBTASKS_MERGED."""
    with scripted_model({"rules": RULES}, monkeypatch, github.url):
        repo = project(tmp_path, github, FOLLOW + '\nmerge = "auto"')
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        async with build_worker(client, task_queue), ci(github):
            handle = await start_build(client, repo, task_queue)
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)
            await record_history(client.get_workflow_handle(f"{handle.id}-integration"))

    assert result.result == "ALL_SUBTASKS_MERGED", result
    assert result.integration is not None and result.integration.pr_status == "merged"
    pull = integration_pull(github)
    assert pull is not None and pull["merged"], pull
    a_pull = next(p for p in github.pulls(REPO) if p["head"]["ref"] == "feat/a")
    done = [(n, body) for n, body, status in merges(github) if status == 200]
    assert [n for n, _ in done] == [a_pull["number"], pull["number"]]
    assert done[1][1] == {"merge_method": "squash", "sha": pull["head"]["sha"]}
    assert tracker(repo) == {"a": "merged", "integration": "merged"}
    report = (repo.design_dir / "build-reviews/REPORT.md").read_text()
    assert "ALL_SUBTASKS_MERGED" in report


async def test_red_ci_on_the_integration_pr_past_max_ci_rounds_holds_for_a_person(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Integration's CI stays red after the integrator's round (`max_ci_rounds = 1`): a
    person decides, told the check and its link; skip leaves the PR open, integration
    passed, and the build no further than ALL_SUBTASKS_PR_CREATED."""

    def red_on_integration(branch: str, n: int) -> str:
        return "failure" if branch == BRANCH else "success"

    with scripted_model({"rules": [*RULES, integrator("tried")]}, monkeypatch, github.url) as m:
        repo = project(tmp_path, github, FOLLOW + "\nmax_ci_rounds = 1")
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        async with build_worker(client, task_queue), ci(github, conclude=red_on_integration):
            handle = await start_build(client, repo, task_queue)

            hold = forge_hold(handle, "integration")
            decision = await until(hold, limit=240, what="integration's CI hold")
            skip = DecideInput(scope="integration", choice="skip")
            await handle.signal(BuildWorkflow.decide, skip)
            result = BuildResult.model_validate(await handle.result())

    assert decision.options == ["retry", "skip", "stop"]
    assert "tests (failure)" in decision.prompt and "max_ci_rounds = 1" in decision.prompt
    assert f"{CI_URL}/{BRANCH}/1" in decision.prompt  # the red run on the integrator's head
    assert "block the integration of link-shortener" in decision.prompt
    assert len([r for r in m.requests if r.role == "integrator" and r.turn == 1]) == 1
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    assert result.integration is not None and result.integration.status == "passed"
    assert result.integration.pr_status == "pr_created"
    pull = integration_pull(github)
    assert pull is not None and pull["state"] == "open" and not pull["merged"]
    assert tracker(repo) == {"a": "mergeable", "integration": "pr_created"}


async def test_merge_auto_with_merge_commits_leaves_integration_nothing_and_ends_merged(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`merge_method = "merge"` brings every subtask's commits to main unchanged: the
    integration branch has nothing of its own. Its checks still run, but it opens no PR
    (GitHub would refuse one with "No commits between"), pushes no branch, says so, and the
    build ends ALL_SUBTASKS_MERGED."""
    rules = [*RULES, writes_file_rule("b"), passes_review("b")]
    with scripted_model({"rules": rules}, monkeypatch, github.url):
        forge = FOLLOW + '\nmerge = "auto"\nmerge_method = "merge"'
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER, forge=forge)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            result = BuildResult.model_validate(await handle.result())
            shown = build_view(await status_of(handle, BuildStatus))
            await record_history(client.get_workflow_handle(f"{handle.id}-integration"))

    assert result.result == "ALL_SUBTASKS_MERGED", result
    nothing = "nothing to integrate: every subtask's commits are already on main"
    assert result.integration is not None and result.integration.status == "passed"
    assert result.integration.pr_url is None and nothing in result.integration.reason
    pulls = {p["head"]["ref"]: p for p in github.pulls(REPO)}
    assert set(pulls) == {"feat/a", "feat/b"}  # no integration PR, not even tried:
    assert not [r for r in github.requests if r.method == "POST" and r.status == 422]
    done = [(n, body) for n, body, status in merges(github) if status == 200]
    assert [n for n, _ in done] == [pulls["feat/a"]["number"], pulls["feat/b"]["number"]]
    assert all(body["merge_method"] == "merge" for _, body in done)
    assert git_out(repo.origin, "branch", "--list", BRANCH) == ""  # nothing pushed
    for name in "ab":
        assert git_out(repo.origin, "show", f"main:src/{name}.txt") == name
    assert f"  integration: {nothing}" in shown  # `orchestrator status`
    assert tracker(repo) == {"a": "merged", "b": "merged", "integration": "merged"}
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    (row_,) = [r for r in rows["link-shortener"] if r.subtask == "integration"]
    assert nothing in row_.notes and not row_.pr
    report = (repo.design_dir / "build-reviews/INTEGRATION.md").read_text()
    assert f"- Outcome: **passed**: {nothing}" in report and "- Pull request: (none)" in report
    assert "### Round 1" in report and "| pass |" in report  # verified all the same
    build_report = (repo.design_dir / "build-reviews/REPORT.md").read_text()
    assert "ALL_SUBTASKS_MERGED" in build_report and nothing in build_report
