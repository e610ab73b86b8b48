"""Following a pull request on GitHub until GitHub says it is mergeable.

One implementation for both loops that open a PR: a subtask's (its fixer repairs the
branch) and integration's (the integrator does).

The loop sleeps on a workflow timer between short polls (a webhook's `forge_event` ends
the sleep early), so a week of waiting holds no worker slot and a restarted worker or
server loses nothing. What the poll finds decides the next step (workflows/follow_state.py):
red CI goes to a fixer with the check's output and job log; review comments go to a fixer
and each gets exactly one reply once the fix is pushed; a branch behind its base takes the
base in; a clean PR ends the loop `mergeable`. Fix rounds are bounded by `[forge]
max_ci_rounds` (red CI, and review rounds alike): then a person decides retry / skip / stop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.forge_follow import (
        check_details,
        merge_pull_request,
        poll_pull_request,
        reply_to_comment,
        retarget_pull_request,
        update_branch,
    )
    from activities.git.activities import fast_forward, finish_base_merge, start_base_merge
    from contracts.agents import EditResult, ReviewIssue
    from contracts.follow import (
        CheckDetails,
        CheckDetailsRequest,
        FollowRound,
        FollowState,
        PendingReply,
        PollRequest,
        PollResult,
        PullState,
        ReplyRequest,
        ReplyResult,
        RetargetRequest,
        RetargetResult,
        UpdateBranchRequest,
        UpdateBranchResult,
    )
    from contracts.follow import MergeRequest as PullMerge
    from contracts.follow import MergeResult as PullMerged
    from contracts.forge import PullRequestResult
    from contracts.git import (
        BRANCH_PREFIX,
        BaseMergeRequest,
        BaseMergeResult,
        MergeRequest,
        MergeResult,
    )
    from contracts.human import FAILURE_OPTIONS, PendingDecision
    from workflows import follow_state, options
    from workflows.build_child import BuildChild
    from workflows.forge_wake import ForgeWake
    from workflows.loop_control import LoopControl
    from workflows.timestamps import stamp
    from workflows.worktree_steps import WorktreeSteps


RoundKind = Literal["ci", "review", "conflict"]
_ROUND_LABEL = {"ci": "Red CI", "review": "Review", "conflict": "The conflict with the base"}


@dataclass(frozen=True)
class Fixer:
    """Who repairs the PR's branch (an agent role) and how prompts and commits name the
    work: `work` ("subtask a"), `prefix` of its commits ("fix(a)")."""

    role: str
    work: Callable[[], str]
    prefix: Callable[[], str]


def subtask_fixer(inp: Callable[[], Any]) -> Fixer:
    return Fixer("fixer", lambda: f"subtask {inp().subtask}", lambda: f"fix({inp().subtask})")


class PullFollow:
    """Bound to one child loop's worktree steps (and through them its state, input,
    control and link to the build), its forge wake, `refresh`: brings the PR's body up
    to date (its CI and review rounds; with no record commit: the fix's push is the
    round's only one, so CI runs once per round), and its `fixer`."""

    def __init__(
        self,
        steps: WorktreeSteps,
        wake: ForgeWake,
        refresh: Callable[[], Awaitable[object]],
        fixer: Fixer | None = None,
    ) -> None:
        self.steps, self.wake, self.refresh = steps, wake, refresh
        self.fixer = fixer or subtask_fixer(steps.inp)
        self.state, self.inp = steps.state, steps.inp
        self.control: LoopControl = steps.control
        self.child: BuildChild = steps.child

    @property
    def f(self) -> FollowState:
        s = self.state()
        if s.follow is None:
            s.follow = FollowState()
        return s.follow

    def begin(self, pr: PullRequestResult) -> bool:
        """Start following the just opened `pr` (status `ci_running`: not done, to the
        build) when `[forge] follow` is on and it is on GitHub; False: not followed."""
        on = self.inp().ctx.config.forge.follow is not False and pr.forge == "github"
        if not (on and pr.number is not None and pr.repository is not None):
            return False
        s = self.state()
        s.pr_repository, s.follow = pr.repository, FollowState()
        s.status, s.phase = "ci_running", "following the PR"
        return True

    def _target(self) -> dict[str, object]:
        s, cfg = self.state(), self.inp().ctx.config.forge
        return {"repository": s.pr_repository, "number": s.pr_number, "api_url": cfg.api_url}

    # ------------------------------------------------- the loop

    async def follow(self) -> None:
        """Until the PR is mergeable (merge = "auto": merged), or a person skips or stops
        following it."""
        s, f = self.state(), self.f
        while True:
            await self.control.continue_as_new_if_suggested(self.inp(), s)
            if f.stale or f.pull is None:
                await self._wait_and_poll()
                continue
            pull = f.pull
            plain = follow_state.next_step(f, pull)
            step: follow_state.AutoStep = plain
            if self._auto() and not f.declined:  # declined: ends mergeable, as manual
                step = follow_state.auto_step(f, pull, plain, self._base(), self._merged())
                f.may_merge = f.may_merge and step in ("merge", "turn")  # leave for this head
            if step in ("mergeable", "merged"):
                await self._end(step)
                return
            if step in ("turn", "hold"):
                if await self._await_turn(pull, step):
                    return
                continue
            if step == "wait":
                if await self._ci_timed_out(pull):
                    return
                await self._show(pull, follow_state.waiting_for(pull))
                f.stale = True
                continue
            if step == "reply":
                await self._reply()
                continue
            done = await {
                "fix_ci": self._fix_ci,
                "answer": self._answer,
                "update": self._update,
                "conflict": self._conflict,
                "closed": self._closed,
                "refresh": self._refresh,
                "merge": self._merge,
            }[step](pull)
            if done:
                return
            f.stale, f.wait_s = True, 0.0

    async def _show(self, pull: PullState, waiting: str, fixing: bool = False) -> None:
        """Report what the PR waits for; `fixing`: a fixer works (the build counts it busy)."""
        s, f = self.state(), self.f
        f.waiting_for, f.fixing, f.merge = waiting, fixing, ""
        s.status = follow_state.status_of(f, pull)
        self.child.phase(f"following the PR: waiting for {waiting}")
        await self.child.report()

    async def _end(self, how: str) -> None:
        s, f = self.state(), self.f
        f.waiting_for, f.fixing = "", False
        s.status, s.phase = how, how  # type: ignore[assignment]
        rounds = f"{len(f.rounds)} CI/review round(s) on the PR" if f.rounds else "green at once"
        if how == "merged" and f.merge_sha:  # merged by this loop ([forge] merge = "auto")
            method = self.inp().ctx.config.forge.merge_method
            rounds += f"; merged into {self._base()} as {f.merge_sha[:10]} ({method})"
        if how == "merged":
            f.merge = "merged"
        elif f.declined:
            rounds += f"; not merged: {f.declined}"
            f.merge = ""
        s.notes = f"{s.notes}; {how}: {rounds}" if s.notes else f"{how}: {rounds}"
        await self.child.report()

    async def _wait_and_poll(self) -> None:
        """Sleep (a timer; a webhook delivery ends it early), then one short poll."""
        f, cfg = self.f, self.inp().ctx.config.forge
        await self.wake.sleep(f.wait_s or cfg.poll_s)
        result: PollResult = await self.control.activity(
            poll_pull_request,
            PollRequest(**self._target(), known_digest=f.digest),  # type: ignore[arg-type]
            result_type=PollResult,
            summary=f"poll pull request #{self.state().pr_number}",
            **options.network(),
        )
        f.polls += 1
        f.requests += result.requests
        f.not_modified += result.not_modified
        if result.changed and result.state is not None:
            f.pull, f.digest = result.state, result.digest
        f.stale = False
        follow_state.next_wait(f, result.changed, result.wait_seconds, cfg.poll_s, cfg.poll_max_s)

    # ------------------------------------------------- a person decides

    async def _ci_timed_out(self, pull: PullState) -> bool:
        """CI pending on one head for `[forge] ci_timeout_s`: a person decides, naming what
        is still pending. retry: wait that long again; True: skip or stop."""
        f, limit = self.f, self.inp().ctx.config.forge.ci_timeout_s
        if not follow_state.ci_overdue(f, pull, workflow.now().timestamp(), limit):
            return False
        pending = ", ".join(follow_state.ci_pending(pull))
        f.waiting_for = f"checks still pending after {limit:.0f} s: {pending}"
        choice = await self._ask(
            f"CI on pull request #{self.state().pr_number} (head {pull.head_sha[:10]}) has "
            f"not finished within [forge] ci_timeout_s = {limit:.0f} s; still pending: "
            f"{pending}. See {self.state().pr_url}. retry: wait another ci_timeout_s; skip: "
            f"stop following the PR (it stays open as it is); stop: block {self.fixer.work()}."
        )
        if choice != "retry":
            return True
        f.ci_since, f.stale = workflow.now().timestamp(), True
        return False

    async def _next_round(self, kind: RoundKind, what: str, link: str) -> int:
        """The next fix round of `kind` (0: a person chose skip or stop). Past `[forge]
        max_ci_rounds` rounds a person decides: retry (another max_ci_rounds), skip (stop
        following; the PR stays as it is), stop (block the subtask)."""
        f, limit = self.f, self.inp().ctx.config.forge.max_ci_rounds
        done = {"ci": f.ci_rounds, "review": f.review_rounds, "conflict": f.conflict_rounds}[kind]
        if done >= limit:
            choice = await self._ask(
                f"{_ROUND_LABEL[kind]} on pull request "
                f"#{self.state().pr_number} still needs fixing after {done} fix round(s) "
                f"([forge] max_ci_rounds = {limit}): {what}. See {link}. retry: {limit} more "
                "round(s); skip: stop following the PR (it stays open as it is); stop: block "
                f"{self.fixer.work()}."
            )
            if choice != "retry":
                return 0
            done = 0
        if kind == "ci":
            f.ci_rounds = done + 1
        elif kind == "review":
            f.review_rounds = done + 1
        else:
            f.conflict_rounds = done + 1
        return done + 1

    async def _ask(self, prompt: str) -> str:
        s = self.state()
        choice = await self.child.ask(
            PendingDecision(
                scope=self.inp().subtask, kind="forge", prompt=prompt, options=FAILURE_OPTIONS
            )
        )
        if choice == "skip":
            s.status, s.phase = "pr_created", "pr_created"
            s.notes = f"following the PR skipped by a person ({self.f.waiting_for or 'held'})"
            await self.child.report()
        elif choice == "stop":
            self.child.block(f"stopped by a person while following the PR: {prompt[:300]}")
            await self.child.report()
        return choice

    async def _fixer(
        self, pull: PullState, doing: str, issues: list[ReviewIssue], message: str
    ) -> EditResult:
        """A fixer on the worktree (brought up to the PR's head first); its commit is pushed."""
        await self._show(pull, f"a fixer for {doing}", fixing=True)
        await self._sync()
        return await self.steps.edit(
            self.fixer.role,
            self._agent_round(),
            instructions=(
                f"The pull request of {self.fixer.work()} needs a fix: {doing}. Resolve the "
                f"issues below on this branch. {follow_state.UNTRUSTED}"
            ),
            issues=issues,
            review_paths=[],
            message=f"{self.fixer.prefix()}: {message}",
        )

    # ------------------------------------------------- red CI

    async def _fix_ci(self, pull: PullState) -> bool:
        f = self.f
        reds = follow_state.red_checks(pull)
        names = ", ".join(f"{c.name} ({c.conclusion})" for c in reds)
        await self._show(pull, f"a fix for {names}")  # ci_failed, also while a person decides
        rnd = await self._next_round("ci", names, ", ".join(c.url or c.name for c in reds))
        if not rnd:
            return True
        details = [await self._details(c.check_run_id) for c in reds if c.check_run_id]
        issues = follow_state.ci_issues(reds, details)
        result = await self._fixer(pull, f"red CI checks: {names}", issues, f"CI round {rnd}")
        if result.commit:
            f.fixed_heads.append(pull.head_sha)
        checks = [f"{c.name}: {c.conclusion}" for c in reds]
        self._record_fix("ci", rnd, pull, result.commit, checks=checks)
        await self._sync()  # the body is sent with a push of the branch: no stale one
        await self.refresh()
        return False

    async def _details(self, check_run_id: int) -> CheckDetails:
        return await self.control.activity(
            check_details,
            CheckDetailsRequest(**self._target(), check_run_id=check_run_id),  # type: ignore[arg-type]
            result_type=CheckDetails,
            summary=f"details of check run {check_run_id}",
            **options.network(),
        )

    # ------------------------------------------------- reviews

    async def _answer(self, pull: PullState) -> bool:
        f = self.f
        reviews = follow_state.change_requests(f, pull)
        comments = follow_state.unanswered(f, pull)
        asked = "; ".join(
            [*(f"{r.author} requests changes" for r in reviews), f"{len(comments)} comment(s)"]
        )
        link = (comments[0].url if comments else "") or self.state().pr_url or ""
        await self._show(pull, f"a fix for the review ({asked})")
        rnd = await self._next_round("review", asked, link)
        if not rnd:
            return True
        issues = follow_state.review_issues(reviews, comments)
        result = await self._fixer(pull, f"the review ({asked})", issues, f"review round {rnd}")
        # What is owed is recorded before any reply is posted: a restart replies, once.
        body = follow_state.reply_body(result.commit, result.summary)
        f.owed += [PendingReply(comment_id=c.id, body=body) for c in comments]
        f.handled_reviews += [r.id for r in reviews]
        said = [f"{r.author}: {r.state}" for r in reviews]
        self._record_fix("review", rnd, pull, result.commit, reviews=said, comments=len(comments))
        return False

    async def _reply(self) -> None:
        """Post each owed reply once: the marker finds a reply an earlier attempt posted."""
        f, s = self.f, self.state()
        while f.owed:
            owed = f.owed[0]
            await self.control.activity(
                reply_to_comment,
                ReplyRequest(
                    **self._target(),  # type: ignore[arg-type]
                    comment_id=owed.comment_id,
                    body=owed.body,
                    marker=f"orchestrator:{workflow.info().workflow_id}:{owed.comment_id}",
                ),
                result_type=ReplyResult,
                summary=f"reply to review comment {owed.comment_id}",
                **options.network(),
            )
            f.owed.pop(0)
            f.answered.append(owed.comment_id)
            if f.rounds and f.rounds[-1].kind == "review":
                f.rounds[-1].replies += 1
        s.notes = f"answered {len(f.answered)} review comment(s)"
        await self._sync()  # the body is sent with a push of the branch: no stale one
        await self.refresh()

    # ------------------------------------------------- the base

    async def _update(self, pull: PullState) -> bool:
        """Behind its base: GitHub merges the base in (update-branch, only onto the head
        we saw); the worktree fast-forwards to it before a fixer works there again."""
        f = self.f
        await self._show(pull, f"GitHub to merge {pull.base} into the branch")
        updated = await self._update_branch(pull)
        if updated.outcome == "conflict":
            return await self._conflict(pull, updated.message)
        if updated.outcome != "head_moved":  # moved: the next poll sees the new head
            f.updated_heads.append(pull.head_sha)
        self._record_update(pull, f"update-branch from {pull.base}: {updated.outcome}")
        return False

    async def _update_branch(self, pull: PullState) -> UpdateBranchResult:
        """GitHub merges the PR's base into its branch, only onto the head we saw."""
        return await self.control.activity(
            update_branch,
            UpdateBranchRequest(**self._target(), expected_head_sha=pull.head_sha),  # type: ignore[arg-type]
            result_type=UpdateBranchResult,
            summary=f"update the branch of pull request #{self.state().pr_number}",
            **options.network(),
        )

    def _record_update(self, pull: PullState, note: str) -> None:
        done = len([r for r in self.f.rounds if r.kind == "update"])
        self._record(FollowRound(kind="update", round=done + 1, head=pull.head_sha, note=note))

    async def _conflict(
        self, pull: PullState, why: str = "GitHub's mergeable_state is dirty"
    ) -> bool:
        return await self._resolve(pull)

    async def _resolve(self, pull: PullState) -> bool:
        """`dirty`: the base is merged into the worktree's branch; a fixer gets the conflicted
        files and their markers; the merge is committed (no marker left) and pushed with the
        round's body update, a fast-forward the remote refuses if the branch moved."""
        f = self.f
        await self._show(pull, f"a fixer for the conflict with {pull.base}")
        rnd = await self._next_round("conflict", f"it conflicts with {pull.base}", "")
        if not rnd:
            return True
        self.f.fixing = True  # shown with the fixer's first report
        await self._sync()
        merged = await self._base_merge(start_base_merge, pull, "merge")
        before = merged.head if merged.outcome == "conflicted" else ""  # the merge's start
        if merged.outcome == "conflicted":
            await self._conflict_fixer(pull, merged, rnd)
            merged = await self._base_merge(finish_base_merge, pull, "finish merging")
        if merged.outcome == "up_to_date":  # GitHub sees a conflict git here does not
            return await self._conflicted(pull, f"the branch already contains {pull.base}")
        # A finish on a worktree re-created elsewhere finds no merge and the old head: no
        # commit, so the next poll (still dirty) starts another round.
        commit = merged.head if merged.outcome == "merged" and merged.head != before else None
        if commit:
            f.merged_heads.append(pull.head_sha)
        note = f"merge of {pull.base}: {merged.outcome if commit or merged.files else 'lost'}"
        if merged.outcome == "markers_left":
            note += f" ({', '.join(merged.files)})"
        self._record_fix("conflict", rnd, pull, commit, checks=merged.files, note=note)
        await self.refresh()  # pushes the merge commit and updates the body: one push
        return False

    async def _conflict_fixer(self, pull: PullState, merged: BaseMergeResult, rnd: int) -> None:
        """A fixer edits the conflicted files in place; the merge commits them, not it."""
        await self.steps.edit(
            self.fixer.role,
            self._agent_round(),
            instructions=(
                f"The pull request of {self.fixer.work()} conflicts with its base "
                f"{pull.base}: the base is being merged into this branch and the files "
                "below hold conflict markers. Resolve each conflict in place, keeping "
                f"both sides' intent; do not commit. {follow_state.UNTRUSTED}"
            ),
            issues=follow_state.conflict_issues(pull.base, merged),
            review_paths=[],
            message=f"{self.fixer.prefix()}: conflict round {rnd}",
            commit=False,
        )

    async def _base_merge(self, step: object, pull: PullState, doing: str) -> BaseMergeResult:
        inp, s = self.inp(), self.state()
        branch = s.branch or f"feat/{inp.subtask}"
        return await self.steps.on_host(
            step,
            BaseMergeRequest(
                worktree=self.steps.worktree,
                branch=branch,
                base=pull.base,
                remote=inp.ctx.config.forge.remote,
                token_hosts=self.steps.token_hosts(),
                dependencies=[BRANCH_PREFIX + d for d in self._merged()],
            ),
            BaseMergeResult,
            f"{doing} {pull.base} into {branch}",
            **options.quick(),
        )

    async def _sync(self) -> None:
        """The worktree takes in what GitHub added to the branch (an update-branch merge)."""
        inp, s = self.inp(), self.state()
        await self.steps.on_host(
            fast_forward,
            MergeRequest(
                worktree=self.steps.worktree,
                branch=s.branch or f"feat/{inp.subtask}",
                remote=inp.ctx.config.forge.remote,
                token_hosts=self.steps.token_hosts(),
            ),
            MergeResult,
            f"fast-forward {s.branch} to the remote's",
            **options.quick(),
        )

    async def _conflicted(self, pull: PullState, conflict: str) -> bool:
        choice = await self._ask(
            f"Pull request #{self.state().pr_number} conflicts with its base {pull.base} "
            f"({conflict}). See {self.state().pr_url}. retry: after you resolved it on the "
            f"branch; skip: stop following the PR; stop: block {self.fixer.work()}."
        )
        return choice != "retry"

    async def _closed(self, pull: PullState) -> bool:
        choice = await self._ask(
            f"Pull request #{self.state().pr_number} was closed without merging "
            f"({self.state().pr_url}). retry: after you reopened it; skip: stop following "
            f"it; stop: block {self.fixer.work()}."
        )
        return choice != "retry"

    # ------------------------------------------------- merge = "auto"

    def _auto(self) -> bool:
        return self.inp().ctx.config.forge.merge == "auto"

    def _base(self) -> str:
        return self.inp().base_branch

    def _merged(self) -> list[str]:
        """Dependencies whose PRs merged: known at the start, or told by the build since."""
        inp, s = self.inp(), self.state()
        return [*dict.fromkeys([*inp.merged_dependencies, *s.merged_dependencies])]

    def allow_merge(self) -> None:
        """The build's leave to merge (`may_merge`): taken only while the PR waits its turn."""
        self.f.may_merge = True
        self.wake.nudge()

    def decline(self, why: str) -> None:
        self.f.declined = why
        self.wake.nudge()

    def dependency_merged(self, dependency: str) -> None:
        s = self.state()
        if dependency not in s.merged_dependencies:
            s.merged_dependencies.append(dependency)
            self.wake.nudge()

    async def _await_turn(self, pull: PullState, step: str) -> bool:
        """Clean: wait for the build's leave (turn), or for what must happen first (hold);
        the PR is polled meanwhile, and the leave ends the wait at once. True: a person
        chose skip or stop (GitHub never brought the branch up to date)."""
        s, f = self.state(), self.f
        if step == "turn":
            after = self.inp().dependency_branches
            f.waiting_for = "its turn to merge" + (f" (after {', '.join(after)})" if after else "")
            f.merge, s.status, s.phase = "waiting", "mergeable", "waiting to merge"
            self.child.phase(f"following the PR: waiting for {f.waiting_for}")
            await self.child.report()
        else:
            await self._show(pull, follow_state.held_for(pull, self._base()))
            if follow_state.update_overdue(f, pull):
                return await self._update_overdue(pull)
        f.stale = True
        return False

    async def _update_overdue(self, pull: PullState) -> bool:
        """update-branch was asked for a new head and none came: a person decides. retry:
        ask GitHub again and wait as long again."""
        f, s = self.f, self.state()
        choice = await self._ask(
            f"GitHub has not brought pull request #{s.pr_number} up to date with "
            f"{self._base()}: its head is still {pull.head_sha[:10]} after "
            f"{follow_state.UPDATE_POLLS} polls since update-branch was asked (the head "
            f"predates a merge, so it is never merged). See {s.pr_url}: update the branch "
            "there (Update branch), or check that the orchestrator's token may push to it. "
            "retry: ask GitHub again; skip: stop following the PR (it stays open as it is); "
            f"stop: block {self.fixer.work()}."
        )
        if choice != "retry":
            return True
        f.held_polls = 0
        updated = await self._update_branch(pull)
        self._record_update(pull, f"update-branch from {self._base()} again: {updated.outcome}")
        if updated.outcome == "conflict":
            return await self._conflict(pull, updated.message)
        f.stale = True
        return False

    async def _refresh(self, pull: PullState) -> bool:
        """A dependency merged: the PR is retargeted to the base if it was stacked on a
        dependency's branch, and GitHub brings its branch up to date (update-branch, only onto
        the head we saw). The head from before is never merged: its checks run again."""
        f, base = self.f, self._base()
        news = follow_state.refresh_due(f, self._merged())
        await self._show(pull, f"its branch to take in {base} ({', '.join(news) or 'retarget'})")
        note = f"{', '.join(news)} merged" if news else "the base is not " + base
        if pull.base != base:
            moved: RetargetResult = await self.control.activity(
                retarget_pull_request,
                RetargetRequest(**self._target(), base=base),  # type: ignore[arg-type]
                result_type=RetargetResult,
                summary=f"retarget pull request #{self.state().pr_number} to {base}",
                **options.network(),
            )
            note += f"; retargeted from {pull.base} to {base}" if moved.changed else ""
        updated = await self._update_branch(pull)
        if updated.outcome == "head_moved":  # the next poll sees the new head: again then
            return False
        f.refreshed += news
        if updated.outcome != "up_to_date":
            f.unmergeable_heads.append(pull.head_sha)
        self._record_update(pull, f"{note}; update-branch from {base}: {updated.outcome}")
        if updated.outcome == "conflict":
            return await self._conflict(pull.model_copy(update={"base": base}), updated.message)
        return False

    async def _merge(self, pull: PullState) -> bool:
        """Merge with `[forge] merge_method`, only the head a poll showed clean (`sha`):
        merged ends the loop; a moved head (409) is polled and followed again; a refusal
        (405) waits and looks again, and after `[forge] max_ci_rounds` refusals in a row a
        person decides."""
        f, s, cfg = self.f, self.state(), self.inp().ctx.config.forge
        f.merge = "merging"  # the leave is kept until it merges or leaves clean
        self.child.phase(f"merging the PR ({cfg.merge_method})")
        await self.child.report()
        done: PullMerged = await self.control.activity(
            merge_pull_request,
            PullMerge(**self._target(), sha=pull.head_sha, method=cfg.merge_method),  # type: ignore[arg-type]
            result_type=PullMerged,
            summary=f"merge pull request #{s.pr_number} ({cfg.merge_method})",
            **options.network(),
        )
        if done.outcome == "merged":
            f.merge_sha, f.merge_refusals, f.may_merge = done.sha, 0, False
            await self._end("merged")
            return True
        if done.outcome == "head_moved":
            return False  # never merge a head no poll has shown clean: follow it again
        f.merge_refusals += 1
        if f.merge_refusals >= cfg.max_ci_rounds:
            await self._show(pull, f"a person: GitHub refused the merge ({done.message})")
            choice = await self._ask(
                f"GitHub refused {f.merge_refusals} time(s) to merge pull request "
                f"#{s.pr_number} though it says clean: {done.message or 'not mergeable'}. "
                f"See {s.pr_url}: a merge queue, a rule the REST API does not show, or a merge "
                f"method the repository does not allow ([forge] merge_method = "
                f'"{cfg.merge_method}"). retry: try again; skip: stop following the PR (a '
                f"person merges it); stop: block {self.fixer.work()}."
            )
            if choice != "retry":
                return True
            f.merge_refusals = 0
        await self.wake.sleep(cfg.poll_s)  # GitHub may still be computing mergeability
        return False

    # ------------------------------------------------- bookkeeping

    def _agent_round(self) -> int:
        return self.state().round + len(self.f.rounds) + 1

    def _record_fix(
        self, kind: RoundKind, rnd: int, pull: PullState, commit: str | None, **what: Any
    ) -> None:
        """A fixer's round on the PR: what it answered (`what`), at which head, and its
        commit, or the note why there is none."""
        what.setdefault("note", "" if commit else "the fixer committed nothing")
        self._record(FollowRound(kind=kind, round=rnd, head=pull.head_sha, commit=commit, **what))

    def _record(self, record: FollowRound) -> None:
        record.at = stamp(workflow.now(), None)
        self.f.rounds.append(record)
