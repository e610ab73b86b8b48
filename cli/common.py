"""What every CLI verb shares: errors, ids from the design directory, connecting."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from temporalio.client import Client

from runtime.background import ensure_worker
from runtime.client import TASK_QUEUE, connect, settings_from_env
from runtime.server import ServerError, is_local


class CliError(Exception):
    """A user-facing error: printed to stderr, exit status 2."""


def feature_of(design_dir: str) -> str:
    path = Path(design_dir).expanduser().resolve()
    if not path.is_dir():
        raise CliError(
            f"{design_dir}: design directory not found. Fix: pass the path of a directory "
            "holding overview.md and subplans/"
        )
    return path.name


def design_id(design_dir: str) -> str:
    return f"design-{feature_of(design_dir)}"


def build_id(design_dir: str) -> str:
    return f"build-{feature_of(design_dir)}"


async def client_for(embedded: bool, need_worker: bool = True) -> Client:
    """Connect (starting the embedded server if allowed) and make sure a worker polls."""
    try:
        client = await connect(embedded=embedded)
    except ServerError as err:
        raise CliError(str(err)) from err
    if need_worker and embedded and is_local(settings_from_env().address):
        await ensure_worker(client, TASK_QUEUE)
    return client


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def add_verb(
    sub: argparse._SubParsersAction,
    name: str,
    help_: str,
    fn: Any,
    *args: tuple[str, dict[str, Any]],
) -> None:
    """A verb on the design directory: `orchestrator <name> <design-dir> [args]`."""
    p = sub.add_parser(name, help=help_)
    p.add_argument("design_dir")
    for flag, kw in args:
        p.add_argument(flag, **kw)
    p.add_argument("--no-embedded", action="store_true", help="never start the local server")
    p.set_defaults(run=fn)
