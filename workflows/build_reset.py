"""The build's `!reset` (seed 004): back to the approved design, nothing lost.

`!reset` only asks; `!reset-confirm` within five minutes goes ahead (later, it has
lapsed and is refused). The scheduling loop then applies it between two passes: the
running children are cancelled and awaited, every branch of the build is archived as
`archive/<branch>-<time>` (activities/git/archive.py) and every subtask is pending
again, to be built from the base as on the first day. What was spent stays counted.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.git.archive import archive_branches
    from contracts.build import BuildState, SubtaskView
    from contracts.config import ProjectContext
    from contracts.fork import ForkState
    from contracts.git import BRANCH_PREFIX, WORKTREES_DIR
    from contracts.integration import INTEGRATION, integration_branch
    from contracts.reset import RESET_WINDOW_S, ArchiveRequest, ArchiveResult, ResetState
    from workflows import fork_state, options
    from workflows.build_links import BuildLinks


def branches(s: BuildState, ctx: ProjectContext, names: list[str]) -> dict[str, str]:
    """subtask -> its branch (`feat/<subtask>`, or integration's `integration/<feature>`)."""
    return {
        n: integration_branch(ctx.feature)
        if s.subtasks[n].kind == "integration"
        else BRANCH_PREFIX + n
        for n in names
    }


def pending_again(view: SubtaskView, why: str, kept: str | None, pr: bool = False) -> SubtaskView:
    """`view` pending, as on the first day, but for what was spent (and, `pr`, its PR)."""
    return SubtaskView(
        name=view.name,
        kind=view.kind,
        batch=view.batch,
        dependencies=view.dependencies,
        generation=view.generation + 1,
        ledger=view.ledger,  # what was spent stays counted
        pr_url=view.pr_url if pr else None,
        notes=why + (f"; its old work is on {kept}" if kept else ""),
    )


class BuildReset:
    """Bound to the build through its `BuildLinks`: its children are cancelled and awaited."""

    def __init__(self, links: BuildLinks) -> None:
        self.links = links
        self.state, self.ctx, self.children = links.state, links.ctx, links.children
        self.control, self.changed = links.control, links.changed

    def ask(self) -> None:
        s = self.state()
        s.reset = ResetState(asked_at=workflow.now().isoformat())
        self.control.tell(
            "!reset asked: this takes the build back to its approved design: running "
            "subtasks are cancelled, every subtask is pending again, and every branch is "
            "kept as archive/<branch>-<time> (on the remote too). Send !reset-confirm "
            f"within {RESET_WINDOW_S // 60} minutes to go ahead; otherwise it lapses"
        )

    def confirm(self) -> None:
        s = self.state()
        asked = s.reset
        if asked is not None and asked.state != "asked":
            self.control.refuse("!reset-confirm: the reset is already under way")
            return
        window = RESET_WINDOW_S // 60
        if asked is None:
            self.control.refuse(
                f"!reset-confirm: no !reset is waiting. Fix: send !reset, then !reset-confirm "
                f"within {window} minutes"
            )
            return
        if (
            workflow.now() - datetime.fromisoformat(asked.asked_at)
        ).total_seconds() > RESET_WINDOW_S:
            s.reset = None
            self.control.refuse(
                f"!reset-confirm: the !reset it confirms lapsed after {window} minutes. Fix: "
                f"send !reset again, then !reset-confirm within {window} minutes"
            )
            return
        asked.state = "confirmed"
        self.control.tell("!reset confirmed: cancelling the running subtasks")
        self.changed()

    async def archive(
        self,
        branch_of: dict[str, str],
        stamp: str,
        what: str,
        keep_remote: bool = False,
        forks: list[ForkState] | None = None,
    ) -> ArchiveResult:
        """Archive (then delete) the branches of `branch_of` (subtask -> branch), and of
        the attempts of `forks`."""
        ctx, cfg = self.ctx(), self.ctx().config
        kinds = {n: v.kind for n, v in self.state().subtasks.items()}
        worktrees = f"{ctx.repo_root}/{WORKTREES_DIR}"
        result: ArchiveResult = await self.control.activity(
            archive_branches,
            ArchiveRequest(
                repo_root=ctx.repo_root,
                branches={
                    **{
                        b: f"{worktrees}/" + (INTEGRATION if kinds.get(n) == "integration" else n)
                        for n, b in branch_of.items()
                    },
                    **fork_state.attempt_branches(forks or [], worktrees),
                },
                stamp=stamp,
                remote=cfg.forge.remote if cfg.forge.kind != "none" else None,
                token_hosts=cfg.forge.git_token_hosts(),
                keep_remote=keep_remote,
            ),
            result_type=ArchiveResult,
            summary=f"archive the branches {what}",
            **options.network(),
        )
        return result

    async def handle(self) -> None:
        """Apply a confirmed reset (again, after a crash or continue-as-new mid-way)."""
        s = self.state()
        if s.reset is None or s.reset.state == "asked":
            return
        s.reset.state = "applying"
        for name, handle in list(self.children.running.items()):
            self.children.restarting.add(name)
            handle.cancel()
        await workflow.wait_condition(lambda: not self.children.running)
        self.children.restarting.clear()
        stamp = workflow.now().strftime("%Y%m%dT%H%M%SZ")
        branch_of = branches(s, self.ctx(), list(s.subtasks))
        # The forks' attempt branches are archived too.
        done = await self.archive(
            branch_of, stamp, f"of {self.ctx().feature} (!reset)", forks=list(s.forks.values())
        )
        for name, view in list(s.subtasks.items()):
            s.subtasks[name] = pending_again(
                view, f"reset at {stamp}", done.archived.get(branch_of[name])
            )
        s.rebuild.clear()
        s.rebuild_by.clear()
        s.forks.clear()  # their attempts were cancelled above, their branches archived
        s.change = None
        s.reset = None
        s.resets.append(
            f"{stamp}: archived {', '.join(sorted(done.archived.values())) or 'nothing'}"
        )
        wip = f"; uncommitted work committed first on {', '.join(done.wip)}" if done.wip else ""
        self.control.tell(
            f"!reset done at {stamp}: every subtask is pending again; the old branches are "
            f"kept as {', '.join(sorted(done.archived.values())) or '(none existed)'}{wip}"
        )
        self.changed()
