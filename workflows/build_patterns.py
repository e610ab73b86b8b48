"""The build's `!pattern-add <subtask>` and `!pattern-list` (seed 004's pattern library).

Both answer in `status` (its notice): what was added, or the library's patterns; a
subtask that has not finished, an unknown name or a library that cannot be written is
refused there with the fix. Neither holds the build: they run beside it.
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.patterns.activities import add_pattern, list_patterns
    from contracts.build import HAS_PR, BuildState
    from contracts.config import ProjectContext
    from contracts.git import BRANCH_PREFIX
    from contracts.patterns import (
        PatternAddRequest,
        PatternAddResult,
        PatternList,
        PatternListRequest,
    )
    from contracts.subtask import SubtaskSpec
    from workflows import options
    from workflows.loop_control import LoopControl

MAX_LISTED = 20  # patterns named in the notice; `orchestrator pattern list` shows all


class BuildPatterns:
    """Bound to the build's state, its project (None before the run read it), its specs
    and base branch (through callables) and its control (notices, refusals)."""

    def __init__(
        self,
        *,
        state: Callable[[], BuildState],
        ctx: Callable[[], ProjectContext | None],
        specs: Callable[[], dict[str, SubtaskSpec]],
        base_branch: Callable[[], str],
        control: LoopControl,
    ) -> None:
        self.state, self.ctx, self.specs = state, ctx, specs
        self.base_branch, self.control = base_branch, control

    async def add(self, subtask: str) -> None:
        name = subtask.strip()
        ctx = self._ready(f"!pattern-add {name}".strip())
        if ctx is None:
            return
        views = {n: v for n, v in self.state().subtasks.items() if v.kind == "subtask"}
        view = views.get(name)
        if view is None:
            self.control.refuse(
                f"!pattern-add {name}: "
                + (f"{name!r} is not a subtask of this build" if name else "no subtask named")
                + f". Fix: send `!pattern-add <subtask>` with one of {', '.join(views)}"
            )
            return
        if view.status not in HAS_PR:
            self.control.refuse(
                f"!pattern-add {name}: {name} has not finished (status {view.status}); only a "
                "subtask with its pull request becomes a pattern. Fix: send it again once "
                "`status` shows its PR"
            )
            return
        spec = self.specs().get(name)
        request = PatternAddRequest(
            library=ctx.config.patterns.path,
            repo_root=ctx.repo_root,
            design_dir=ctx.design_dir,
            feature=ctx.feature,
            subtask=name,
            base_branch=self.base_branch(),
            dependency_branches=[BRANCH_PREFIX + d for d in (spec.dependencies if spec else [])],
            pr_url=view.pr_url,
            remote=ctx.config.forge.remote,
        )
        done = await self._run(f"!pattern-add {name}", add_pattern, request, PatternAddResult)
        if isinstance(done, PatternAddResult):
            said = {"added": "added to", "updated": "updated in", "unchanged": "already in"}
            self.control.tell(
                f"!pattern-add {name}: {done.id} ({done.title}) {said[done.outcome]} "
                f"{done.library_path}; reuse keywords: {', '.join(done.keywords) or '-'}"
            )

    async def list(self) -> None:
        ctx = self._ready("!pattern-list")
        if ctx is None:
            return
        request = PatternListRequest(library=ctx.config.patterns.path)
        found = await self._run("!pattern-list", list_patterns, request, PatternList)
        if not isinstance(found, PatternList):
            return
        if not found.patterns:
            self.control.tell(f"!pattern-list: {found.library_path} holds no patterns yet")
            return
        shown = [
            f"{p.id} {p.title} [domain {p.domain}; stack {p.stack}; keywords "
            f"{', '.join(p.keywords) or '-'}]"
            for p in found.patterns[:MAX_LISTED]
        ]
        more = len(found.patterns) - len(shown)
        self.control.tell(
            f"!pattern-list: {len(found.patterns)} in {found.library_path}: "
            + "; ".join(shown)
            + (f"; and {more} more (orchestrator pattern list)" if more > 0 else "")
        )

    def _ready(self, what: str) -> ProjectContext | None:
        ctx = self.ctx()
        if ctx is None:
            self.control.refuse(
                f"{what}: the build has not read its project yet. Fix: send it again in a moment"
            )
        return ctx

    async def _run(self, what: str, activity: object, arg: object, result_type: type) -> object:
        """The activity beside the build: a failure is refused in `status`, never held."""
        try:
            return await self.control.activity(
                activity,
                arg,
                result_type=result_type,
                summary=what,
                hold=False,
                **options.quick(),
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            cause = err.cause
            message = getattr(cause, "message", None) or str(cause or err)
            self.control.refuse(f"{what}: {message}")
            return None
