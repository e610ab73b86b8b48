"""Two worker processes on one machine, each with its own host queue.

A subtask's worktree steps run on the host that claimed it; when that host
disappears, the subtask is claimed again by another and finishes there.
"""

from __future__ import annotations

import signal
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError

from contracts.build import BuildInput, BuildResult, SubtaskState
from runtime.server import DevServer
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from tests.support import make_project, sim_environ, spawn_worker, until
from tests.workflows.test_build_loop import approve_artifacts


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
        )
        approve_artifacts(repo.design_dir, repo.root)
        address = temporal_server.address
        alpha = spawn_worker(address, task_queue, env, tmp_path / "alpha.log", "--host", "alpha")
        beta = None
        try:
            handle = await client.start_workflow(
                "BuildWorkflow",
                BuildInput(design_dir=str(repo.design_dir)),
                id=f"build-hosts-{task_queue}",
                task_queue=task_queue,
            )
            child = client.get_workflow_handle(f"{handle.id}-01-models")

            async def claimed_by_alpha() -> bool:
                try:
                    st = await child.query("status", result_type=SubtaskState)
                except RPCError:
                    return False  # not started yet
                return st.host_queue == "orchestrator-host-alpha" and st.built

            await until(claimed_by_alpha, what="01-models claimed by alpha")
            beta = spawn_worker(address, task_queue, env, tmp_path / "beta.log", "--host", "beta")
            alpha.send_signal(signal.SIGKILL)
            alpha.wait()
            result = BuildResult.model_validate(await handle.result())
            moved = await child.query("status", result_type=SubtaskState)
        finally:
            for proc in (alpha, beta):
                if proc is not None:
                    proc.kill()
                    proc.wait()
        heads = sorted(p["head"]["ref"] for p in github.pulls("demo/link-shortener"))
    assert result.result == "ALL_SUBTASKS_PR_CREATED"
    assert len(heads) == 5
    assert moved.hosts == ["orchestrator-host-alpha", "orchestrator-host-beta"]
    assert moved.host_queue == "orchestrator-host-beta"
    # The builder's commit reached origin before the host died, so beta went on from it.
    assert "feat/01-models" in heads[0]
