"""`!fork` / `!merge` on a build (seed 004, issue 28 item 1): two attempts of one subtask
run side by side, each reviewed and gated, FORK-<name>.md compares them, a person (or
`[fork] pick = "best"`) picks; the winner becomes the subtask's branch and opens its PR,
the loser is kept as `archive/fork/...`, and the subtask's dependents wait for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle

from cli.demo_repo import DemoRepo, git
from cli.views import build_view
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
    hanging(builder("b", [write("src/b.txt", "b\n")]), "b"),  # until the replay
    builder("c", [write("src/c.txt", "c\n")]),
    scored("a@A", 0.97),
    scored("a@B", 0.99),
    passes_review("a"),
    passes_review("b"),
    passes_review("c"),
]


def push_to(bare: Path, branch: str) -> str:
    """A commit on top of `branch` in the bare repository `bare`, as someone's push; its sha."""
    tip = git_out(bare, "rev-parse", branch)
    made = git(bare, "commit-tree", f"{tip}^{{tree}}", "-p", tip, "-m", "a person's commit")
    git(bare, "update-ref", f"refs/heads/{branch}", made, tip)
    return made


def branches(repo: Path, pattern: str) -> list[str]:
    return git_out(repo, "for-each-ref", "--format=%(refname:short)", pattern).splitlines()


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
                lambda: building(messages, "a@A", "a@B"),
                limit=120,
                what="both attempts (B once c is done: a slot each)",
            )
            messages.release("a")  # the cancelled child's builder answers into the void
            await refused(handle, "!fork a", "it is forked already (fork a")
            st = await status(handle)
            assert view(st, "b").status == "pending", "b waits for a's fork"
            messages.release("attempts")

            st = await until(lambda: fork_asked(handle), limit=180, what="the fork's pick")
            assert "!merge" in st.waiting_for or "decide a a/b" in st.waiting_for
            assert view(st, "b").status == "pending", "b still waits, for the merge"
            shown = build_view(st)  # what `orchestrator status` prints
            assert "Forks:\n  a as 'a': deciding; comparison " in shown, shown
            assert "    A fork/a-A: passed," in shown and "    B fork/a-B: passed," in shown
            c = view(st, "c")
            assert c.status == "pr_created"
            await refused(handle, "!fork c", "!fork c: it has its pull request")
            await refused(handle, "!merge C", "name the winner, A or B")

            await handle.signal(BuildWorkflow.command, "!merge B")
            await until(lambda: building(messages, "b"), limit=120, what="b, on the winner")
            st = await status(handle)
            merged_a = view(st, "a").pr_url
            merge_checks(repo, messages, github, st)

            # A replay from c (which finished first) rebuilds the forked a once, from its
            # design as any subtask (the pick is not replayed), and b on it.
            before = len(messages.requests)
            await handle.signal(BuildWorkflow.command, "!replay c")
            said = await until(lambda: notice_having(handle, "!replay c done"), what="replay")
            assert "a, b pending again" in said, said
            messages.release("b")
            result = BuildResult.model_validate(await handle.result())
            await record_history(handle)
            await record_history(client.get_workflow_handle(f"{handle.id}-a-fork-A"))
            st = await status(handle)
            metrics = await handle.query(BuildWorkflow.metrics)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    fork = ForkState.model_validate(st.forks[0])
    assert (fork.status, fork.winner) == ("merged", "B"), "the fork stays on record"
    rebuilt = {r.scope for r in messages.requests[before:] if r.role == "builder"}
    assert rebuilt == {"a", "b"}, "a built once more, as any subtask; not forked again"
    origin = repo.origin
    assert git_out(origin, "show", "feat/a:src/a.txt") == "first try"
    assert git_out(origin, "show", "feat/b:src/a.txt") == "first try", "b on the rebuilt a"
    archives = [
        b for b in branches(origin, "refs/heads/archive/") if b.startswith("archive/feat/a-")
    ]
    assert "B" in {git_out(origin, "show", f"{b}:src/a.txt") for b in archives}, archives
    assert branches(origin, "refs/heads/fork/") == []
    pulls = {p["head"]["ref"]: p for p in github.pulls(REPO)}
    assert set(pulls) == {"feat/a", "feat/b", "feat/c"}
    assert pulls["feat/a"]["html_url"] == merged_a, "the same PR, updated by the rebuild"
    assert pulls["feat/b"]["base"]["ref"] == "feat/a"
    # The budget counts both attempts.
    attempts = sum(v.ledger.total.total_tokens for v in fork.attempts.values())
    views = sum(v.ledger.total.total_tokens for v in st.subtasks)
    assert attempts > 0 and st.tokens >= attempts + views
    assert metrics is not None


