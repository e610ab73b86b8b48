"""`orchestrator pattern add <dir> <subtask>` and `orchestrator pattern list [--dir D]`.

The pattern library is a directory of files on this host (`[patterns] path`), so both
run here, without a server: `add` runs the very step the build's `!pattern-add` runs
(the same check that the subtask finished, the same locked, idempotent write), `list`
reads the library. A running build is neither needed nor disturbed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from temporalio.exceptions import ApplicationError

from cli import verbs
from cli.common import DIR_HELP, CliError, feature_of, resolved
from cli.views import table
from contracts.config import OrchestratorConfig
from contracts.patterns import PatternAddRequest, PatternList, PatternListRequest


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        sub,
        "pattern",
        description="The pattern library shared across projects ([patterns] path).",
    )
    actions = p.add_subparsers(
        dest="pattern_command", required=True, metavar="ACTION", help="add or list"
    )
    add = actions.add_parser(
        "add",
        help="capture a finished subtask (its PR exists) as PATTERN-NNN (again: no duplicate)",
    )
    add.add_argument("design_dir", metavar="<dir>", help=DIR_HELP)
    add.add_argument("subtask", metavar="<subtask>", help="a finished subtask, e.g. 01-models")
    add.set_defaults(run=run_add, sync=True)
    listing = actions.add_parser("list", help="every pattern: domain, stack, reuse keywords")
    listing.add_argument(
        "--dir",
        metavar="PATH",
        help="the library directory; default: [patterns] path of the repository here, "
        "else ~/.orchestrator/patterns/",
    )
    listing.set_defaults(run=run_list, sync=True)


def run_add(args: argparse.Namespace) -> int:
    from activities.git.queries import current_branch
    from activities.patterns.activities import add_pattern
    from activities.plan.subtask_xml import read_subtask, subtask_paths
    from contracts.git import BRANCH_PREFIX
    from contracts.plan import PlanError

    design_dir = os.path.abspath(args.design_dir)
    feature = feature_of(design_dir)
    root, config = _project(design_dir)
    known = [p.stem for p in subtask_paths(design_dir)]
    if args.subtask not in known:
        raise CliError(
            f"{args.subtask!r} is not a subtask of {feature} ({design_dir}/subtasks/). Fix: "
            f"name one of {', '.join(known) or '(none: approve the design first)'}"
        )
    try:
        spec = read_subtask(Path(design_dir) / "subtasks" / f"{args.subtask}.xml")
    except PlanError as err:
        raise CliError(str(err)) from err
    done = add_pattern(
        PatternAddRequest(
            library=config.patterns.path,
            repo_root=str(root),
            design_dir=str(resolved(design_dir)),
            feature=feature,
            subtask=args.subtask,
            base_branch=config.forge.base_branch or current_branch(str(root)),
            dependency_branches=[BRANCH_PREFIX + d for d in spec.dependencies],
            remote=config.forge.remote,
        )
    )
    said = {"added": "added to", "updated": "updated in", "unchanged": "already in"}
    print(f"{done.id} ({done.title}) {said[done.outcome]} {done.library_path}")
    print(f"reuse keywords: {', '.join(done.keywords) or '-'}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from activities.patterns.activities import list_patterns

    library = os.path.abspath(args.dir) if args.dir else _configured_here()
    found = list_patterns(PatternListRequest(library=library))
    print(list_view(found))
    return 0


def list_view(found: PatternList) -> str:
    if not found.patterns:
        return f"{found.library_path}: no patterns yet (add one: orchestrator pattern add)"
    rows = [[p.id, p.title, p.domain, p.stack, ", ".join(p.keywords)] for p in found.patterns]
    header = f"{found.library_path}: {len(found.patterns)} pattern(s)\n\n"
    return header + table(["pattern", "title", "domain", "stack", "reuse keywords"], rows)


def _project(design_dir: str) -> tuple[Path, OrchestratorConfig]:
    from activities.config import read_config
    from activities.plan.design_dir import repository_of

    root = repository_of(resolved(design_dir))
    if not (root / ".git").exists():
        raise CliError(f"{design_dir} is not in a git repository. Fix: pass a design directory")
    try:
        config, _ = read_config(root)
    except ApplicationError as err:
        raise CliError(err.message) from err
    return root, config


def _configured_here() -> str | None:
    """`[patterns] path` of the repository holding the current directory, if any."""
    from activities.config import read_config
    from activities.plan.design_dir import repository_of

    root = repository_of(os.getcwd())
    if not (root / ".git").exists() or not (root / "orchestrator.toml").exists():
        return None
    try:
        config, _ = read_config(root)
    except ApplicationError as err:
        raise CliError(err.message) from err
    return config.patterns.path
