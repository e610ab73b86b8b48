"""SubtaskWorkflow: seed 002's per-subtask state machine.

SETUP_WORKTREE -> BUILD -> REVIEW (gates, then reviewers) -> EVALUATE
-> FIX -> REVIEW ... -> CREATE_PR. Stuck: ask the person (skip / simplify /
debug / continue). Every change of state is reported to the parent build,
which owns the tracker.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.git.activities import ensure_worktree, git_repo_info, merge_dependencies
    from contracts.build import (
        RoundVerdict,
        SubtaskInput,
        SubtaskProgress,
        SubtaskResult,
        SubtaskState,
    )
    from contracts.git import (
        MergeRequest,
        MergeResult,
        RepoInfo,
        WorktreeRequest,
        WorktreeResult,
    )
    from contracts.human import PendingDecision
    from workflows import options, subtask_state
    from workflows.failures import FailureHolds, all_or_cancel
    from workflows.subtask_finish import SubtaskFinish
    from workflows.subtask_messages import SubtaskMessages


@workflow.defn(name="SubtaskWorkflow")
class SubtaskWorkflow(SubtaskMessages, SubtaskFinish):
    def __init__(self) -> None:
        self.s = SubtaskState()
        self.inp: SubtaskInput | None = None
        self.decision_answer: str | None = None
        self.reported: SubtaskProgress | None = None
        self.holds = FailureHolds()
        self.agent = self._agent_step()

    @workflow.run
    async def run(self, inp: SubtaskInput) -> SubtaskResult:
        self.main = asyncio.current_task()  # where a workflow cancel lands
        self.inp = inp
        if inp.state is not None:
            self.s = inp.state
        else:
            self.s.paused = inp.paused
            self.s.round_cap = inp.ctx.config.max_rounds
        await self._run_on_host(self._steps, "branch and worktree")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    # ----------------------------------------------------------- the steps

    async def _steps(self) -> None:
        inp = self._inp
        if not await self._setup_worktree():
            return
        if await self._resume_from_pass():
            return
        if not self.s.built or (inp.rebuild and not self.s.rebuilt):
            if not await self._build():
                return
        while self.s.status != "pr_created":
            await self._maybe_continue_as_new()
            verdict = await self._review_round()
            if verdict == "pass":
                await self._create_pr()
                return
            if verdict == "stop":
                return

    async def _setup_worktree(self) -> bool:
        inp = self._inp
        while self.s.worktree is None:
            self._phase("worktree")
            wt: WorktreeResult = await self._on_host(
                ensure_worktree,
                WorktreeRequest(
                    repo_root=inp.ctx.repo_root,
                    subtask=inp.subtask,
                    base_branch=inp.base_branch,
                    dependency_branches=inp.dependency_branches,
                    remote=inp.ctx.config.forge.remote,
                    token_hosts=self._token_hosts(),
                ),
                WorktreeResult,
                f"worktree .worktrees/{inp.subtask}",
                **options.quick(),
            )
            if wt.conflict:
                choice = await self._ask(
                    PendingDecision(
                        scope=inp.subtask,
                        kind="conflict",
                        prompt=(
                            f"Merging the dependencies of {inp.subtask} conflicts: {wt.conflict}. "
                            f"Resolve it on branch feat/{inp.subtask} (merge the dependency "
                            "branches yourself), then continue; or skip this subtask."
                        ),
                        options=["continue", "skip"],
                    )
                )
                if choice == "skip":
                    self._block(f"skipped: dependency merge conflict ({wt.conflict})")
                    await self._report()
                    return False
                continue
            self.s.worktree, self.s.branch = wt.path, wt.branch
            self.s.built = self.s.built or wt.has_own_work
        self.s.status = "in_progress"
        await self._report()
        return True

    async def _build(self) -> bool:
        """Build (or, after an approved spec change, re-derive); False when skipped."""
        inp = self._inp
        if inp.rebuild and self.s.built and inp.dependency_branches:
            if not await self._refresh_dependencies():
                return False
        self._phase("building")
        await self._report()
        instructions = (
            f"Implement subtask {inp.subtask} as specified in {self._xml()}: every "
            "implementation step, the tests it lists, and make its commands pass."
        )
        if inp.rebuild and self.s.built and inp.rebuild_by == "integration":
            instructions = (
                f"Integrating the whole feature found a defect in subtask {inp.subtask}'s own "
                f"work: {inp.rebuild}. Fix it on this branch as {self._xml()} specifies, tests "
                "included; its pull request is updated and integration runs again."
            )
        elif inp.rebuild and self.s.built:
            instructions = (
                f"The specification of subtask {inp.subtask} changed (approved spec change: "
                f"{inp.rebuild}). {self._xml()} is revised. Re-derive the implementation on "
                "this branch so that it matches the revised specification, tests included."
            )
        await self._edit(
            "builder",
            0,
            instructions=instructions,
            issues=[],
            review_paths=[],
            message=f"feat({inp.subtask}): implement {inp.title}",
        )
        self.s.built = True
        self.s.rebuilt = bool(inp.rebuild)
        return True

    async def _refresh_dependencies(self) -> bool:
        """A reopened subtask takes in its dependencies' revised work before re-deriving."""
        inp = self._inp
        while True:
            self._phase("merging updated dependencies")
            merge: MergeResult = await self._on_host(
                merge_dependencies,
                MergeRequest(
                    worktree=self._worktree,
                    branch=self.s.branch or f"feat/{inp.subtask}",
                    dependency_branches=inp.dependency_branches,
                    remote=inp.ctx.config.forge.remote,
                    token_hosts=self._token_hosts(),
                ),
                MergeResult,
                f"merge updated dependencies into feat/{inp.subtask}",
                **options.quick(),
            )
            if not merge.conflict:
                return True
            choice = await self._ask(
                PendingDecision(
                    scope=inp.subtask,
                    kind="conflict",
                    prompt=merge.conflict,
                    options=["continue", "skip"],
                )
            )
            if choice == "skip":
                self._block(f"skipped: {merge.conflict}")
                await self._report()
                return False

    async def _review_round(self) -> RoundVerdict:
        """One round: gates and reviewers in parallel, then evaluate; returns pass/fix/stop."""
        inp = self._inp
        cfg = inp.ctx.config
        self.s.round += 1
        rnd = self.s.round
        self._phase("reviewing")
        await self._report()
        head: RepoInfo = await self._on_host(
            git_repo_info,
            self._worktree,
            RepoInfo,
            f"head of feat/{inp.subtask}",
            **options.quick(),
        )
        reviewers = self._reviewers()
        # Reviewers read the round's gate results instead of running the suite again.
        gates = await self._gates_and_checks(rnd)
        asked = await all_or_cancel(*(self._review(r, rnd, head.head, gates) for r in reviewers))
        reviews = [r for r in asked if r is not None]  # a person may skip a held reviewer
        record, lowest = subtask_state.record_round(self.s, rnd, head.head, gates, reviews)
        if gates.passed and lowest >= inp.threshold:
            await self._record_pass(record)
            return "pass"

        why = subtask_state.stuck_reason(self.s, rnd, cfg.stuck_rounds)
        if why is not None:
            verdict = await self._when_stuck(rnd, why, lowest, gates.passed)
            if verdict is not None:
                return verdict

        fixer = subtask_state.choose_fixer(reviews, gates.passed, inp.threshold)
        self._phase(f"fixing ({fixer})")
        await self._report()
        result = await self._edit(
            fixer,
            rnd,
            instructions=(
                f"Fix subtask {inp.subtask} ({self._xml()}): resolve the issues below. Read the "
                "full reviews (below their `---`) and the gate logs for details."
            ),
            issues=subtask_state.fix_issues(reviews, gates, inp.threshold),
            review_paths=record.review_paths + [g.log_path for g in gates.results if not g.passed],
            message=f"fix({inp.subtask}): review round {rnd}",
        )
        record.fixer, record.fix_commit = fixer, result.commit
        return "fix"

    def _result(self) -> SubtaskResult:
        self._phase(self.s.phase)  # the Web UI's details after the end: status, scores, PR
        return SubtaskResult(
            subtask=self._inp.subtask,
            status=self.s.status,
            pr_url=self.s.pr_url,
            pr_number=self.s.pr_number,
            rounds=len(self.s.rounds),
            scores=dict(self.s.scores),
            notes=self.s.notes,
            ledger=self.s.ledger,
        )
