"""The build's spec-change steps (seed 004's `!change`): analyse, report, apply.

A mixin of `BuildWorkflow`, kept apart so the workflow module reads as the
scheduling loop it is. `!change` is analysed for its blast radius (what the
analyst names, plus shared files and every dependent), reported, and only on
`!change-approve` applied: specs revised, exactly the affected subtasks
restarted or reopened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.agents.activities import agent_analyze_change, agent_edit
    from activities.change_files import append_change_log, write_change_report
    from activities.plan.activities import load_subtasks
    from contracts.agents import (
        AgentCall,
        ChangeAnalysisResult,
        ChangeRequest,
        EditRequest,
        EditResult,
        ReviewIssue,
        Severity,
    )
    from contracts.build import BuildState
    from contracts.change import (
        Affected,
        ChangeLogEntry,
        ChangeReport,
        PendingChange,
        blast_radius,
        scope_of,
    )
    from contracts.config import ProjectContext
    from contracts.subtask import SubtaskSpec
    from workflows import build_state, options, project_steps
    from workflows.agent_step import AgentStep
    from workflows.loop_control import LoopControl
    from workflows.timestamps import stamp


class SpecChangeSteps:
    """Uses the build's state, context, specs and running children, and two of its methods:
    `control.activity` (a step that holds for a person when it fails) and `_details`;
    agents run through the shared `agent` step."""

    s: BuildState
    ctx: ProjectContext | None
    specs: dict[str, SubtaskSpec]
    running: dict[str, Any]
    restarting: set[str]
    agent: AgentStep
    _details: Callable[[], None]
    control: LoopControl

    async def _handle_change(self) -> None:
        c = self.s.change
        if c is None:
            return
        if c.state == "analyzing":
            await self._analyze_change(c)
        elif c.state == "approved":
            await self._apply_change(c)
        elif c.state == "cancelled":
            await self._log_change(c, "cancelled")
            self.s.change = None
        self._details()

    def _agent_call(self, role: str, scope: str, focus: list[str], text: str) -> AgentCall:
        assert self.ctx
        return AgentCall(
            role=role,
            scope=scope,
            round=self.s.changes,
            workdir=self.ctx.repo_root,
            focus_paths=focus,
            instructions=text,
            transcript_path=(
                f"{self.ctx.repo_root}/.orchestrator/transcripts/{workflow.info().workflow_id}/"
                f"{workflow.info().run_id}/"
                f"change{self.s.changes}-{role}.json"
            ),
            settings=self.ctx.config.agent_settings(role, self.ctx.start_commit),
        )

    def _spec_files(self, names: list[str]) -> list[str]:
        assert self.ctx
        rel = self.ctx.design_rel
        return [p for n in names for p in (f"{rel}/subplans/{n}.md", f"{rel}/subtasks/{n}.xml")]

    async def _analyze_change(self, c: PendingChange) -> None:
        """The blast radius: what the analyst names, plus shared files and every dependent."""
        assert self.ctx
        # The subtasks proper: integration follows them (it runs again when one reopens).
        views = {v.name: v for v in build_state.subtask_views(self.s)}
        names_ = list(views)
        call = self._agent_call(
            "change-analyst",
            "change",
            [f"{self.ctx.design_rel}/overview.md", *self._spec_files(names_)],
            f"A person asks for this spec change: {c.description}\nName every subtask it "
            "touches, with the files, contracts and tests that move.",
        )
        result = await self.agent(
            agent_analyze_change,
            ChangeRequest(
                **call.model_dump(),
                description=c.description,
                design_dir=self.ctx.design_rel,
                subtasks=names_,
            ),
            ChangeAnalysisResult,
            f"blast radius of change {c.id}",
            choices=("retry", "stop"),
        )
        states = {n: v.status for n, v in views.items()}
        touched = {
            t.subtask: Affected(
                subtask=t.subtask,
                state=states[t.subtask],
                why=t.reason or "named by the change analyst",
                files=t.files,
                contracts=t.contracts,
                tests=t.tests,
            )
            for t in result.touched
            if t.subtask in views
        }
        c.affected = blast_radius(
            touched,
            {n: v.dependencies for n, v in views.items()},
            {n: self.specs[n].files for n in views},
            states,
        )
        c.scope = scope_of(c.affected, len(views), result.scope)
        c.summary = result.summary
        c.report_path = await self.control.activity(
            write_change_report,
            ChangeReport(
                path=f"{self.ctx.design_dir}/plan/changes/{stamp(workflow.now())}.md",
                feature=self.ctx.feature,
                change=c,
            ),
            result_type=str,
            summary=f"blast-radius report of change {c.id}",
            **options.quick(),
        )
        c.state = "awaiting-decision"

    async def _apply_change(self, c: PendingChange) -> None:
        """Approved: revise the affected specs, restart or reopen exactly the affected subtasks."""
        assert self.ctx
        c.state = "applying"
        affected = [a.subtask for a in c.affected]
        if affected:
            call = self._agent_call(
                "design-writer",
                "change",
                self._spec_files(affected),
                f"Apply this approved spec change to the affected subplans and their XML "
                f"subtasks ({', '.join(affected)}): {c.description}",
            )
            revised: EditResult = await self.agent(
                agent_edit,
                EditRequest(
                    **call.model_dump(),
                    issues=[ReviewIssue(severity=Severity.high, description=c.description)],
                    commit_message=f"design({self.ctx.feature}): change {c.id}: {c.description}",
                    commit=False,
                    write_scope=[self.ctx.design_rel],
                ),
                EditResult,
                f"revise specs for change {c.id}",
                choices=("retry", "stop"),
            )
            await project_steps.commit_design(
                self.control.activity,
                self.ctx,
                f"design({self.ctx.feature}): change {c.id}: {c.description}",
                f"commit change {c.id}",
                # The files the build wrote only: the checkout it runs from is the user's.
                [
                    *revised.files_changed,
                    *([c.report_path] if c.report_path else []),
                    f"{self.ctx.design_dir}/CHANGE_LOG.md",  # earlier changes' entries
                ],
            )
            specs: list[SubtaskSpec] = await self.control.activity(
                load_subtasks,
                self.ctx.design_dir,
                result_type=list[SubtaskSpec],
                summary=f"reload subtasks after change {c.id}",
                **options.quick(),
            )
            self.specs = {s.id: s for s in specs}
        for name in affected:
            view = self.s.subtasks[name]
            view.generation += 1
            view.notes = f"stale: change {c.id}"
            self.s.rebuild[name] = c.description
            if name in self.running:
                self.restarting.add(name)
                view.phase = "restarting after a spec change"
                self.running[name].cancel()
            else:
                view.status, view.phase = "stale", "stale"
        await self._log_change(c, "approved")
        c.state = "done"
        self.s.change = None

    async def _log_change(self, c: PendingChange, decision: str) -> None:
        assert self.ctx
        await self.control.activity(
            append_change_log,
            ChangeLogEntry(
                path=f"{self.ctx.design_dir}/CHANGE_LOG.md",
                feature=self.ctx.feature,
                change=c,
                decision=decision,  # type: ignore[arg-type]
                at=workflow.now().isoformat(timespec="seconds"),
            ),
            result_type=str,
            summary=f"CHANGE_LOG.md: change {c.id} {decision}",
            **options.quick(),
        )
