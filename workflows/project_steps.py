"""Steps every loop takes on its project: read it, commit its design directory.

Each loop runs them through its `LoopControl.activity` (so a failure holds the way
that loop holds); the steps themselves are written once here.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.config import resolve_project_activity
    from activities.git.activities import commit_paths, refuse_persons_changes
    from contracts.config import BuildChecks, ConfigRequest, ProjectContext
    from contracts.git import CommitPathsRequest, CommitResult, OwnFilesRequest
    from workflows import options

T = TypeVar("T")


class ActivityStep(Protocol):
    """A loop's way to run a file, git or plan step (`LoopControl.activity`): a step that
    fails for good holds for a person."""

    async def __call__(
        self, activity: Any, arg: Any, *, result_type: type[T] | None, summary: str, **opts: Any
    ) -> T: ...


async def resolve(
    step: ActivityStep, design_dir: str, build: BuildChecks | None = None
) -> ProjectContext:
    """The repository, the design directory and its `orchestrator.toml`, checked (with
    `build`: also the remote, base branch and forge a build needs)."""
    return await step(
        resolve_project_activity,
        ConfigRequest(design_dir=design_dir, build=build),
        result_type=ProjectContext,
        summary=f"resolve {design_dir}",
        **options.quick(),
    )


async def hold_for_persons_changes(step: ActivityStep, ctx: ProjectContext) -> None:
    """Hold (naming them) while the design directory holds a person's uncommitted files."""
    await step(
        refuse_persons_changes,
        OwnFilesRequest(repo_root=ctx.repo_root, folder=ctx.design_rel),
        result_type=None,
        summary=f"no uncommitted files of a person in {ctx.design_rel}",
        **options.quick(),
    )


async def commit_design(
    step: ActivityStep,
    ctx: ProjectContext,
    message: str,
    summary: str,
    paths: list[str],
) -> CommitResult:
    """Commit `paths` (the files the loop wrote): never anything else of the main
    checkout, which is the user's."""
    return await step(
        commit_paths,
        CommitPathsRequest(
            repo_root=ctx.repo_root,
            paths=paths,
            message=message,
        ),
        result_type=CommitResult,
        summary=summary,
        **options.quick(),
    )
