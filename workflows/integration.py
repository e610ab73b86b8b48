"""IntegrationWorkflow: the feature as a whole, after every subtask has its PR (seed 003).

MERGE (every subtask branch, DAG order, onto `integration/<feature>` from the
base; a conflict goes to the integrator) -> VERIFY (every subtask's gates, the
integration suite, lint, smell checks; reviewers score whatever the integrator
changed) -> FIX (integrator) ... -> PR -> FOLLOW it (`[forge] follow`: the same
`PullFollow` as a subtask's, the integrator as its fixer; with `merge = "auto"` it
merges last) -> INTEGRATION.md. A failure the
integrator attributes to one subtask reopens that subtask instead; stuck, the
person decides (continue / skip / reopen:<subtask>). It runs as a child of the
build, like a subtask, on a claimed host, and reports the `integration` row.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.integration.activities import (
        merge_branches,
        own_work,
        smell_checks,
        write_integration_report,
    )
    from activities.integration.report import pr_body
    from contracts.agents import EditResult, ReviewIssue, ReviewResult, Severity
    from contracts.build import (
        GateCommand,
        GateResult,
        IntegrationInput,
        IntegrationState,
        RoundVerdict,
        SubtaskResult,
    )
    from contracts.follow import FollowRound
    from contracts.forge import PullRequestResult
    from contracts.human import PendingDecision
    from contracts.integration import (
        INTEGRATION,
        SKIP,
        IntegrateRequest,
        IntegrateResult,
        IntegrationOutcome,
        IntegrationReport,
        IntegrationRound,
        OwnWork,
        OwnWorkRequest,
        Reopen,
        ReopenBy,
        ReopenRecord,
        SmellRequest,
        integration_branch,
        integration_choice,
        integration_options,
    )
    from workflows import options, subtask_state, worktree_steps
    from workflows.build_child import child_messages
    from workflows.failures import all_or_cancel
    from workflows.follow_messages import follow_messages
    from workflows.forge_wake import ForgeWake, forge_event_handler
    from workflows.inputs import unknown_names
    from workflows.pr_follow import Fixer, PullFollow


@workflow.defn(name="IntegrationWorkflow")
class IntegrationWorkflow:
    @workflow.init
    def __init__(self, inp: IntegrationInput) -> None:
        # The state read as the run is made: a signal with the first task runs its
        # handler before `run` (as in the subtask loop).
        cap = inp.ctx.config.integration.max_rounds
        self.s = subtask_state.carried_or_new(inp.state, IntegrationState, inp.paused, cap)
        self.inp = inp
        self.reopen: tuple[str, str] | None = None
        self.reopen_record: ReopenRecord | None = None
        # Policy, the link to the build, the worktree's steps: composed, shared with the
        # subtask loop.
        self.wake = ForgeWake()  # a webhook delivery ends a wait on the forge early
        self.control, self.child, self.steps = worktree_steps.child_loop(
            "integration", lambda: self.s, lambda: self.inp, self._xml
        )
        self.pull = PullFollow(
            self.steps,
            self.wake,
            lambda: self._pull_request(record=False),
            Fixer(
                "integrator",
                lambda: f"the integration of {self.inp.feature}",
                lambda: f"integration({self.inp.feature})",
            ),
        )

    @workflow.run
    async def run(self, inp: IntegrationInput) -> SubtaskResult:
        await self.steps.run(self._steps, "integration branch and worktree")
        await self._write_report()
        await self.control.drained()
        return self._result()

    # ------------------------------------------------------------ messages
    # What the build sends its children (one declaration for the subtask and integration).

    decide, pause, resume, set_budget_hold, set_failure_hold, outage_retried, look_at_build = (
        child_messages()
    )
    forge_event = forge_event_handler()
    # `[forge] merge = "auto"`: its turn comes after every subtask's PR merged.
    may_merge, merge_declined, dependency_merged = follow_messages()
    unknown_signal, unknown_update = unknown_names()

    @workflow.query(name="status")
    def status(self) -> IntegrationState:
        return self.s

    # ----------------------------------------------------------- the steps

    def _branch(self) -> str:
        return integration_branch(self.inp.feature)

    def _xml(self) -> str:
        """What reviewers and the integrator read first: the plan of the whole feature."""
        return f"{self.inp.ctx.design_rel}/plan/dag.md"

    async def _setup_worktree(self) -> None:
        if self.s.worktree is not None:
            return
        self.child.phase("worktree")
        wt = await self.steps.make_worktree(
            INTEGRATION, self._branch(), f"worktree .worktrees/{INTEGRATION} on {self._branch()}"
        )
        self.s.worktree, self.s.branch = wt.path, wt.branch
        self.s.status = "in_progress"
        await self.child.report()

    async def _steps(self) -> None:
        await self._setup_worktree()
        if self.s.follow is not None:  # continued as new (or moved hosts) following its PR
            await self.pull.follow()
            return
        while True:
            await self.control.continue_as_new_if_suggested(self.inp, self.s)
            await self._merge_all()
            verdict = await self._verify()
            if verdict == "pass":
                if await self._nothing_of_its_own():
                    return
                await self._open_pr()
                if self.s.follow is not None:
                    await self.pull.follow()
                return
            if verdict == "stop":
                return

    async def _merge_all(self) -> None:
        """Merge every branch; each conflict is resolved by the integrator before the next."""
        inp = self.inp
        while True:
            self.child.phase("merging")
            await self.child.report()
            result: IntegrateResult = await self.steps.on_host(
                merge_branches,
                IntegrateRequest(
                    worktree=self.steps.worktree,
                    branch=self._branch(),
                    base_branch=inp.base_branch,
                    branches=[f"feat/{n}" for n in inp.merge_order],
                    remote=inp.ctx.config.forge.remote,
                    token_hosts=self.steps.token_hosts(),
                ),
                IntegrateResult,
                f"merge {len(inp.merge_order)} subtask branches into {self._branch()}",
                **options.network(),
            )
            self.s.base = self.s.base or result.base
            self.s.merged += [b for b in result.merged if b not in self.s.merged]
            # Nothing ahead of the base (every subtask's commits on it): nothing to push.
            if result.ahead != 0:
                await self.steps.push()
            conflict = result.conflict
            if conflict is None:
                return
            self.s.merged.append(conflict.branch)
            self.s.conflicts.append(conflict)
            self.child.phase(f"resolving conflicts ({conflict.branch})")
            edit = await self._integrator(
                self.s.round,
                (
                    f"Merging {conflict.branch} into {self._branch()} conflicted in "
                    f"{', '.join(conflict.files)}; the merge is committed with its conflict "
                    "markers. Resolve every conflict so that both sides' intent is kept."
                ),
                [
                    ReviewIssue(
                        severity=Severity.high,
                        description=f"merge conflict with {conflict.branch}",
                        location=f,
                    )
                    for f in conflict.files
                ],
                [],
                f"integration({inp.feature}): resolve conflicts with {conflict.branch}",
                attribute=False,
            )
            self.s.resolutions[conflict.branch] = edit.summary

    async def _verify(self) -> RoundVerdict:
        """One round: gates, smell checks and (after the integrator's work) reviewers."""
        inp = self.inp
        cfg = inp.ctx.config
        rnd = await self.child.next_round("verifying")
        head = await self.steps.head(self._branch())
        reviewers = self.steps.reviewers() if self.s.integrator_commits else []
        gates, smells = await all_or_cancel(self.steps.gates(rnd), self._smells(rnd))
        checks = GateResult(results=[*gates.results, *smells.results])
        asked = await all_or_cancel(*(self._review(r, rnd, head, checks) for r in reviewers))
        reviews = [r for r in asked if r is not None]  # a person may skip a held reviewer
        record, lowest = subtask_state.record_round(self.s, rnd, head, checks, reviews)
        self.s.log.append(
            IntegrationRound(
                round=rnd,
                run=max((r.run for r in inp.earlier_rounds), default=0) + 1,
                gates={g.command: g.passed for g in checks.results},
                scores=dict(record.scores),
            )
        )
        if checks.passed and (not reviews or lowest >= inp.threshold):
            return "pass"
        failing = [g for g in checks.results if not g.passed]
        named = self._named_by_checks(failing)
        attribute = True
        if named is not None:
            # The checks say whose work it is (a file it promised, a line it wrote): reopen
            # that subtask; the integrator's attribution counts only where they do not say.
            verdict = await self._reopen_bounded(*named, failing, rnd, "checks")
            if verdict is not None:
                return verdict
            attribute = False  # a person said continue: the integrator fixes it here
        why = subtask_state.stuck_reason(self.s, rnd, cfg.stuck_rounds)
        if why is not None:
            verdict = await self._when_integration_stuck(rnd, why, checks)
            if verdict is not None:
                return verdict
        self.child.phase("fixing (integrator)")
        edit = await self._integrator(
            rnd,
            (
                f"The integrated branch {self._branch()} fails the checks below (round {rnd}). "
                "Read the gate logs, fix what putting the subtasks together broke, or name the "
                "subtask whose own work is at fault."
            ),
            subtask_state.fix_issues(reviews, checks, inp.threshold),
            record.review_paths + [g.log_path for g in checks.results if not g.passed],
            f"integration({inp.feature}): round {rnd}",
            attribute=attribute,
        )
        record.fixer, record.fix_commit = "integrator", edit.commit
        self.s.log[-1].fixer_summary = edit.summary
        culprit = edit.culprit if edit.culprit in inp.merge_order else None
        if culprit:
            why = edit.culprit_reason or f"integration round {rnd} failed because of it"
            return await self._reopen_bounded(culprit, why, failing, rnd, "integrator") or "fix"
        return "fix"

    def _named_by_checks(self, failing: list[GateCommand]) -> tuple[str, str] | None:
        """The first subtask (DAG order) a failing check names, and what it found."""
        for name in self.inp.merge_order:
            found = [g for g in failing if name in g.culprits]
            if found:
                said = "; ".join(f"{g.command}: {g.tail.strip()}" for g in found)
                return name, said if len(said) <= 800 else said[:799] + "…"
        return None

    async def _reopen_bounded(
        self, name: str, why: str, failing: list[GateCommand], rnd: int, by: ReopenBy
    ) -> RoundVerdict | None:
        """Reopen `name`, unless a person must decide: the same check failed after it was
        reopened before, or the build has used its `max_reopens`. None: `continue` (no
        reopen; the integrator goes on on the integrated branch)."""
        inp = self.inp
        checks = [g.command for g in failing]
        limit = inp.ctx.config.integration.max_reopens
        again = next(
            (r for r in inp.reopens if r.subtask == name and set(r.checks) & set(checks)), None
        )
        if again is None and len(inp.reopens) < limit:
            return self._reopen(name, why, checks, by)
        if name in self.s.kept:
            return None
        reason = (
            f"{name} was reopened before for "
            f"{', '.join(c for c in again.checks if c in checks)}, which fails again"
            if again is not None
            else f"the build has reopened subtasks {len(inp.reopens)} time(s), "
            f"[integration] max_reopens = {limit}"
        )
        choice = await self.child.ask(
            PendingDecision(
                scope=INTEGRATION,
                prompt=(
                    f"Integration of {inp.feature}, round {rnd}: "
                    f"{'the checks name' if by == 'checks' else 'the integrator names'} {name} "
                    "at fault "
                    f"({why}), but {reason}. Continue (the integrator fixes it on "
                    f"{self._branch()}, worktree {self.s.worktree}, after anything you fix "
                    f"there), skip integration, or reopen a subtask."
                ),
                options=integration_options(inp.merge_order),
            )
        )
        verdict = self._chosen(choice, rnd, reason, checks)
        if verdict is None:
            self.s.kept.append(name)
        return verdict

    def _chosen(self, choice: str, rnd: int, why: str, checks: list[str]) -> RoundVerdict | None:
        """A person's answer: skip and reopen end this run ("stop"); None for continue."""
        chosen = integration_choice(choice)
        if chosen == SKIP:
            self.s.status, self.s.phase = "skipped", "skipped"
            self.s.notes = f"skipped by a person after {rnd} rounds ({why})"
            return "stop"
        if isinstance(chosen, Reopen):
            why = f"reopened by a person after integration round {rnd}"
            return self._reopen(chosen.subtask, why, checks, "person")
        return None

    async def _when_integration_stuck(self, rnd: int, why: str, checks: GateResult) -> RoundVerdict:
        inp = self.inp
        failing = ", ".join(g.command for g in checks.results if not g.passed) or "reviews"
        choice = await self.child.ask(
            PendingDecision(
                scope=INTEGRATION,
                prompt=(
                    f"Integration of {inp.feature} is stuck after round {rnd} ({why}); failing: "
                    f"{failing}. Fix it by hand on {self._branch()} (worktree "
                    f"{self.s.worktree}) and continue, skip integration, or reopen a subtask."
                ),
                options=integration_options(inp.merge_order),
            )
        )
        self.s.rounds_without_progress = 0
        self.s.round_cap = rnd + inp.ctx.config.integration.max_rounds
        failing_checks = [g.command for g in checks.results if not g.passed]
        verdict = self._chosen(choice, rnd, why, failing_checks)
        if self.s.status == "skipped":
            await self.child.report()
        return verdict or "fix"  # continue: re-verify what the person left, no integrator pass

    def _reopen(self, name: str, why: str, checks: list[str], by: ReopenBy) -> RoundVerdict:
        self.reopen = (name, why)
        self.reopen_record = ReopenRecord(subtask=name, why=why, checks=checks, by=by)
        if self.s.log:
            self.s.log[-1].culprit, self.s.log[-1].culprit_by = name, by
        self.s.status, self.s.phase = "stale", f"waiting for {name} (reopened)"
        self.s.notes = f"reopened {name}: {why}"
        return "stop"

    async def _smells(self, rnd: int) -> GateResult:
        inp = self.inp
        cfg = inp.ctx.config
        return await self.steps.on_host(
            smell_checks,
            SmellRequest(
                worktree=self.steps.worktree,
                base=self.s.base or inp.base_branch,
                promised_files=inp.promised_files,
                branches={n: f"feat/{n}" for n in inp.merge_order},
                log_dir=f"{self.steps.reviews_dir()}/gates/round-{rnd}",
                timeout_s=cfg.gates.timeout_s,
                sandbox=cfg.sandbox,
            ),
            GateResult,
            f"smell checks · round {rnd}",
            **options.commands(cfg.gates.timeout_s, cfg.gates.heartbeat_timeout_s),
        )

    async def _review(
        self, reviewer: str, rnd: int, head: str, gates: GateResult
    ) -> ReviewResult | None:
        return await self.steps.review(
            reviewer,
            rnd,
            f"Review the integrator's changes on {self._branch()} (git log and diff since "
            f"the merges of the subtask branches): do they keep what each subtask meant to "
            f"deliver, and does the feature work as a whole? Verify each finding and score by "
            "the rubric.",
            f"integration {self.inp.feature}",
            head,
            gates,
        )

    async def _integrator(
        self,
        rnd: int,
        instructions: str,
        issues: list[ReviewIssue],
        review_paths: list[str],
        message: str,
        attribute: bool = True,
    ) -> EditResult:
        request_culprits = self.inp.merge_order if attribute else []
        result = await self.steps.edit(
            "integrator", rnd, instructions, issues, review_paths, message, request_culprits
        )
        if result.commit:
            self.s.integrator_commits += 1
        return result

    async def _nothing_of_its_own(self) -> bool:
        """Verified, and holding nothing the base lacks (`merge_method = "merge"` brought
        every subtask's commits to it unchanged): no PR, since GitHub refuses one without
        commits. Integration is done, as merged; the note says why, and what became of a
        copy of the branch an earlier attempt pushed."""
        inp = self.inp
        base, branch, remote = inp.base_branch, self._branch(), inp.ctx.config.forge.remote
        own: OwnWork = await self.steps.on_host(
            own_work,
            OwnWorkRequest(
                worktree=self.steps.worktree,
                branch=branch,
                base_branch=base,
                remote=remote,
                token_hosts=self.steps.token_hosts(),
            ),
            OwnWork,
            f"what {branch} holds beyond {base}",
            **options.network(),
        )
        if own.ahead:
            return False
        note = f"nothing to integrate: every subtask's commits are already on {base}; no PR"
        if own.removed:
            note += f"; {branch} removed from {remote} (it held nothing {base} lacks)"
        elif own.left:
            note += f"; {branch} left on {remote} at {own.left[:10]}: it holds commits {base} lacks"
        self.s.status, self.s.phase, self.s.notes = "merged", "merged", note
        await self.child.report()
        return True

    async def _open_pr(self) -> None:
        self.child.phase("creating PR")
        await self.child.report()
        await self.steps.push()
        pr = await self._pull_request()
        self.s.pr_url, self.s.pr_number = pr.url, pr.number
        self.s.notes = f"passed in {len(self.s.rounds)} round(s)"
        # It follows its PR now, as a subtask does, until GitHub says clean (merge = "auto":
        # merged); not followed, integration is done at its PR.
        if not self.pull.begin(pr):
            self.s.status, self.s.phase = "pr_created", "pr_created"
        await self.child.report()

    async def _pull_request(self, record: bool = True) -> PullRequestResult:
        """Push the branch and open (or find and update) its PR, the body from the state."""
        inp = self.inp
        return await self.steps.pull_request(
            self._branch(),
            f"integration({inp.feature}): every subtask merged and verified",
            pr_body(
                inp.feature,
                inp.merge_order,
                inp.subtask_prs,
                {g.command: g.passed for g in self.s.gates},
                f"{inp.ctx.design_rel}/build-reviews/INTEGRATION.md",
                # The last round's reviews and gate logs, committed on the branch with the PR.
                [
                    *(self.s.rounds[-1].review_paths if self.s.rounds else []),
                    *(g.log_path for g in self.s.gates),
                ],
                list(self.s.follow.rounds) if self.s.follow else [],
            ),
            [],
            record=record,
        )

    async def _write_report(self) -> None:
        inp = self.inp
        summary = "write build-reviews/INTEGRATION.md"
        report = IntegrationReport(
            path=f"{inp.ctx.design_dir}/build-reviews/INTEGRATION.md",
            feature=inp.feature,
            branch=self._branch(),
            base_branch=inp.base_branch,
            merge_order=inp.merge_order,
            conflicts=self.s.conflicts,
            resolutions=self.s.resolutions,
            rounds=[*inp.earlier_rounds, *self.s.log],
            reopened=[*inp.reopened, *([": ".join(self.reopen)] if self.reopen else [])],
            outcome=self._outcome(),
            subtask_prs=inp.subtask_prs,
            follow_rounds=self._follow_rounds(),
        )
        await self.control.held_step(
            summary,
            lambda: workflow.execute_activity(
                write_integration_report, report, summary=summary, **options.quick()
            ),
        )

    def _follow_rounds(self) -> list[FollowRound]:
        return list(self.s.follow.rounds) if self.s.follow else []

    def _outcome(self) -> IntegrationOutcome:
        passed = ("pr_created", "mergeable", "merged")
        status = "passed" if self.s.status in passed else "failed"
        status = "skipped" if self.s.status == "skipped" else status
        return IntegrationOutcome(
            status=status,  # type: ignore[arg-type]
            # Passed without a PR: nothing to integrate, and the note says so.
            reason="" if status == "passed" and self.s.pr_url else self.s.notes,
            branch=self._branch(),
            pr_url=self.s.pr_url,
            rounds=len(self.s.rounds),
            pr_status=self.s.status if self.s.follow is not None and status == "passed" else "",
        )

    def _result(self) -> SubtaskResult:
        return self.child.result(
            INTEGRATION,
            reopen=self.reopen[0] if self.reopen else None,
            reopen_reason=self.reopen[1] if self.reopen else "",
            reopen_record=self.reopen_record,
            integration_rounds=self.s.log,
        )
