"""A signal that reaches a run with its first task (just after a continue-as-new) is kept.

The SDK runs the handlers of a first task's signals before `run`. The loops used to read
the state a continue-as-new carried over only in `run`, so such a handler changed a
blank state that `run` then replaced: a person's `!resume` sent just as the build
continued as new was lost, and the build stayed paused. Starting a build with a carried
state and a signal in the same request (signal-with-start) puts the signal in exactly
that first task.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.workflow._handlers import _SignalDefinition

from contracts.build import BuildInput, BuildState, BuildStatus
from simulators.github_api import GitHubStandIn
from tests.support import scripted_model, status_of
from tests.workflows.builds import SHARING_RULES, conflict_question, sharing_project, wid
from worker import build_worker
from workflows.build import BuildWorkflow


async def test_a_resume_in_the_first_task_of_a_carried_over_run_is_kept(
    time_skipping_env: WorkflowEnvironment,
    tmp_path: Path,
    github: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env, queue = time_skipping_env, "first-task"
    resume = _SignalDefinition.must_name_from_fn_or_str(BuildWorkflow.resume)
    with scripted_model({"rules": SHARING_RULES}, monkeypatch, github.url):
        repo = sharing_project(tmp_path, github.url)
        carried = BuildInput(design_dir=str(repo.design_dir), state=BuildState(paused=True))
        async with build_worker(env.client, queue):
            # The same carried state without the signal stays paused: the state is read.
            plain = await env.client.start_workflow(
                BuildWorkflow.run, carried, id=wid(), task_queue=queue
            )
            resumed = await env.client.start_workflow(
                BuildWorkflow.run, carried, id=wid(), task_queue=queue, start_signal=resume
            )
            for handle in (plain, resumed):
                await conflict_question(handle)
            assert (await status_of(plain, BuildStatus)).paused is True
            assert (await status_of(resumed, BuildStatus)).paused is False
            for handle in (plain, resumed):
                await handle.terminate("test over")
