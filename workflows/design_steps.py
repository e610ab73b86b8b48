"""The design loop's steps: agent calls, file and git steps, the plan at both ends.

`DesignSteps` is composed by `DesignReviewWorkflow` (not inherited), so the workflow
module reads as the loop it is. Every step goes through the failure holds: one that
fails for good waits for a person (`retry` / `skip` / `stop`) instead of ending the
loop. Before the first review the plan engine checks the directory (a directory
without subplans is split by the splitter, oversized subplans split again, missing
acceptance criteria written); after approval every subplan is drafted into its XML
subtask and the plan files are written and committed together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.agents.activities import agent_draft_subtask
    from activities.design_files import write_answers
    from activities.plan.activities import plan_design
    from contracts.agents import (
        AgentCall,
        EditResult,
        ReviewIssue,
        ReviewResult,
        SubtaskDraftRequest,
        SubtaskDraftResult,
    )
    from contracts.config import OrchestratorConfig, ProjectContext
    from contracts.design import CONSISTENCY, AnswersFile, DesignState
    from contracts.git import CommitResult
    from contracts.human import FAILURE_OPTIONS, RETRY_OR_STOP
    from contracts.plan import PlanRequest, PlanResult, SubplanSummary
    from workflows import options, project_steps
    from workflows.agent_step import AgentStep, R, agent_call
    from workflows.failures import all_or_cancel
    from workflows.loop_control import LoopControl
    from workflows.timestamps import stamp


class DesignSteps:
    """Bound to the design loop's state, context, config, subplans and threshold (read
    through callables: continue-as-new and a restored state replace them), its control,
    and `shown`, which refreshes what a person sees (the Web UI pane)."""

    def __init__(
        self,
        *,
        state: Callable[[], DesignState],
        ctx: Callable[[], ProjectContext],
        cfg: Callable[[], OrchestratorConfig],
        subplans: Callable[[], list[SubplanSummary]],
        threshold: Callable[[], float],
        control: LoopControl,
        shown: Callable[..., None],
    ) -> None:
        self.state, self.ctx, self.cfg = state, ctx, cfg
        self.subplans, self.threshold = subplans, threshold
        self.control, self.shown = control, shown
        self.agent = AgentStep(control, lambda: self.state().ledger, lambda: self.cfg().agents)

    def _bar(self, scope: str) -> float:
        """The score a scope must reach: its own (a person set it), else the loop's."""
        sc = self.state().scopes.get(scope)
        return sc.threshold if sc is not None and sc.threshold is not None else self.threshold()

    def rel(self, path: str) -> str:
        """A path inside the design directory, relative to the repository root."""
        base = self.ctx().design_rel.rstrip("/")
        return f"{base}/{path}" if base not in ("", ".") else path

    def scope_files(self, scope: str) -> list[str]:
        files = [self.rel("overview.md")]
        if scope == CONSISTENCY or scope == "answers":
            return files + [self.rel(s.path) for s in self.subplans()]
        files += [self.rel(s.path) for s in self.subplans() if s.name == scope]
        return files

    def call(
        self, role: str, scope: str, round_: int, focus: list[str], instructions: str = ""
    ) -> AgentCall:
        transcript = f"c{self.state().reviews_cycle}-{scope}-{role}-r{round_}"
        return agent_call(self.ctx(), role, scope, round_, focus, instructions, transcript)

    async def review(self, scope: str, reviewer: str, round_: int) -> ReviewResult:
        key = f"{scope}/{reviewer}"
        ts = self.state().last_stamp[key] = stamp(workflow.now(), self.state().last_stamp.get(key))
        instructions = (
            "Review the whole design for consistency between the overview and all subplans "
            "(interfaces, dependencies, naming, gaps)."
            if scope == CONSISTENCY
            else f"Review the subplan {scope} against the overview."
        ) + " Verify each finding and score by the rubric."
        call = self.call(reviewer, scope, round_, self.scope_files(scope), instructions)
        title = (
            f"{self.ctx().feature} (consistency of the whole set)"
            if scope == CONSISTENCY
            else scope
        )
        result = await self.agent.review(
            call,
            f"review {scope} · {reviewer}",
            review_path=self.rel(f"design-reviews/{scope}_{ts}_{reviewer}.md"),
            title=title,
            threshold=self._bar(scope),
            # A loop started again (after a stop, cancel or failure) reuses the reviews
            # already written for this exact content; within a run every round is fresh.
            reuse=round_ == 1,
            remember=True,
            choices=self._choices(scope),
        )
        self.wrote(result.review_path)
        return result

    async def edit(
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
        call = self.call(role, scope, round_, focus, instructions)
        result = await self.agent.edit(
            call,
            f"{role} · {scope}",
            issues=issues,
            review_paths=review_paths,
            commit_message=message,
            # The main checkout may hold the user's own work: commit only the design dir,
            # and the writer writes nowhere else.
            commit=False,
            write_scope=[self.ctx().design_rel],
            choices=self._choices(scope, choices),
        )
        if result.files_changed:
            self.wrote(*result.files_changed)
            await self.commit_design(message, f"commit {scope} revision")
        return result

    def wrote(self, *paths: str) -> None:
        """Files the loop wrote (from the repository root): its next commit takes them."""
        self.state().written = sorted({*self.state().written, *paths})

    async def commit_design(self, message: str, summary: str) -> CommitResult:
        """Commit what the loop wrote since its last commit: never a person's files."""
        paths = list(self.state().written)
        commit = await project_steps.commit_design(
            self.control.activity, self.ctx(), message, summary, paths
        )
        self.state().written = [p for p in self.state().written if p not in paths]
        return commit

    async def run_agent(
        self,
        activity: Any,
        request: AgentCall,
        result_type: type[R],
        summary: str,
        choices: Sequence[str] | None = None,
    ) -> R:
        return await self.agent(
            activity, request, result_type, summary, self._choices(request.scope, choices)
        )

    def _choices(self, scope: str, choices: Sequence[str] | None = None) -> Sequence[str]:
        """A review scope's steps may be skipped by a person when they fail for good;
        the other steps (split, answers, drafts) can only be retried or stopped."""
        if choices is not None:
            return choices
        return FAILURE_OPTIONS if scope in self.state().scopes else RETRY_OR_STOP

    async def write_answers(self) -> str:
        path: str = await self.control.activity(
            write_answers,
            AnswersFile(
                path=f"{self.ctx().repo_root}/{self.rel('design-reviews/answers.md')}",
                feature=self.ctx().feature,
                questions=self.state().questions,
            ),
            result_type=str,
            summary="write design-reviews/answers.md",
            **options.quick(),
        )
        self.wrote(path)
        return path

    async def _plan(self, write: bool = False) -> PlanResult:
        """The plan engine's checks; its message names file, problem and fix, and holds."""
        return await self.control.activity(
            plan_design,
            PlanRequest(design_dir=self.ctx().design_dir, write=write),
            result_type=PlanResult,
            summary=f"plan {self.ctx().feature}" + (" (write)" if write else ""),
            **options.quick(),
        )

    async def validate_and_split(self) -> PlanResult:
        """The plan engine's checks; a directory without subplans is split by the splitter."""
        self.state().phase = "starting"
        self.shown()
        plan = await self._plan()
        if not plan.subtasks:
            self.state().phase = "splitting"
            self.shown("the splitter decomposes overview.md into subplans")
            await self.edit(
                "subplan-splitter",
                "split",
                1,
                focus=[self.rel("overview.md")],
                instructions=(
                    f"Decompose {self.rel('overview.md')} into subplans written as "
                    f"{self.rel('subplans')}/NN-name.md (NN = 01, 02, ...; names are lower-case "
                    "slugs). Each subplan: under 20K tokens, 1-2 days of work, explicit "
                    "**Dependencies**, **Files Modified**, **Estimated Hours**, **Complexity**, "
                    "an Acceptance Criteria checkbox list and Validation Gates."
                ),
                message=f"design({self.ctx().feature}): split overview into subplans",
            )
            plan = await self._plan()
            while not plan.subtasks:
                # Not a bug: a person can write the subplans, then retry.
                await self.control.hold_found(
                    "split overview.md into subplans",
                    f"{self.rel('subplans')}: the splitter wrote no subplans. Fix: "
                    "write subplans/NN-name.md by hand or check the splitter role",
                    "PlanError:no-subplans",
                    error_type="PlanError",
                    scope="split",
                    options=RETRY_OR_STOP,
                )
                plan = await self._plan()
        oversized = [s for s in plan.subtasks if self._warned(plan, s, "token")]
        for sub in oversized:
            await self.edit(
                "subplan-splitter",
                sub.name,
                0,
                focus=[self.rel(sub.path)],
                instructions=(
                    f"{self.rel(sub.path)} is over the 20K-token limit. Split it into smaller "
                    "subplans (new NN-name.md files next to it, dependencies updated in every "
                    "subplan that named it) and delete or shrink the original."
                ),
                message=f"design({self.ctx().feature}): split oversized {sub.name}",
            )
        missing_ac = [s for s in plan.subtasks if self._warned(plan, s, "acceptance")]
        for sub in missing_ac:
            await self.edit(
                "design-writer",
                sub.name,
                0,
                focus=[self.rel("overview.md"), self.rel(sub.path)],
                instructions=(
                    f"{self.rel(sub.path)} has no acceptance criteria. Add an "
                    "`## Acceptance Criteria` section of testable `- [ ]` items."
                ),
                message=f"design({self.ctx().feature}): acceptance criteria for {sub.name}",
            )
        if oversized or missing_ac:
            plan = await self._plan()
        return plan

    @staticmethod
    def _warned(plan: PlanResult, sub: SubplanSummary, what: str) -> bool:
        """Did the plan engine warn about this subplan (`token` limit, `acceptance` criteria)?"""
        marker = "-token limit" if what == "token" else "no acceptance criteria"
        return any(
            marker in w and (f"/{sub.name}.md" in w or w.startswith(f"{sub.name}.md"))
            for w in plan.plan.warnings
        )

    async def artifacts(self) -> str | None:
        """After approval: XML subtasks, plan files, one commit (its hash)."""
        self.state().phase = "artifacts"
        self.shown()
        limit = asyncio.Semaphore(self.cfg().max_parallel_reviews)

        async def draft(sub: SubplanSummary) -> str:
            async with limit:
                xml = self.rel(f"subtasks/{sub.name}.xml")
                result = await self.run_agent(
                    agent_draft_subtask,
                    SubtaskDraftRequest(
                        **self.call(
                            "subtask-drafter",
                            sub.name,
                            1,
                            [self.rel(sub.path)],
                            f"Fill the subtask model for {sub.name} from its subplan: summary, "
                            "scope in/out, dependencies, files, steps, tests, gate commands, "
                            "acceptance criteria, safety notes.",
                        ).model_dump(),
                        subplan_path=self.rel(sub.path),
                        xml_path=xml,
                    ),
                    SubtaskDraftResult,
                    f"draft subtasks/{sub.name}.xml",
                )
                if result.note:  # e.g. the model's drafts kept failing the plan check
                    self.state().scopes[sub.name].notes = result.note
                    self.shown()
                self.wrote(result.xml_path)
                return result.xml_path

        xml_paths = await all_or_cancel(*(draft(s) for s in self.subplans()))
        plan = await self._plan(write=True)
        self.wrote(*plan.written)
        answers = [await self.write_answers()] if self.state().questions else []
        commit = await self.commit_design(
            f"design({self.ctx().feature}): approved — subtasks, plan and reviews",
            f"commit design artifacts · {self.ctx().feature}",
        )
        self.state().artifacts = [*xml_paths, *plan.written, *answers]
        self.state().phase = "approved"
        self.shown()
        return commit.commit
