"""Merging in dependency order (`[forge] merge = "auto"`, issue 26 item 5): against the real
server, real git, the real worker and the strict GitHub stand-in over HTTP.

A dependent's PR merges only after its dependency's; once that merged, the dependent's PR
is retargeted to the base, brought up to date, its checks run again on the new head and it
merges that head, never the one from before. GitHub's 405 and 409 are waited out and
looked at again; a killed worker while a PR waits for its turn loses nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from activities.tracker import read_tracker
from contracts.build import BuildResult, SubtaskView
from contracts.human import DecideInput
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from tests.forge.following import reviewer
from tests.support import (
    WorkerProcess,
    record_history,
    scripted_model,
    sim_environ,
    until,
)
from tests.workflows.builds import (
    ONE_REVIEWER,
    REPO,
    forge_hold,
    git_out,
    passes_review,
    push_to_main,
    row,
    start_build,
    tiny_project,
    writes_file_rule,
    writes_rule,
)
from tests.workflows.forge_ci import ci, merges
from worker import build_worker
from workflows.build import BuildWorkflow

INTEGRATED = "integration/link-shortener"
AUTO = 'follow = true\npoll_s = 1\npoll_max_s = 2\nmerge = "auto"'


def rules(names: str) -> list[dict[str, Any]]:
    return [*(writes_file_rule(n) for n in names), *(passes_review(n) for n in names)]


def pulls_by_branch(github: GitHubStandIn) -> dict[str, dict[str, Any]]:
    """The subtasks' PRs (not integration's) by branch."""
    return {p["head"]["ref"]: p for p in github.pulls(REPO) if p["head"]["ref"] != INTEGRATED}


def tracker(repo: Any) -> dict[str, str]:
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    return {r.subtask: r.status for r in rows["link-shortener"]}


async def test_a_chain_merges_in_dependency_order_and_the_dependent_is_followed_again(
    client: Client, task_queue: str, tmp_path: Path, github: GitHubStandIn, monkeypatch: Any
) -> None:
    """b depends on a (its PR stacked on feat/a), c on nothing: every PR merges, b only after
    a, on a head brought up to date with main after a merged and checked again."""
    with scripted_model({"rules": rules("abc")}, monkeypatch, github.url):
        subplans = {"a": [], "b": ["a"], "c": []}
        repo = tiny_project(tmp_path, github.url, subplans, ONE_REVIEWER, forge=AUTO)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        # a's CI waits for b's PR: b's is opened stacked on feat/a, a not merged yet.
        async with build_worker(client, task_queue), ci(github, {"feat/a": "feat/b"}) as ran:
            handle = await start_build(client, repo, task_queue)
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)
            await record_history(client.get_workflow_handle(f"{handle.id}-b"))

    assert result.result == "ALL_SUBTASKS_MERGED", result
    assert {s.subtask: s.status for s in result.subtasks} == {n: "merged" for n in "abc"}
    pulls = pulls_by_branch(github)
    a, b = pulls["feat/a"], pulls["feat/b"]
    assert all(p["merged"] and p["state"] == "closed" for p in pulls.values()), pulls
    # b was stacked on a's branch, then retargeted to main once a merged.
    (opened,) = [
        r
        for r in github.requests
        if r.method == "POST" and r.path.endswith("/pulls") and r.body["head"] == "feat/b"
    ]
    assert opened.body["base"] == "feat/a"
    edits = [
        r for r in github.requests if r.method == "PATCH" and r.path.endswith(f"/{b['number']}")
    ]
    assert [r.body["base"] for r in edits if "base" in r.body] == ["main"]
    assert b["base"]["ref"] == "main"
    # Dependency order: a's merge came first; each merged the head CI ran on.
    done = [(n, body) for n, body, status in merges(github) if status == 200]
    order = [n for n, _ in done]
    assert order.index(a["number"]) < order.index(b["number"])
    b_heads = [sha for ref, sha in ran if ref == "feat/b"]
    assert len(b_heads) == 2, ran  # checks ran again on the head brought up to date
    (b_merge,) = [body for n, body in done if n == b["number"]]
    assert b_merge == {"merge_method": "squash", "sha": b_heads[1]}
    parents = git_out(repo.root, "show", "-s", "--format=%P", b_heads[1]).split()
    assert b_heads[0] in parents  # main merged into b's branch: nothing of it rewritten
    # The base branch has every subtask's work.
    for name in "abc":
        assert git_out(repo.origin, "show", f"main:src/{name}.txt") == name
    assert {n: tracker(repo)[n] for n in "abc"} == {n: "merged" for n in "abc"}
    report = (repo.design_dir / "build-reviews/REPORT.md").read_text()
    assert "ALL_SUBTASKS_MERGED" in report and "merged into main as" in report
    (b_result,) = [s for s in result.subtasks if s.subtask == "b"]
    assert [r.kind for r in b_result.follow_rounds] == ["update"]
    assert "a merged; retargeted from feat/a to main" in b_result.follow_rounds[0].note


async def test_red_ci_and_a_review_are_answered_then_every_pr_merges_in_order(
    client: Client, task_queue: str, tmp_path: Path, github: GitHubStandIn, monkeypatch: Any
) -> None:
    """The whole way after "PR opened", as the issue's outside check plays it: a's first CI
    run fails and a fixer's push turns it green; alice requests changes on b (which depends
    on a) and gets exactly one reply; every PR, integration's last, merges in dependency
    order, the polling is conditional, and the build ends ALL_SUBTASKS_MERGED."""
    fixers = [
        writes_rule("fixer", "a", "a fixed", "src/a.txt"),
        writes_rule("fixer", "b", "b2", "src/b.txt"),
    ]

    def red_first_on_a(branch: str, n: int) -> str:
        return "failure" if (branch, n) == ("feat/a", 0) else "success"

    with scripted_model({"rules": [*rules("ab"), *fixers]}, monkeypatch, github.url) as model:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER, forge=AUTO)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        # a's CI reports once b's PR is open, so b's review comes before a can merge.
        async with (
            build_worker(client, task_queue),
            ci(github, {"feat/a": "feat/b"}, conclude=red_first_on_a) as ran,
        ):
            handle = await start_build(client, repo, task_queue)

            async def b_opened() -> int | None:
                b = pulls_by_branch(github).get("feat/b")
                return b["number"] if b else None

            alice = reviewer(github).get_repo(REPO).get_pull(await until(b_opened, limit=180))
            alice.create_review(
                body="Not yet.",
                event="REQUEST_CHANGES",
                comments=[{"path": "src/b.txt", "line": 1, "body": "call it b2"}],
            )
            result = BuildResult.model_validate(await handle.result())

    assert result.result == "ALL_SUBTASKS_MERGED", result
    pulls = {p["head"]["ref"]: p for p in github.pulls(REPO)}
    assert all(p["merged"] for p in pulls.values()) and INTEGRATED in pulls, pulls
    order = [n for n, _, status in merges(github) if status == 200]
    numbers = [pulls[ref]["number"] for ref in ("feat/a", "feat/b", INTEGRATED)]
    assert order == numbers  # dependency order, integration's last
    # Red CI: a fixer was told the check, and its push is the head that ran green and merged.
    a_heads = [sha for ref, sha in ran if ref == "feat/a"]
    assert len(a_heads) == 2 and git_out(repo.root, "show", f"{a_heads[1]}:src/a.txt") == "a fixed"
    (asked,) = [r for r in model.requests if (r.role, r.scope, r.turn) == ("fixer", "a", 1)]
    assert "CI check `tests`" in asked.prompt
    # The review: one reply to its one comment, naming the fix; the fix reached main.
    comments = github.reviews.comments_of(REPO, alice.number)
    (top,) = [c for c in comments if not c.get("in_reply_to_id")]
    (reply,) = [c for c in comments if c.get("in_reply_to_id") == top["id"]]
    assert reply["user"] == github.login and "wrote 'b2'" in reply["body"]
    assert git_out(repo.origin, "show", "main:src/b.txt") == "b2"
    assert git_out(repo.origin, "show", "main:src/a.txt") == "a fixed"
    # Conditional requests: unchanged polls were answered 304.
    assert any(r.status == 304 and r.method == "GET" for r in github.requests)
    assert tracker(repo) == {"a": "merged", "b": "merged", "integration": "merged"}


async def test_a_conflict_after_the_dependency_merged_goes_to_the_conflict_fixer(
    client: Client, task_queue: str, tmp_path: Path, github: GitHubStandIn, monkeypatch: Any
) -> None:
    """b is stacked on a; meanwhile main changes b's file. Once a merged, b's update from
    main conflicts: the conflict fixer resolves it, and b merges the resolved head."""
    resolve = {
        "match": {"role": "fixer", "scope": "b"},
        "steps": [{"tool": "write_file", "input": {"path": "src/b.txt", "content": "b, main"}}],
        "submit": {"summary": "kept both", "files_changed": ["src/b.txt"]},
    }
    with scripted_model({"rules": [*rules("ab"), resolve]}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER, forge=AUTO)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            async def b_opened() -> bool:
                return "feat/b" in pulls_by_branch(github)

            await until(b_opened, limit=180, what="b's PR")
            push_to_main(tmp_path, repo, "src/b.txt", "main\n")  # a has no CI yet
            async with ci(github) as ran:
                result = BuildResult.model_validate(await handle.result())

    assert result.result == "ALL_SUBTASKS_MERGED", result
    (b,) = [s for s in result.subtasks if s.subtask == "b"]
    assert [r.kind for r in b.follow_rounds] == ["update", "conflict"]
    assert b.follow_rounds[0].note.endswith("update-branch from main: conflict")
    resolved = b.follow_rounds[1].commit
    assert resolved and ("feat/b", resolved) in ran  # checked again, then merged
    (b_merge,) = [
        body for n, body, status in merges(github) if status == 200 and body["sha"] == resolved
    ]
    assert b_merge["merge_method"] == "squash"
    assert git_out(repo.origin, "show", "main:src/b.txt") == "b, main"
    assert git_out(repo.origin, "show", "main:src/a.txt") == "a"


async def test_a_refused_merge_or_a_moved_head_is_looked_at_again(
    client: Client, task_queue: str, tmp_path: Path, github: GitHubStandIn, monkeypatch: Any
) -> None:
    """GitHub answers the first merge 409 (the head moved) and the second 405 (not
    mergeable): the loop polls again each time and merges the head it saw clean."""
    with scripted_model({"rules": rules("a")}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER, forge=AUTO)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        modified = {"message": "Head branch was modified. Review and try the merge again."}
        github.inject("PUT", r"/pulls/\d+/merge$", 409, body=modified)
        refused = {"message": "Pull Request is not mergeable"}
        github.inject("PUT", r"/pulls/\d+/merge$", 405, body=refused)
        async with build_worker(client, task_queue), ci(github) as ran:
            handle = await start_build(client, repo, task_queue)
            result = BuildResult.model_validate(await handle.result())

    assert result.result == "ALL_SUBTASKS_MERGED", result
    (head,) = [sha for ref, sha in ran if ref == "feat/a"]
    a = pulls_by_branch(github)["feat/a"]["number"]
    tried = [m for m in merges(github) if m[0] == a]  # then integration's PR merges, last
    assert [status for _, _, status in tried] == [409, 405, 200]
    assert all(body == {"merge_method": "squash", "sha": head} for _, body, _ in tried)
    polls = [r for r in github.requests if r.method == "GET" and r.path.endswith("/pulls/1")]
    assert len(polls) >= 3  # looked at again after each refusal
    assert git_out(repo.origin, "show", "main:src/a.txt") == "a"


async def test_merges_github_keeps_refusing_go_to_a_person(
    client: Client, task_queue: str, tmp_path: Path, github: GitHubStandIn, monkeypatch: Any
) -> None:
    """GitHub refuses every merge (405) though it says clean: after `max_ci_rounds` refusals
    a person decides, told GitHub's message and what to look at; skip leaves the PR open."""
    with scripted_model({"rules": rules("a")}, monkeypatch, github.url):
        forge = AUTO + '\nmax_ci_rounds = 2\nmerge_method = "rebase"'
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER, forge=forge)
        refused = {"message": "Pull Request is not mergeable"}
        github.inject("PUT", r"/pulls/\d+/merge$", 405, count=1000, body=refused)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)

            decision = await until(
                forge_hold(handle, "a"), limit=180, what="the refused merges' hold"
            )
            await handle.signal(BuildWorkflow.decide, DecideInput(scope="a", choice="skip"))
            result = BuildResult.model_validate(await handle.result())

    assert "refused 2 time(s)" in decision.prompt and "not mergeable" in decision.prompt
    assert 'merge_method = "rebase"' in decision.prompt
    assert decision.options == ["retry", "skip", "stop"]
    assert [status for _, _, status in merges(github)] == [405, 405]
    assert all(body["merge_method"] == "rebase" for _, body, _ in merges(github))
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    assert not pulls_by_branch(github)["feat/a"]["merged"]
    # Integration (a's work, not merged) is declined its turn (`merge_declined`): clean, it
    # ends mergeable for a person to merge and says why; GitHub never saw it merge (above).
    assert result.integration is not None and result.integration.pr_status == "mergeable"
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))
    (integration,) = [r for r in rows["link-shortener"] if r.subtask == "integration"]
    assert integration.status == "mergeable"
    declined = "not merged: dependency a pr_created: not merged, so neither is this one"
    assert declined in integration.notes