def merge_checks(
    repo: DemoRepo, messages: MessagesStandIn, github: GitHubStandIn, st: BuildStatus
) -> None:
    """What `!merge B` left: B is feat/a with its PR, A an archive, no fork branch left."""
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
    # Nothing of the fork is left on the remote but archives: the winner is feat/a now.
    on_remote = [b for b in branches(origin, "refs/heads/") if not b.startswith("archive/")]
    assert on_remote == ["feat/a", "feat/c", "main"], on_remote
    assert branches(repo.root, "refs/heads/fork/") == []
    assert "fork/a-B" not in fork.notes, fork.notes
    archives = branches(origin, "refs/heads/archive/")
    kept = [name for name in archives if name.startswith("archive/fork/a-A-")]
    assert len(kept) == 1, archives
    assert git_out(origin, "show", f"{kept[0]}:src/a.txt") == "A"
    # a's cancelled first try (its branch, without a commit yet) is kept as an archive too.
    assert [n for n in archives if n.startswith("archive/feat/a-")], archives
    assert {p["head"]["ref"] for p in github.pulls(REPO)} == {"feat/a", "feat/c"}
    assert git_out(repo.root, "show", "feat/b:src/a.txt") == "B", "b builds on the winner"
    # a went straight to its PR: no reviewer of a's own ran after the merge.
    assert not [r for r in messages.requests if r.kind == "review" and r.scope == "a"]


INIT = "CREATE TABLE links (id integer PRIMARY KEY, url text NOT NULL, clicks bigint);\n"
BEST_RULES = [
    hanging(builder("a", [write("src/a.txt", "a\n")]), "a"),
    # Each attempt drops a column: each holds with its own Migration Risk Report.
    builder(
        "b@A",
        [
            write("src/b.txt", "A\n"),
            write("db/002_b.sql", "ALTER TABLE links DROP COLUMN clicks;\n"),
        ],
    ),
    builder(
        "b@B",
        [write("src/b.txt", "B\n"), write("db/002_b.sql", "ALTER TABLE links DROP COLUMN url;\n")],
    ),
    scored("b@A", 0.99),
    scored("b@B", 0.97),
    passes_review("a"),
    passes_review("b"),
]


