"""The build's spec changes (seed 004's `!change`): analyse, report, apply.

`SpecChanges` is composed by `BuildWorkflow` (not inherited). `!change` is analysed
for its blast radius (what the analyst names, plus shared files and every dependent),
reported, and only on `!change-approve` applied: specs revised, exactly the affected
subtasks restarted or reopened.
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.agents.activities import agent_analyze_change
    from activities.change_files import append_change_log, write_change_report
    from activities.plan.activities import load_subtasks
    from contracts.agents import (
        AgentCall,
        ChangeAnalysisResult,
        ChangeRequest,
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
    from contracts.config import AgentsConfig, ProjectContext
    from contracts.human import MAX_SIGNAL_TEXT, RETRY_OR_STOP, ChangeInput
    from contracts.subtask import SubtaskSpec
    from workflows import build_state, options, project_steps
    from workflows.agent_step import AgentStep, agent_call
    from workflows.build_children import BuildChildren
    from workflows.loop_control import LoopControl
    from workflows.timestamps import stamp


class SpecChanges:
    """Bound to the build's state, context and specs (read through callables; `reloaded`
    hands the build the specs revised by a change), its children (a change restarts
    the running ones it affects), its control, `agents` (the configured agents), `shown`
    (what a person sees) and `changed` (wakes the scheduling loop)."""

    def __init__(
        self,
        *,
        state: Callable[[], BuildState],
        ctx: Callable[[], ProjectContext],
        specs: Callable[[], dict[str, SubtaskSpec]],
        reloaded: Callable[[dict[str, SubtaskSpec]], None],
        children: BuildChildren,
        control: LoopControl,
        agents: Callable[[], AgentsConfig],
        shown: Callable[[], None],
        changed: Callable[[], None],
    ) -> None:
        self.state, self.ctx, self.specs, self.reloaded = state, ctx, specs, reloaded
        self.children, self.control = children, control
        self.shown, self.changed = shown, changed
        # The build's own agents analyse and apply a person's change, which is asked for
        # while the build is paused: only a failure hold stops them.
        self.agent = AgentStep(control, lambda: self.state().ledger, agents, may_start=lambda: True)

    async def handle(self) -> None:
        """The scheduling loop's turn: analyse, apply or log the open change."""
        c = self.state().change
        if c is None:
            return
        if c.state == "analyzing":
            await self._analyze_change(c)
        elif c.state == "approved":
            await self._apply_change(c)
        elif c.state == "cancelled":
            await self._log_change(c, "cancelled")
            self.state().change = None
        self.shown()

    def _agent_call(self, role: str, scope: str, focus: list[str], text: str) -> AgentCall:
        n = self.state().changes
        return agent_call(self.ctx(), role, scope, n, focus, text, f"change{n}-{role}")

    def _spec_files(self, names: list[str]) -> list[str]:
        rel = self.ctx().design_rel
        return [p for n in names for p in (f"{rel}/subplans/{n}.md", f"{rel}/subtasks/{n}.xml")]

    async def _analyze_change(self, c: PendingChange) -> None:
        """The blast radius: what the analyst names, plus shared files and every dependent."""
        # The subtasks proper: integration follows them (it runs again when one reopens).
        views = {v.name: v for v in build_state.subtask_views(self.state())}
        names_ = list(views)
        call = self._agent_call(
            "change-analyst",
            "change",
            [f"{self.ctx().design_rel}/overview.md", *self._spec_files(names_)],
            f"A person asks for this spec change: {c.description}\nName every subtask it "
            "touches, with the files, contracts and tests that move.",
        )
        result = await self.agent(
            agent_analyze_change,
            ChangeRequest(
                **call.model_dump(),
                description=c.description,
                design_dir=self.ctx().design_rel,
                subtasks=names_,
            ),
            ChangeAnalysisResult,
            f"blast radius of change {c.id}",
            choices=RETRY_OR_STOP,
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
            {n: self.specs()[n].files for n in views},
            states,
        )
        c.scope = scope_of(c.affected, len(views), result.scope)
        c.summary = result.summary
        c.report_path = await self.control.activity(
            write_change_report,
            ChangeReport(
                path=f"{self.ctx().design_dir}/plan/changes/{stamp(workflow.now())}.md",
                feature=self.ctx().feature,
                change=c,
            ),
            result_type=str,
            summary=f"blast-radius report of change {c.id}",
            **options.quick(),
        )
        c.state = "awaiting-decision"

    async def _apply_change(self, c: PendingChange) -> None:
        """Approved: revise the affected specs, restart or reopen exactly the affected subtasks."""
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
            revised = await self.agent.edit(
                call,
                f"revise specs for change {c.id}",
                issues=[ReviewIssue(severity=Severity.high, description=c.description)],
                commit_message=f"design({self.ctx().feature}): change {c.id}: {c.description}",
                commit=False,
                write_scope=[self.ctx().design_rel],
                choices=RETRY_OR_STOP,
            )
            await project_steps.commit_design(
                self.control.activity,
                self.ctx(),
                f"design({self.ctx().feature}): change {c.id}: {c.description}",
                f"commit change {c.id}",
                # The files the build wrote only: the checkout it runs from is the user's.
                [
                    *revised.files_changed,
                    *([c.report_path] if c.report_path else []),
                    f"{self.ctx().design_dir}/CHANGE_LOG.md",  # earlier changes' entries
                ],
            )
            specs: list[SubtaskSpec] = await self.control.activity(
                load_subtasks,
                self.ctx().design_dir,
                result_type=list[SubtaskSpec],
                summary=f"reload subtasks after change {c.id}",
                **options.quick(),
            )
            self.reloaded({s.id: s for s in specs})
        for name in affected:
            view = self.state().subtasks[name]
            view.generation += 1
            view.notes = f"stale: change {c.id}"
            self.state().rebuild[name] = c.description
            if name in self.children.running:
                self.children.restarting.add(name)
                view.phase = "restarting after a spec change"
                self.children.running[name].cancel()
            else:
                view.status, view.phase = "stale", "stale"
        await self._log_change(c, "approved")
        c.state = "done"
        self.state().change = None

    async def _log_change(self, c: PendingChange, decision: str) -> None:
        await self.control.activity(
            append_change_log,
            ChangeLogEntry(
                path=f"{self.ctx().design_dir}/CHANGE_LOG.md",
                feature=self.ctx().feature,
                change=c,
                decision=decision,  # type: ignore[arg-type]
                at=workflow.now().isoformat(timespec="seconds"),
            ),
            result_type=str,
            summary=f"CHANGE_LOG.md: change {c.id} {decision}",
            **options.quick(),
        )

    def request(self, change: ChangeInput | str) -> None:
        """`!change`: a new change to analyse, or refused (one is open, or it is empty or long)."""
        s = self.state()
        text = (change.description if isinstance(change, ChangeInput) else str(change)).strip()
        open_change = s.change is not None and s.change.state not in ("done", "cancelled")
        if not text or open_change or len(text) > MAX_SIGNAL_TEXT:
            self.control.refuse(
                "!change: "
                + (
                    f"change {s.change.id} is open. Fix: approve or cancel it first"
                    if open_change and s.change
                    else 'the change is empty. Fix: describe it, e.g. "rename b to c"'
                    if not text
                    else f"{len(text)} characters, more than {MAX_SIGNAL_TEXT}. Fix: put the "
                    "details in a file and refer to it"
                )
            )
            return
        s.changes += 1
        s.change = PendingChange(
            id=s.changes,
            description=text,
            state="analyzing",
            requested_at=workflow.now().isoformat(timespec="seconds"),
        )
        self.changed()

    def decide(self, signal: str, state: str) -> None:
        """`!change-approve` / `!change-cancel`: only a change whose report is ready."""
        change = self.state().change
        if change is not None and change.state == "awaiting-decision":
            change.state = state  # type: ignore[assignment]
            self.changed()
            return
        open_change = change is not None and change.state not in ("done", "cancelled")
        self.control.refuse(
            f"{signal}: "
            + (
                f"change {change.id} is {change.state}, its report is not ready. Fix: wait "
                "until `status` shows it awaiting a decision"
                if open_change and change is not None
                else "no change is open. Fix: propose one with !change first"
            )
        )