async def test_a_killed_worker_while_waiting_to_merge_loses_nothing(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: Any,
    temporal_server: DevServer,
) -> None:
    """b is clean but its dependency a is not (a's CI has not reported): b waits. The worker
    dies there; a new one picks up, a's CI goes green, a merges, then b."""
    with scripted_model({"rules": rules("ab")}, monkeypatch, github.url) as messages:
        environ = sim_environ(messages.url, github.url)
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER, forge=AUTO)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        log = tmp_path / "worker.log"
        with WorkerProcess(temporal_server.address, task_queue, environ, log) as worker:
            handle = await start_build(client, repo, task_queue)

            async def b_waits() -> SubtaskView | None:
                v = await row(handle, "b")
                return v if v is not None and v.pull and "feat/a" in v.pull.waiting_for else None

            waiting = await until(b_waits, limit=180, what="b waiting for a to merge")
            assert (await row(handle, "a")).status == "ci_running"  # type: ignore[union-attr]
            worker.crash()
            worker.start()
            async with ci(github):
                raw = await asyncio.wait_for(handle.result(), timeout=300)
            result = BuildResult.model_validate(raw)

    assert waiting.pull is not None and waiting.pull.mergeable_state == "clean"
    assert result.result == "ALL_SUBTASKS_MERGED", result
    pulls = pulls_by_branch(github)
    order = [n for n, _, status in merges(github) if status == 200]
    (integrated,) = [p for p in github.pulls(REPO) if p["head"]["ref"] == INTEGRATED]
    assert order == [pulls["feat/a"]["number"], pulls["feat/b"]["number"], integrated["number"]]
    builds = [r for r in messages.requests if r.role == "builder" and r.turn == 1]
    assert sorted(r.scope for r in builds) == ["a", "b"]  # nothing ran twice
    for name in "ab":
        assert git_out(repo.origin, "show", f"main:src/{name}.txt") == name


