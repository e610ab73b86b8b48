"""A child loop's steps in its worktree: claim a host, run there, push, open the PR.

The subtask and the integration loops both use one `WorktreeSteps`, built on the
`HostWorktree` the release loop uses too (the steps any loop takes in a worktree);
this adds what a child of the build does there. Every worktree
step runs on the host that holds the worktree (a host that stops taking work is
left for another, from the pushed branch); one that fails for good waits for a
person (`retry` / `skip` / `stop`) instead of ending the loop; agents wait while
the loop is paused or its build holds the budget or a failure, and each commit
they make is pushed at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from activities.checks import run_checks
    from activities.forge import open_pull_request
    from contracts.agents import AgentCall, EditResult, ReviewIssue, ReviewResult
    from contracts.build import GateResult, SubtaskInput, SubtaskState
    from contracts.checks import ChecksRequest, LintRequest
    from contracts.forge import PullRequestRequest, PullRequestResult
    from contracts.fork import attempt_scope
    from contracts.git import WorktreeResult
    from contracts.human import FAILURE_OPTIONS, SKIP_REVIEWER
    from contracts.integration import SmellRequest
    from contracts.patterns import PatternOffer
    from workflows import options, subtask_state
    from workflows.agent_step import agent_call
    from workflows.build_child import CHILD_SIGNALS, BuildChild
    from workflows.failures import StepAbandoned
    from workflows.host_steps import HostLost
    from workflows.host_worktree import HostWorktree
    from workflows.loop_control import LoopControl


T = TypeVar("T")


class WorktreeSteps:
    """Bound to one child loop's state and input (through callables), its control, its
    link to the build, and `spec`: the file its agents read first (the subtask's XML,
    or the plan for integration)."""

    def __init__(
        self,
        state: Callable[[], SubtaskState],
        inp: Callable[[], SubtaskInput],
        control: LoopControl,
        child: BuildChild,
        spec: Callable[[], str],
    ) -> None:
        self.state, self.inp, self.control, self.child, self.spec = (
            state,
            inp,
            control,
            child,
            spec,
        )
        self.tree = HostWorktree(control, state, lambda: self.inp().ctx)
        self.host = self.tree.host

    # ------------------------------------------------- paths

    @property
    def worktree(self) -> str:
        return self.tree.path

    def token_hosts(self) -> list[str]:
        return self.tree.token_hosts()

    def reviews_dir(self) -> str:
        inp = self.inp()
        folder = f"{inp.ctx.design_dir}/build-reviews/{inp.subtask}"
        return f"{folder}/{inp.fork.reviews_folder}" if inp.fork else folder

    # ------------------------------------------------- the host

    async def run(self, steps: Callable[[], Awaitable[None]], kept: str) -> None:
        """A child loop's run: its steps on a claimed host (`run_on_host`), ended cleanly
        when its build is gone."""
        self.child.main = asyncio.current_task()  # where a workflow cancel lands
        await self.child.until_build_gone(self.run_on_host(steps, kept))

    async def run_on_host(self, steps: Callable[[], Awaitable[None]], kept: str) -> None:
        """Run the steps on a claimed host, again on another when that host is lost
        (the worktree re-created there from the pushed branch).

        A failed step a person skipped (or stopped) blocks, keeping everything done so
        far; a cancel is reported (`kept` says what stays) and goes on up.
        """
        s = self.state()

        async def claimed_steps() -> None:
            await self.host.claim(self.inp().subtask, f"claim a host for {self.inp().subtask}")
            await steps()

        def forget(lost: HostLost) -> None:
            s.worktree, s.notes = None, f"moved off {lost}"

        try:
            await self.host.on_a_host(claimed_steps, self.inp().subtask, forget)
        except StepAbandoned as abandoned:
            self.child.block(abandoned.reason)
            await self.child.report()
        except (asyncio.CancelledError, ActivityError) as err:
            # A cancel that lands while an activity is awaited arrives as an ActivityError.
            if not is_cancelled_exception(err):
                raise
            s.status, s.phase = "cancelled", "cancelled"
            s.notes = f"cancelled; {kept} kept"
            await asyncio.shield(asyncio.ensure_future(self.child.report()))
            raise

    async def on_host(
        self, activity: Any, arg: Any, result_type: type[T], summary: str, **opts: Any
    ) -> T:
        """A worktree step on the claimed host; a step that fails for good holds for a person."""
        return await self.host.step(activity, arg, result_type, summary, **opts)

    # ------------------------------------------------- the branch

    async def make_worktree(
        self,
        key: str,
        branch: str | None,
        summary: str,
        dependency_branches: list[str] | None = None,
    ) -> WorktreeResult:
        """The loop's worktree `.worktrees/<key>` on its branch (None: `feat/<key>`), made
        or reused, with `dependency_branches` merged into a new branch."""
        inp = self.inp()
        return await self.tree.make(
            key,
            branch,
            inp.base_branch,
            summary,
            dependency_branches=dependency_branches,
            replaces=inp.replaces,
        )

    async def head(self, branch: str) -> str:
        return await self.tree.head(branch)

    async def push(self) -> None:
        """Push each new commit so another host can pick the work up if this one dies."""
        s = self.state()
        if not s.host_queue or not s.branch:
            return
        await self.tree.push(s.branch, attempts=3, replaces=self.inp().replaces)

    async def pull_request(
        self,
        branch: str,
        title: str,
        body: str,
        dependency_branches: list[str],
        record: bool = True,
    ) -> PullRequestResult:
        """Push `branch` and open (or find and update) its pull request against the base
        (`record`: commit the review record and PR text on the branch too)."""
        inp = self.inp()
        cfg = inp.ctx.config
        return await self.on_host(
            open_pull_request,
            PullRequestRequest(
                repo_root=inp.ctx.repo_root,
                worktree=self.worktree,
                branch=branch,
                base=inp.base_branch,
                dependency_branches=dependency_branches,
                title=title,
                body=body,
                design_dir=inp.ctx.design_dir,
                subtask=inp.subtask,
                forge=inp.forge or cfg.forge.kind,
                repository=cfg.forge.repository,
                api_url=cfg.forge.api_url,
                remote=cfg.forge.remote,
                token_hosts=cfg.forge.token_hosts,
                record=record,
                replaces=inp.replaces,
            ),
            PullRequestResult,
            f"pull request {branch}",
            **options.network(),
        )

    # ------------------------------------------------- gates and checks

    async def gates(self, rnd: int) -> GateResult:
        inp = self.inp()
        return await self.tree.gates(
            [*inp.commands, *inp.ctx.config.gates.commands],
            f"{self.reviews_dir()}/gates/round-{rnd}",
            f"gates {inp.subtask} · round {rnd}",
        )

    async def gates_and_checks(self, rnd: int) -> GateResult:
        """The round's gates, then seed 003's checks (after `[gates] setup` made the
        environment the linters and import lookups run in)."""
        gates = await self.gates(rnd)
        checks = await self._checks(rnd)
        return GateResult(results=[*gates.results, *checks.results])

    async def _checks(self, rnd: int) -> GateResult:
        """Seed 003's checks on this subtask's own work, as gates of its review round."""
        inp = self.inp()
        cfg = inp.ctx.config
        if not (cfg.gates.smells or cfg.gates.lint != []):
            return GateResult()
        where: dict[str, Any] = {
            "worktree": self.worktree,
            "base": inp.base_branch,
            "bases": inp.dependency_branches,
            "log_dir": f"{self.reviews_dir()}/gates/round-{rnd}",
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
        return await self.on_host(
            run_checks,
            request,
            GateResult,
            f"checks {inp.subtask} · round {rnd}",
            # The smells' import lookup, then each linter, one after another.
            **options.commands(cfg.gates.timeout_s * 5, cfg.gates.heartbeat_timeout_s),
        )

    # ------------------------------------------------- agents

    def _call(self, role: str, rnd: int, instructions: str) -> AgentCall:
        inp = self.inp()
        spec = self.spec()
        if inp.notes:
            instructions += f"\n\nNotes from the person who started this build:\n{inp.notes}"
        return agent_call(
            inp.ctx,
            role,
            attempt_scope(inp.subtask, inp.fork.attempt) if inp.fork else inp.subtask,
            rnd,
            [spec, *inp.files],
            instructions,
            f"{role}-g{inp.generation}-r{rnd}-{len(self.state().rounds)}",
            workdir=self.worktree,
            spec_path=spec,
            gate_commands=[*inp.commands, *inp.ctx.config.gates.commands],
        )

    def reviewers(self) -> list[str]:
        """The code reviewers of this round: those a person skipped are not asked again."""
        skipped = self.state().skipped_reviewers
        return [r for r in self.inp().ctx.config.reviewers.code if r not in skipped]

    async def review(
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
        inp = self.inp()
        try:
            review = await self.tree.agent.review(
                self._call(reviewer, rnd, instructions),
                f"review {inp.subtask} · {reviewer}",
                review_path=f"{self.reviews_dir()}/{self.tree.stamp(reviewer)}_{reviewer}.md",
                title=title,
                threshold=inp.threshold,
                head=head,
                diff_base_refs=[inp.base_branch, *inp.dependency_branches],
                gates=gates.outcomes(),
                choices=[*FAILURE_OPTIONS, SKIP_REVIEWER],
            )
        except StepAbandoned as abandoned:
            if abandoned.choice != SKIP_REVIEWER:
                raise
            # The round goes on without this reviewer (and so do the later ones).
            s = self.state()
            s.skipped_reviewers[reviewer] = abandoned.failure.error
            s.notes = subtask_state.with_refusals(s, f"round {rnd}")
            await self.child.report()
            return None
        await self.child.report()
        return review

    async def edit(
        self,
        role: str,
        rnd: int,
        instructions: str,
        issues: list[ReviewIssue],
        review_paths: list[str],
        message: str,
        culprits: list[str] | None = None,
        commit: bool = True,
        patterns: PatternOffer | None = None,
    ) -> EditResult:
        """An agent edits the worktree; `commit` False: the caller commits (a merge);
        `patterns`: library patterns quoted in its first message."""
        result = await self.tree.agent.edit(
            self._call(role, rnd, instructions),
            f"{role} · {self.inp().subtask}",
            commit_message=message,
            commit=commit,
            issues=issues,
            review_paths=review_paths,
            culprits=culprits,
            patterns=patterns,
        )
        if result.refused:
            subtask_state.refuse(self.state(), result.role, result.refused)
        if result.commit:  # pushed at once: another host can take the work up from it
            await self.push()
        await self.child.report()
        return result


def child_loop(
    loop: str,
    state: Callable[[], SubtaskState],
    inp: Callable[[], SubtaskInput],
    spec: Callable[[], str],
) -> tuple[LoopControl, BuildChild, WorktreeSteps]:
    """A child loop's composed parts (the subtask's, integration's; `loop` names it in its
    refusals): its loop control, its link to the build, its worktree steps; a failure hold
    is shown through the build."""
    child: BuildChild | None = None

    async def on_hold() -> None:
        assert child is not None
        await child.on_hold()

    control = LoopControl(
        loop,
        CHILD_SIGNALS,
        state=state,
        held_by=state,
        notify=on_hold,
        scope=lambda: inp().subtask,
    )
    child = BuildChild(state, inp, control)
    return control, child, WorktreeSteps(state, inp, control, child, spec)
