"""Two worker processes on one machine, each with its own host queue and its own clone.

A subtask's worktree steps run on the host that claimed it; when that host
disappears, the subtask is claimed again by another and finishes there, its
worktree re-created in that host's clone from the pushed branch. The build is
started from a third checkout (the person's) that no worker touches: workers
map its paths onto their clones with `--path-map`.

Two of the example's subtasks: 01-models, which moves, and 02-storage, which depends on it
and so is built after the move, on beta alone, from the moved subtask's branch.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError

from activities.host import host_queue
from activities.tracker import read_tracker
from cli.demo_repo import make_test_venv
from contracts.build import BuildInput, BuildResult
from runtime.server import DevServer
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.support import (
    example_design,
    example_venv,
    make_project,
    record_history,
    sim_environ,
    spawn_worker,
    until,
)
from tests.workflows.builds import approve_artifacts
from workflows.build import BuildWorkflow
from workflows.subtask import SubtaskWorkflow

NAMES = ("01-models", "02-storage")


async def test_subtask_moves_to_another_host_when_its_host_dies(
    client: Client, temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    with GitHubStandIn() as github, MessagesStandIn(link_shortener_scenario()) as messages:
        env = sim_environ(messages.url, github.url)
        repo = make_project(
            tmp_path,
            github.url,
            "\n[agents]\nheartbeat_timeout_s = 3\n",
            top_config="host_timeout_s = 5",
            design_source=example_design(tmp_path, *NAMES),
        )
        approve_artifacts(repo.design_dir, repo.root)
        # What a team does before starting workers elsewhere: push, then clone per host and
        # give each clone the project's environment (the gates run in it, sandboxed).
        subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo.root, check=True)
        clones = {}
        for host in ("alpha", "beta"):
            clones[host] = tmp_path / f"{host}-clone"
            subprocess.run(["git", "clone", "-q", str(repo.origin), str(clones[host])], check=True)
            make_test_venv(clones[host] / ".venv", like=example_venv())

        def host_worker(host: str):  # type: ignore[no-untyped-def]
            mapping = f"{repo.root}={clones[host]}"
            log = tmp_path / f"{host}.log"
            return spawn_worker(
                address, task_queue, env, log, "--host", host, "--path-map", mapping
            )

        address = temporal_server.address
        alpha = host_worker("alpha")
        beta = None
        try:
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id=f"build-hosts-{task_queue}",
                task_queue=task_queue,
            )
            child = client.get_workflow_handle(f"{handle.id}-01-models")

            async def claimed_by_alpha() -> bool:
                try:
                    st = await child.query(SubtaskWorkflow.status)
                except RPCError:
                    return False  # not started yet
                return st.host_queue == host_queue("alpha") and st.built

            await until(claimed_by_alpha, what="01-models claimed by alpha")
            beta = host_worker("beta")
            alpha.send_signal(signal.SIGKILL)
            alpha.wait()
            result = BuildResult.model_validate(await handle.result())
            moved = await child.query(SubtaskWorkflow.status)
            await record_history(child)  # a subtask that moved hosts
        finally:
            for proc in (alpha, beta):
                if proc is not None:
                    proc.kill()
                    proc.wait()
        heads = sorted(p["head"]["ref"] for p in github.pulls("demo/link-shortener"))
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    assert heads == sorted([*(f"feat/{n}" for n in NAMES), "integration/link-shortener"])
    assert moved.hosts == [host_queue("alpha"), host_queue("beta")]
    assert moved.host_queue == host_queue("beta")
    # The builder's commit reached origin before the host died, so beta went on from it.
    built = [r for r in messages.requests if r.role == "builder" and r.scope == "01-models"]
    assert len([r for r in built if r.turn == 1]) == 1
    # History holds the person's paths; the work happened in the hosts' own clones.
    assert moved.worktree == str(repo.root / ".worktrees/01-models")
    assert not (repo.root / ".worktrees").exists()
    assert (clones["alpha"] / ".worktrees/01-models").is_dir()  # its host died with it
    # Integration passed: the worker that took the clean-up removed its clone's worktrees.
    assert not (clones["beta"] / ".worktrees/01-models").exists()
    # Beta, alone after alpha died, wrote the last tracker: every subtask has its PR.
    tracker = clones["beta"] / "design-docs/orchestration/pr_tracker.md"
    rows = read_tracker(str(tracker))[repo.design_dir.name]
    assert {r.subtask: r.status for r in rows} == dict.fromkeys(
        [*NAMES, "integration"], "pr_created"
    )
