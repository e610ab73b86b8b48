"""How a subtask ends: its passing review recorded, its pull request opened.

A mixin of `SubtaskWorkflow`. The commit that passed review is recorded beside
the reviews, so a restarted build sends that subtask straight to its
(idempotent) pull request without running any agent again.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.forge import open_pull_request, render_pr_body
    from activities.review_pass import find_review_pass, record_review_pass
    from contracts.build import ReviewPass, ReviewPassRequest, RoundRecord
    from contracts.forge import PrBodyInput, PullRequestRequest, PullRequestResult
    from workflows import options
    from workflows.subtask_state import with_refusals
    from workflows.subtask_steps import SubtaskSteps


class SubtaskFinish(SubtaskSteps):
    async def _resume_from_pass(self) -> bool:
        """A restarted build: the head that passed review goes straight to its pull request."""
        inp = self._inp
        if self.s.rounds or inp.rebuild:
            return False
        found: ReviewPass | None = await self._on_host(
            find_review_pass,
            ReviewPassRequest(
                design_dir=inp.ctx.design_dir, subtask=inp.subtask, worktree=self._worktree
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
        await self._report()
        return True

    async def _record_pass(self, record: RoundRecord) -> None:
        inp = self._inp
        if not record.commit:
            return
        await self._on_host(
            record_review_pass,
            ReviewPassRequest(
                design_dir=inp.ctx.design_dir,
                subtask=inp.subtask,
                worktree=self._worktree,
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

    async def _pull_request(
        self, branch: str, title: str, body: str, dependency_branches: list[str]
    ) -> PullRequestResult:
        """Push `branch` and open (or find and update) its pull request against the base."""
        inp = self._inp
        cfg = inp.ctx.config
        return await self._on_host(
            open_pull_request,
            PullRequestRequest(
                repo_root=inp.ctx.repo_root,
                worktree=self._worktree,
                branch=branch,
                base=inp.base_branch,
                dependency_branches=dependency_branches,
                title=title,
                body=body,
                design_dir=inp.ctx.design_dir,
                subtask=inp.subtask,
                forge=inp.forge or cfg.forge.kind,
                repository=cfg.forge.repository,
                api_url=cfg.forge.api_url,
                remote=cfg.forge.remote,
                token_hosts=cfg.forge.token_hosts,
            ),
            PullRequestResult,
            f"pull request {branch}",
            **options.network(),
        )

    async def _create_pr(self) -> None:
        inp = self._inp
        self._phase("creating PR")
        await self._report()
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
            )
        )
        pr = await self._pull_request(
            self.s.branch or f"feat/{inp.subtask}",
            f"feat({inp.subtask}): {inp.title}",
            body,
            # One dependency: the PR stacks on its branch and shows only its own change.
            inp.dependency_branches,
        )
        self.s.pr_url, self.s.pr_number = pr.url, pr.number
        self.s.status, self.s.phase = "pr_created", "pr_created"
        self.s.notes = with_refusals(self.s, f"{len(self.s.rounds)} review round(s)")
        await self._report()
