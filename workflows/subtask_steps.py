"""How a subtask runs its steps: on its claimed host, through the failure holds.

A mixin of `SubtaskWorkflow`, kept apart so the workflow module reads as the
seed's state machine. Every worktree step runs on the host that holds the
worktree; one that fails for good waits for a person (`retry` / `skip` /
`stop`) instead of ending the subtask; agents wait while the subtask is
paused or the build holds its budget or a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    TimeoutError,
    TimeoutType,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from activities.agents.activities import agent_edit, agent_review
    from activities.checks import run_checks
    from activities.gates import run_gates
    from activities.git.activities import push_branch
    from activities.host import HostClaim
    from contracts.agents import (
        AgentCall,
        EditRequest,
        EditResult,
        GateOutcome,
        ReviewIssue,
        ReviewRequest,
        ReviewResult,
    )
    from contracts.build import (
        GateRequest,
        GateResult,
        SubtaskInput,
        SubtaskProgress,
        SubtaskState,
    )
    from contracts.checks import ChecksRequest, LintRequest
    from contracts.git import (
        PushRequest,
        PushResult,
        token_hosts_for,
    )
    from contracts.human import FAILURE_OPTIONS, SKIP_REVIEWER, FailureInfo
    from contracts.integration import SmellRequest
    from workflows import cancel_guard, options, subtask_state
    from workflows.agent_step import AgentStep, R
    from workflows.failures import FailureHolds, StepAbandoned
    from workflows.timestamps import stamp


T = TypeVar("T")


class HostLost(Exception):
    """The host holding the worktree stopped taking work; the subtask moves to another."""


# After this many host moves in a row, a person decides.
MAX_HOST_MOVES = 3


class SubtaskSteps:
    """Uses the subtask's state, input, holds, agent step and last report."""

    s: SubtaskState
    inp: SubtaskInput | None
    holds: FailureHolds
    agent: AgentStep
    reported: SubtaskProgress | None
    main: asyncio.Task[Any] | None = None  # the run's task, set as it starts

    # ------------------------------------------------- state, paths, reporting

    @property
    def _inp(self) -> SubtaskInput:
        assert self.inp is not None
        return self.inp

    @property
    def _worktree(self) -> str:
        if self.s.worktree is None:
            raise ApplicationError("no worktree yet", non_retryable=True)
        return self.s.worktree

    def _token_hosts(self) -> list[str]:
        """HTTPS hosts whose remotes get GITHUB_TOKEN (the token itself never enters history)."""
        forge = self._inp.ctx.config.forge
        return token_hosts_for(forge.api_url, forge.token_hosts)

    def _xml(self) -> str:
        return f"{self._inp.ctx.design_rel}/subtasks/{self._inp.subtask}.xml"

    def _stamp(self, reviewer: str) -> str:
        self.s.last_stamp[reviewer] = stamp(workflow.now(), self.s.last_stamp.get(reviewer))
        return self.s.last_stamp[reviewer]

    def _reviews_dir(self) -> str:
        return f"{self._inp.ctx.design_dir}/build-reviews/{self._inp.subtask}"

    def _phase(self, phase: str) -> None:
        self.s.phase = phase
        workflow.set_current_details(subtask_state.details(self.s, self._inp.subtask))

    def _block(self, reason: str) -> None:
        self.s.status, self.s.phase, self.s.notes = "blocked", "blocked", reason

    async def _report(self) -> None:
        """Tell the parent build (it owns the tracker and the status table) what changed."""
        inp = self._inp
        self._phase(self.s.phase)
        if not inp.parent_id:
            return
        now = subtask_state.progress(self.s, inp.subtask, inp.generation)
        if not subtask_state.report_due(self.reported, now, inp.budgeted):
            return
        self.reported = now
        parent = workflow.get_external_workflow_handle(inp.parent_id)
        await cancel_guard.send(parent.signal("subtask_progress", now), self.main)

    # ------------------------------------------------------------ running steps

    def _agent_step(self) -> AgentStep:
        """Agents wait while paused or held, and run on the claimed host."""
        return AgentStep(
            self.holds,
            ledger=lambda: self.s.ledger,
            may_start=lambda: not (self.s.paused or self.s.budget_hold or self.s.failure_hold),
            agents=lambda: self._inp.ctx.config.agents,
            notify=self._on_hold,
            execute=self._execute_on_host,
        )

    async def _run_on_host(self, steps: Callable[[], Awaitable[None]], kept: str) -> None:
        """Run the steps on a claimed host, again on another when that host is lost.

        A failed step a person skipped (or stopped) blocks, keeping everything done so
        far; a cancel is reported (`kept` says what stays) and goes on up.
        """
        try:
            while True:
                try:
                    await self._claim_host()
                    await steps()
                    return
                except HostLost as lost:
                    # Re-create the worktree from the pushed branch on whichever host claims it.
                    workflow.logger.warning("%s: %s", self._inp.subtask, lost)
                    self.s.host_queue, self.s.worktree = None, None
                    self.s.notes = f"moved off {lost}"
                    await self._bound_host_moves(str(lost))
        except StepAbandoned as abandoned:
            self._block(abandoned.reason)
            await self._report()
        except (asyncio.CancelledError, ActivityError) as err:
            # A cancel that lands while an activity is awaited arrives as an ActivityError.
            if not is_cancelled_exception(err):
                raise
            self.s.status, self.s.phase = "cancelled", "cancelled"
            self.s.notes = f"cancelled; {kept} kept"
            await asyncio.shield(asyncio.ensure_future(self._report()))
            raise

    async def _bound_host_moves(self, lost: str) -> None:
        """Moving hosts is a retry: after MAX_HOST_MOVES in a row a person decides (retry
        once a worker serves its host queue, skip, stop) instead of moving forever."""
        self.s.host_moves += 1
        if self.s.host_moves < MAX_HOST_MOVES:
            return
        subtask = self._inp.subtask
        await self.holds.ask(
            FailureInfo(
                step=f"claim a host for {subtask}",
                scopes=[subtask],
                error=(
                    f"{subtask} moved hosts {self.s.host_moves} times: no worker took its "
                    f"worktree steps within host_timeout_s (last: {lost}). Fix: start a worker "
                    "that serves its host queue (`orchestrator worker`, with ORCHESTRATOR_HOST "
                    "or --host), or raise host_timeout_s in orchestrator.toml, then retry"
                ),
                error_type="HostsLost",
                cause="HostsLost",
            ),
            notify=self._on_hold,
        )
        self.s.host_moves = 0

    async def _claim_host(self) -> None:
        """Bind the worktree's steps to one host (workers started with a host queue)."""
        if self.s.host_queue is not None:
            return
        summary = f"claim a host for {self._inp.subtask}"
        self.s.host_queue = await self._held(
            summary,
            lambda: workflow.execute_activity_method(
                HostClaim.claim,
                self._inp.subtask,
                summary=summary,
                **options.quick(),
            ),
        )
        if self.s.host_queue:
            self.s.hosts.append(self.s.host_queue)

    async def _maybe_continue_as_new(self) -> None:
        if workflow.info().is_continue_as_new_suggested():
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(self._inp.model_copy(update={"state": self.s}))

    def _host(self) -> dict[str, Any]:
        """Activity options that send a worktree step to the claimed host."""
        if not self.s.host_queue:
            return {}
        timeout = timedelta(seconds=self._inp.ctx.config.host_timeout_s)
        return {"task_queue": self.s.host_queue, "schedule_to_start_timeout": timeout}

    async def _on_host(
        self, activity: Any, arg: Any, result_type: type[T], summary: str, **opts: Any
    ) -> T:
        """A worktree step on the claimed host; a step that fails for good holds for a person."""
        return await self._held(
            summary, lambda: self._once_on_host(activity, arg, result_type, summary, **opts)
        )

    async def _once_on_host(
        self, activity: Any, arg: Any, result_type: type[T], summary: str, **opts: Any
    ) -> T:
        try:
            result: T = await workflow.execute_activity(
                activity, arg, result_type=result_type, summary=summary, **opts, **self._host()
            )
            return result
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, TimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_START:
                raise HostLost(f"{self.s.host_queue} (no worker took {summary})") from err
            raise

    async def _push(self) -> None:
        """Push each new commit so another host can pick the work up if this one dies."""
        if not self.s.host_queue or not self.s.branch:
            return
        try:
            await self._once_on_host(
                push_branch,
                PushRequest(
                    path=self._worktree,
                    branch=self.s.branch,
                    remote=self._inp.ctx.config.forge.remote,
                    token_hosts=self._token_hosts(),
                ),
                PushResult,
                f"push {self.s.branch}",
                **options.quick(retry_policy=RetryPolicy(maximum_attempts=3)),
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            workflow.logger.warning("push of %s failed: %s", self.s.branch, err.cause)

    async def _gates(self, rnd: int) -> GateResult:
        inp = self._inp
        cfg = inp.ctx.config
        commands = [*inp.commands, *cfg.gates.commands]
        if not commands:
            return GateResult()
        return await self._on_host(
            run_gates,
            GateRequest(
                workdir=self._worktree,
                commands=commands,
                log_dir=f"{self._reviews_dir()}/gates/round-{rnd}",
                timeout_s=cfg.gates.timeout_s,
                output_limit=cfg.gates.output_limit,
                setup=cfg.gates.setup,
                sandbox=cfg.sandbox,
            ),
            GateResult,
            f"gates {inp.subtask} · round {rnd}",
            **options.commands(
                cfg.gates.timeout_s * max(1, len(commands)), cfg.gates.heartbeat_timeout_s
            ),
        )

    async def _gates_and_checks(self, rnd: int) -> GateResult:
        """The round's gates, then seed 003's checks (after `[gates] setup` made the
        environment the linters and import lookups run in)."""
        gates = await self._gates(rnd)
        checks = await self._checks(rnd)
        return GateResult(results=[*gates.results, *checks.results])

    async def _checks(self, rnd: int) -> GateResult:
        """Seed 003's checks on this subtask's own work, as gates of its review round."""
        inp = self._inp
        cfg = inp.ctx.config
        if not (cfg.gates.smells or cfg.gates.lint != []):
            return GateResult()
        where: dict[str, Any] = {
            "worktree": self._worktree,
            "base": inp.base_branch,
            "bases": inp.dependency_branches,
            "log_dir": f"{self._reviews_dir()}/gates/round-{rnd}",
            "timeout_s": cfg.gates.timeout_s,
            "sandbox": cfg.sandbox,
        }
        request = ChecksRequest(
            smells=(
                SmellRequest(**where, promised_files={inp.subtask: inp.files})
                if cfg.gates.smells
                else None
            ),
            lint=(
                LintRequest(**where, linters=cfg.gates.lint, output_limit=cfg.gates.output_limit)
                if cfg.gates.lint != []
                else None
            ),
        )
        return await self._on_host(
            run_checks,
            request,
            GateResult,
            f"checks {inp.subtask} · round {rnd}",
            # The smells' import lookup, then each linter, one after another.
            **options.commands(cfg.gates.timeout_s * 5, cfg.gates.heartbeat_timeout_s),
        )

    def _call(self, role: str, rnd: int, instructions: str) -> AgentCall:
        inp = self._inp
        if inp.notes:
            instructions += f"\n\nNotes from the person who started this build:\n{inp.notes}"
        return AgentCall(
            role=role,
            scope=inp.subtask,
            round=rnd,
            workdir=self._worktree,
            focus_paths=[self._xml(), *inp.files],
            instructions=instructions,
            spec_path=self._xml(),
            gate_commands=[*inp.commands, *inp.ctx.config.gates.commands],
            transcript_path=(
                f"{inp.ctx.repo_root}/.orchestrator/transcripts/{workflow.info().workflow_id}/"
                f"{workflow.info().run_id}/"
                f"{role}-g{inp.generation}-r{rnd}-{len(self.s.rounds)}.json"
            ),
            settings=inp.ctx.config.agent_settings(role, inp.ctx.start_commit),
        )

    def _reviewers(self) -> list[str]:
        """The code reviewers of this round: those a person skipped are not asked again."""
        return [r for r in self._inp.ctx.config.reviewers.code if r not in self.s.skipped_reviewers]

    async def _review(
        self, reviewer: str, rnd: int, head: str, gates: GateResult
    ) -> ReviewResult | None:
        inp = self._inp
        return await self._review_with(
            reviewer,
            rnd,
            f"Review the implementation of subtask {inp.subtask} on this branch against "
            f"{self._xml()}: correctness, tests, and your focus. Verify each finding and "
            "score by the rubric.",
            inp.subtask,
            head,
            gates,
        )

    async def _review_with(
        self,
        reviewer: str,
        rnd: int,
        instructions: str,
        title: str,
        head: str,
        gates: GateResult,
    ) -> ReviewResult | None:
        """A review, told the exact range of the branch's own work (up to `head`) and what
        the round's gates found, which ran before it. None: a person skipped this reviewer."""
        inp = self._inp
        request = ReviewRequest(
            **self._call(reviewer, rnd, instructions).model_dump(),
            review_path=f"{self._reviews_dir()}/{self._stamp(reviewer)}_{reviewer}.md",
            title=title,
            threshold=inp.threshold,
            head=head,
            diff_base_refs=[inp.base_branch, *inp.dependency_branches],
            gates=[
                GateOutcome(
                    command=g.command, passed=g.passed, exit_code=g.exit_code, log_path=g.log_path
                )
                for g in gates.results
            ],
        )
        try:
            return await self._agent(
                agent_review,
                request,
                ReviewResult,
                f"review {inp.subtask} · {reviewer}",
                choices=[*FAILURE_OPTIONS, SKIP_REVIEWER],
            )
        except StepAbandoned as abandoned:
            if abandoned.choice != SKIP_REVIEWER:
                raise
            # The round goes on without this reviewer (and so do the later ones).
            self.s.skipped_reviewers[reviewer] = abandoned.failure.error
            self.s.notes = subtask_state.with_refusals(self.s, f"round {rnd}")
            await self._report()
            return None

    async def _edit(
        self,
        role: str,
        rnd: int,
        instructions: str,
        issues: list[ReviewIssue],
        review_paths: list[str],
        message: str,
        culprits: list[str] | None = None,
    ) -> EditResult:
        request = EditRequest(
            **self._call(role, rnd, instructions).model_dump(),
            issues=issues,
            review_paths=review_paths,
            commit_message=message,
            commit=True,
            culprits=culprits or [],
        )
        return await self._agent(agent_edit, request, EditResult, f"{role} · {self._inp.subtask}")

    async def _agent(
        self,
        activity: Any,
        request: AgentCall,
        result_type: type[R],
        summary: str,
        choices: Sequence[str] = FAILURE_OPTIONS,
    ) -> R:
        """The shared agent step, on the claimed host; a commit is pushed at once."""
        result = await self.agent(activity, request, result_type, summary, choices)
        if isinstance(result, EditResult) and result.refused:
            # Only results of this code carry `refused`: older histories replay unchanged.
            subtask_state.refuse(self.s, result.role, result.refused)
        if isinstance(result, EditResult) and result.commit:
            await self._push()
        await self._report()
        return result

    async def _execute_on_host(
        self,
        activity: Any,
        request: AgentCall,
        result_type: type,
        summary: str,
        opts: dict[str, Any],
    ) -> Any:
        return await self._once_on_host(activity, request, result_type, summary, **opts)

    async def _held(self, summary: str, call: Callable[[], Awaitable[T]]) -> T:
        return await self.holds.run(self._inp.subtask, summary, call, notify=self._on_hold)

    async def _on_hold(self) -> None:
        """A failure hold opened or closed: show it (status, Web UI, the build's tracker)."""
        held = self.holds.decisions()
        if held:
            self.s.decision = held[0]
            self._phase("waiting for a decision (failure)")
        elif self.s.decision is not None and self.s.decision.kind == "failure":
            self.s.decision = None
            self._phase("resuming")
        await self._report()
