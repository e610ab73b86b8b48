"""`!replay <subtask>` on a running build (seed 004, issue 28 item 2): back to the checkpoint
right after a finished subtask. What came after it (finished later, or still running) is
archived as `archive/<branch>-<time>`, pending again and rebuilt; its PR stays the same PR
and shows the rebuilt work; the subtask itself and what finished before it keep their work.
A worker killed mid-replay changes nothing of that."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contracts.build import BuildResult, BuildStatus
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.conftest import REPO_ROOT
from tests.support import (
    WorkerProcess,
    record_history,
    served_status,
    sim_environ,
    until,
    write,
)
from tests.workflows.builds import (
    ONE_REVIEWER,
    REPO,
    builder,
    git_out,
    held_at_conflicts,
    notice_having,
    passes_review,
    start_build,
    tiny_project,
)
from workflows.build import BuildWorkflow

FAST_HEARTBEAT = "\n[agents]\nheartbeat_timeout_s = 3\n"
RULES = [
    builder("a", [write("src/a.txt", "a\n")]),
    builder("b", [write("src/b.txt", "b\n")]),
    builder("c", [write("src/c.txt", "c\n")]),
    {  # d, beside the chain, holds the build open (and still runs) until the replay
        **builder("d", [write("src/d.txt", "d\n")]),
        "faults": [{"type": "hang", "until": "d", "seconds": 600}],
    },
    *(passes_review(name) for name in ("a", "b", "c", "d", "integration")),
]


def heads(origin: Path, *names: str) -> dict[str, str]:
    return {n: git_out(origin, "rev-parse", f"feat/{n}") for n in names}


def archives(origin: Path) -> dict[str, str]:
    """archive branch -> commit, on the remote."""
    out = git_out(
        origin, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/archive/"
    )
    return dict(line.split() for line in out.splitlines())


def builders_of(messages: MessagesStandIn, name: str) -> int:
    """How often `name`'s builder began (a first turn; one a worker kill cut off, twice)."""
    return len(
        [r for r in messages.requests if r.role == "builder" and r.scope == name and r.turn == 1]
    )


def ancestor(cwd: Path, old: str, new: str) -> bool:
    proc = subprocess.run(["git", "merge-base", "--is-ancestor", old, new], cwd=cwd, check=False)
    return proc.returncode == 0


