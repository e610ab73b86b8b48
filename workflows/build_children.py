"""The build's subtasks as child workflows: start one, take its result, stop or tell them.

A mixin of `BuildWorkflow`. Each subtask runs as its own `SubtaskWorkflow` (its
id is `<build id>-<subtask>`); the build starts it, applies what it returns, and
forwards pause, budget and failure holds and a person's decisions to it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from contracts.build import (
        BuildInput,
        BuildState,
        IntegrationInput,
        SubtaskInput,
        SubtaskResult,
        SubtaskView,
    )
    from contracts.config import ProjectContext
    from contracts.human import PendingDecision
    from contracts.integration import INTEGRATION
    from contracts.subtask import SubtaskSpec
    from workflows import build_state, cancel_guard
    from workflows.build_starts import ChildStarts
    from workflows.failures import FailureHolds, StepAbandoned, innermost_message
    from workflows.integration import IntegrationWorkflow
    from workflows.subtask import SubtaskWorkflow


class BuildChildren(ChildStarts):
    """Uses the build's state, context, input, specs, holds and its bookkeeping of
    running children (`running`, `restarting`, `changed`, `cancelled`)."""

    s: BuildState
    ctx: ProjectContext | None
    inp: BuildInput | None
    specs: dict[str, SubtaskSpec]
    base_branch: str
    holds: FailureHolds
    running: dict[str, Any]
    starting: set[str]
    restarting: set[str]
    changed: bool
    cancelled: bool
    main: asyncio.Task[Any] | None = None  # the run's task, set as it starts

    async def _run_child(self, name: str) -> None:
        assert self.ctx
        view = self.s.subtasks[name]
        run: Any
        arg: SubtaskInput
        if view.kind == "integration":
            run, arg = IntegrationWorkflow.run, self._integration_input(view)
            summary = f"integration of {self.ctx.feature}"
        else:
            spec = self.specs[name]
            deps = sorted(view.dependencies)
            run, summary = SubtaskWorkflow.run, f"subtask {name}: {spec.title}"
            arg = SubtaskInput(
                ctx=self.ctx,
                subtask=name,
                title=spec.title,
                summary=spec.summary,
                files=spec.files,
                commands=spec.commands,
                dependency_branches=[f"feat/{d}" for d in deps],
                dependency_prs={d: self.s.subtasks[d].pr_url or "" for d in deps},
                rebuild=self.s.rebuild.pop(name, None),
                rebuild_by=self.s.rebuild_by.pop(name, "change"),  # type: ignore[arg-type]
                **self._child_settings(view),
            )

        def start() -> Any:
            return workflow.start_child_workflow(
                run,
                arg,
                id=f"{workflow.info().workflow_id}-{name}",
                static_summary=summary,
                # Even a terminated build lets its subtasks clean up (tracker, agents stopped).
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            )

        try:
            handle = await self._start(name, start)
        except StepAbandoned as abandoned:  # a person skipped it, or stopped the build
            if abandoned.choice == "stop":
                self.s.stopped, self.s.stop_reason = True, abandoned.reason
            else:
                view.status, view.notes = "blocked", abandoned.reason
            self.changed = True
            return
        if handle is not None:
            await self._await_child(name, handle)

    async def _await_child(self, name: str, handle: workflow.ChildWorkflowHandle[Any, Any]) -> None:
        view = self.s.subtasks[name]
        self.running[name] = handle
        view.status, view.phase = "in_progress", "starting"
        self.changed = True
        try:
            result: SubtaskResult = await handle
            self._apply_result(result)
        except ChildWorkflowError as err:
            self._child_failed(name, innermost_message(err))
        finally:
            self.running.pop(name, None)
            self.changed = True

    def _child_failed(self, name: str, why: str) -> None:
        """A child that ended without a result: restarted, cancelled, or blocked with why."""
        view = self.s.subtasks[name]
        if name in self.restarting:
            # Cancelled by an approved spec change: start again on the revised spec.
            self.restarting.discard(name)
            view.status, view.phase = "stale", "restarting after a spec change"
        elif self.cancelled or self.s.stopped:
            view.status, view.phase = "cancelled", "cancelled"
            view.notes = self.s.stop_reason or "build cancelled; branch kept"
        else:
            view.status = "blocked"
            view.notes = f"failed: {why}"

    def _child_settings(self, view: SubtaskView) -> dict[str, Any]:
        """What every child (a subtask, integration) takes from the build as it starts."""
        assert self.ctx
        return {
            "batch": view.batch,
            "base_branch": self.base_branch,
            "threshold": (self.inp.threshold if self.inp else None) or self.ctx.config.threshold,
            "parent_id": workflow.info().workflow_id,
            "paused": self.s.paused,
            "forge": self.inp.forge if self.inp else None,
            "generation": view.generation,
            "budgeted": self.s.max_cost_usd is not None or self.s.max_tokens is not None,
            "notes": self.inp.notes if self.inp else "",
        }

    def _integration_input(self, view: SubtaskView) -> IntegrationInput:
        """Every subtask's branch in DAG order, their gates, promised files and PRs."""
        assert self.ctx
        cfg = self.ctx.config
        order = [v.name for v in build_state.subtask_views(self.s)]
        suite = cfg.gates.integration if cfg.gates.integration is not None else []
        commands = [c for n in order for c in self.specs[n].commands] + suite + cfg.integration.lint
        commands = [c for c in dict.fromkeys(commands) if c not in cfg.gates.commands]
        files = sorted({f for n in order for f in self.specs[n].files})
        return IntegrationInput(
            ctx=self.ctx,
            subtask=INTEGRATION,
            title=f"integration of {self.ctx.feature}",
            files=files[:40],
            commands=commands,
            **self._child_settings(view),
            feature=self.ctx.feature,
            merge_order=order,
            promised_files={n: self.specs[n].files for n in order},
            subtask_prs={n: self.s.subtasks[n].pr_url or "" for n in order},
            reopened=list(self.s.reopened),
            reopens=list(self.s.reopens),
            earlier_rounds=list(self.s.integration_rounds),
        )

    def _apply_result(self, result: SubtaskResult) -> None:
        view = self.s.subtasks[result.subtask]
        if view.kind == "integration":
            build_state.apply_result(view, result)
            self.s.integration_rounds += result.integration_rounds
            if result.reopen:
                build_state.reopen_for_integration(
                    self.s, result.reopen, result.reopen_reason, result.reopen_record
                )
            return
        if result.subtask in self.restarting:
            # Finished just before the cancel reached it: the restart still wins, on the
            # same branch (its PR, if any, is updated by the rebuilt one).
            self.restarting.discard(result.subtask)
            view.status, view.phase = "stale", "restarting after a spec change"
            view.pr_url = result.pr_url or view.pr_url
            return
        build_state.apply_result(view, result)

    async def _stop_children(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        """Cancel every running subtask and wait until each has cleaned up."""
        for name, handle in list(self.running.items()):
            handle.cancel()
            if self.s.stopped:
                self.s.subtasks[name].notes = self.s.stop_reason or "stopped"
        for name in list(self.starting):  # a start that asks the server or holds for a person
            tasks[name].cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)

    def _failure_decisions(self) -> list[PendingDecision]:
        return build_state.failure_decisions(self.s, self.running)

    async def _hold_children_on_failure(self) -> None:
        """While a failure holds, no subtask starts a new agent (and no new subtask starts)."""
        want = self.holds.holding or bool(self._failure_decisions())
        if want != self.s.failure_hold:
            self.s.failure_hold = want
            await self._signal_children(SubtaskWorkflow.set_failure_hold, want)

    async def _signal_children(self, signal: Any, arg: object = None) -> None:
        for name in list(self.running):
            await self._tell(name, signal, arg)

    async def _tell(self, name: str, signal: Any, arg: object = None) -> None:
        """Signal a running child from a signal handler, where an error would fail the build.
        `signal` is the child's handler (`SubtaskWorkflow.pause`): the integration child
        takes the same messages under the same names."""
        handle = self.running.get(name)
        if handle is None:
            return
        try:
            sent = handle.signal(signal) if arg is None else handle.signal(signal, arg)
            await cancel_guard.send(sent, self.main)
        except FailureError as err:
            # A child that reported its PR may close before the signal reaches it:
            # nothing is left to tell it.
            workflow.logger.info("%s to %s not delivered: %s", signal, name, err)
