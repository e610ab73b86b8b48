"""The build's children: start, adopt or replace one, take its result, stop or tell them.

`BuildChildren` is composed by `BuildWorkflow` (not inherited). Each subtask runs as
its own `SubtaskWorkflow` (its id is `<build id>-<subtask>`), integration as an
`IntegrationWorkflow`; the build starts it, applies what it returns, and forwards pause,
budget and failure holds and a person's decisions to it.

A child's id may already be taken. A build interrupted with its worker (Ctrl-C on the
demo, a host that died) leaves its running subtask behind: the parent-close policy asks
it to cancel, on a task queue nobody polls, so it stays RUNNING and the next build's
start of that child fails with "already started". So the build asks the server what
holds the id (an activity) and adopts a healthy child of this build, terminates and
restarts a stale one (saying so), and puts anything else to a person with what it found.

A long build continues as new while its children run (a child following its PR waits
for days). Temporal applies a parent-close policy on continue-as-new as well
(temporalio/temporal#373, #3666: "When a parent calls continue-as-new the child behaves
according to its ParentClosePolicy ... the only option is to set ParentClosePolicy to
ABANDON"), so a build starts its children with ABANDON and keeps their run ids in its
state; the next run adopts each (`begin`). A
cancelled or stopped build still cancels them itself (`stop`); a terminated one leaves
them, and the next build of the feature finds them stale and replaces them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.child_workflows import check_child, end_child
    from contracts.build import (
        BuildInput,
        BuildState,
        IntegrationInput,
        SubtaskInput,
        SubtaskProgress,
        SubtaskResult,
        SubtaskView,
    )
    from contracts.child_check import ChildCheck, ChildEnd, ChildProbe
    from contracts.config import ProjectContext
    from contracts.human import FAILURE_SCOPE, DecideInput, PendingDecision
    from contracts.integration import INTEGRATION
    from contracts.subtask import SubtaskSpec
    from workflows import build_state, cancel_guard, merge_order, options
    from workflows.adopted import Adopted
    from workflows.failures import StepAbandoned, innermost_message
    from workflows.integration import IntegrationWorkflow
    from workflows.loop_control import LoopControl
    from workflows.subtask import SubtaskWorkflow

# Replacing a stale child, or finding the id free yet taken, this often: a person is asked.
MAX_TRIES = 3


class BuildChildren:
    """Bound to the build's state, context, input, specs and base branch (read through
    callables: continue-as-new and a restored state replace them) and its control; it
    keeps the bookkeeping of the children (`running`, `starting`, `restarting`).
    `changed` wakes the build's scheduling loop; `cancelled` says the build is being
    cancelled."""

    def __init__(
        self,
        *,
        state: Callable[[], BuildState],
        ctx: Callable[[], ProjectContext],
        inp: Callable[[], BuildInput | None],
        specs: Callable[[], dict[str, SubtaskSpec]],
        base_branch: Callable[[], str],
        control: LoopControl,
        changed: Callable[[], None],
        cancelled: Callable[[], bool],
    ) -> None:
        self.state, self.ctx, self.inp = state, ctx, inp
        self.specs, self.base_branch = specs, base_branch
        self.control, self.holds = control, control.holds
        self.changed, self.cancelled = changed, cancelled
        self.running: dict[str, Any] = {}  # a child's handle (or an `Adopted` one)
        self.starting: set[str] = set()
        self.restarting: set[str] = set()
        self.main: asyncio.Task[Any] | None = None  # the run's task, set as it starts
        self.begun = False  # `begin` ran: the children an earlier run left are in `running`
        self.early: list[SubtaskProgress] = []  # reports that came before the run's state
        self.told: dict[str, asyncio.Task[None]] = {}  # foreign children told to look

    def begin(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        """As a run starts, its state read: follow on each child an earlier run left
        running (continue-as-new) to its result, before anything can look at `running`;
        then the reports that reached this run before its state."""
        self.begun = True
        for name, run_id in self.state().children.items():
            adopted = Adopted(self._child_id(name))
            self.running[name] = adopted
            if build_state.ended(self.state().subtasks[name]):
                adopted.wake()  # its last report reached the run before
            tasks[name] = asyncio.ensure_future(self._carry_on(name, run_id, adopted))
        for progress in self.early:
            self.progress(progress)
        self.early.clear()

    async def _begun(self) -> None:
        """A handler that ran with the run's first task, before `run` took its children over
        (`begin`), waits for them: what it forwards reaches the children left running."""
        if not self.begun:
            await workflow.wait_condition(lambda: self.begun)

    def may_continue_as_new(self) -> bool:
        """Every running child outlives this run, and none is being started or replaced."""
        return not self.starting and not self.restarting

    async def _carry_on(self, name: str, run_id: str, adopted: Adopted) -> None:
        """A child an earlier run of this build started: its result, or a new start of
        it when it turned stale (its worker went away)."""
        check = ChildCheck(verdict="adopt", run_id=run_id)
        check = await self._follow(name, self._child_id(name), check, adopted)
        if check.verdict == "stale":
            view = self.state().subtasks[name]
            view.status, view.phase = "stale", "starting again: " + check.found
            self.changed()

    def _child_id(self, name: str) -> str:
        return f"{workflow.info().workflow_id}-{name}"

    async def run(self, name: str) -> None:
        view = self.state().subtasks[name]
        run: Any
        arg: SubtaskInput
        deps = sorted(view.dependencies)
        merged = [d for d in deps if self.state().subtasks[d].status == "merged"]
        # What it knows of its dependencies' merges as it starts (`merge = "auto"`).
        self.state().merge_told[name] = merged
        self.state().merge_declined.pop(name, None)
        if view.kind == "integration":
            run, arg = IntegrationWorkflow.run, self._integration_input(view)
            summary = f"integration of {self.ctx().feature}"
        else:
            spec = self.specs()[name]
            run, summary = SubtaskWorkflow.run, f"subtask {name}: {spec.title}"
            arg = self.subtask_input(
                name,
                rebuild=self.state().rebuild.pop(name, None),
                rebuild_by=self.state().rebuild_by.pop(name, "change"),
            )

        def start() -> Any:
            return workflow.start_child_workflow(
                run,
                arg,
                id=self._child_id(name),
                static_summary=summary,
                parent_close_policy=ParentClosePolicy.ABANDON,
            )

        try:
            handle = await self._start(name, start)
        except StepAbandoned as abandoned:  # a person skipped it, or stopped the build
            if abandoned.choice == "stop":
                self.state().stopped, self.state().stop_reason = True, abandoned.reason
            else:
                view.status, view.notes = "blocked", abandoned.reason
            self.changed()
            return
        if handle is not None:
            await self._await_child(name, handle)

    async def _await_child(self, name: str, handle: workflow.ChildWorkflowHandle[Any, Any]) -> None:
        view = self.state().subtasks[name]
        self.running[name] = handle
        self.state().children[name] = handle.first_execution_run_id or ""
        view.status, view.phase = "in_progress", "starting"
        self.changed()
        try:
            result: SubtaskResult = await handle
            self._apply_result(result)
        except ChildWorkflowError as err:
            self._child_failed(name, innermost_message(err))
        finally:
            self.running.pop(name, None)
            self.state().children.pop(name, None)
            self.changed()

    def _child_failed(self, name: str, why: str) -> None:
        """A child that ended without a result: restarted, cancelled, or blocked with why."""
        view = self.state().subtasks[name]
        if name in self.restarting:
            # Cancelled by an approved spec change: start again on the revised spec.
            self.restarting.discard(name)
            view.status, view.phase = "stale", "restarting after a spec change"
        elif self.cancelled() or self.state().stopped:
            view.status, view.phase = "cancelled", "cancelled"
            view.notes = self.state().stop_reason or "build cancelled; branch kept"
        else:
            view.status = "blocked"
            view.notes = f"failed: {why}"

    def limit(self) -> int:
        """`max_concurrent_subtasks`: the build's input, else the project's."""
        inp = self.inp()
        return (inp and inp.max_concurrent_subtasks) or self.ctx().config.max_concurrent_subtasks

    def subtask_input(self, name: str, **extra: Any) -> SubtaskInput:
        """A subtask child's input from its spec, its dependencies and the build."""
        spec, view = self.specs()[name], self.state().subtasks[name]
        deps = sorted(view.dependencies)
        return SubtaskInput(
            ctx=self.ctx(),
            subtask=name,
            title=spec.title,
            summary=spec.summary,
            files=spec.files,
            commands=spec.commands,
            dependency_branches=[f"feat/{d}" for d in deps],
            dependency_prs={d: self.state().subtasks[d].pr_url or "" for d in deps},
            merged_dependencies=[d for d in deps if self.state().subtasks[d].status == "merged"],
            **extra,
            **self._child_settings(view),
        )

    def _child_settings(self, view: SubtaskView) -> dict[str, Any]:
        """What every child (a subtask, integration) takes from the build as it starts."""
        s, inp = self.state(), self.inp()
        return {
            "batch": view.batch,
            "base_branch": self.base_branch(),
            "threshold": (inp.threshold if inp else None) or self.ctx().config.threshold,
            "parent_id": workflow.info().workflow_id,
            "paused": s.paused,
            "forge": inp.forge if inp else None,
            "generation": view.generation,
            "budgeted": s.max_cost_usd is not None or s.max_tokens is not None,
            "notes": inp.notes if inp else "",
            "replaces": s.replaced.get(view.name),  # set by a !replay until it has its PR
        }

    def _integration_input(self, view: SubtaskView) -> IntegrationInput:
        """Every subtask's branch in DAG order, their gates, promised files and PRs."""
        cfg = self.ctx().config
        order = [v.name for v in build_state.subtask_views(self.state())]
        suite = cfg.gates.integration if cfg.gates.integration is not None else []
        commands = (
            [c for n in order for c in self.specs()[n].commands] + suite + cfg.integration.lint
        )
        commands = [c for c in dict.fromkeys(commands) if c not in cfg.gates.commands]
        files = sorted({f for n in order for f in self.specs()[n].files})
        return IntegrationInput(
            ctx=self.ctx(),
            subtask=INTEGRATION,
            title=f"integration of {self.ctx().feature}",
            files=files[:40],
            commands=commands,
            **self._child_settings(view),
            feature=self.ctx().feature,
            merge_order=order,
            promised_files={n: self.specs()[n].files for n in order},
            subtask_prs={n: self.state().subtasks[n].pr_url or "" for n in order},
            reopened=list(self.state().reopened),
            reopens=list(self.state().reopens),
            earlier_rounds=list(self.state().integration_rounds),
        )

    def _apply_result(self, result: SubtaskResult) -> None:
        view = self.state().subtasks[result.subtask]
        if view.kind == "integration":
            build_state.apply_result(view, result)
            self.state().integration_rounds += result.integration_rounds
            if result.reopen:
                build_state.reopen_for_integration(
                    self.state(), result.reopen, result.reopen_reason, result.reopen_record
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

    async def merge_in_order(self) -> None:
        """`[forge] merge = "auto"`: tell each running subtask of its dependencies' merges,
        then let the next PR merge (workflows/merge_order.py decides which)."""
        s = self.state()
        for name, deps in merge_order.news(s, self.running).items():
            for dep in deps:
                await self.tell(name, SubtaskWorkflow.dependency_merged, dep)
            s.merge_told.setdefault(name, []).extend(deps)
        for name, why in merge_order.declined(s, self.running).items():
            await self.tell(name, SubtaskWorkflow.merge_declined, why)
            s.merge_declined[name] = why
        turn = merge_order.next_turn(s, self.running)
        if turn is not None:
            await self.tell(turn, SubtaskWorkflow.may_merge)

    async def stop(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        """Cancel every running subtask and wait until each has cleaned up."""
        for name, handle in list(self.running.items()):
            handle.cancel()
            if self.state().stopped:
                self.state().subtasks[name].notes = self.state().stop_reason or "stopped"
        for name in list(self.starting):  # a start that asks the server or holds for a person
            tasks[name].cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)

    def failure_decisions(self) -> list[PendingDecision]:
        return build_state.failure_decisions(self.state(), self.running)

    async def hold_on_failure(self) -> None:
        """While a failure holds, no subtask starts a new agent (and no new subtask starts)."""
        want = self.holds.holding or bool(self.failure_decisions())
        if want != self.state().failure_hold:
            self.state().failure_hold = want
            await self.signal_all(SubtaskWorkflow.set_failure_hold, want)

    async def signal_all(self, signal: Any, arg: object = None) -> None:
        await self._begun()
        for name in list(self.running):
            await self.tell(name, signal, arg)

    async def tell(self, name: str, signal: Any, arg: object = None) -> None:
        """Signal a running child from a signal handler, where an error would fail the build.
        `signal` is the child's handler (`SubtaskWorkflow.pause`): the integration child
        takes the same messages under the same names."""
        await self._begun()
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

    async def _start(
        self, name: str, start: Callable[[], Awaitable[workflow.ChildWorkflowHandle[Any, Any]]]
    ) -> workflow.ChildWorkflowHandle[Any, Any] | None:
        """The started child; None when one already running was adopted and followed to its
        end. Raises StepAbandoned when a person answers a hold with `skip` or `stop`."""
        child_id = self._child_id(name)
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
        self.state().notice = note
        self.state().subtasks[name].notes = note
        self.changed()

    async def _adopt(self, name: str, child_id: str, check: ChildCheck) -> bool:
        """Follow a healthy child of this build to its end (True), or until it turns stale."""
        view = self.state().subtasks[name]
        adopted = Adopted(child_id)
        self.running[name] = adopted
        view.status, view.phase = "in_progress", "adopted"
        view.notes = f"adopted {check.found}"
        self.state().notice = view.notes
        self.changed()
        return (await self._follow(name, child_id, check, adopted)).verdict != "stale"

    async def _follow(
        self, name: str, child_id: str, check: ChildCheck, adopted: Adopted
    ) -> ChildCheck:
        """Look at an adopted child until it ends (its result applied) or turns stale."""
        try:
            while check.verdict == "adopt":
                # The newest run seen: a run after this one starts there.
                self.state().children[name] = check.run_id
                await adopted.wait()
                check = await self._check_child(child_id, check.run_id)
        finally:
            self.running.pop(name, None)
            self.state().children.pop(name, None)
            self.changed()
        if check.verdict == "stale":
            return check
        if check.result is not None:
            self._apply_result(check.result)
        else:
            self._child_failed(name, check.closed or "ended")
        return check

    async def _ask(self, name: str, child_id: str, check: ChildCheck) -> None:
        """Neither adoptable nor replaceable: hold with what was found; returns on `retry`."""
        found = check.found or f"{child_id} stayed taken after {MAX_TRIES} tries"
        await self.control.hold_found(
            f"start {child_id}",
            f"cannot start {child_id}: {found}. Fix: let it finish, or end it with "
            f"`temporal workflow terminate --workflow-id {child_id} --reason <why>`, then retry",
            f"ChildIdTaken:{child_id}",
            error_type="ChildIdTaken",
            scope=name,
        )

    def progress(self, progress: SubtaskProgress) -> None:
        """A child's report (`BuildWorkflow.subtask_progress`): its view in the build's state."""
        if self.inp() is None:  # a report in a new run's first activation, before `begin`
            self.early.append(progress)
            return
        if self._foreign(progress):  # even before the plan is read: the child checks itself
            self._tell_foreign(progress.subtask)
            return
        view = self.state().subtasks.get(progress.subtask)
        if self.cancelled() or view is None:
            return
        if build_state.apply_progress(view, progress):
            self.changed()
            adopted = self.running.get(progress.subtask)
            if isinstance(adopted, Adopted) and build_state.ended(view):
                adopted.wake()  # its last report: its result is there in a moment

    def _foreign(self, progress: SubtaskProgress) -> bool:
        """A child's report that this run neither starts nor follows: from a child a
        terminated build left running (ABANDON), to the build that took its id over."""
        name = progress.subtask
        following = name in self.running or name in self.starting
        return bool(progress.parent_run) and not following

    def _tell_foreign(self, name: str) -> None:
        """Once per run: the child a terminated build left running looks at its build now
        (`build_gone`), and ends its work unless this build will take it over."""
        if name in self.told:
            return
        handle = workflow.get_external_workflow_handle(self._child_id(name))

        async def tell() -> None:
            try:
                await handle.signal(SubtaskWorkflow.look_at_build)
            except FailureError as err:  # it ended meanwhile
                workflow.logger.info("look_at_build to %s not delivered: %s", name, err)

        self.told[name] = asyncio.ensure_future(tell())

    async def decide(self, decision: DecideInput, waiting_for: Callable[[], str]) -> None:
        """A person's answer for a child: a failure that holds children (one answer for
        every subtask held by one cause), else the question one child asks."""
        choice = decision.choice.strip().lower()
        held = build_state.held_by_failure(self.state(), self.running, decision.scope)
        if held:
            await self._decide_failure(held, choice, whole=decision.scope in (None, FAILURE_SCOPE))
            return
        waiting = [
            n
            for n, v in self.state().subtasks.items()
            if v.decision is not None and decision.scope in (None, n) and n in self.running
        ]
        if not waiting:
            self.control.refuse(
                f"decide: no subtask waits for a decision ({decision.scope or 'any'}). Fix: "
                f"decide only what `status` lists (now waiting for: {waiting_for()})"
            )
            return
        asked = self.state().subtasks[waiting[0]].decision
        # Refused here, where `status` shows it: the subtask would only log it.
        if asked is not None and not self.control.offered(choice, asked.options, waiting[0]):
            return
        await self.tell(waiting[0], SubtaskWorkflow.decide, decision.choice)

    async def _decide_failure(self, held: list[str], choice: str, whole: bool) -> None:
        """One answer for every subtask held by one cause; `stop` ends the whole build."""
        decision = self.state().subtasks[held[0]].decision
        assert decision is not None
        offered = [o for o in decision.options if all(self._offers(n, o) for n in held)]
        if not self.control.offered(choice, offered, "the failure"):
            return
        if choice == "stop":
            failure = decision.failure
            what = f"{failure.step} failed: {failure.error}" if failure else decision.prompt
            self.state().stopped = True
            self.state().stop_reason = f"stopped by a person after {what}"
            self.changed()
            return
        for name in held:
            await self.tell(name, SubtaskWorkflow.decide, choice)
        if choice == "retry" and whole:
            # A step another subtask had in flight during the outage may fail only now (or
            # just did, after this decision was read): this `retry` covers it too, so nobody
            # is asked twice about one outage.
            cause = decision.failure.cause if decision.failure else ""
            for name in [n for n in self.running if n not in held]:
                await self.tell(name, SubtaskWorkflow.outage_retried, cause)

    def _offers(self, name: str, option: str) -> bool:
        decision = self.state().subtasks[name].decision
        return decision is not None and option in decision.options
