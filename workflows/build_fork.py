"""The build's `!fork` / `!merge` (seed 004): two attempts at one subtask, then a pick.

`!fork <subtask> [name]` is checked and recorded by its handler; the scheduling loop then
applies it between two passes (`handle`): a subtask that is building is cancelled (its
branch is kept, and archived when a winner replaces it) and both attempts start afresh
from the subtask's base, so the two are compared on equal terms. Each attempt is a
`SubtaskWorkflow` child with its own branch and worktree (`fork/<name>-A`, `-B`),
reviewed and gated like any subtask, without a pull request, each in a
`max_concurrent_subtasks` slot of its own (two attempts are two builds). While they run,
the subtask holds its place in the build (`ForkGroup` stands in its child's handle), so
its dependents wait and a person's pause, budget or answers reach both attempts.

Both ended: `build-reviews/<subtask>/FORK-<name>.md` compares them and the subtask holds
for `!merge A|B` (`[fork] pick = "best"`: the passing attempt with the higher lowest
score, without asking). The winner becomes `feat/<subtask>` (its review pass recorded, so
the subtask goes straight to its pull request), the loser is archived as
`archive/fork/<name>-<X>-<time>`, and the subtask is scheduled again as usual.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.fork_report import adopt_fork_records, write_fork_report
    from activities.git.archive import archive_branches
    from activities.git.promote import promote_branch
    from activities.migration_scan import REPORT as MIGRATION_REPORT
    from activities.review_pass import record_review_pass
    from contracts.build import (
        HAS_PR,
        ReviewPass,
        ReviewPassRequest,
        SubtaskProgress,
        SubtaskResult,
    )
    from contracts.fork import (
        ATTEMPTS,
        AdoptRecordsRequest,
        AttemptReport,
        AttemptView,
        ForkAttemptSpec,
        ForkReportRequest,
        ForkReportResult,
        ForkRequest,
        ForkState,
        PromoteRequest,
        PromoteResult,
        fork_branch,
        parse_fork,
        report_name,
    )
    from contracts.git import BRANCH_PREFIX, WORKTREES_DIR
    from contracts.human import PendingDecision
    from contracts.reset import ArchiveRequest, ArchiveResult
    from workflows import build_state, fork_state, options
    from workflows.build_links import BuildLinks
    from workflows.failures import StepAbandoned
    from workflows.subtask import SubtaskWorkflow


class ForkGroup:
    """A fork's attempts behind what the build uses of a child's handle (`signal`,
    `cancel`): what the build tells the subtask reaches both attempts, and a person's
    answer reaches the attempt that asked (or, once both ended, picks the winner)."""

    def __init__(self, fork: BuildFork, subtask: str) -> None:
        self.fork, self.subtask = fork, subtask
        self.handles: dict[str, workflow.ChildWorkflowHandle[Any, Any]] = {}
        self.cancelled = False  # a `!reset` (or the build's end) cancelled the fork
        self.slots: set[str] = set()  # attempts holding a slot
        self.waiting: set[str] = set()  # attempts waiting for one: reserved against others

    async def signal(self, name: Any, *args: Any) -> None:
        if name is SubtaskWorkflow.decide and args:
            await self.fork.decided(self, str(args[0]))
            return
        for handle in list(self.handles.values()):
            await handle.signal(name, *args)

    def cancel(self) -> None:
        """Both attempts, and what waits: an attempt not started yet, the pick."""
        self.cancelled = True
        for handle in self.handles.values():
            handle.cancel()


class BuildFork:
    """Bound to the build through its `BuildLinks`: the fork's group joins its children's
    `running`."""

    def __init__(self, links: BuildLinks) -> None:
        self.state, self.ctx, self.children = links.state, links.ctx, links.children
        self.control, self.changed = links.control, links.changed
        self.started: set[str] = set()  # forks whose task runs in this run

    # ------------------------------------------------------------ messages

    def ask(self, request: ForkRequest | str) -> None:
        """`!fork`: checked here, where `status` shows a refusal; applied by `handle`."""
        try:
            req = parse_fork(request) if isinstance(request, str) else request
        except ValueError as err:
            self.control.refuse(f"!fork: {err}")
            return
        s = self.state()
        refused = fork_state.refusal(s, req)
        if refused:
            self.control.refuse(refused)
            return
        name = req.name or req.subtask
        s.forks[req.subtask] = ForkState(
            subtask=req.subtask,
            name=name,
            asked_at=workflow.now().isoformat(),
            attempts={
                a: AttemptView(
                    attempt=a, approach=req.approaches.get(a, ""), branch=fork_branch(name, a)
                )
                for a in ATTEMPTS
            },
        )
        view = s.subtasks[req.subtask]
        waits = view.status != "in_progress" and any(
            s.subtasks[d].status not in HAS_PR for d in view.dependencies
        )
        self.control.tell(
            f"!fork {req.subtask}: attempts {fork_branch(name, 'A')} and "
            f"{fork_branch(name, 'B')} start "
            f"{'once its dependencies have pull requests' if waits else 'now'}; then "
            f"{self._report_rel(req.subtask, name)} compares them"
        )
        self.changed()

    def merge(self, text: str) -> None:
        """`!merge A|B` (`!merge <subtask> B` when several forks wait)."""
        s = self.state()
        picked = fork_state.parse_merge(s, text)
        if isinstance(picked, str):
            self.control.refuse(picked)
            return
        subtask, winner = picked
        self._choose(subtask, winner, "person")

    async def decided(self, group: ForkGroup, choice: str) -> None:
        """A `decide` for the forked subtask: the pick once both ended, else the answer to
        whichever attempt asked (a stuck round, a failure)."""
        f = self.state().forks[group.subtask]
        if f.status == "deciding":
            self._choose(group.subtask, choice.strip().upper(), "person")
            return
        asked = [a for a, v in f.attempts.items() if v.decision is not None]
        for attempt in asked or list(group.handles):
            handle = group.handles.get(attempt)
            if handle is not None:
                await handle.signal(SubtaskWorkflow.decide, choice)

    def _choose(self, subtask: str, winner: str, by: Literal["person", "best"]) -> None:
        f = self.state().forks[subtask]
        picked = next((a for a in ATTEMPTS if a == winner), None)
        if picked is None:
            self.control.refuse(f"!merge {winner}: not an attempt. Fix: send !merge A or !merge B")
            return
        f.winner, f.picked_by, f.status = picked, by, "merging"
        self.changed()

    def progress(self, progress: SubtaskProgress) -> None:
        """An attempt's report: its view, and the subtask's row summing up both."""
        f = self.state().forks.get(progress.subtask)
        if f is None or progress.attempt not in f.attempts or f.status != "running":
            return
        fork_state.apply_progress(f.attempts[progress.attempt], progress)
        fork_state.show(self.state(), f)
        self.changed()

    # ------------------------------------------------------------ the loop's step

    async def handle(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        """Start (or, after a crash or continue-as-new, resume) each fork not yet running."""
        s = self.state()
        waiting = [
            n
            for n, f in s.forks.items()
            if f.status != "merged" and n not in self.started and self._may_start(n)
        ]
        for name in waiting:
            await self._take_over(name)
            self.started.add(name)
            tasks[f"{name}@fork"] = asyncio.ensure_future(self._run(name))

    def _may_start(self, name: str) -> bool:
        """A fork asked before its subtask could start waits, as the subtask would, until
        its dependencies have pull requests (both attempts start from their work), and
        no fork starts while the build holds (paused, the budget, a failure)."""
        s = self.state()
        view = s.subtasks[name]
        if s.forks[name].status != "asked":
            return True  # under way before a crash or continue-as-new: resumed as it was
        if self.control.held or self.control.holds.holding:
            return False  # paused, or held by the budget or a failure: nothing new starts
        if name in self.children.running:
            return True
        return view.status in ("pending", "stale") and all(
            s.subtasks[d].status in HAS_PR for d in view.dependencies
        )

    async def _take_over(self, name: str) -> None:
        """The subtask's child (if any) cancelled and gone; the fork's group in its place.
        No await after the child is gone: no scheduling pass sees the subtask unattended."""
        s, view, f = self.state(), self.state().subtasks[name], self.state().forks[name]
        await workflow.wait_condition(lambda: name not in self.children.starting)
        handle = self.children.running.get(name)
        if handle is not None and not isinstance(handle, ForkGroup):
            f.status = "cancelling"
            f.spent_before.merge(view.ledger)
            self.children.restarting.add(name)
            handle.cancel()
            await workflow.wait_condition(lambda: name not in self.children.running)
            self.children.restarting.discard(name)
        view.generation += 1  # a late report of the cancelled child changes nothing
        view.status, view.pr_url = "in_progress", None
        self.children.running[name] = ForkGroup(self, name)
        fork_state.show(s, f)

    async def _run(self, name: str) -> None:
        f = self.state().forks[name]
        group = self.children.running[name]
        assert isinstance(group, ForkGroup)
        try:
            if f.status in ("asked", "cancelling", "running"):
                f.status = "running"
                fork_state.show(self.state(), f)
                await asyncio.gather(*(self._attempt(group, a) for a in ATTEMPTS))
                if self.children.cancelled() or self.state().stopped:
                    return
                if self.state().reset is not None or self.state().forks.get(name) is not f:
                    return  # a `!reset` takes the build back to its design: the fork goes
                f.status = "deciding"
            if f.status == "deciding":
                await self._compare(name)
                await workflow.wait_condition(lambda: f.status != "deciding" or self._ended(group))
                if self._ended(group):
                    return  # a `!reset` while the pick was awaited: the fork goes
            await self._merge(name)
        except StepAbandoned as abandoned:  # a person answered a failed step with `stop`
            self.state().stopped, self.state().stop_reason = True, abandoned.reason
        finally:
            self.started.discard(name)
            if self.children.running.get(name) is group:
                self.children.running.pop(name, None)
            self.changed()

    async def _attempt(self, group: ForkGroup, attempt: str) -> None:
        f = self.state().forks[group.subtask]
        view = f.attempts[attempt]
        if view.ended_at is not None:
            return
        if not await self._slot(group, attempt):
            return
        view.started_at = view.started_at or workflow.now().isoformat()
        arg = self.children.subtask_input(
            group.subtask,
            fork=ForkAttemptSpec(name=f.name, attempt=view.attempt, approach=view.approach),
        )
        handle = await workflow.start_child_workflow(
            SubtaskWorkflow.run,
            arg,
            id=f"{workflow.info().workflow_id}-{group.subtask}-fork-{attempt}",
            static_summary=f"fork {f.name}: attempt {attempt} of {group.subtask}",
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
        )
        group.handles[attempt] = handle
        if self._ended(group):
            handle.cancel()  # cancelled while it was being started
        try:
            result: SubtaskResult = await handle
            fork_state.apply_result(view, result)
        except ChildWorkflowError as err:
            view.status, view.notes = "blocked", f"ended without a result: {err.cause or err}"
        group.handles.pop(attempt, None)
        group.slots.discard(attempt)
        view.ended_at = workflow.now().isoformat()
        view.decision = None
        fork_state.show(self.state(), f)
        self.changed()

    async def _compare(self, name: str) -> None:
        """FORK-<name>.md, then the pick: `[fork] pick = "best"`, or a person's."""
        s, ctx, f = self.state(), self.ctx(), self.state().forks[name]
        inp = self.children.inp()
        threshold = (inp.threshold if inp else None) or ctx.config.threshold
        best = fork_state.best(f)
        report: ForkReportResult = await self.control.activity(
            write_fork_report,
            ForkReportRequest(
                repo_root=ctx.repo_root,
                path=f"{ctx.design_dir}/build-reviews/{name}/{report_name(f.name)}",
                subtask=name,
                name=f.name,
                base_refs=[
                    self.children.base_branch(),
                    *(BRANCH_PREFIX + d for d in sorted(s.subtasks[name].dependencies)),
                ],
                attempts=[
                    AttemptReport(
                        attempt=v.attempt,
                        branch=v.branch,
                        approach=v.approach,
                        passed=v.passed,
                        status=v.status,
                        rounds=v.round,
                        scores=v.scores,
                        gates_passed=v.gates_passed,
                        tokens=v.ledger.total.total_tokens,
                        cost_usd=v.ledger.total.cost_usd,
                        seconds=_seconds(v),
                        notes=v.notes,
                    )
                    for _, v in sorted(f.attempts.items())
                ],
                threshold=threshold,
                recommended=best,
            ),
            result_type=ForkReportResult,
            summary=f"write {report_name(f.name)} for {name}",
            **options.quick(),
        )
        f.report_path = report.path
        if f.status != "deciding":  # a person's `!merge` came while the report was written
            return
        if best is not None and ctx.config.fork.pick == "best":
            self._choose(name, best, "best")
            return
        s.subtasks[name].decision = PendingDecision(
            scope=name,
            kind="fork",
            prompt=(
                f"Fork {f.name} of {name} ended: {fork_state.outcome(f)}. Compare them in "
                f"{self._report_rel(name, f.name)}, then send `!merge A` or `!merge B` (the "
                "other is kept as archive/...)"
            ),
            options=["a", "b"],
        )
        fork_state.show(s, f)
        self.changed()

    async def _merge(self, name: str) -> None:
        """The winner becomes `feat/<subtask>`, the loser an archive; the subtask goes on."""
        s, ctx, f = self.state(), self.ctx(), self.state().forks[name]
        cfg = ctx.config
        winner, view = f.winner, s.subtasks[name]
        assert winner is not None
        loser = next(a for a in ATTEMPTS if a != winner)
        view.decision, view.phase = None, f"fork {f.name}: making {winner} its branch"
        self.changed()
        remote = cfg.forge.remote if cfg.forge.kind != "none" else None
        hosts = cfg.forge.git_token_hosts()
        worktrees = f"{ctx.repo_root}/{WORKTREES_DIR}"
        spec = {a: ForkAttemptSpec(name=f.name, attempt=a) for a in ATTEMPTS}
        archived: ArchiveResult = await self.control.activity(
            archive_branches,
            ArchiveRequest(
                repo_root=ctx.repo_root,
                branches={
                    BRANCH_PREFIX + name: f"{worktrees}/{name}",
                    spec[loser].branch: f"{worktrees}/{spec[loser].worktree_key}",
                },
                stamp=workflow.now().strftime("%Y%m%dT%H%M%SZ"),
                remote=remote,
                token_hosts=hosts,
            ),
            result_type=ArchiveResult,
            summary=f"archive {spec[loser].branch} (and an older feat/{name})",
            **options.network(),
        )
        promoted: PromoteResult = await self.control.activity(
            promote_branch,
            PromoteRequest(
                repo_root=ctx.repo_root,
                source=spec[winner].branch,
                source_worktree=f"{worktrees}/{spec[winner].worktree_key}",
                target=BRANCH_PREFIX + name,
                remote=remote,
                token_hosts=hosts,
            ),
            result_type=PromoteResult,
            summary=f"make {spec[winner].branch} feat/{name}",
            **options.network(),
        )
        # The winner's own records (its Migration Risk Report) become the subtask's.
        reviews = f"{ctx.design_dir}/build-reviews/{name}"
        await self.control.activity(
            adopt_fork_records,
            AdoptRecordsRequest(
                source=f"{reviews}/{spec[winner].reviews_folder}",
                target=reviews,
                names=[MIGRATION_REPORT],
            ),
            result_type=list[str],
            summary=f"make the records of {spec[winner].branch} {name}'s",
            **options.quick(),
        )
        won = f.attempts[winner]
        if won.passed and won.passed_commit == promoted.head:
            await self.control.activity(
                record_review_pass,
                ReviewPassRequest(
                    design_dir=ctx.design_dir,
                    subtask=name,
                    worktree="",
                    record=ReviewPass(
                        subtask=name,
                        commit=promoted.head,
                        scores=dict(won.scores),
                        rounds=won.round,
                        review_paths=won.review_paths,
                    ),
                ),
                result_type=str,
                summary=f"record the review pass of feat/{name} (fork {f.name}, {winner})",
                **options.quick(),
            )
        f.archived = sorted(archived.archived.values())
        f.status = "merged"
        view.generation += 1
        view.status, view.phase = "pending", "pending"
        by = "a person" if f.picked_by == "person" else "best score"
        moved = f"; {promoted.source_kept}" if promoted.source_kept else ""
        view.notes = (
            f"fork {f.name}: {winner} merged (picked by {by}); "
            f"kept {', '.join(f.archived) or 'nothing'}{moved}"
        )
        f.notes = view.notes
        self.control.tell(f"!merge {winner} ({name}): {view.notes}")

    async def _slot(self, group: ForkGroup, attempt: str) -> bool:
        """Wait for a free `max_concurrent_subtasks` slot (reserved meanwhile, so no new
        subtask takes it) and take it; False when the fork was cancelled meanwhile. With
        one slot the attempts run one after the other."""
        if not self._ended(group) and not self._free(group):
            f = self.state().forks[group.subtask]
            f.attempts[attempt].phase = f"waiting for a free slot (of {self.children.limit()})"
            fork_state.show(self.state(), f)
            self.changed()
        group.waiting.add(attempt)
        while not self._ended(group) and not self._free(group):
            await workflow.wait_condition(lambda: self._ended(group) or self._free(group))
        group.waiting.discard(attempt)
        if self._ended(group):
            return False
        group.slots.add(attempt)
        return True

    def _free(self, group: ForkGroup) -> bool:
        """A slot is free for one more attempt of `group` (children being started count)."""
        starting = len(self.children.starting - set(self.children.running))
        others = self.busy() - self._weight(group) + starting
        return others + len(group.slots) < self.children.limit()

    def _weight(self, group: ForkGroup) -> int:
        """Slots a fork's group holds: each attempt building or waiting to, at least one."""
        return max(1, len(group.slots | group.waiting))

    def busy(self) -> int:
        """Children holding a slot: one only following its PR holds none, a fork's group
        one per attempt building or waiting to."""
        running = self.children.running
        extra = sum(self._weight(c) - 1 for c in running.values() if isinstance(c, ForkGroup))
        return build_state.busy(self.state(), running) + extra

    def _ended(self, group: ForkGroup) -> bool:
        """A cancelled fork ends wherever it is: an attempt not started yet, the pick."""
        return group.cancelled

    def _report_rel(self, subtask: str, name: str) -> str:
        return f"{self.ctx().design_rel}/build-reviews/{subtask}/{report_name(name)}"

    def attempts_running(self) -> bool:
        """Attempts end with the run that started them (REQUEST_CANCEL: nothing takes an
        attempt over after a continue-as-new), so the build continues as new only once no
        fork's attempts run; a fork's life is its attempts' builds, never a PR's days."""
        return any(isinstance(c, ForkGroup) for c in self.children.running.values())

    def attempts_ledgers(self) -> list[Any]:
        return [v.ledger for f in self.state().forks.values() for v in f.attempts.values()]


def _seconds(v: AttemptView) -> float:
    if not v.started_at or not v.ended_at:
        return 0.0
    return (
        datetime.fromisoformat(v.ended_at) - datetime.fromisoformat(v.started_at)
    ).total_seconds()