@pytest.mark.parametrize("forge", ["follow = true\npoll_s = 1", 'follow = false\nmerge = "auto"'])
async def test_manual_or_unfollowed_never_merges(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: Any,
    forge: str,
) -> None:
    """The default `merge = "manual"` ends mergeable; `follow = false` ends at the PR even
    with `merge = "auto"`: neither sends GitHub a merge."""
    with scripted_model({"rules": rules("a")}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": []}, ONE_REVIEWER, forge=forge)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            result = BuildResult.model_validate(await handle.result())

    expected = "ALL_SUBTASKS_PR_CREATED" if "follow = false" in forge else "ALL_SUBTASKS_MERGEABLE"
    assert result.result == expected, result
    assert merges(github) == []
    assert not pulls_by_branch(github)["feat/a"]["merged"]


async def test_an_update_branch_that_never_gives_a_new_head_goes_to_a_person(
    client: Client, task_queue: str, tmp_path: Path, github: GitHubStandIn, monkeypatch: Any
) -> None:
    """b is stacked on a; once a merged, GitHub accepts b's update-branch (202) but its head
    never moves: after a bounded number of polls a person decides, and the head from
    before the merge is never merged."""
    with scripted_model({"rules": rules("ab")}, monkeypatch, github.url):
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, ONE_REVIEWER, forge=AUTO)
        github.protect(REPO, "main", contexts=["tests"], strict=False)
        accepted = {"message": "Updating pull request branch.", "url": "https://x/pull/2"}
        github.inject("PUT", r"/update-branch$", 202, count=1000, body=accepted)
        async with build_worker(client, task_queue), ci(github, {"feat/a": "feat/b"}):
            handle = await start_build(client, repo, task_queue)

            decision = await until(forge_hold(handle, "b"), limit=240, what="the update's hold")
            updates = [r for r in github.requests if r.path.endswith("/update-branch")]
            await handle.signal(BuildWorkflow.decide, DecideInput(scope="b", choice="skip"))
            result = BuildResult.model_validate(await handle.result())

    assert "has not brought pull request" in decision.prompt and "10 polls" in decision.prompt
    assert decision.options == ["retry", "skip", "stop"]
    assert len(updates) == 1  # asked once, then only polled
    pulls = pulls_by_branch(github)
    assert pulls["feat/a"]["merged"] and not pulls["feat/b"]["merged"]
    assert [n for n, _, status in merges(github) if status == 200] == [pulls["feat/a"]["number"]]
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
