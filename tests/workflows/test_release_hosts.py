"""The release loop's worktree lives on one host, like a subtask's: when that host's worker
stops taking work, the release moves to another host, its worktree made again there from
the pushed integration branch; with no host left to take it, it holds for a person, who
starts a worker and retries; when a commit the loop made never reached the remote, the
new host holds naming it until a person pushes it. The smallest release of
test_release.py (one subtask, a one-line suite), `host_timeout_s` short."""

from __future__ import annotations

import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from activities.host import host_queue
from cli.demo_repo import make_test_venv
from contracts.human import FAILURE_OPTIONS, RETRY_OR_STOP, DecideInput, PendingDecision
from contracts.release import ReleaseInput, ReleaseResult
from runtime.path_map import PathMap
from runtime.server import DevServer
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.support import (
    example_venv,
    scripted_model,
    sim_environ,
    spawn_worker,
    until,
    write,
)
from tests.workflows.builds import BRANCH, git_out, integrated, waits_for
from tests.workflows.builds import release_status as status
from worker import build_host_worker, build_worker
from workflows.host_steps import HOSTS_LOST, MAX_HOST_MOVES
from workflows.release import COMMITS_LOST, ReleaseWorkflow

# A high security finding in round 1, which the fixer's commit mends; the suite checks the
# fixer's file, so only a worktree holding that commit ships.
FIXED_BY_THE_FIXER = [
    {
        "match": {"role": "release-security", "scope": "injection", "round": 1},
        "submit": {"score": 0.6},
    },
    {
        "match": {"role": "fixer", "scope": "release-security"},
        "steps": [write("src/escaped.txt", "escaped\n")],
        "submit": {"summary": "Escaped the input."},
    },
]


def start(client: Client, design_dir: Path, task_queue: str):  # type: ignore[no-untyped-def]
    return client.start_workflow(
        ReleaseWorkflow.run,
        ReleaseInput(design_dir=str(design_dir)),
        id=f"release-link-shortener-{uuid.uuid4().hex[:6]}",
        task_queue=task_queue,
    )


async def test_a_release_moves_to_another_host_when_its_host_dies(
    client: Client,
    temporal_server: DevServer,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
) -> None:
    """Alpha runs critic and security (the fixer's commit pushed), then dies; `!verify`
    runs on beta, whose own integration branch is older: its worktree is brought up to
    the pushed branch, so the fixer's file is there and the suite passes."""
    with MessagesStandIn({"rules": FIXED_BY_THE_FIXER}) as messages:
        env = sim_environ(messages.url, github.url)
        repo = integrated(tmp_path, github.url, "test -f src/escaped.txt", top="host_timeout_s = 5")
        git_out(repo.root, "push", "-q", "origin", "main", BRANCH)
        # Each host's clone has the integration branch, as the person's checkout has.
        clones = {}
        for host in ("alpha", "beta"):
            clones[host] = tmp_path / f"{host}-clone"
            subprocess.run(["git", "clone", "-q", str(repo.origin), str(clones[host])], check=True)
            git_out(clones[host], "branch", "-q", BRANCH, f"origin/{BRANCH}")
            make_test_venv(clones[host] / ".venv", like=example_venv())

        def host_worker(host: str) -> subprocess.Popen[bytes]:
            mapping = f"{repo.root}={clones[host]}"
            log = tmp_path / f"{host}.log"
            return spawn_worker(
                temporal_server.address, task_queue, env, log, "--host", host, "--path-map", mapping
            )

        alpha = host_worker("alpha")
        beta = None
        try:
            handle = await start(client, repo.design_dir, task_queue)
            await waits_for(handle, "!critic", limit=180)
            await handle.signal(ReleaseWorkflow.critic)
            await waits_for(handle, "!security", limit=180)
            await handle.signal(ReleaseWorkflow.security)
            before = await waits_for(handle, "!verify", limit=180)
            beta = host_worker("beta")
            alpha.send_signal(signal.SIGKILL)
            alpha.wait()
            await handle.signal(ReleaseWorkflow.verify)
            result = ReleaseResult.model_validate(await handle.result())
            moved = await status(handle)
        finally:
            for proc in (alpha, beta):
                if proc is not None:
                    proc.kill()
                    proc.wait()

    assert before.hosts == [host_queue("alpha")]
    assert result.result == "SHIPPED", result
    assert moved.hosts == [host_queue("alpha"), host_queue("beta")]
    assert "alpha" in moved.notice and "beta" in moved.notice, moved.notice
    # The fixer ran once, on alpha; beta went on from its pushed commit.
    assert len([r for r in messages.requests if r.role == "fixer" and r.turn == 1]) == 1
    fixed = git_out(repo.origin, "rev-parse", BRANCH)
    assert git_out(clones["beta"] / ".worktrees/integration", "rev-parse", "HEAD") == fixed
    assert (clones["beta"] / ".worktrees/integration/src/escaped.txt").is_file()