async def approve_each_report(handle: WorkflowHandle, subtask: str) -> list[ForkState]:
    """`!migration-approve` each Migration Risk Report the fork's attempts hold with, as a
    person would, until the fork merged; the fork as each hold showed it."""
    seen: dict[str, ForkState] = {}

    async def merged() -> bool:
        st = await status(handle)
        asked = view(st, subtask).decision
        if asked is not None and asked.kind == "migration" and asked.prompt not in seen:
            seen[asked.prompt] = ForkState.model_validate(st.forks[0])
            await handle.signal(BuildWorkflow.command, f"!migration-approve {subtask}")
        return bool(st.forks) and ForkState.model_validate(st.forks[0]).status == "merged"

    await until(merged, limit=240, what="the reports approved and the fork merged")
    return list(seen.values())


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
        (repo.root / "db").mkdir()
        (repo.root / "db/001_init.sql").write_text(INIT)
        git(repo.root, "add", "db")
        git(repo.root, "commit", "-qm", "the schema so far")
        git(repo.root, "push", "-q", "origin", "HEAD")
        async with build_worker(client, task_queue):
            # One slot: b's two attempts are two builds, so they run one after the other.
            handle = await start_build(client, repo, task_queue, max_concurrent_subtasks=1)
            await until(lambda: building(messages, "a"), what="a building")
            # Before b could start: its attempts wait for a's PR, as b would.
            await handle.signal(BuildWorkflow.command, "!fork b choice")
            said = await until(lambda: notice_having(handle, "!fork b: attempts"), what="fork")
            assert "fork/choice-B start once its dependencies have pull requests" in said
            st = await status(handle)
            assert view(st, "b").status == "pending" and not builders_of(messages, "b@A")
            messages.release("a")
            held = await approve_each_report(handle, "b")
            result = BuildResult.model_validate(await handle.result())
            st = await status(handle)

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    fork = ForkState.model_validate(st.forks[0])
    assert (fork.name, fork.winner, fork.picked_by) == ("choice", "A", "best")
    reviews = repo.design_dir / "build-reviews/b"
    report = (reviews / "FORK-choice.md").read_text()
    assert "Recommended: **A**" in report
    # Each attempt wrote its own Migration Risk Report, linked from the comparison; the
    # winner's (its approval with it) is the subtask's now.
    own = {a: (reviews / f"fork-choice-{a}/MIGRATION.md").read_text() for a in "AB"}
    assert "DROP COLUMN clicks" in own["A"] and "DROP COLUMN url" not in own["A"]
    assert "DROP COLUMN url" in own["B"] and "DROP COLUMN clicks" not in own["B"]
    assert all("Approved by a person for findings" in text for text in own.values())
    assert (reviews / "MIGRATION.md").read_text() == own["A"]
    for a in "AB":
        assert f"[fork-choice-{a}/MIGRATION.md](fork-choice-{a}/MIGRATION.md)" in report
    # The attempts kept to the one slot: B's first request came after A's last.
    scopes = [r.scope for r in messages.requests]
    last_a, first_b = len(scopes) - 1 - scopes[::-1].index("b@A"), scopes.index("b@B")
    assert last_a < first_b, scopes
    assert held[0].attempts["B"].phase == "waiting for a free slot (of 1)", held[0]
    origin = repo.origin
    assert git_out(origin, "show", "feat/b:src/b.txt") == "A"
    assert git_out(origin, "show", "feat/b:src/a.txt") == "a", "the attempts built on a's work"
    archives = git_out(origin, "for-each-ref", "--format=%(refname:short)", "refs/heads/archive/")
    assert [n for n in archives.splitlines() if n.startswith("archive/fork/choice-B-")]
    assert branches(origin, "refs/heads/fork/") == [], "A is feat/b, B an archive"
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
            moved = push_to(repo.origin, "fork/a-B")  # someone else's commit on the attempt
            await handle.signal(BuildWorkflow.command, "!merge B")
            result = BuildResult.model_validate(await handle.result())
            st = await status(handle)
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    assert git_out(repo.origin, "show", "feat/a:src/a.txt") == "B"
    # The promoted attempt, not the commit pushed on top of it; that branch is kept.
    fork = ForkState.model_validate(st.forks[0])
    promoted = git_out(repo.origin, "rev-parse", "fork/a-B~1")
    assert promoted == fork.attempts["B"].passed_commit
    assert git_out(repo.origin, "merge-base", "feat/a", moved) == promoted
    assert git_out(repo.origin, "rev-parse", "fork/a-B") == moved
    assert f"fork/a-B kept on origin: it moved to {moved[:12]}" in fork.notes, fork.notes


async def resets(handle: WorkflowHandle, done: int) -> bool:
    """The build has applied `done` resets (a probe for `until`)."""
    return len((await status(handle)).resets) == done


async def test_a_reset_while_a_fork_builds_or_waits_for_its_pick_archives_and_ends_it(
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
            await until(lambda: resets(handle, 1), limit=120, what="the reset")
            # The attempts were cancelled; their branches (local only: neither passed) kept.
            assert branches(repo.root, "refs/heads/fork/") == []
            kept = branches(repo.origin, "refs/heads/archive/fork/")
            assert [b[: len("archive/fork/a-A-")] for b in kept] == [
                "archive/fork/a-A-",
                "archive/fork/a-B-",
            ], kept

            # a builds again from its design: fork it again, and reset while it waits for
            # its pick (both attempts passed and pushed their branches).
            await handle.signal(BuildWorkflow.command, "!fork a")
            messages.release("attempts")
            await until(lambda: fork_asked(handle), limit=180, what="the fork's pick")
            assert branches(repo.origin, "refs/heads/fork/") == ["fork/a-A", "fork/a-B"]
            await handle.signal(BuildWorkflow.command, "!reset")
            await handle.signal(BuildWorkflow.command, "!reset-confirm")
            await until(lambda: resets(handle, 2), limit=120, what="the reset of the pick")
            messages.release("a")
            result = BuildResult.model_validate(await handle.result())
            st = await status(handle)
    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    assert st.forks == [] and len(st.resets) == 2
    assert git_out(repo.origin, "show", "feat/a:src/a.txt") == "first try"
    assert branches(repo.origin, "refs/heads/fork/") == []
    assert branches(repo.root, "refs/heads/fork/") == []
    kept = branches(repo.origin, "refs/heads/archive/fork/")
    assert len(kept) == 4, kept
    assert {git_out(repo.origin, "show", f"{b}:src/a.txt") for b in kept[2:] + kept[:2]} >= {
        "A",
        "B",
    }, "the attempts' work is kept"
