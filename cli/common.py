"""What every CLI verb shares: errors, ids from the design directory, connecting."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.verbs import add_parser

if TYPE_CHECKING:
    from temporalio.client import Client

    from contracts.config import BuildChecks

# What a verb needs is imported where it is used: `starter` imports this module for every
# verb and for `--help`, and the Temporal client alone is about 0.3 s of CPU.

# Exit statuses of `design --wait` / `build --wait` (and 2 for every refused command).
EXIT_DONE = 0  # the loop finished with its result
EXIT_ENDED = 1  # the loop ended without it: incomplete, failed, cancelled, terminated
EXIT_USAGE = 2  # the command was refused: fix what the message says
EXIT_WAITING = 3  # the loop waits for a person: a question, the gate, a decision
EXIT_INTERRUPTED = 130  # Ctrl-C: the loop itself goes on


DIR_HELP = (
    "the design directory (e.g. design-docs/active/my-feature); the loops' workflow ids come "
    "from its name"
)
NO_EMBEDDED_HELP = "never start the embedded Temporal server; fail if none answers"


class CliError(Exception):
    """A user-facing error: printed to stderr, exit status 2."""


def root_cause(err: BaseException) -> str:
    """The innermost message of a failed workflow or update (what the user must fix)."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)


def check_project(design_dir: str, build: BuildChecks | None = None) -> None:
    """What a loop checks first (repository, orchestrator.toml, roles; for a build its
    remote, base and forge), checked before it starts.

    The same function the `project.resolve` activity runs, so a mistake is refused
    here with the same message instead of holding the loop a moment later.
    """
    from temporalio.exceptions import ApplicationError

    from activities.config import resolve_project

    try:
        resolve_project(design_dir, build)
    except ApplicationError as err:
        raise CliError(err.message) from err


def check_design(design_dir: str) -> None:
    """The design directory as the design loop's first step checks it (files, names, DAG)."""
    from activities.plan import run_plan
    from contracts.plan import PlanError

    try:
        run_plan(design_dir)
    except PlanError as err:
        raise CliError(str(err)) from err


def check_subtasks(design_dir: str) -> None:
    """The XML subtasks as the build's first step checks them (against subplans and DAG)."""
    from activities.plan.pipeline import load_checked_subtasks
    from contracts.plan import PlanError

    try:
        load_checked_subtasks(design_dir)
    except PlanError as err:
        raise CliError(str(err)) from err


def check_config(design_dir: str) -> None:
    """orchestrator.toml of the repository holding `design_dir`, if it is in one."""
    from temporalio.exceptions import ApplicationError

    from activities.config import read_config, repository_of

    root = repository_of(resolved(design_dir))
    if root is None:
        return
    try:
        read_config(root)
    except ApplicationError as err:
        raise CliError(err.message) from err


def same_dir(recorded: str, given: str) -> bool:
    """Whether a loop's recorded design directory is the given one (symlinks, path maps)."""
    from runtime.path_map import PathMap, PathMapError

    candidates = {os.path.normpath(recorded)}
    with contextlib.suppress(PathMapError):  # a loop started from another host's clone
        candidates.add(os.path.normpath(PathMap.from_env().to_local(recorded)))
    mine = {os.path.normpath(os.path.abspath(given)), os.path.realpath(given)}
    return bool(candidates & mine) or any(os.path.realpath(c) in mine for c in candidates)


def feature_of(design_dir: str) -> str:
    path = resolved(design_dir)
    if not path.is_dir():
        raise CliError(
            f"{design_dir}: design directory not found. Fix: pass the path of a directory "
            "holding overview.md and subplans/"
        )
    return path.name


def resolved(design_dir: str) -> Path:
    """The design directory resolved, or what stops it being one (a symlink loop, `/`)."""
    from temporalio.exceptions import ApplicationError

    from activities.project_checks import design_path

    try:
        return design_path(design_dir)
    except ApplicationError as err:
        raise CliError(err.message) from None


def design_id(design_dir: str) -> str:
    return f"design-{feature_of(design_dir)}"


def build_id(design_dir: str) -> str:
    return f"build-{feature_of(design_dir)}"


def release_id(design_dir: str) -> str:
    return f"release-{feature_of(design_dir)}"


async def client_for(embedded: bool, need_worker: bool = True) -> Client:
    """Connect (starting the embedded server if allowed) and make sure a worker polls."""
    from runtime.client import connect
    from runtime.server import ServerError

    try:
        client = await connect(embedded=embedded)
    except ServerError as err:
        raise CliError(str(err)) from err
    if need_worker:
        await worker_for(client, embedded)
    return client


async def worker_for(client: Client, embedded: bool) -> None:
    """The local default: a background worker when nobody polls the task queue."""
    from contracts.version import TASK_QUEUE
    from runtime.background import ensure_worker
    from runtime.client import settings_from_env
    from runtime.server import is_local

    if embedded and is_local(settings_from_env().address):
        await ensure_worker(client, TASK_QUEUE)


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    from cli.output import orchestrator_prog

    prog = orchestrator_prog()
    if "`orchestrator " in message and prog != "orchestrator":
        # Pasteable as it is: `orchestrator` is in .venv/bin, rarely on PATH.
        print(
            f"(here `orchestrator` is {prog}; or run the README's `export PATH=...` line)",
            file=sys.stderr,
        )
    return EXIT_USAGE


def add_verb(
    sub: argparse._SubParsersAction,
    name: str,
    fn: Any,
    *args: tuple[str, dict[str, Any]],
    usage: str | None = None,
) -> None:
    """A verb on the design directory: `orchestrator <name> <design-dir> [args]` (its help
    in cli.verbs)."""
    p = add_parser(sub, name, usage=usage)
    p.add_argument("design_dir", metavar="<dir>", help=DIR_HELP)
    for flag, kw in args:
        p.add_argument(flag, **kw)
    p.add_argument("--no-embedded", action="store_true", help=NO_EMBEDDED_HELP)
    p.set_defaults(run=fn, on_design_dir=True)
