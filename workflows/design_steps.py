"""How the design loop runs its steps: agent calls, file and git steps, their holds.

A mixin of `DesignReviewWorkflow`, kept apart so the workflow module reads as
the loop it is. Every step goes through the failure holds: one that fails for
good waits for a person (`retry` / `skip` / `stop`) instead of ending the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.agents import (
        AgentCall,
        EditRequest,
        EditResult,
        ReviewIssue,
        ReviewRequest,
        ReviewResult,
    )
    from contracts.config import OrchestratorConfig, ProjectContext
    from contracts.design import CONSISTENCY, AnswersFile, DesignState
    from contracts.git import CommitPathsRequest, CommitResult
    from contracts.human import FAILURE_OPTIONS
    from contracts.plan import SubplanSummary
    from workflows import names, options
    from workflows.failures import FailureHolds
    from workflows.timestamps import stamp


class DesignSteps:
    """Uses the loop's state, context, config, subplans and holds, and two of its
    methods: `_wait` (a deterministic wait) and `_details` (the Web UI pane)."""

    s: DesignState
    ctx: ProjectContext | None
    cfg: OrchestratorConfig
    subplans: list[SubplanSummary]
    holds: FailureHolds

    def _rel(self, path: str) -> str:
        """A path inside the design directory, relative to the repository root."""
        assert self.ctx
        base = self.ctx.design_rel.rstrip("/")
        return f"{base}/{path}" if base not in ("", ".") else path

    def _scope_files(self, scope: str) -> list[str]:
        files = [self._rel("overview.md")]
        if scope == CONSISTENCY or scope == "answers":
            return files + [self._rel(s.path) for s in self.subplans]
        files += [self._rel(s.path) for s in self.subplans if s.name == scope]
        return files

    def _call(
        self, role: str, scope: str, round_: int, focus: list[str], instructions: str = ""
    ) -> AgentCall:
        assert self.ctx
        wf = workflow.info().workflow_id
        transcript = (
            f"{self.ctx.repo_root}/.orchestrator/transcripts/{wf}/{workflow.info().run_id}/"
            f"c{self.s.reviews_cycle}-{scope}-{role}-r{round_}.json"
        )
        return AgentCall(
            role=role,
            scope=scope,
            round=round_,
            workdir=self.ctx.repo_root,
            focus_paths=focus,
            instructions=instructions,
            transcript_path=transcript,
            settings=self.cfg.agent_settings(role),
        )

    async def _review(self, scope: str, reviewer: str, round_: int) -> ReviewResult:
        assert self.ctx
        key = f"{scope}/{reviewer}"
        ts = self.s.last_stamp[key] = stamp(workflow.now(), self.s.last_stamp.get(key))
        instructions = (
            "Review the whole design for consistency between the overview and all subplans "
            "(interfaces, dependencies, naming, gaps)."
            if scope == CONSISTENCY
            else f"Review the subplan {scope} against the overview."
        ) + " Score from 0 to 1; 0.96 or more means ready to build."
        call = self._call(reviewer, scope, round_, self._scope_files(scope), instructions)
        title = (
            f"{self.ctx.feature} (consistency of the whole set)" if scope == CONSISTENCY else scope
        )
        request = ReviewRequest(
            **call.model_dump(),
            review_path=self._rel(f"design-reviews/{scope}_{ts}_{reviewer}.md"),
            title=title,
            # A loop started again (after a stop, cancel or failure) reuses the reviews
            # already written for this exact content; within a run every round is fresh.
            reuse=round_ == 1,
            remember=True,
        )
        return await self._agent(
            names.AGENT_REVIEW,
            request,
            ReviewResult,
            f"review {scope} · {reviewer}",
            reviewer,
            scope,
        )

    async def _edit(
        self,
        role: str,
        scope: str,
        round_: int,
        focus: list[str],
        instructions: str,
        message: str,
        issues: list[ReviewIssue] | None = None,
        review_paths: list[str] | None = None,
        choices: Sequence[str] | None = None,
    ) -> EditResult:
        call = self._call(role, scope, round_, focus, instructions)
        request = EditRequest(
            **call.model_dump(),
            issues=issues or [],
            review_paths=review_paths or [],
            commit_message=message,
            # The main checkout may hold the user's own work: commit only the design dir.
            commit=False,
        )
        result: EditResult = await self._agent(
            names.AGENT_EDIT, request, EditResult, f"{role} · {scope}", role, scope, choices
        )
        if result.files_changed:
            assert self.ctx
            await self._activity(
                names.GIT_COMMIT_PATHS,
                CommitPathsRequest(
                    repo_root=self.ctx.repo_root, paths=[self.ctx.design_rel], message=message
                ),
                result_type=CommitResult,
                summary=f"commit {scope} revision",
                **options.quick(),
            )
        return result

    async def _agent(self, name, request, result_type, summary, role, scope, choices=None):  # type: ignore[no-untyped-def]
        """Run one agent activity once the workflow is not paused; book its usage.

        A review scope's steps may be skipped by a person when they fail for good;
        the other steps (split, answers, drafts) can only be retried or stopped.
        """

        async def once():  # type: ignore[no-untyped-def]
            await self._wait(lambda: not self.s.paused)
            return await workflow.execute_activity(
                name,
                request,
                result_type=result_type,
                summary=summary,
                **options.agent_for(self.cfg.agents),
            )

        if choices is None:
            choices = FAILURE_OPTIONS if scope in self.s.scopes else ("retry", "stop")
        result = await self.holds.run(
            scope,
            summary,
            once,
            options=choices,
            notify=self._on_hold,
            book=lambda usage: self.s.ledger.add_failed(role, scope, usage),
        )
        self.s.ledger.add(role, scope, result.usage)
        return result

    async def _activity(
        self, name: str, arg: Any, *, result_type: Any, summary: str, **opts: Any
    ) -> Any:
        """A file, git or plan step; one that fails for good holds for a person."""
        return await self.holds.run(
            "design",
            summary,
            lambda: workflow.execute_activity(
                name, arg, result_type=result_type, summary=summary, **opts
            ),
            options=("retry", "stop"),
            notify=self._on_hold,
        )

    async def _on_hold(self) -> None:
        self._details()

    async def _write_answers(self) -> str:
        assert self.ctx
        return await self._activity(
            names.DESIGN_WRITE_ANSWERS,
            AnswersFile(
                path=f"{self.ctx.repo_root}/{self._rel('design-reviews/answers.md')}",
                feature=self.ctx.feature,
                questions=self.s.questions,
            ),
            result_type=str,
            summary="write design-reviews/answers.md",
            **options.quick(),
        )
