"""How a subtask runs its steps: on its claimed host, through the failure holds.

A mixin of `SubtaskWorkflow`, kept apart so the workflow module reads as the
seed's state machine. Every worktree step runs on the host that holds the
worktree; one that fails for good waits for a person (`retry` / `skip` /
`stop`) instead of ending the subtask; agents wait while the subtask is
paused or the build holds its budget or a failure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from contracts.agents import (
        AgentCall,
        EditRequest,
        EditResult,
        ReviewIssue,
        ReviewRequest,
        ReviewResult,
    )
    from contracts.build import (
        GateRequest,
        GateResult,
        ReviewPass,
        ReviewPassRequest,
        RoundRecord,
        SubtaskState,
    )
    from contracts.git import (
        PushRequest,
        PushResult,
    )
    from workflows import names, options
    from workflows.failures import FailureHolds


class HostLost(Exception):
    """The host holding the worktree stopped taking work; the subtask moves to another."""


# Patch id: a restarted subtask whose branch head already passed review is not reviewed again.
RESUME_FROM_PASS = "resume-from-review-pass"


class SubtaskSteps:
    """Uses the subtask's state, input and holds, and its helpers (`_inp`, `_worktree`,
    `_xml`, `_stamp`, `_reviews_dir`, `_phase`, `_report`)."""

    s: SubtaskState
    holds: FailureHolds

    def _host(self) -> dict[str, Any]:
        """Activity options that send a worktree step to the claimed host."""
        if not self.s.host_queue:
            return {}
        timeout = timedelta(seconds=self._inp.ctx.config.host_timeout_s)
        return {"task_queue": self.s.host_queue, "schedule_to_start_timeout": timeout}

    async def _on_host(
        self, name: str, arg: Any, result_type: type, summary: str, **opts: Any
    ) -> Any:
        """A worktree step on the claimed host; a step that fails for good holds for a person."""
        return await self._held(
            summary, lambda: self._once_on_host(name, arg, result_type, summary, **opts)
        )

    async def _once_on_host(
        self, name: str, arg: Any, result_type: type, summary: str, **opts: Any
    ) -> Any:
        try:
            return await workflow.execute_activity(
                name, arg, result_type=result_type, summary=summary, **opts, **self._host()
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, TimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_START:
                raise HostLost(f"{self.s.host_queue} (no worker took {name})") from err
            raise

    async def _push(self) -> None:
        """Push each new commit so another host can pick the work up if this one dies."""
        if not self.s.host_queue or not self.s.branch:
            return
        try:
            await self._once_on_host(
                names.GIT_PUSH,
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
            names.GATES_RUN,
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

    def _call(self, role: str, rnd: int, instructions: str) -> AgentCall:
        inp = self._inp
        return AgentCall(
            role=role,
            scope=inp.subtask,
            round=rnd,
            workdir=self._worktree,
            focus_paths=[self._xml(), *inp.files],
            instructions=instructions,
            transcript_path=(
                f"{inp.ctx.repo_root}/.orchestrator/transcripts/{workflow.info().workflow_id}/"
                f"{workflow.info().run_id}/"
                f"{role}-g{inp.generation}-r{rnd}-{len(self.s.rounds)}.json"
            ),
            settings=inp.ctx.config.agent_settings(role),
        )

    async def _review(self, reviewer: str, rnd: int) -> ReviewResult:
        inp = self._inp
        call = self._call(
            reviewer,
            rnd,
            f"Review the implementation of subtask {inp.subtask} on this branch against "
            f"{self._xml()}: correctness, tests, and your focus. Score from 0 to 1; 0.96 or "
            "more means ready for a pull request. Cite file:line.",
        )
        request = ReviewRequest(
            **call.model_dump(),
            review_path=f"{self._reviews_dir()}/{self._stamp(reviewer)}_{reviewer}.md",
            title=inp.subtask,
        )
        return await self._agent(
            names.AGENT_REVIEW, request, ReviewResult, f"review {inp.subtask} · {reviewer}"
        )

    async def _edit(
        self,
        role: str,
        rnd: int,
        instructions: str,
        issues: list[ReviewIssue],
        review_paths: list[str],
        message: str,
    ) -> EditResult:
        request = EditRequest(
            **self._call(role, rnd, instructions).model_dump(),
            issues=issues,
            review_paths=review_paths,
            commit_message=message,
            commit=True,
        )
        return await self._agent(
            names.AGENT_EDIT, request, EditResult, f"{role} · {self._inp.subtask}"
        )

    async def _agent(self, name, request, result_type, summary):  # type: ignore[no-untyped-def]
        cfg = self._inp.ctx.config

        async def once():  # type: ignore[no-untyped-def]
            await workflow.wait_condition(
                lambda: not (self.s.paused or self.s.budget_hold or self.s.failure_hold)
            )
            return await self._once_on_host(
                name, request, result_type, summary, **options.agent_for(cfg.agents)
            )

        result = await self._held(
            summary,
            once,
            book=lambda usage: self.s.ledger.add_failed(request.role, self._inp.subtask, usage),
        )
        self.s.ledger.add(request.role, self._inp.subtask, result.usage)
        if isinstance(result, EditResult) and result.commit:
            await self._push()
        await self._report()
        return result

    async def _held(self, summary: str, call, book=None):  # type: ignore[no-untyped-def]
        return await self.holds.run(
            self._inp.subtask, summary, call, notify=self._on_hold, book=book
        )

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

    async def _resume_from_pass(self) -> bool:
        """A restarted build: the head that passed review goes straight to its pull request."""
        inp = self._inp
        if self.s.rounds or inp.rebuild or not workflow.patched(RESUME_FROM_PASS):
            return False
        found: ReviewPass | None = await self._on_host(
            names.REVIEW_PASS_FIND,
            ReviewPassRequest(
                design_dir=inp.ctx.design_dir, subtask=inp.subtask, worktree=self._worktree
            ),
            ReviewPass | None,  # type: ignore[arg-type]
            f"find the review pass of feat/{inp.subtask}",
            **options.quick(),
        )
        if found is None:
            return False
        self.s.built, self.s.scores, self.s.round = True, dict(found.scores), found.rounds
        self.s.rounds.append(
            RoundRecord(
                round=found.rounds,
                scores=dict(found.scores),
                commit=found.commit,
                review_paths=found.review_paths,
            )
        )
        await self._create_pr()
        self.s.notes = f"resumed: {found.commit[:10]} passed review in round {found.rounds}"
        await self._report()
        return True

    async def _record_pass(self, record: RoundRecord) -> None:
        inp = self._inp
        if not record.commit or not workflow.patched(RESUME_FROM_PASS):
            return
        await self._on_host(
            names.REVIEW_PASS_RECORD,
            ReviewPassRequest(
                design_dir=inp.ctx.design_dir,
                subtask=inp.subtask,
                worktree=self._worktree,
                record=ReviewPass(
                    subtask=inp.subtask,
                    commit=record.commit,
                    scores=dict(record.scores),
                    rounds=record.round,
                    review_paths=record.review_paths,
                ),
            ),
            str,
            f"record the review pass of feat/{inp.subtask}",
            **options.quick(),
        )
