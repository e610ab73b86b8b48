"""`!fork` / `!merge` on a build (seed 004, issue 28 item 1): two attempts of one subtask
run side by side, each reviewed and gated, FORK-<name>.md compares them, a person (or
`[fork] pick = "best"`) picks; the winner becomes the subtask's branch and opens its PR,
the loser is kept as `archive/fork/...`, and the subtask's dependents wait for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle

from cli.demo_repo import DemoRepo
from contracts.build import BuildResult, BuildStatus
from contracts.fork import ForkRequest, ForkState
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.support import (
    WorkerProcess,
    record_history,
    scripted_model,
    served_status,
    sim_environ,
    status_of,
    until,
    write,
)
from tests.workflows.builds import (
    REPO,
    SUBTASKS_ONLY,
    builder,
    git_out,
    notice_having,
    passes_review,
    start_build,
    tiny_project,
)
from worker import build_worker
from workflows.build import BuildWorkflow

APPROACH_A = "keep it in one plain text file"
APPROACH_B = "split it over two files"


def hanging(rule: dict, gate: str) -> dict:
    """`rule` whose first request holds until the test releases `gate`, then is answered
    529 overloaded (the agent retries it: the conversation goes on as scripted)."""
    return {**rule, "faults": [{"type": "529", "until": gate, "seconds": 600}]}


def scored(scope: str, score: float) -> dict:
    return {"match": {"kind": "review", "scope": scope}, "submit": {"score": score}}


RULES = [
    hanging(builder("a", [write("src/a.txt", "first try\n")]), "a"),
    hanging(builder("a@A", [write("src/a.txt", "A\n")]), "attempts"),
    hanging(builder("a@B", [write("src/a.txt", "B\n"), write("src/a2.txt", "B2\n")]), "attempts"),
    builder("b", [write("src/b.txt", "b\n")]),
    builder("c", [write("src/c.txt", "c\n")]),
    scored("a@A", 0.97),
    scored("a@B", 0.99),
    passes_review("a"),
    passes_review("b"),
    passes_review("c"),
]


async def status(handle: WorkflowHandle) -> BuildStatus:
    st: BuildStatus = await status_of(handle, BuildStatus)
    return st


def view(st: BuildStatus, name: str):  # type: ignore[no-untyped-def]
    return next(v for v in st.subtasks if v.name == name)


async def refused(handle: WorkflowHandle, line: str, part: str) -> str:
    await handle.signal(BuildWorkflow.command, line)
    found = await until(lambda: notice_having(handle, part), what=f"the refusal of {line}")
    assert found is not None
    return found


async def fork_a_while_it_builds(
    client: Client, repo: DemoRepo, task_queue: str, messages: MessagesStandIn
) -> WorkflowHandle:
    """A build whose subtask a is building (its builder held until "a"), then `!fork a`."""
    handle = await start_build(client, repo, task_queue)
    await until(lambda: building(messages, "a"), what="a building")
    await handle.signal(BuildWorkflow.command, "!fork a")
    return handle


async def fork_asked(handle: WorkflowHandle, subtask: str = "a") -> BuildStatus | None:
    """The build's status once the fork of `subtask` holds for its pick (FORK-*.md written)."""
    st = await status(handle)
    asked = view(st, subtask).decision
    return st if asked is not None and asked.kind == "fork" else None


def builders_of(messages: MessagesStandIn, scope: str) -> list[str]:
    return [r.prompt for r in messages.requests if r.role == "builder" and r.scope == scope]


async def building(messages: MessagesStandIn, *scopes: str) -> bool:
    """Every one of `scopes` has its builder asking the model (a probe for `until`)."""
    return all(builders_of(messages, s) for s in scopes)


