"""ReleaseWorkflow (id `release-<feature>`): seed 004's gates after integration.

check the build integrated -> wait for `!critic` -> critics score 12 dimensions
(CRITIQUE.md) -> wait for `!security` -> 20 domains and offline scanners (SECURITY.md)
-> wait for `!verify` -> the suite and every acceptance criterion (VERIFY.md) ->
SHIPPED / NOT_SHIPPED. Each gate is a person's to send, in that order; one sent out of
order is refused in `status`. Findings at or above `[release] fix_severity` go to a
fixer on the integration branch, `[release] max_fix_rounds` times, then a person
decides (retry / skip / stop). A step that fails for good holds, like every loop's.
The integration worktree lives on a claimed host; a host that stops taking work is left
for another (the worktree made again there from the pushed branch, checked to hold every
commit the loop made), MAX_HOST_MOVES times in a row, then a person decides.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.git.activities import fast_forward
    from activities.release.activities import (
        acceptance_criteria,
        check_integrated,
        scan,
        write_report,
        write_rows,
    )
    from activities.release.report import report_path
    from contracts.agents import AgentCall, ReviewIssue
    from contracts.build import GateResult
    from contracts.config import ProjectContext
    from contracts.git import MergeRequest, MergeResult
    from contracts.human import (
        FAILURE_OPTIONS,
        RETRY_OR_STOP,
        PendingDecision,
    )
    from contracts.integration import INTEGRATION
    from contracts.metrics import Metrics
    from contracts.release import (
        DOCS_FILES,
        DOCS_GATE,
        GATES,
        NOT_SHIPPED,
        SHIPPED,
        STAGES,
        CriteriaRequest,
        CriteriaResult,
        Criterion,
        IntegratedRequest,
        IntegratedResult,
        ReleaseFinding,
        ReleaseInput,
        ReleaseReport,
        ReleaseResult,
        ReleaseRowsRequest,
        ReleaseState,
        ReleaseStatus,
        ScanRequest,
        ScanResult,
        Stage,
        StageState,
    )
    from contracts.search_attributes import Waiting
    from workflows import options, project_steps, release_state
    from workflows.agent_step import agent_call
    from workflows.commands import loop_commands
    from workflows.failures import StepAbandoned, all_or_cancel
    from workflows.host_steps import HostLost, host_name
    from workflows.host_worktree import HostWorktree
    from workflows.inputs import (
        carried_state,
        checked_signal,
        unknown_names,
    )
    from workflows.loop_parts import loop_parts, loop_start
    from workflows.prompts import Prompts, loop_messages
    from workflows.say import say_handler
    from workflows.timestamps import elapsed

# Built-in roles (activities/agents/builtin_roles); a repository may replace them.
ROLES: dict[str, str] = {
    "critic": "release-critic",
    "security": "release-security",
    "verify": "release-verifier",
}


# The cause of the hold when a moved worktree lacks commits the loop made.
COMMITS_LOST = "CommitsLost"


class Stopped(Exception):
    """A person answered a release prompt with `stop`."""


@workflow.defn(name="ReleaseWorkflow")
class ReleaseWorkflow:
    SIGNALS = (*GATES, DOCS_GATE, "decide", "!pause", "!resume", "command", "say")

    @workflow.init
    def __init__(self, *args: Any) -> None:
        self.s: ReleaseState = carried_state(args, ReleaseInput) or ReleaseState()
        self.ctx: ProjectContext | None = None
        self.inp: ReleaseInput | None = None
        self.criteria: CriteriaResult | None = None
        parts = loop_parts(self, "release loop", "release", self.SIGNALS)
        self.control, self.gate_hints, self.attrs = parts
        self.holds = self.control.holds
        self.prompts = Prompts(
            lambda: self.s.decisions, lambda: self.s.answers, self.control, self._waiting_for
        )
        self.tree = HostWorktree(self.control, lambda: self.s, lambda: self._ctx)
        self.host, self.agent = self.tree.host, self.tree.agent

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, *args: Any) -> ReleaseResult:
        inp = self.inp = loop_start("ReleaseWorkflow", args, ReleaseInput, self.s)
        try:
            await self._loop(inp)
        except (StepAbandoned, Stopped) as stopped:
            reason = stopped.reason if isinstance(stopped, StepAbandoned) else str(stopped)
            self.s.result, self.s.stop_reason = NOT_SHIPPED, reason
        self.s.phase = "ended"
        if self.ctx is not None:
            await self._rows(hold=False)
        await self.control.drained()
        return self._result()

    async def _loop(self, inp: ReleaseInput) -> None:
        self.ctx = await project_steps.resolve(self.control.activity, inp.design_dir)
        self.s.phase = "checking integration"
        self._details()
        done: IntegratedResult = await self.control.activity(
            check_integrated,
            IntegratedRequest(
                repo_root=self.ctx.repo_root, design_dir=self.ctx.design_dir, feature=self._feature
            ),
            result_type=IntegratedResult,
            summary=f"has {self._feature} integrated?",
            **options.quick(),
        )
        self.s.branch = done.branch
        await self.host.on_a_host(
            partial(self._stages, inp),
            f"the release of {self._feature}",
            self._forget,
            RETRY_OR_STOP,
        )
        self.s.result = SHIPPED if release_state.shippable(self.s, self._severity) else NOT_SHIPPED

    async def _stages(self, inp: ReleaseInput) -> None:
        """The gates in order on the claimed host (run again from the stage a lost host
        interrupted: the stages done stay done)."""
        await self._worktree()
        await self._rows()
        for stage in STAGES:
            st = self.s.stages[stage]
            if st.status == "done":
                continue
            if stage not in self.s.opened:
                self.s.phase = f"awaiting !{stage}"
                self._details()
                await self.control.continue_as_new_if_suggested(inp, self.s)
                while stage not in self.s.opened:
                    # `!docs` runs while the loop waits for a gate, never during a stage.
                    await workflow.wait_condition(partial(self._opened_or_docs, stage))
                    if self.s.docs == "requested":
                        await self._docs()
            await self._stage(stage, st)
        if self.s.docs == "requested":  # sent while the last stage ran
            await self._docs()

    def _opened_or_docs(self, stage: Stage) -> bool:
        return stage in self.s.opened or self.s.docs == "requested"

    # ------------------------------------------------------------ messages

    def _gate(self, stage: Stage) -> None:
        """A gate is taken only when it is the next one; otherwise refused, naming it."""
        ahead = self._next_gate()
        if stage in self.s.opened:
            self.control.refuse(
                f"!{stage}: already sent (the {stage} stage is {self.s.stages[stage].status}). "
                f"Fix: wait for it; `status` shows its progress"
                + (f"; {ahead} comes next" if ahead else "")
            )
        elif ahead is None or ahead != f"!{stage}":
            first = ahead or f"!{STAGES[0]}"
            why = (
                "the loop is still checking the integration"
                if self.s.branch is None and first == f"!{stage}"
                else f"{first} comes first"
            )
            self.control.refuse(f"!{stage}: out of order, {why}. Fix: send {first} first")
        else:
            self.s.opened.append(stage)
            self.s.notice = ""
            self._details()

    @checked_signal("!critic")
    def critic(self) -> None:
        self._gate("critic")

    @checked_signal("!security")
    def security(self) -> None:
        self._gate("security")

    @checked_signal("!verify")
    def verify(self) -> None:
        self._gate("verify")

    @checked_signal("!docs")
    def docs(self) -> None:
        """The docs agent, once the build is known integrated and before the loop ends."""
        if self.s.branch is None or self.s.result is not None:
            when = "ended" if self.s.result is not None else "still checking the integration"
            self.control.refuse(f"!docs: the loop is {when}. Fix: send !docs while it waits")
        elif self.s.docs in ("requested", "running"):
            self.control.refuse(f"!docs: already {self.s.docs}. Fix: wait; `status` shows it")
        else:
            self.s.docs, self.s.notice = "requested", ""
            self._details()

    @checked_signal("command", str)
    async def command(self, line: str) -> None:
        await self.gate_hints.run(
            line,
            {
                "!critic": lambda _: self.critic(),
                "!security": lambda _: self.security(),
                "!verify": lambda _: self.verify(),
                "!docs": lambda _: self.docs(),
                **loop_commands(self.decide, self.pause, self.resume),
            },
        )

    decide, pause, resume = loop_messages()
    say = say_handler()
    unknown_signal, unknown_update = unknown_names()

    @workflow.query(name="status")
    def status(self) -> ReleaseStatus:
        total = self.s.ledger.total
        waiting = self._waiting_for()
        return ReleaseStatus(
            feature=self._feature if self.ctx else "",
            phase=self.s.phase,
            paused=self.s.paused,
            waiting_for=waiting,
            notice=self.s.notice,
            hint=self.gate_hints.standing(waiting),
            next_gate=self._next_gate(),
            stages=[release_state.view(self.s.stages[s]) for s in STAGES],
            decisions=[*self.holds.decisions(), *self.s.decisions],
            cost_usd=total.cost_usd,
            tokens=total.total_tokens,
            result=self.s.result,
            docs=self.s.docs,
            docs_files=self.s.docs_files,
            hosts=self.s.hosts,
        )

    @workflow.query(name="metrics")
    def metrics(self) -> Metrics:
        return Metrics.of(self.s.ledger, elapsed(self.s))

    # ------------------------------------------------------------ what is shown

    def _next_gate(self) -> str | None:
        return release_state.next_gate(self.s)

    def _waiting(self) -> tuple[Waiting, str]:
        return release_state.waiting(self.s, [*self.holds.decisions(), *self.s.decisions])

    def _waiting_for(self) -> str:
        return self._waiting()[1]

    def _details(self, note: str = "") -> None:
        feature = self._feature if self.ctx else ""
        who, waiting = self._waiting()
        workflow.set_current_details(release_state.details(self.s, feature, waiting, note))
        self.attrs.show(self.s.phase, who, self.s.ledger.total.cost_usd)

    async def _on_hold(self) -> None:
        self._details()

    # ------------------------------------------------------------ the project

    @property
    def _ctx(self) -> ProjectContext:
        assert self.ctx is not None
        return self.ctx

    @property
    def _feature(self) -> str:
        return self._ctx.feature

    def _base(self) -> str:
        return self._ctx.config.forge.base_branch or self._ctx.branch

    async def _worktree(self) -> None:
        """The integration branch's worktree on the claimed host, made from the branch (here
        or on the remote; never from the base). After a move it must hold every commit the
        loop made: a stale local branch is brought up to the remote's, and one that still
        lacks them holds for a person."""
        if self.s.worktree is not None:
            return
        await self.host.claim(
            f"release-{self._feature}", f"claim a host for the release of {self._feature}"
        )
        branch = self.s.branch or ""
        while True:
            wt = await self.tree.make(
                INTEGRATION,
                branch,
                self._base(),
                f"worktree .worktrees/{INTEGRATION} on {branch}",
                existing_only=True,
            )
            head = wt.head
            if self.s.head not in (None, head):
                ff: MergeResult = await self.host.step(
                    fast_forward,
                    MergeRequest(
                        worktree=wt.path,
                        branch=branch,
                        remote=self._ctx.config.forge.remote,
                        token_hosts=self.tree.token_hosts(),
                    ),
                    MergeResult,
                    f"fast-forward {branch}",
                    **options.network(),
                )
                head = ff.head
            if self.s.head in (None, head) or await self._went_on_without(wt.path, head):
                break
        moved = len(self.s.hosts) > 1 and self.s.head is not None
        self.s.worktree, self.s.head = wt.path, head
        if moved:
            old, new = host_name(self.s.hosts[-2]), host_name(self.s.hosts[-1])
            self.s.notice = (
                f"moved from host {old} to host {new}" if old != new else f"back on host {new}"
            ) + f": its worktree made again there from {branch} at {head[:10]}"
            self._details()

    def _forget(self, lost: HostLost) -> None:
        """The worktree was on the lost host: made again on the next one; the stage (or the
        docs) it interrupted runs again there."""
        self.s.worktree = None
        if self.s.docs == "running":
            self.s.docs = "requested"
        self.s.phase = "moving hosts"
        self.s.notice = f"host {lost.host} stopped taking work ({lost}); moving to another host"
        self._details()

    async def _went_on_without(self, path: str, head: str) -> bool:
        """The worktree made on this host lacks the loop's last commit: a person pushes it
        from the host it was made on and retries (False), or skips, going on from `head`
        without it (True), or stops."""
        branch, remote = self.s.branch or "", self._ctx.config.forge.remote or "the remote"
        old = host_name(self.s.hosts[-2]) if len(self.s.hosts) > 1 else "the lost host"
        lost = (
            f"the release's commits {', '.join(self.s.unpushed)} were never pushed"
            if self.s.unpushed
            else f"{branch} there does not hold {self.s.head}"
        )
        try:
            await self.control.hold_found(
                f"worktree .worktrees/{INTEGRATION} on {branch}",
                f"the release's worktree was at {self.s.head} on host {old}; on host "
                f"{host_name(self.s.hosts[-1])} {branch} (from {remote}) is at {head}: {lost}. "
                f"Fix: if host {old}'s disk is still there, push them from it "
                f"(`git -C {path} push {remote} {branch}`) and retry; or skip to go on from "
                f"{head[:10]} without them; or stop",
                COMMITS_LOST,
            )
        except StepAbandoned as abandoned:
            if abandoned.choice != "skip":
                raise
            self.s.unpushed = []
            return True
        return False

    async def _rows(self, hold: bool = True) -> None:
        """The tracker's critic, security and verify rows."""
        rows: dict[str, tuple[str, str]] = {}
        for name in STAGES:
            st = self.s.stages[name]
            rows[name] = release_state.row(self.s, st, self._severity)
        req = ReleaseRowsRequest(
            repo_root=self._ctx.repo_root,
            feature=self._feature,
            tracker_path=self._ctx.config.tracker.path,
            rows=rows,
        )
        summary = "tracker rows critic, security, verify"
        if hold:
            await self.control.activity(
                write_rows, req, result_type=str, summary=summary, **options.quick()
            )
            return
        try:
            await workflow.execute_activity(write_rows, req, summary=summary, **options.quick())
        except ActivityError as err:  # the loop has ended: the rows are only a view of it
            if is_cancelled_exception(err):
                raise
            workflow.logger.warning("tracker rows not written: %s", err.cause)

    @property
    def _severity(self) -> str:
        return self._ctx.config.release.fix_severity

    # ------------------------------------------------------------ a stage

    async def _stage(self, name: Stage, st: StageState) -> None:
        """Assess, fix what is at or above the fix severity (bounded), then the report."""
        cfg = self._ctx.config.release
        st.status, self.s.phase = "running", name
        await self._rows()
        areas = release_state.areas(name)
        cap = cfg.max_fix_rounds
        try:
            while True:
                st.round += 1
                self._details()
                await self._assess(name, st, areas)
                blocking = release_state.blocking(st, self._severity)
                if not blocking or st.accepted:
                    break
                if st.fix_rounds >= cap:
                    choice = await self._ask_stuck(name, st, len(blocking))
                    if choice == "skip":
                        st.accepted = True
                        break
                    cap = st.fix_rounds + max(1, cfg.max_fix_rounds)
                await self._fix(name, st, blocking)
                areas = sorted({f.area for f in blocking})
        except (StepAbandoned, Stopped):
            st.status = "stopped"
            raise
        if name == "verify":
            self.s.result = (
                SHIPPED if release_state.shippable(self.s, self._severity) else NOT_SHIPPED
            )
        await self._report(name, st)
        st.status = "done"  # with its report: the next gate is offered once it is written
        await self._rows()

    async def _ask_stuck(self, name: Stage, st: StageState, blocking: int) -> str:
        st.status = "deciding"
        await self._rows()
        choice = await self.prompts.ask(
            PendingDecision(
                scope=name,
                prompt=(
                    f"The {name} stage of {self._feature} still has {blocking} finding(s) at or "
                    f"above {self._severity} after {st.fix_rounds} fixer round(s) ([release] "
                    f"max_fix_rounds). Fix them by hand on {self.s.branch} (worktree "
                    f"{self.s.worktree}) and retry (review again, then more fixer rounds), skip "
                    "(keep the findings in the report as they are), or stop (NOT_SHIPPED)."
                ),
                options=list(FAILURE_OPTIONS),
            )
        )
        if choice == "stop":
            raise Stopped(f"stopped by a person at the {name} stage with {blocking} finding(s)")
        st.status = "running"
        return choice

    async def _assess(self, name: Stage, st: StageState, areas: list[str]) -> None:
        head = await self.tree.head(self.s.branch or "")
        suite, subtasks = GateResult(), []
        if name == "verify":
            subtasks = (await self._criteria()).subtasks
            suite = await self._suite(st.round)  # every round: a fix may break or mend it
            st.gates = suite.results
            release_state.suite_findings(st, suite)
            areas = [a for a in areas if a != release_state.SUITE] or subtasks
        titles = release_state.titles(name, subtasks)
        jobs = [self._review(name, st, a, titles[a], head, suite) for a in areas if a in titles]
        if release_state.SCANNER in areas:
            jobs.append(self._scan(st))
        limit = asyncio.Semaphore(self._ctx.config.max_parallel_reviews)

        async def bounded(job: Any) -> None:
            async with limit:
                await job

        await all_or_cancel(*(bounded(j) for j in jobs))

    async def _criteria(self) -> CriteriaResult:
        if self.criteria is None:
            self.criteria = await self.control.activity(
                acceptance_criteria,
                CriteriaRequest(design_dir=self._ctx.design_dir),
                result_type=CriteriaResult,
                summary="acceptance criteria of every subtask",
                **options.quick(),
            )
        return self.criteria

    def _suite_commands(self) -> list[str]:
        cfg = self._ctx.config
        if cfg.gates.integration is not None:
            return list(cfg.gates.integration)
        every = self.criteria.commands if self.criteria else []
        return list(dict.fromkeys([*cfg.gates.commands, *every]))

    async def _suite(self, rnd: int) -> GateResult:
        return await self.tree.gates(
            self._suite_commands(),
            f"{self._dir()}/verify/round-{rnd}",
            f"test suite on {self.s.branch} · round {rnd}",
        )

    def _dir(self) -> str:
        return f"{self._ctx.design_dir}/release"

    def _call(self, role: str, scope: str, rnd: int, focus: list[str], text: str) -> AgentCall:
        return agent_call(
            self._ctx,
            role,
            scope,
            rnd,
            focus,
            text,
            f"{role}-{scope}-r{rnd}",
            workdir=self.s.worktree or "",
            spec_path=focus[0],
            gate_commands=self._suite_commands(),
        )

    async def _review(
        self, name: Stage, st: StageState, area: str, title: str, head: str, suite: GateResult
    ) -> None:
        stamped = self.tree.stamp(f"{name}-{area}")
        result = await self.agent.review(
            self._call(
                ROLES[name],
                area,
                st.round,
                release_state.focus(name, area, self._ctx.design_rel),
                release_state.instructions(
                    name,
                    title,
                    self._feature,
                    self.s.branch or "",
                    self.criteria.criteria if self.criteria else [],
                ),
            ),
            f"{name} · {title}",
            review_path=f"{self._dir()}/reviews/{name}/{stamped}_{area}.md",
            title=f"{name} of {self._feature}: {title}",
            threshold=self._ctx.config.threshold,
            head=head,
            diff_base_refs=[self._base()],
            gates=suite.outcomes(),
        )
        st.scores[area], st.evidence[area] = result.score, result.review_path
        st.findings = [f for f in st.findings if f.area != area]
        st.findings += [
            ReleaseFinding(
                area=area,
                severity=i.severity,
                description=i.description,
                location=i.location,
                evidence=result.review_path,
            )
            for i in result.issues
        ]
        self._details()

    async def _scan(self, st: StageState) -> None:
        cfg = self._ctx.config
        result: ScanResult = await self.host.step(
            scan,
            ScanRequest(
                workdir=self.s.worktree or "",
                log_dir=f"{self._dir()}/security/round-{st.round}",
                timeout_s=cfg.gates.timeout_s,
                sandbox=cfg.sandbox,
            ),
            ScanResult,
            f"offline scanners on {self.s.branch}",
            **options.commands(cfg.gates.timeout_s, cfg.gates.heartbeat_timeout_s),
        )
        st.scanners = result.notes
        st.findings = [f for f in st.findings if f.area != release_state.SCANNER]
        st.findings += result.findings

    async def _fix(self, name: Stage, st: StageState, blocking: list[ReleaseFinding]) -> None:
        st.status = "fixing"
        st.fix_rounds += 1
        await self._rows()
        edit = await self.agent.edit(
            self._call(
                "fixer",
                f"release-{name}",
                st.fix_rounds,
                release_state.focus(name, "", self._ctx.design_rel)
                if name != "verify"
                else [f"{self._ctx.design_rel}/plan/dag.md"],
                (
                    f"The release {name} review of {self._feature} found the issues below on the "
                    f"integrated branch {self.s.branch}. Fix their causes; run the test suite "
                    "before you finish."
                ),
            ),
            f"fixer · {name}",
            issues=[
                ReviewIssue(
                    severity=f.severity,
                    description=f"[{f.area}] {f.description}",
                    location=f.location,
                )
                for f in blocking
            ],
            review_paths=sorted({f.evidence for f in blocking if f.evidence}),
            commit_message=f"release({self._feature}): fix {name} findings, round {st.fix_rounds}",
        )
        st.fixes.append(f"{edit.commit[:10] if edit.commit else 'no commit'}: {edit.summary}")
        if edit.commit:
            await self._committed(edit.commit, f"fixer, {name} round {st.fix_rounds}")
        st.status = "running"

    async def _committed(self, commit: str, what: str) -> None:
        """The loop's own commit, the worktree's new head: pushed (best effort) so the
        integration PR shows it and another host can go on from it; until the remote has
        it, it is named in `unpushed`."""
        self.s.head = commit
        self.s.unpushed.append(f"{commit[:10]} ({what})")
        pushed = await self.tree.push(self.s.branch or "", attempts=2)
        if pushed is not None:
            self.s.unpushed = []

    async def _docs(self) -> None:
        """The docs agent writes <design dir>/docs/ on the integration branch (committed)."""
        rel = self._ctx.design_rel
        self.s.docs, phase = "running", self.s.phase
        self.s.phase = "docs"
        self._details()
        reports = [st.report for st in self.s.stages.values() if st.report]
        edit = await self.agent.edit(
            self._call(
                "release-docs",
                "release-docs",
                len(self.s.docs_files) + 1,
                release_state.focus("critic", "", rel),
                (
                    f"Write the release documentation of {self._feature} in {rel}/docs/: "
                    f"{', '.join(DOCS_FILES)}, from the integrated code on {self.s.branch}, "
                    "the design and the release reports."
                ),
            ),
            "docs",
            review_paths=reports,
            commit_message=f"release({self._feature}): docs",
            write_scope=[f"{rel}/docs"],
        )
        self.s.docs_files = [f for f in edit.files_changed if f.startswith(f"{rel}/docs/")]
        missing = [n for n in DOCS_FILES if f"{rel}/docs/{n}" not in self.s.docs_files]
        self.s.notice = (
            f"!docs: the docs agent did not write {', '.join(missing)}; send !docs again"
            if missing
            else ""
        )
        if edit.commit:
            await self._committed(edit.commit, "docs")
        self.s.docs, self.s.phase = "done", phase
        self._details()

    async def _report(self, name: Stage, st: StageState) -> None:
        path = report_path(self._ctx.design_dir, name)
        report = ReleaseReport(
            path=path,
            feature=self._feature,
            branch=self.s.branch or "",
            stage=st,
            fix_severity=self._severity,
            criteria=self.criteria.criteria
            if self.criteria and name == "verify"
            else list[Criterion](),
            verdict=self.s.result if name == "verify" else None,
        )
        st.report = await self.control.activity(
            write_report,
            report,
            result_type=str,
            summary=f"write release/{path.rsplit('/', 1)[-1]}",
            **options.quick(),
        )

    def _result(self) -> ReleaseResult:
        found = [f for n in STAGES for f in self.s.stages[n].findings]
        result = self.s.result or NOT_SHIPPED
        self._details(
            f"ended: **{result}**" + (f"; {self.s.stop_reason}" if self.s.stop_reason else "")
        )
        return ReleaseResult(
            result=result,
            feature=self._feature if self.ctx else "",
            branch=self.s.branch or "",
            reports=[r for r in (self.s.stages[s].report for s in STAGES) if r],
            findings=release_state.counts(found),
            stop_reason=self.s.stop_reason,
            cost_usd=self.s.ledger.total.cost_usd,
        )
