"""The plan at both ends of the design loop: check and split before review, drafts after.

A mixin of `DesignReviewWorkflow`. Before the first review the plan engine checks
the directory (a directory without subplans is split by the splitter, oversized
subplans split again, missing acceptance criteria written); after approval every
subplan is drafted into its XML subtask and the plan files are written and
committed together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.agents.activities import agent_draft_subtask
    from activities.plan.activities import plan_design
    from contracts.agents import SubtaskDraftRequest, SubtaskDraftResult
    from contracts.design import DESIGN_DOC_APPROVED, DesignResult
    from contracts.human import FailureInfo
    from contracts.plan import PlanRequest, PlanResult, SubplanSummary
    from workflows import options
    from workflows.design_steps import DesignSteps
    from workflows.failures import all_or_cancel


class DesignPlanSteps(DesignSteps):
    """Uses, besides `DesignSteps`'s, the loop's `_result` (the workflow's result)."""

    _result: Callable[[str, str | None], DesignResult]

    async def _plan(self, write: bool = False) -> PlanResult:
        """The plan engine's checks; its message names file, problem and fix, and holds."""
        assert self.ctx
        return await self.control.activity(
            plan_design,
            PlanRequest(design_dir=self.ctx.design_dir, write=write),
            result_type=PlanResult,
            summary=f"plan {self.ctx.feature}" + (" (write)" if write else ""),
            **options.quick(),
        )

    async def _validate_and_split(self) -> PlanResult:
        """The plan engine's checks; a directory without subplans is split by the splitter."""
        assert self.ctx
        self.s.phase = "starting"
        self._details()
        plan = await self._plan()
        if not plan.subtasks:
            self.s.phase = "splitting"
            self._details("the splitter decomposes overview.md into subplans")
            await self._edit(
                "subplan-splitter",
                "split",
                1,
                focus=[self._rel("overview.md")],
                instructions=(
                    f"Decompose {self._rel('overview.md')} into subplans written as "
                    f"{self._rel('subplans')}/NN-name.md (NN = 01, 02, ...; names are lower-case "
                    "slugs). Each subplan: under 20K tokens, 1-2 days of work, explicit "
                    "**Dependencies**, **Files Modified**, **Estimated Hours**, **Complexity**, "
                    "an Acceptance Criteria checkbox list and Validation Gates."
                ),
                message=f"design({self.ctx.feature}): split overview into subplans",
            )
            plan = await self._plan()
            while not plan.subtasks:
                # Not a bug: a person can write the subplans, then retry.
                await self.holds.ask(
                    FailureInfo(
                        step="split overview.md into subplans",
                        scopes=["split"],
                        error=f"{self._rel('subplans')}: the splitter wrote no subplans. Fix: "
                        "write subplans/NN-name.md by hand or check the splitter role",
                        error_type="PlanError",
                        cause="PlanError:no-subplans",
                    ),
                    ("retry", "stop"),
                    self._on_hold,
                )
                plan = await self._plan()
        oversized = [s for s in plan.subtasks if self._warned(plan, s, "token")]
        for sub in oversized:
            await self._edit(
                "subplan-splitter",
                sub.name,
                0,
                focus=[self._rel(sub.path)],
                instructions=(
                    f"{self._rel(sub.path)} is over the 20K-token limit. Split it into smaller "
                    "subplans (new NN-name.md files next to it, dependencies updated in every "
                    "subplan that named it) and delete or shrink the original."
                ),
                message=f"design({self.ctx.feature}): split oversized {sub.name}",
            )
        missing_ac = [s for s in plan.subtasks if self._warned(plan, s, "acceptance")]
        for sub in missing_ac:
            await self._edit(
                "design-writer",
                sub.name,
                0,
                focus=[self._rel("overview.md"), self._rel(sub.path)],
                instructions=(
                    f"{self._rel(sub.path)} has no acceptance criteria. Add an "
                    "`## Acceptance Criteria` section of testable `- [ ]` items."
                ),
                message=f"design({self.ctx.feature}): acceptance criteria for {sub.name}",
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

    async def _artifacts(self) -> DesignResult:
        """After approval: XML subtasks, plan files, one commit."""
        assert self.ctx
        self.s.phase = "artifacts"
        self._details()
        limit = asyncio.Semaphore(self.cfg.max_parallel_reviews)

        async def draft(sub: SubplanSummary) -> str:
            async with limit:
                xml = self._rel(f"subtasks/{sub.name}.xml")
                result = await self._agent(
                    agent_draft_subtask,
                    SubtaskDraftRequest(
                        **self._call(
                            "subtask-drafter",
                            sub.name,
                            1,
                            [self._rel(sub.path)],
                            f"Fill the subtask model for {sub.name} from its subplan: summary, "
                            "scope in/out, dependencies, files, steps, tests, gate commands, "
                            "acceptance criteria, safety notes.",
                        ).model_dump(),
                        subplan_path=self._rel(sub.path),
                        xml_path=xml,
                    ),
                    SubtaskDraftResult,
                    f"draft subtasks/{sub.name}.xml",
                )
                if result.note:  # e.g. the model's drafts kept failing the plan check
                    self.s.scopes[sub.name].notes = result.note
                    self._details()
                self._wrote(result.xml_path)
                return result.xml_path

        xml_paths = await all_or_cancel(*(draft(s) for s in self.subplans))
        plan = await self._plan(write=True)
        self._wrote(*plan.written)
        answers = [await self._write_answers()] if self.s.questions else []
        commit = await self._commit_design(
            f"design({self.ctx.feature}): approved — subtasks, plan and reviews",
            f"commit design artifacts · {self.ctx.feature}",
        )
        self.s.artifacts = [*xml_paths, *plan.written, *answers]
        self.s.phase = "approved"
        self._details()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result(DESIGN_DOC_APPROVED, commit.commit)