async def test_fork_builds_two_attempts_and_merge_b_makes_b_the_subtasks_branch(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": RULES}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"], "c": []}, SUBTASKS_ONLY)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            await until(lambda: building(messages, "a"), what="a building")

            # No fork waits yet; unknown subtask; bad name: each refused, saying the fix.
            await refused(handle, "!merge B", "no fork waits for a pick")
            await refused(handle, "!fork zz", "!fork zz: no such subtask in this build")
            await refused(handle, "!fork a Bad/Name", "Fix: name it with lowercase letters")

            # a is building: its child is cancelled, both attempts start from a's base.
            await handle.signal(
                BuildWorkflow.fork_subtask,
                ForkRequest(subtask="a", approaches={"A": APPROACH_A, "B": APPROACH_B}),
            )
            await until(
                lambda: building(messages, "a@A", "a@B"), limit=120, what="both attempts at once"
            )
            messages.release("a")  # the cancelled child's builder answers into the void
            await refused(handle, "!fork a", "it is forked already (fork a")
            st = await status(handle)
            assert view(st, "b").status == "pending", "b waits for a's fork"
            messages.release("attempts")

            st = await until(lambda: fork_asked(handle), limit=180, what="the fork's pick")
            assert "!merge" in st.waiting_for or "decide a a/b" in st.waiting_for
            assert view(st, "b").status == "pending", "b still waits, for the merge"
            c = view(st, "c")
            assert c.status == "pr_created"
            await refused(handle, "!fork c", "!fork c: it has its pull request")
            await refused(handle, "!merge C", "name the winner, A or B")

            await handle.signal(BuildWorkflow.command, "!merge B")
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)
            await record_history(client.get_workflow_handle(f"{handle.id}-a-fork-A"))
            st = await status(handle)
            metrics = await handle.query(BuildWorkflow.metrics)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    fork = ForkState.model_validate(st.forks[0])
    assert (fork.winner, fork.picked_by, fork.status) == ("B", "person", "merged")
    # Each attempt built with the person's approach, was reviewed and gated on its own branch.
    assert APPROACH_A in builders_of(messages, "a@A")[0]
    assert APPROACH_B in builders_of(messages, "a@B")[0]
    assert APPROACH_B not in builders_of(messages, "a@A")[0]
    assert {a: v.scores for a, v in fork.attempts.items()} == {
        "A": {"code-correctness": 0.97},
        "B": {"code-correctness": 0.99},
    }
    assert all(v.passed for v in fork.attempts.values())
    reviews = repo.design_dir / "build-reviews" / "a"
    assert list((reviews / "fork-a-A").glob("*_code-correctness.md"))
    assert list((reviews / "fork-a-B").glob("*_code-correctness.md"))
    # FORK-a.md compares them.
    report = (reviews / "FORK-a.md").read_text()
    for part in ("fork/a-A", "fork/a-B", APPROACH_A, "0.97", "0.99", "Diff", "Tokens", "Cost"):
        assert part in report, part
    assert "2 files, +2 -0" in report and "1 files, +1 -0" in report
    assert "Recommended: **B**" in report
    # B is feat/a on the remote, its PR opened from it; A is gone but kept as an archive.
    origin = repo.origin
    assert git_out(origin, "show", "feat/a:src/a.txt") == "B"
    assert git_out(origin, "show", "feat/a:src/a2.txt") == "B2"
    assert git_out(origin, "rev-parse", "--verify", "-q", "refs/heads/fork/a-A") == ""
    archives = git_out(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads/archive/")
    kept = [name for name in archives.splitlines() if name.startswith("archive/fork/a-A-")]
    assert len(kept) == 1, archives
    assert git_out(origin, "show", f"{kept[0]}:src/a.txt") == "A"
    # a's cancelled first try (its branch, without a commit yet) is kept as an archive too.
    assert [n for n in archives.splitlines() if n.startswith("archive/feat/a-")], archives
    pulls = {p["head"]["ref"]: p for p in github.pulls(REPO)}
    assert set(pulls) == {"feat/a", "feat/b", "feat/c"}
    assert pulls["feat/b"]["base"]["ref"] == "feat/a"
    assert git_out(origin, "show", "feat/b:src/a.txt") == "B", "b was built on the winner"
    # a went straight to its PR: no reviewer of a's own ran after the merge.
    assert not [r for r in messages.requests if r.kind == "review" and r.scope == "a"]
    # The budget counts both attempts.
    attempts = sum(v.ledger.total.total_tokens for v in fork.attempts.values())
    views = sum(v.ledger.total.total_tokens for v in st.subtasks)
    assert attempts > 0 and st.tokens >= attempts + views
    assert metrics is not None


BEST_RULES = [
    hanging(builder("a", [write("src/a.txt", "a\n")]), "a"),
    builder("b@A", [write("src/b.txt", "A\n")]),
    builder("b@B", [write("src/b.txt", "B\n")]),
    scored("b@A", 0.99),
    scored("b@B", 0.97),
    passes_review("a"),
    passes_review("b"),
]


async def test_pick_best_takes_the_higher_scoring_attempt_without_asking(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = f'{SUBTASKS_ONLY}\n[fork]\npick = "best"\n'
    with scripted_model({"rules": BEST_RULES}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": [], "b": ["a"]}, config)
        async with build_worker(client, task_queue):
            handle = await start_build(client, repo, task_queue)
            await until(lambda: building(messages, "a"), what="a building")
            # Before b could start: its attempts wait for a's PR, as b would.
            await handle.signal(BuildWorkflow.command, "!fork b choice")
            said = await until(lambda: notice_having(handle, "!fork b: attempts"), what="fork")
            assert "fork/choice-B start once its dependencies have pull requests" in said
            st = await status(handle)
            assert view(st, "b").status == "pending" and not builders_of(messages, "b@A")
            messages.release("a")
            result = BuildResult.model_validate(await handle.result())
            st = await status(handle)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    fork = ForkState.model_validate(st.forks[0])
    assert (fork.name, fork.winner, fork.picked_by) == ("choice", "A", "best")
    assert "Recommended: **A**" in (repo.design_dir / "build-reviews/b/FORK-choice.md").read_text()
    origin = repo.origin
    assert git_out(origin, "show", "feat/b:src/b.txt") == "A"
    assert git_out(origin, "show", "feat/b:src/a.txt") == "a", "the attempts built on a's work"
    archives = git_out(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads/archive/")
    assert [n for n in archives.splitlines() if n.startswith("archive/fork/choice-B-")]
    assert {p["head"]["ref"] for p in github.pulls(REPO)} == {"feat/a", "feat/b"}


FAST_HEARTBEAT = "\n[agents]\nheartbeat_timeout_s = 3\n"


async def test_a_worker_killed_while_both_attempts_run_loses_nothing(
    client: Client, temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    with GitHubStandIn() as github, MessagesStandIn({"rules": RULES}) as messages:
        env = sim_environ(messages.url, github.url)
        config = SUBTASKS_ONLY + FAST_HEARTBEAT
        repo = tiny_project(tmp_path, github.url, {"a": []}, config)
        log = tmp_path / "worker.log"
        with WorkerProcess(temporal_server.address, task_queue, env, log) as worker:
            handle = await start_build(client, repo, task_queue)
            await until(lambda: building(messages, "a"), limit=120, what="a building")
            await handle.signal(BuildWorkflow.command, "!fork a")
            await until(lambda: building(messages, "a@A", "a@B"), limit=120, what="both attempts")
            worker.crash()
            messages.release("a")
            messages.release("attempts")
            worker.start()

            async def asked() -> bool:
                st = await served_status(handle, BuildStatus)
                held = st and next(v for v in st.subtasks if v.name == "a").decision
                return bool(held and held.kind == "fork")

            await until(asked, limit=240, what="the pick after the restart")
            await handle.signal(BuildWorkflow.command, "decide a a")  # as `!merge A`
            result = BuildResult.model_validate(await handle.result())
            st = await status(handle)
        pulls = github.pulls(REPO)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    fork = ForkState.model_validate(st.forks[0])
    assert fork.winner == "A" and all(v.passed for v in fork.attempts.values())
    reviews = repo.design_dir / "build-reviews" / "a"
    # One review round each, each review written once: nothing redone, nothing lost.
    assert len(list((reviews / "fork-a-A").glob("*_code-correctness.md"))) == 1
    assert len(list((reviews / "fork-a-B").glob("*_code-correctness.md"))) == 1
    assert (reviews / "FORK-a.md").is_file()
    assert [p["head"]["ref"] for p in pulls] == ["feat/a"]
    assert git_out(repo.origin, "show", "feat/a:src/a.txt") == "A"
    archives = git_out(
        repo.origin, "for-each-ref", "--format=%(refname:short)", "refs/heads/archive/"
    )
    assert [n for n in archives.splitlines() if n.startswith("archive/fork/a-B-")]


FAILING_RULES = [
    hanging(builder("a", [write("src/a.txt", "first try\n")]), "a"),
    {**builder("a@A", [write("src/a.txt", "A\n")]), "faults": [{"type": "400"}]},
    builder("a@B", [write("src/a.txt", "B\n")]),
    passes_review("a@B"),
    passes_review("a"),
]


async def test_an_attempts_failure_holds_as_the_subtasks_and_a_person_answers_it(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": FAILING_RULES}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, SUBTASKS_ONLY)
        async with build_worker(client, task_queue):
            handle = await fork_a_while_it_builds(client, repo, task_queue, messages)
            messages.release("a")

            async def held() -> BuildStatus | None:
                st = await status(handle)
                a = view(st, "a")
                return st if a.decision is not None and a.decision.kind == "failure" else None

            st = await until(held, limit=120, what="attempt A's failure, held")
            decision = view(st, "a").decision
            assert decision is not None and decision.prompt.startswith("attempt A of fork a: ")
            assert st.decisions and "400" in st.waiting_for, st.waiting_for
            await handle.signal(BuildWorkflow.command, "decide failure skip")

            st = await until(lambda: fork_asked(handle), limit=120, what="the pick")
            fork = ForkState.model_validate(st.forks[0])
            assert fork.attempts["A"].status == "blocked" and fork.attempts["B"].passed
            report = (repo.design_dir / "build-reviews/a/FORK-a.md").read_text()
            assert "no (blocked)" in report and "Recommended: **B**" in report
            await handle.signal(BuildWorkflow.command, "!merge B")
            result = BuildResult.model_validate(await handle.result())
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    assert git_out(repo.origin, "show", "feat/a:src/a.txt") == "B"


async def test_a_reset_while_a_fork_builds_ends_the_fork_and_builds_the_subtask_again(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model({"rules": RULES}, monkeypatch, github.url) as messages:
        repo = tiny_project(tmp_path, github.url, {"a": []}, SUBTASKS_ONLY)
        async with build_worker(client, task_queue):
            handle = await fork_a_while_it_builds(client, repo, task_queue, messages)
            await until(lambda: building(messages, "a@A", "a@B"), what="both attempts")
            await handle.signal(BuildWorkflow.command, "!reset")
            await refused(handle, "!fork a", "!fork a: a !reset is asked. Fix: fork once")
            await handle.signal(BuildWorkflow.command, "!reset-confirm")
            await until(lambda: notice_having(handle, "!reset done"), limit=120, what="reset")
            messages.release("a")
            messages.release("attempts")
            result = BuildResult.model_validate(await handle.result())
            st = await status(handle)
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    assert st.forks == [] and len(st.resets) == 1
    assert git_out(repo.origin, "show", "feat/a:src/a.txt") == "first try"