async def test_a_release_no_host_takes_holds_until_a_worker_serves_its_host(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its only host's worker stops while the release waits for `!critic`: three moves,
    then a hold naming the host and the fix; a worker for it, `retry`, and it ships."""
    solo = host_queue("solo")
    with scripted_model({"rules": []}, monkeypatch, github.url):
        repo = integrated(tmp_path, github.url, "true", top="host_timeout_s = 1")
        # The shared worker claims every worktree for host solo, whose worker then stops.
        async with build_worker(client, task_queue, host_queue=solo):
            async with build_host_worker(client, solo):
                handle = await start(client, repo.design_dir, task_queue)
                await waits_for(handle, "!critic")
            await handle.signal(ReleaseWorkflow.critic)

            async def held() -> PendingDecision | None:
                st = await status(handle)
                return next((d for d in st.decisions if d.kind == "failure"), None)

            decision = await until(held, limit=60, what="the host hold")
            async with build_host_worker(client, solo):
                await handle.signal(ReleaseWorkflow.decide, DecideInput(choice="retry"))
                for gate in ("!security", "!verify"):
                    await waits_for(handle, gate)
                    await handle.signal(ReleaseWorkflow.command, gate)
                result = ReleaseResult.model_validate(await handle.result())
                st = await status(handle)

    failure = decision.failure
    assert failure is not None and failure.error_type == HOSTS_LOST
    assert f"moved hosts {MAX_HOST_MOVES} times" in failure.error, failure.error
    assert "orchestrator worker --host solo" in failure.error, failure.error
    assert "host_timeout_s" in failure.error, failure.error
    assert decision.options == list(RETRY_OR_STOP)
    assert result.result == "SHIPPED", result
    # Claimed once, again after each of its three moves: always solo, the only host.
    assert st.hosts == [solo] * (MAX_HOST_MOVES + 1)
    assert [s.status for s in st.stages] == ["done"] * 3


def failure_hold(handle, error_type: str):  # type: ignore[no-untyped-def]
    """A probe: the release's hold on a failure of `error_type`, once it holds."""

    async def probe() -> PendingDecision | None:
        st = await status(handle)
        failures = (d for d in st.decisions if d.failure is not None)
        return next((d for d in failures if d.failure.error_type == error_type), None)

    return probe


async def test_a_release_whose_fix_never_reached_the_remote_holds_naming_it(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fixer's commit on alpha is refused by the remote, then alpha's worker stops; on
    beta the branch from the remote lacks it, so the release holds naming the commit and
    host alpha (never going on without the fix). The person pushes it from alpha's clone
    and retries: beta takes it up and the release ships with it."""
    with scripted_model({"rules": FIXED_BY_THE_FIXER}, monkeypatch, github.url) as messages:
        repo = integrated(tmp_path, github.url, "test -f src/escaped.txt", top="host_timeout_s = 3")
        git_out(repo.root, "push", "-q", "origin", "main", BRANCH)
        clones, maps = {}, {}
        for host in ("alpha", "beta"):  # plain clones of the remote: no local branch
            clones[host] = tmp_path / f"{host}-clone"
            subprocess.run(["git", "clone", "-q", str(repo.origin), str(clones[host])], check=True)
            make_test_venv(clones[host] / ".venv", like=example_venv())
            maps[host] = PathMap.parse([f"{repo.root}={clones[host]}"])

        def workers(host: str):  # type: ignore[no-untyped-def]
            queue = host_queue(host)
            shared = build_worker(client, task_queue, host_queue=queue, path_map=maps[host])
            return shared, build_host_worker(client, queue, path_map=maps[host])

        alpha, alpha_host = workers("alpha")
        async with alpha, alpha_host:
            handle = await start(client, repo.design_dir, task_queue)
            await waits_for(handle, "!critic")
            await handle.signal(ReleaseWorkflow.critic)
            await waits_for(handle, "!security")
            # From now on the remote refuses every push (as one that is full would).
            subprocess.run(
                ["git", "config", "receive.maxInputSize", "1"], cwd=repo.origin, check=True
            )
            await handle.signal(ReleaseWorkflow.security)
            await waits_for(handle, "!verify")
        fixed = git_out(clones["alpha"] / ".worktrees/integration", "rev-parse", "HEAD")
        assert git_out(repo.origin, "rev-parse", BRANCH) != fixed  # its push was refused

        beta, beta_host = workers("beta")
        async with beta, beta_host:
            await handle.signal(ReleaseWorkflow.verify)
            decision = await until(failure_hold(handle, COMMITS_LOST), what="the CommitsLost hold")
            verified = [r for r in messages.requests if r.role == "release-verifier"]
            # The person does what the hold says: pushes from alpha's clone, then retries.
            subprocess.run(
                ["git", "config", "--unset", "receive.maxInputSize"], cwd=repo.origin, check=True
            )
            pushing = ["git", "push", "-q", "origin", BRANCH]
            subprocess.run(pushing, cwd=clones["alpha"] / ".worktrees/integration", check=True)
            await handle.signal(ReleaseWorkflow.decide, DecideInput(choice="retry"))
            result = ReleaseResult.model_validate(await handle.result())
            st = await status(handle)

    failure = decision.failure
    assert failure is not None and failure.error_type == COMMITS_LOST
    assert f"the release's commits {fixed[:10]} (fixer, security round 1) were never pushed" in (
        failure.error
    ), failure.error
    assert "on host alpha" in failure.error and "on host beta" in failure.error, failure.error
    assert f"push origin {BRANCH}`) and retry" in failure.error, failure.error
    assert decision.options == list(FAILURE_OPTIONS)
    assert verified == []  # held before a verifier saw a worktree without the fix
    assert result.result == "SHIPPED", result
    assert st.hosts == [host_queue("alpha"), host_queue("beta")]
    assert git_out(clones["beta"] / ".worktrees/integration", "rev-parse", "HEAD") == fixed
    assert len([r for r in messages.requests if r.role == "fixer" and r.turn == 1]) == 1


async def awaiting(handle, gate: str) -> bool:  # type: ignore[no-untyped-def]
    """The release waits for `gate` with its worktree made (not held before it)."""
    return (await status(handle)).phase == f"awaiting {gate}"


async def test_a_release_whose_branch_is_nowhere_its_host_can_reach_holds_with_the_fix(
    client: Client,
    task_queue: str,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The integration branch is in the person's checkout only (never pushed) and the
    release's host has its own clone: the worktree is never made from the base there; the
    release holds (running, not failed) saying to push the branch; pushed and retried, it
    goes on from that branch and waits for `!critic`."""
    with scripted_model({"rules": []}, monkeypatch, github.url):
        repo = integrated(tmp_path, github.url, "true", top="host_timeout_s = 5")
        git_out(repo.root, "push", "-q", "origin", "main")
        clone = tmp_path / "beta-clone"
        subprocess.run(["git", "clone", "-q", str(repo.origin), str(clone)], check=True)
        beta, mapped = host_queue("beta"), PathMap.parse([f"{repo.root}={clone}"])
        async with build_worker(client, task_queue, host_queue=beta):
            async with build_host_worker(client, beta, path_map=mapped):
                handle = await start(client, repo.design_dir, task_queue)
                decision = await until(failure_hold(handle, "BranchNotFound"), what="the hold")
                running = (await handle.describe()).status
                git_out(repo.root, "push", "-q", "origin", BRANCH)  # the fix it names
                await handle.signal(ReleaseWorkflow.decide, DecideInput(choice="retry"))
                await until(lambda: awaiting(handle, "!critic"), what="waiting for !critic")
                await handle.terminate("the test is done")

    failure = decision.failure
    assert failure is not None
    assert f"branch {BRANCH} does not exist in " in failure.error, failure.error
    assert "nor on remote 'origin', so its worktree cannot be made on this host" in failure.error
    assert f"Fix: push {BRANCH} to the remote from a clone that has it" in failure.error
    assert running == WorkflowExecutionStatus.RUNNING
    integrated_head = git_out(repo.root, "rev-parse", BRANCH)
    assert git_out(clone / ".worktrees/integration", "rev-parse", "HEAD") == integrated_head
