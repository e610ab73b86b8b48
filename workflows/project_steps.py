"""Steps every loop takes on its project: read it, commit its design directory.

Each loop runs them through its own `_activity` (so a failure holds the way that
loop holds); the steps themselves are written once here.
"""

from __future__ import annotations

from typing import Any, Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.config import resolve_project_activity
    from activities.git_ops import commit_paths
    from contracts.config import BuildChecks, ConfigRequest, ProjectContext
    from contracts.git import CommitPathsRequest, CommitResult
    from workflows import options


class RunsActivities(Protocol):
    async def _activity(
        self, activity: Any, arg: Any, *, result_type: Any, summary: str, **opts: Any
    ) -> Any: ...


async def resolve(
    loop: RunsActivities, design_dir: str, build: BuildChecks | None = None
) -> ProjectContext:
    """The repository, the design directory and its `orchestrator.toml`, checked (with
    `build`: also the remote, base branch and forge a build needs)."""
    return await loop._activity(
        resolve_project_activity,
        ConfigRequest(design_dir=design_dir, build=build),
        result_type=ProjectContext,
        summary=f"resolve {design_dir}",
        **options.quick(),
    )


async def commit_design(
    loop: RunsActivities, ctx: ProjectContext, message: str, summary: str
) -> CommitResult:
    """Commit the design directory only: the main checkout may hold the user's own work."""
    return await loop._activity(
        commit_paths,
        CommitPathsRequest(repo_root=ctx.repo_root, paths=[ctx.design_rel], message=message),
        result_type=CommitResult,
        summary=summary,
        **options.quick(),
    )