async def test_replay_rebuilds_what_came_after_and_updates_its_prs_through_a_worker_kill(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    temporal_server: DevServer,
    temporal_env: dict[str, str],
) -> None:
    with MessagesStandIn({"rules": RULES}) as messages:
        env = sim_environ(messages.url, github.url)
        config = ONE_REVIEWER + FAST_HEARTBEAT
        chain = {"a": [], "b": ["a"], "c": ["b"], "d": []}
        repo = tiny_project(tmp_path, github.url, chain, config)
        log = tmp_path / "worker.log"
        with WorkerProcess(temporal_server.address, task_queue, env, log) as worker:
            handle = await start_build(client, repo, task_queue)

            async def all_built() -> bool:
                st = await served_status(handle, BuildStatus)
                done = st is not None and all(
                    v.status == "pr_created" for v in st.subtasks if v.name in ("a", "b", "c")
                )
                return done and builders_of(messages, "d") == 1

            await until(all_built, limit=240, what="a, b, c with PRs; d building")
            old = heads(repo.origin, "a", "b", "c")
            prs = {p["head"]["ref"]: p["number"] for p in github.pulls(REPO)}
            assert set(prs) == {"feat/a", "feat/b", "feat/c"}, prs

            def replay(subtask: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    [sys.executable, "-m", "starter", "replay", str(repo.design_dir), subtask,
                     "--build-id", handle.id],
                    cwd=REPO_ROOT, env=temporal_env, capture_output=True, text=True, timeout=120,
                )  # fmt: skip

            refused = await asyncio.to_thread(replay, "zz")
            assert refused.returncode == 2, refused
            assert "'zz' is not a subtask of" in refused.stderr
            assert "Fix: name one of a, b, c, d" in refused.stderr
            sent = await asyncio.to_thread(replay, "a")
            assert sent.returncode == 0, sent.stderr
            assert f"sent !replay a to {handle.id}" in sent.stdout
            done = await until(
                lambda: notice_having(handle, "!replay a done"), limit=120, what="the replay"
            )
            st = await handle.query(BuildWorkflow.status)
            # Killed as the rebuild starts; while no worker runs, nothing is pushed.
            worker.crash()
            messages.release("d")  # its first builder was cancelled with it
            views = {v.name: v for v in st.subtasks}
            assert views["a"].status == "pr_created" and len(st.replays) == 1
            assert {views[n].status for n in "bcd"} <= {"pending", "in_progress"}, views
            assert "b, c, d pending again" in done, done
            # The remote branches stay, so the open PRs stay open until the rebuild pushes.
            assert heads(repo.origin, "a", "b", "c") == old
            kept = archives(repo.origin)
            assert not [k for k in kept if k.startswith("archive/feat/a-")], kept

            worker.start()
            result = BuildResult.model_validate(
                await asyncio.wait_for(handle.result(), timeout=300)
            )
            await record_history(handle)  # a build replayed from a checkpoint

    assert result.result == "ALL_SUBTASKS_PR_CREATED", result
    new = heads(repo.origin, "a", "b", "c")
    assert new["a"] == old["a"], "a keeps its work"
    for name in ("b", "c"):
        archived = [k for k in kept if k.startswith(f"archive/feat/{name}-")]
        assert [kept[k] for k in archived] == [old[name]], f"{name}'s old work is kept: {kept}"
        # Built afresh on what came before it, not on its old work.
        assert new[name] != old[name] and not ancestor(repo.origin, old[name], new[name])
    assert ancestor(repo.origin, new["a"], new["b"]) and ancestor(repo.origin, new["b"], new["c"])
    assert git_out(repo.origin, "show", "feat/c:src/c.txt") == "c"
    # One PR per branch, the same ones, open, showing the rebuilt heads.
    pulls = github.pulls(REPO)
    refs = sorted(p["head"]["ref"] for p in pulls)
    assert refs == ["feat/a", "feat/b", "feat/c", "feat/d", "integration/link-shortener"], refs
    for p in pulls:
        ref = p["head"]["ref"]
        assert p["state"] == "open" and p["number"] == prs.get(ref, p["number"]), p
        assert p["head"]["sha"] == git_out(repo.origin, "rev-parse", ref), p
    assert [p["head"]["sha"] for p in pulls if p["head"]["ref"] == "feat/b"] == [new["b"]]
    assert builders_of(messages, "a") == 1
    assert all(builders_of(messages, n) >= 2 for n in "bcd")


async def test_replay_is_refused_for_an_unknown_or_unfinished_subtask_and_during_a_reset(
    time_skipping_env: WorkflowEnvironment,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = time_skipping_env
    async with held_at_conflicts(env, tmp_path, github.url, monkeypatch) as handle:
        await handle.signal(BuildWorkflow.ask_replay, "zz")
        unknown = await until(lambda: notice_having(handle, "!replay zz"), what="refusal")
        assert "'zz' is not a subtask of this build. Fix: name one of a, b" in unknown

        await handle.signal(BuildWorkflow.command, "!replay a")
        pending = await until(lambda: notice_having(handle, "!replay a"), what="refusal")
        assert pending.startswith("refused !replay a: a has not finished (pending)")
        assert "Fix: wait until one has its PR" in pending

        await handle.signal(BuildWorkflow.ask_reset)
        await until(lambda: notice_having(handle, "!reset asked"), what="the ask")
        await handle.signal(BuildWorkflow.ask_replay, "b")
        reset = await until(lambda: notice_having(handle, "!replay b"), what="refusal")
        assert "a !reset is asked. Fix: let it finish, or let the !reset lapse" in reset

        await env.sleep(timedelta(minutes=6))  # the !reset lapsed: b is refused for itself
        await handle.signal(BuildWorkflow.ask_replay, "b")
        await until(lambda: notice_having(handle, "b has not finished"), what="refusal")
        st = await handle.query(BuildWorkflow.status)
        assert st.replay is None and st.replays == []
        await handle.signal(BuildWorkflow.command, "decide file-conflicts stop")
        result = BuildResult.model_validate(await handle.result())
    assert result.result == "SUBTASKS_INCOMPLETE"
