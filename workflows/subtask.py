"""SubtaskWorkflow: seed 002's per-subtask state machine.

SETUP_WORKTREE -> BUILD -> REVIEW (gates, then reviewers) -> EVALUATE
-> FIX -> REVIEW ... -> CREATE_PR. Stuck: ask the person (skip / simplify /
debug / continue). Every change of state is reported to the parent build,
which owns the tracker; a person answers through it. The commit that passed
review is recorded beside the reviews, so a restarted build sends the subtask
straight to its (idempotent) pull request without running any agent again.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.forge import render_pr_body
    from activities.git.activities import (
        merge_dependencies,
        push_branch,
    )
    from activities.migration_scan import REPORT as MIGRATION_REPORT
    from activities.migration_scan import decide_migration, scan_migration_risk
    from activities.patterns.activities import offer_patterns
    from activities.review_pass import find_review_pass, record_review_pass
    from contracts.build import (
        ReviewPass,
        ReviewPassRequest,
        RoundRecord,
        RoundVerdict,
        SubtaskInput,
        SubtaskResult,
        SubtaskState,
    )
    from contracts.forge import PrBodyInput, PullRequestResult
    from contracts.git import (
        MergeRequest,
        MergeResult,
        PushRequest,
        PushResult,
    )
    from contracts.human import BUILD_STUCK_OPTIONS, PendingDecision
    from contracts.migration import (
        MIGRATION_OPTIONS,
        MigrationDecisionRequest,
        MigrationDecisionResult,
        MigrationScan,
        MigrationScanRequest,
    )
    from contracts.patterns import OFFERED_FILE, PatternOffer, PatternOfferRequest
    from workflows import options, subtask_state, worktree_steps
    from workflows.build_child import child_messages
    from workflows.failures import all_or_cancel
    from workflows.follow_messages import follow_messages
    from workflows.forge_wake import ForgeWake, forge_event_handler
    from workflows.inputs import unknown_names
    from workflows.pr_follow import PullFollow


@workflow.defn(name="SubtaskWorkflow")
class SubtaskWorkflow:
    @workflow.init
    def __init__(self, inp: SubtaskInput) -> None:
        # The state read as the run is made: a signal with the first task (a pause the
        # build forwards just after a continue-as-new) runs its handler before `run`.
        cap = inp.ctx.config.max_rounds
        self.s = subtask_state.carried_or_new(inp.state, SubtaskState, inp.paused, cap)
        self.inp = inp
        # Policy, the link to the build, the worktree's steps: composed, shared with the
        # integration loop.
        self.wake = ForgeWake()  # a webhook delivery ends a wait on the forge early
        self.control, self.child, self.steps = worktree_steps.child_loop(
            "subtask", lambda: self.s, lambda: self.inp, self._xml
        )
        self.pull = PullFollow(self.steps, self.wake, lambda: self._open_pr(record=False))

    @workflow.run
    async def run(self, inp: SubtaskInput) -> SubtaskResult:
        await self.steps.run(self._steps, "branch and worktree")
        await self.control.drained()
        return self._result()

    # ------------------------------------------------------------ messages
    # What the build sends its children (one declaration for the subtask and integration).

    decide, pause, resume, set_budget_hold, set_failure_hold, outage_retried, look_at_build = (
        child_messages()
    )
    forge_event = forge_event_handler()

    # `[forge] merge = "auto"`: the build, which knows the plan, says when a PR may merge.
    may_merge, merge_declined, dependency_merged = follow_messages()
    unknown_signal, unknown_update = unknown_names()

    @workflow.query(name="status")
    def status(self) -> SubtaskState:
        return self.s

    # ----------------------------------------------------------- the steps

    def _xml(self) -> str:
        return f"{self.inp.ctx.design_rel}/subtasks/{self.inp.subtask}.xml"

    async def _steps(self) -> None:
        inp = self.inp
        if not await self._setup_worktree():
            return
        if self.s.follow is not None:  # continued as new (or moved hosts) following its PR
            await self.pull.follow()
            return
        if inp.fork is None and await self._resume_from_pass():
            await self._follow()
            return
        if not self.s.built or (inp.rebuild and not self.s.rebuilt):
            if not await self._build():
                return
        while self.s.status != "pr_created":
            await self.control.continue_as_new_if_suggested(inp, self.s)
            verdict = await self._review_round()
            if verdict == "pass" and inp.fork is not None:
                await self._attempt_passed()
                return
            if verdict == "pass":
                await self._create_pr()
                await self._follow()
                return
            if verdict == "stop":
                return

    async def _setup_worktree(self) -> bool:
        inp = self.inp
        while self.s.worktree is None:
            self.child.phase("worktree")
            wt = await self.steps.make_worktree(
                inp.fork.worktree_key if inp.fork else inp.subtask,
                inp.fork.branch if inp.fork else None,
                f"worktree .worktrees/{inp.subtask}",
                inp.dependency_branches,
            )
            if wt.conflict:
                asked = (
                    f"Merging the dependencies of {inp.subtask} conflicts: {wt.conflict}. "
                    f"Resolve it on branch feat/{inp.subtask} (merge the dependency "
                    "branches yourself), then continue; or skip this subtask."
                )
                why = f"skipped: dependency merge conflict ({wt.conflict})"
                if await self._skipped_on_conflict(asked, why):
                    return False
                continue
            self.s.worktree, self.s.branch = wt.path, wt.branch
            self.s.built = self.s.built or wt.has_own_work
        if self.s.follow is None:
            self.s.status = "in_progress"
        await self.child.report()
        return True

    async def _resume_from_pass(self) -> bool:
        """A restarted build: the head that passed review goes straight to its pull request."""
        inp = self.inp
        if self.s.rounds or inp.rebuild:
            return False
        found: ReviewPass | None = await self.steps.on_host(
            find_review_pass,
            ReviewPassRequest(
                design_dir=inp.ctx.design_dir, subtask=inp.subtask, worktree=self.steps.worktree
            ),
            ReviewPass | None,  # type: ignore[arg-type]
            f"find the review pass of feat/{inp.subtask}",
            **options.quick(),
        )
        if found is None:
            return False
        self.s.built, self.s.scores, self.s.round = True, dict(found.scores), found.rounds
        self.s.rounds.append(
            RoundRecord(
                round=found.rounds,
                scores=dict(found.scores),
                commit=found.commit,
                review_paths=found.review_paths,
            )
        )
        await self._create_pr()
        self.s.notes = f"resumed: {found.commit[:10]} passed review in round {found.rounds}"
        await self.child.report()
        return True

    async def _build(self) -> bool:
        """Build (or, after an approved spec change, re-derive); False when skipped."""
        inp = self.inp
        if inp.rebuild and self.s.built and inp.dependency_branches:
            if not await self._refresh_dependencies():
                return False
        self.child.phase("building")
        await self.child.report()
        instructions = (
            f"Implement subtask {inp.subtask} as specified in {self._xml()}: every "
            "implementation step, the tests it lists, and make its commands pass."
        )
        if inp.rebuild and self.s.built and inp.rebuild_by == "integration":
            instructions = (
                f"Integrating the whole feature found a defect in subtask {inp.subtask}'s own "
                f"work: {inp.rebuild}. Fix it on this branch as {self._xml()} specifies, tests "
                "included; its pull request is updated and integration runs again."
            )
        elif inp.rebuild and self.s.built:
            instructions = (
                f"The specification of subtask {inp.subtask} changed (approved spec change: "
                f"{inp.rebuild}). {self._xml()} is revised. Re-derive the implementation on "
                "this branch so that it matches the revised specification, tests included."
            )
        if inp.fork is not None and inp.fork.approach:
            instructions += (
                f"\n\nThis is attempt {inp.fork.attempt} of two built side by side (a fork). "
                f"The person's instruction for this attempt: {inp.fork.approach}"
            )
        offer = await self._offer_patterns()
        built = await self.steps.edit(
            "builder",
            0,
            instructions=instructions,
            issues=[],
            review_paths=[],
            message=f"feat({inp.subtask}): implement {inp.title}",
            patterns=offer,
        )
        if offer is not None:
            self.s.patterns_used = built.patterns_used
        self.s.built = True
        self.s.rebuilt = bool(inp.rebuild)
        return True

    async def _offer_patterns(self) -> PatternOffer | None:
        """The library's best matches for this subtask, quoted for its builder (seed 004);
        None when none match (or `[patterns] offer = 0`)."""
        inp = self.inp
        cfg = inp.ctx.config.patterns
        if cfg.offer == 0:
            return None
        offer: PatternOffer = await self.steps.on_host(
            offer_patterns,
            PatternOfferRequest(
                library=cfg.path,
                subtask=inp.subtask,
                title=inp.title,
                summary=inp.summary,
                files=inp.files,
                limit=cfg.offer,
                out_path=f"{self.steps.reviews_dir()}/{OFFERED_FILE}",
            ),
            PatternOffer,
            f"match library patterns for {inp.subtask}",
            **options.quick(),
        )
        self.s.patterns_offered, self.s.patterns_used = list(offer.ids), []
        return offer if offer.ids else None

    async def _refresh_dependencies(self) -> bool:
        """A reopened subtask takes in its dependencies' revised work before re-deriving."""
        inp = self.inp
        while True:
            self.child.phase("merging updated dependencies")
            merge: MergeResult = await self.steps.on_host(
                merge_dependencies,
                MergeRequest(
                    worktree=self.steps.worktree,
                    branch=self.s.branch or f"feat/{inp.subtask}",
                    dependency_branches=inp.dependency_branches,
                    remote=inp.ctx.config.forge.remote,
                    token_hosts=self.steps.token_hosts(),
                ),
                MergeResult,
                f"merge updated dependencies into feat/{inp.subtask}",
                **options.quick(),
            )
            if not merge.conflict:
                return True
            if await self._skipped_on_conflict(merge.conflict, f"skipped: {merge.conflict}"):
                return False

    async def _skipped_on_conflict(self, prompt: str, why: str) -> bool:
        """Merging the dependencies conflicts: a person resolves it and continues, or skips
        the subtask (blocked: `why`). True when skipped."""
        choice = await self.child.ask(
            PendingDecision(
                scope=self.inp.subtask,
                kind="conflict",
                prompt=prompt,
                options=["continue", "skip"],
            )
        )
        if choice != "skip":
            return False
        self.child.block(why)
        await self.child.report()
        return True

    async def _review_round(self) -> RoundVerdict:
        """One round: gates and reviewers in parallel, then evaluate; returns pass/fix/stop."""
        inp = self.inp
        cfg = inp.ctx.config
        rnd = await self.child.next_round("reviewing")
        head = await self.steps.head(f"feat/{inp.subtask}")
        reviewers = self.steps.reviewers()
        # Reviewers read the round's gate results instead of running the suite again.
        gates = await self.steps.gates_and_checks(rnd)
        asked = await all_or_cancel(
            *(
                self.steps.review(
                    r,
                    rnd,
                    f"Review the implementation of subtask {inp.subtask} on this branch against "
                    f"{self._xml()}: correctness, tests, and your focus. Verify each finding and "
                    "score by the rubric.",
                    inp.subtask,
                    head,
                    gates,
                )
                for r in reviewers
            )
        )
        reviews = [r for r in asked if r is not None]  # a person may skip a held reviewer
        record, lowest = subtask_state.record_round(self.s, rnd, head, gates, reviews)
        if gates.passed and lowest >= inp.threshold:
            if not await self._migration_cleared(rnd):
                return "fix"  # a person cancelled the schema change: review the rework
            await self._record_pass(record)
            return "pass"

        why = subtask_state.stuck_reason(self.s, rnd, cfg.stuck_rounds)
        if why is not None:
            verdict = await self._when_stuck(rnd, why, lowest, gates.passed)
            if verdict is not None:
                return verdict

        fixer = subtask_state.choose_fixer(reviews, gates.passed, inp.threshold)
        self.child.phase(f"fixing ({fixer})")
        await self.child.report()
        result = await self.steps.edit(
            fixer,
            rnd,
            instructions=(
                f"Fix subtask {inp.subtask} ({self._xml()}): resolve the issues below. Read the "
                "full reviews (below their `---`) and the gate logs for details."
            ),
            issues=subtask_state.fix_issues(reviews, gates, inp.threshold),
            review_paths=record.review_paths + [g.log_path for g in gates.results if not g.passed],
            message=f"fix({inp.subtask}): review round {rnd}",
        )
        record.fixer, record.fix_commit = fixer, result.commit
        return "fix"

    async def _when_stuck(
        self, rnd: int, why: str, lowest: float, green: bool
    ) -> RoundVerdict | None:
        """Ask the person (skip / simplify / debug / continue); the round's verdict, or
        None to go on to the fixer (`continue`)."""
        inp = self.inp
        cfg = inp.ctx.config
        choice = await self.child.ask(
            PendingDecision(
                scope=inp.subtask,
                prompt=(
                    f"Subtask {inp.subtask} is stuck after round {rnd} ({why}); lowest "
                    f"score {lowest:.2f}, gates {'green' if green else 'red'}"
                    f"{subtask_state.failing_gates(self.s)}. "
                    "Skip it, simplify its scope, debug it together, or continue?"
                ),
                options=list(BUILD_STUCK_OPTIONS),
            )
        )
        self.s.rounds_without_progress = 0
        self.s.round_cap = rnd + cfg.max_rounds
        if choice == "skip":
            self.child.block(f"skipped by a person after {rnd} rounds ({why})")
            await self.child.report()
            return "stop"
        if choice == "simplify":
            await self._simplify(rnd)
            return "fix"
        if choice == "debug":
            self.s.status = "in_progress"
            await self.child.ask(
                PendingDecision(
                    scope=inp.subtask,
                    kind="debug",
                    prompt=(
                        f"Paused {inp.subtask} for debugging. Push commits to "
                        f"feat/{inp.subtask} (worktree {self.s.worktree}) if you like, "
                        "then continue to re-review."
                    ),
                    options=["continue"],
                )
            )
            return "fix"  # re-review what the person left, no fixer pass
        return None

    async def _migration_cleared(self, rnd: int) -> bool:
        """Seed 004: a high-risk schema change holds before the PR until a person decides
        (`!migration-approve` / `!migration-cancel` on the build). False: it was cancelled,
        taken back and reworked, so the round is reviewed again."""
        inp = self.inp
        # A fork's attempt writes its Migration Risk Report in its own reviews' folder.
        own = inp.fork is not None
        req = MigrationScanRequest(
            worktree=self.steps.worktree,
            design_dir=inp.ctx.design_dir,
            subtask=inp.subtask,
            base_branch=inp.base_branch,
            dependency_branches=inp.dependency_branches,
            remote=inp.ctx.config.forge.remote,
            report=f"{self.steps.reviews_dir()}/{MIGRATION_REPORT}" if own else "",
        )
        scan: MigrationScan = await self.steps.on_host(
            scan_migration_risk,
            req,
            MigrationScan,
            f"scan the schema changes of feat/{inp.subtask}",
            **options.quick(),
        )
        high = scan.high
        if not high or scan.approved:
            return True
        listed = "; ".join(f"{f.kind}: {f.statement} ({f.path}:{f.line})" for f in high[:5])
        more = f" and {len(high) - 5} more" if len(high) > 5 else ""
        choice = await self.child.ask(
            PendingDecision(
                scope=inp.subtask,
                kind="migration",
                prompt=(
                    f"Migration Risk Report ({scan.report_path}): {len(high)} high-risk schema "
                    f"statement(s): {listed}{more}. `!migration-approve` takes the change to its "
                    "pull request; `!migration-cancel` reverts it and reworks the subtask "
                    "without it."
                ),
                options=MIGRATION_OPTIONS,
            )
        )
        done: MigrationDecisionResult = await self.steps.on_host(
            decide_migration,
            MigrationDecisionRequest(
                scan=req,
                choice="approve" if choice == "approve" else "cancel",
                fingerprint=scan.fingerprint,
                paths=sorted({f.path for f in high}),
            ),
            MigrationDecisionResult,
            f"{choice} the schema change of feat/{inp.subtask}",
            **options.quick(),
        )
        if choice == "approve":
            return True
        self.child.phase("reworking without the schema change")
        await self.child.report()
        left = f" Not reverted automatically: {done.problem}." if done.problem else ""
        await self.steps.edit(
            "builder",
            rnd,
            instructions=(
                f"A person cancelled the risky schema change of subtask {inp.subtask} "
                f"(`!migration-cancel`; the report is {scan.report_path}). Its migration "
                f"files were taken back: {', '.join(done.reverted) or 'none'}.{left} Rework "
                f"the subtask as {self._xml()} specifies without dropping, renaming or "
                "narrowing existing tables or columns and without NOT NULL columns lacking a "
                "default on existing tables; keep its tests passing."
            ),
            issues=[],
            review_paths=[scan.report_path] if scan.report_path else [],
            message=f"fix({inp.subtask}): rework without the cancelled schema change",
        )
        return False

    async def _simplify(self, rnd: int) -> None:
        inp = self.inp
        self.child.phase("simplifying")
        await self.child.report()
        await self.steps.edit(
            "design-writer",
            rnd,
            instructions=(
                f"A person chose to simplify subtask {inp.subtask}. Reduce its scope in "
                f"{self._xml()} to what can pass review now: move the hardest items to "
                "<out> of scope, keep the XML valid, and note what was deferred."
            ),
            issues=[],
            review_paths=self.s.rounds[-1].review_paths if self.s.rounds else [],
            message=f"chore({inp.subtask}): simplify scope after round {rnd}",
        )

    async def _attempt_passed(self) -> None:
        """A fork's attempt ends at its review pass: the build compares the two, and the
        winner's pass is recorded for the subtask when it becomes the subtask's branch."""
        s, inp = self.s, self.inp
        s.passed_commit = s.rounds[-1].commit if s.rounds else None
        if inp.ctx.config.forge.kind != "none" and s.branch:  # on the remote for the person
            await self.steps.on_host(
                push_branch,
                PushRequest(
                    path=self.steps.worktree,
                    branch=s.branch,
                    remote=inp.ctx.config.forge.remote,
                    token_hosts=self.steps.token_hosts(),
                ),
                PushResult,
                f"push {s.branch}",
                **options.quick(),
            )
        s.phase, s.notes = "passed review", f"passed review in round {s.round}"
        await self.child.report()

    async def _record_pass(self, record: RoundRecord) -> None:
        inp = self.inp
        if not record.commit or inp.fork is not None:
            return
        await self.steps.on_host(
            record_review_pass,
            ReviewPassRequest(
                design_dir=inp.ctx.design_dir,
                subtask=inp.subtask,
                worktree=self.steps.worktree,
                record=ReviewPass(
                    subtask=inp.subtask,
                    commit=record.commit,
                    scores=dict(record.scores),
                    rounds=record.round,
                    review_paths=record.review_paths,
                ),
            ),
            str,
            f"record the review pass of feat/{inp.subtask}",
            **options.quick(),
        )

    async def _create_pr(self) -> None:
        self.child.phase("creating PR")
        await self.child.report()
        pr = await self._open_pr()
        self.s.pr_url, self.s.pr_number, self.s.pr_repository = pr.url, pr.number, pr.repository
        if not self.pull.begin(pr):  # else it follows its PR now
            self.s.status, self.s.phase = "pr_created", "pr_created"
        self.s.notes = subtask_state.with_refusals(self.s, f"{len(self.s.rounds)} review round(s)")
        await self.child.report()

    async def _follow(self) -> None:
        """Follow the PR on the forge until it is mergeable ([forge] follow), or merged
        ([forge] merge = "auto")."""
        if self.s.follow is not None:
            await self.pull.follow()

    async def _open_pr(self, record: bool = True) -> PullRequestResult:
        """Push the branch and open (or find and update) its PR, the body from the state."""
        inp = self.inp
        reviews_dir = f"{inp.ctx.design_rel}/build-reviews/{inp.subtask}"
        body = render_pr_body(
            PrBodyInput(
                subtask=inp.subtask,
                summary=inp.summary or inp.title,
                scores=dict(self.s.scores),
                gates={g.command: g.passed for g in self.s.gates},
                evidence=[p for p in (self.s.rounds[-1].review_paths if self.s.rounds else [])],
                design_doc=self._xml(),
                subplan=f"{inp.ctx.design_rel}/subplans/{inp.subtask}.md",
                dependency_prs=[f"{k}: {v}" for k, v in sorted(inp.dependency_prs.items())],
                reviews_dir=reviews_dir,
                gate_results=list(self.s.gates),
                skipped_reviewers=dict(self.s.skipped_reviewers),
                design_dir=inp.ctx.design_rel,
                follow_rounds=list(self.s.follow.rounds) if self.s.follow else [],
            )
        )
        merged = {f"feat/{d}" for d in (*inp.merged_dependencies, *self.s.merged_dependencies)}
        return await self.steps.pull_request(
            self.s.branch or f"feat/{inp.subtask}",
            f"feat({inp.subtask}): {inp.title}",
            body,
            # One dependency: the PR stacks on its branch and shows only its own change;
            # once that dependency merged, the PR's base is the base branch.
            [b for b in inp.dependency_branches if b not in merged],
            record=record,
        )

    def _result(self) -> SubtaskResult:
        return self.child.result(self.inp.subtask, passed_commit=self.s.passed_commit)
