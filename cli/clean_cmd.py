"""`orchestrator clean <dir>`: remove the feature's worktrees and local branches whose work
is pushed; refuse, naming them, those with uncommitted or unpushed work."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from cli.common import CliError, add_verb, build_id, check_project, client_for
from contracts.cleanup import CleanRequest, CleanResult
from contracts.git import WORKTREES_DIR, branch_for
from contracts.integration import INTEGRATION, integration_branch


def add_parsers(sub: argparse._SubParsersAction) -> None:
    add_verb(
        sub,
        "clean",
        clean,
    )


def feature_names(design_dir: Path) -> list[str]:
    """The feature's subtasks (its XML subtasks, else its subplans) and integration."""
    for folder, suffix in (("subtasks", ".xml"), ("subplans", ".md")):
        found = sorted(p.stem for p in (design_dir / folder).glob(f"*{suffix}"))
        if found:
            return [*found, INTEGRATION]
    return [INTEGRATION]


def request_for(design_dir: str) -> CleanRequest:
    from activities.config import read_config, repository_of

    path = Path(design_dir).expanduser().resolve()
    root = repository_of(path)
    if root is None:
        raise CliError(f"{design_dir} is not in a git repository. Fix: pass the design directory")
    config, _ = read_config(root)
    names = feature_names(path)
    return CleanRequest(
        repo_root=str(root),
        names=names,
        remote=config.forge.remote,
        token_hosts=config.forge.git_token_hosts(),
        branches=True,
        extra_branches=[
            *(branch_for(n) for n in names if n != INTEGRATION),
            integration_branch(path.name),
        ],
    )


def worktrees_used(design_dir: str) -> dict[str, object]:
    """The feature's worktrees on this machine and the disk they take (for `status`)."""
    from activities.cleanup import disk_usage, feature_worktrees
    from activities.config import repository_of

    path = Path(design_dir).expanduser().resolve()
    root = repository_of(path)
    found = feature_worktrees(str(root), feature_names(path)) if root else {}
    sizes = {name: disk_usage(p) for name, p in found.items()}
    return {"root": str(Path(str(root)) / WORKTREES_DIR), "bytes": sum(sizes.values()), **sizes}


def worktrees_line(used: dict[str, object]) -> str:
    names = [k for k in used if k not in ("root", "bytes")]
    if not names:
        return "Worktrees: none left on this machine"
    return (
        f"Worktrees: {len(names)} in {used['root']} ({', '.join(names)}): "
        f"{megabytes(int(used['bytes']))} on disk (`orchestrator clean` removes pushed ones)"
    )


def megabytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


async def clean(args: argparse.Namespace) -> int:
    from activities.cleanup import clean as remove

    await asyncio.to_thread(check_project, args.design_dir)
    from cli.loop_cmds import running  # loop_cmds imports this module for `status`

    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    if await running(client, build_id(args.design_dir), args.design_dir) is not None:
        raise CliError(
            f"the build {build_id(args.design_dir)} is running and works in these worktrees. "
            f"Fix: wait for it to end, or `orchestrator cancel {args.design_dir}`, then clean"
        )
    req = await asyncio.to_thread(request_for, args.design_dir)
    result = await asyncio.to_thread(remove, req)
    report(req, result)
    return 2 if result.kept or result.branches_kept else 0


def report(req: CleanRequest, result: CleanResult) -> None:
    where = Path(req.repo_root) / WORKTREES_DIR
    if result.removed:
        print(
            f"removed {', '.join(str(where / n) for n in result.removed)}: "
            f"{megabytes(result.freed_bytes)} freed"
        )
    if result.branches_deleted:
        print(
            f"deleted local branches (their work is on {req.remote}): "
            f"{', '.join(result.branches_deleted)}"
        )
    if not (result.removed or result.branches_deleted or result.kept or result.branches_kept):
        print("nothing to clean: no worktree or local branch of this feature is left")
    for name, why in result.kept.items():
        print(f"kept {where / name}: {why}", file=sys.stderr)
    for branch, why in result.branches_kept.items():
        print(f"kept branch {branch}: {why}", file=sys.stderr)
    if result.kept or result.branches_kept:
        print(
            f"error: nothing unpushed is deleted. Fix: commit and push what is kept (git -C "
            f"<worktree> push {req.remote} <branch>), then clean again; or remove it by hand "
            "if you mean to lose it",
            file=sys.stderr,
        )
