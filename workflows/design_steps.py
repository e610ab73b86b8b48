"""How the design loop runs its steps: agent calls, file and git steps, their holds.

A mixin of `DesignReviewWorkflow`, kept apart so the workflow module reads as
the loop it is. Every step goes through the failure holds: one that fails for
good waits for a person (`retry` / `skip` / `stop`) instead of ending the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.agents.activities import agent_edit, agent_review
    from activities.design_files import write_answers
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
    from contracts.git import CommitResult
    from contracts.human import FAILURE_OPTIONS
    from contracts.plan import SubplanSummary
    from workflows import options, project_steps
    from workflows.agent_step import AgentStep, R
    from workflows.failures import FailureHolds
    from workflows.loop_control import LoopControl
    from workflows.timestamps import stamp


T = TypeVar("T")


class DesignSteps:
    """Uses the loop's state, context, config, subplans, holds and agent step, and its
    `_details` (the Web UI pane)."""

    s: DesignState
    ctx: ProjectContext | None
    cfg: OrchestratorConfig
    subplans: list[SubplanSummary]
    holds: FailureHolds
    control: LoopControl
    agent: AgentStep
    threshold: float
    _details: Callable[..., None]

    def _bar(self, scope: str) -> float:
        """The score a scope must reach: its own (a person set it), else the loop's."""
        sc = self.s.scopes.get(scope)
        return sc.threshold if sc is not None and sc.threshold is not None else self.threshold

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
            settings=self.cfg.agent_settings(role, self.ctx.start_commit),
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
        ) + " Verify each finding and score by the rubric."
        call = self._call(reviewer, scope, round_, self._scope_files(scope), instructions)
        title = (
            f"{self.ctx.feature} (consistency of the whole set)" if scope == CONSISTENCY else scope
        )
        request = ReviewRequest(
            **call.model_dump(),
            review_path=self._rel(f"design-reviews/{scope}_{ts}_{reviewer}.md"),
            title=title,
            threshold=self._bar(scope),
            # A loop started again (after a stop, cancel or failure) reuses the reviews
            # already written for this exact content; within a run every round is fresh.
            reuse=round_ == 1,
            remember=True,
        )
        result = await self._agent(
            agent_review, request, ReviewResult, f"review {scope} · {reviewer}"
        )
        self._wrote(result.review_path)
        return result

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
        assert self.ctx
        call = self._call(role, scope, round_, focus, instructions)
        request = EditRequest(
            **call.model_dump(),
            issues=issues or [],
            review_paths=review_paths or [],
            commit_message=message,
            # The main checkout may hold the user's own work: commit only the design dir,
            # and the writer writes nowhere else.
            commit=False,
            write_scope=[self.ctx.design_rel],
        )
        result = await self._agent(agent_edit, request, EditResult, f"{role} · {scope}", choices)
        if result.files_changed:
            self._wrote(*result.files_changed)
            await self._commit_design(message, f"commit {scope} revision")
        return result

    def _wrote(self, *paths: str) -> None:
        """Files the loop wrote (from the repository root): its next commit takes them."""
        self.s.written = sorted({*self.s.written, *paths})

    async def _commit_design(self, message: str, summary: str) -> CommitResult:
        """Commit what the loop wrote since its last commit: never a person's files."""
        assert self.ctx
        paths = list(self.s.written)
        commit = await project_steps.commit_design(
            self.control.activity, self.ctx, message, summary, paths
        )
        self.s.written = [p for p in self.s.written if p not in paths]
        return commit

    async def _agent(
        self,
        activity: Any,
        request: AgentCall,
        result_type: type[R],
        summary: str,
        choices: Sequence[str] | None = None,
    ) -> R:
        """A review scope's steps may be skipped by a person when they fail for good;
        the other steps (split, answers, drafts) can only be retried or stopped."""
        if choices is None:
            choices = FAILURE_OPTIONS if request.scope in self.s.scopes else ("retry", "stop")
        return await self.agent(activity, request, result_type, summary, choices)

    async def _on_hold(self) -> None:
        self._details()

    async def _write_answers(self) -> str:
        assert self.ctx
        path: str = await self.control.activity(
            write_answers,
            AnswersFile(
                path=f"{self.ctx.repo_root}/{self._rel('design-reviews/answers.md')}",
                feature=self.ctx.feature,
                questions=self.s.questions,
            ),
            result_type=str,
            summary="write design-reviews/answers.md",
            **options.quick(),
        )
        self._wrote(path)
        return path
