"""A loop's worktree on its claimed host: the steps every loop working in one takes alike.

The child loops (through `WorktreeSteps`) and the release loop each own one
`HostWorktree`: its host (`HostSteps`), its agents sent there (`AgentStep`), and the
worktree's own steps (make it, read its head, push it, run gates in it), so the forge
and gate settings each request takes are read in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.gates import run_gates
    from activities.git.activities import ensure_worktree, git_repo_info
    from contracts.build import GateResult, gate_request
    from contracts.config import ProjectContext
    from contracts.git import PushRequest, PushResult, RepoInfo, WorktreeRequest, WorktreeResult
    from contracts.metrics import Ledger
    from workflows import options
    from workflows.agent_step import AgentStep
    from workflows.host_steps import HostHeld, HostSteps
    from workflows.loop_control import LoopControl
    from workflows.timestamps import stamp


class WorktreeHeld(HostHeld, Protocol):
    """The part of a loop's state that its worktree steps read and write."""

    worktree: str | None
    ledger: Ledger
    last_stamp: dict[str, str]


class HostWorktree:
    """Bound to one loop's control, its state and its project (through callables:
    continue-as-new and a restored state replace them)."""

    def __init__(
        self,
        control: LoopControl,
        state: Callable[[], WorktreeHeld],
        ctx: Callable[[], ProjectContext],
    ) -> None:
        self.state, self.ctx = state, ctx
        self.host = HostSteps(control, state, lambda: ctx().config.host_timeout_s)
        self.agent = AgentStep(
            control, lambda: state().ledger, lambda: ctx().config.agents, self.host.execute
        )

    @property
    def path(self) -> str:
        """The worktree's path; a step that runs before the worktree is made is a bug."""
        worktree = self.state().worktree
        if worktree is None:
            raise ApplicationError("no worktree yet", non_retryable=True)
        return worktree

    def token_hosts(self) -> list[str]:
        """HTTPS hosts whose remotes get GITHUB_TOKEN (the token itself never enters history)."""
        return self.ctx().config.forge.git_token_hosts()

    def stamp(self, key: str) -> str:
        """A new review file's timestamp for `key`, later than its last one."""
        s = self.state()
        s.last_stamp[key] = stamp(workflow.now(), s.last_stamp.get(key))
        return s.last_stamp[key]

    async def make(
        self,
        key: str,
        branch: str | None,
        base_branch: str,
        summary: str,
        *,
        dependency_branches: list[str] | None = None,
        replaces: str | None = None,
        existing_only: bool = False,
    ) -> WorktreeResult:
        """`.worktrees/<key>` on `branch` (None: `feat/<key>`), made or reused."""
        ctx = self.ctx()
        return await self.host.step(
            ensure_worktree,
            WorktreeRequest(
                repo_root=ctx.repo_root,
                subtask=key,
                branch=branch,
                base_branch=base_branch,
                dependency_branches=dependency_branches or [],
                remote=ctx.config.forge.remote,
                token_hosts=self.token_hosts(),
                replaces=replaces,
                existing_only=existing_only,
            ),
            WorktreeResult,
            summary,
            **options.quick(),
        )

    async def head(self, branch: str) -> str:
        """The worktree's head commit: what a round reviews."""
        info: RepoInfo = await self.host.step(
            git_repo_info, self.path, RepoInfo, f"head of {branch}", **options.quick()
        )
        return info.head

    async def push(
        self, branch: str, attempts: int, replaces: str | None = None
    ) -> PushResult | None:
        """Best effort (None: it failed; the branch's next push carries it)."""
        return await self.host.push(
            PushRequest(
                path=self.path,
                branch=branch,
                remote=self.ctx().config.forge.remote,
                token_hosts=self.token_hosts(),
                replaces=replaces,
            ),
            attempts=attempts,
        )

    async def gates(self, commands: list[str], log_dir: str, summary: str) -> GateResult:
        """The commands as gates in the worktree, each with its own time."""
        cfg = self.ctx().config
        if not commands:
            return GateResult()
        return await self.host.step(
            run_gates,
            gate_request(cfg, self.path, commands, log_dir),
            GateResult,
            summary,
            **options.commands(
                cfg.gates.timeout_s * max(1, len(commands)), cfg.gates.heartbeat_timeout_s
            ),
        )
