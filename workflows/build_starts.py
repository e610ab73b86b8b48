"""Starting a build's child when its id is already taken: adopt, replace or ask a person.

A mixin of `BuildChildren`. A build interrupted with its worker (Ctrl-C on the
demo, a host that died) leaves its running subtask behind: the parent-close
policy asks it to cancel, on a task queue nobody polls, so it stays RUNNING and
the next build's start of that child fails with "already started". That error
used to end an unread task while the build waited for nothing. Now the build
asks the server what holds the id (an activity) and adopts a healthy child of
this build, terminates and restarts a stale one (saying so), and puts anything
else to a person with what it found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.child_workflows import check_child, end_child
    from contracts.build import BuildState, SubtaskResult
    from contracts.child_check import ChildCheck, ChildEnd, ChildProbe
    from contracts.human import FailureInfo
    from workflows import options
    from workflows.failures import FailureHolds
    from workflows.loop_control import LoopControl

ADOPTED_POLL = timedelta(seconds=30)
# Replacing a stale child, or finding the id free yet taken, this often: a person is asked.
MAX_TRIES = 3


class Adopted:
    """A child an earlier run of this build started, behind what the build uses of its
    own children's handles: `signal` and a synchronous `cancel`."""

    def __init__(self, workflow_id: str, run_id: str) -> None:
        self.handle = workflow.get_external_workflow_handle(workflow_id, run_id=run_id)
        self.cancelling: asyncio.Task[None] | None = None

    async def signal(self, name: Any, *args: Any) -> None:
        await self.handle.signal(name, *args)

    def cancel(self) -> None:
        self.cancelling = asyncio.ensure_future(self._cancel())

    async def _cancel(self) -> None:
        try:
            await self.handle.cancel()
        except FailureError as err:  # it closed meanwhile: nothing left to cancel
            workflow.logger.info("cancel of %s not delivered: %s", self.handle.id, err)


class ChildStarts:
    """Uses the build's state, holds, running and starting children, `control.activity`,
    `_on_hold`, `_apply_result` and `_child_failed`."""

    s: BuildState
    holds: FailureHolds
    running: dict[str, Any]
    starting: set[str]
    changed: bool
    control: LoopControl

    _on_hold: Callable[[], Awaitable[None]]
    _apply_result: Callable[[SubtaskResult], None]
    _child_failed: Callable[[str, str], None]

    async def _start(
        self, name: str, start: Callable[[], Awaitable[workflow.ChildWorkflowHandle[Any, Any]]]
    ) -> workflow.ChildWorkflowHandle[Any, Any] | None:
        """The started child; None when one already running was adopted and followed to its
        end. Raises StepAbandoned when a person answers a hold with `skip` or `stop`."""
        child_id = f"{workflow.info().workflow_id}-{name}"
        self.starting.add(name)
        try:
            tries = 0
            while True:
                try:
                    return await start()
                except WorkflowAlreadyStartedError:
                    pass
                check = await self._check_child(child_id)
                if check.verdict == "adopt":
                    if await self._adopt(name, child_id, check):
                        return None
                    continue  # its worker went away while we followed it: look again
                tries += 1
                if check.verdict == "stale" and tries < MAX_TRIES:
                    await self._replace(name, child_id, check)
                elif check.verdict != "free" or tries >= MAX_TRIES:
                    await self._ask(name, child_id, check)
                    tries = 0
        finally:
            self.starting.discard(name)

    async def _check_child(self, child_id: str, run_id: str = "") -> ChildCheck:
        return await self.control.activity(
            check_child,
            ChildProbe(workflow_id=child_id, build_id=workflow.info().workflow_id, run_id=run_id),
            result_type=ChildCheck,
            summary=f"check {child_id} on the server",
            **options.quick(),
        )

    async def _replace(self, name: str, child_id: str, check: ChildCheck) -> None:
        """Terminate a stale child of an earlier run, with a note that says what was found."""
        await self.control.activity(
            end_child,
            ChildEnd(
                workflow_id=child_id,
                run_id=check.run_id,
                reason=f"stale: replaced by {workflow.info().workflow_id} "
                f"(run {workflow.info().run_id})",
            ),
            result_type=type(None),
            summary=f"terminate stale {child_id}",
            **options.quick(),
        )
        note = f"terminated stale {check.found}; started {name} again"
        workflow.logger.warning(note)
        self.s.notice = note
        self.s.subtasks[name].notes = note
        self.changed = True

    async def _adopt(self, name: str, child_id: str, check: ChildCheck) -> bool:
        """Follow a healthy child of this build to its end (True), or until it turns stale."""
        view = self.s.subtasks[name]
        self.running[name] = Adopted(child_id, check.run_id)
        view.status, view.phase = "in_progress", "adopted"
        view.notes = f"adopted {check.found}"
        self.s.notice = view.notes
        self.changed = True
        try:
            while check.verdict == "adopt":
                await workflow.sleep(ADOPTED_POLL)
                check = await self._check_child(child_id, check.run_id)
        finally:
            self.running.pop(name, None)
            self.changed = True
        if check.verdict == "stale":
            return False
        if check.result is not None:
            self._apply_result(check.result)
        else:
            self._child_failed(name, check.closed or "ended")
        return True

    async def _ask(self, name: str, child_id: str, check: ChildCheck) -> None:
        """Neither adoptable nor replaceable: hold with what was found; returns on `retry`."""
        found = check.found or f"{child_id} stayed taken after {MAX_TRIES} tries"
        await self.holds.ask(
            FailureInfo(
                step=f"start {child_id}",
                scopes=[name],
                error=(
                    f"cannot start {child_id}: {found}. Fix: let it finish, or end it with "
                    f"`temporal workflow terminate --workflow-id {child_id} --reason <why>`, "
                    f"then retry"
                ),
                error_type="ChildIdTaken",
                cause=f"ChildIdTaken:{child_id}",
            ),
            notify=self._on_hold,
        )
