"""`orchestrator fork | merge` on a running build: seed 004's `!fork` and `!merge`.

The build checks the request (a refusal lands in its `status` notice); the CLI waits a
moment for that notice, so a refused fork is said here, with its fix, and exits 1."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from pydantic import ValidationError

from cli.change_cmds import _build
from cli.common import CliError, add_verb
from cli.loop_classes import BuildWorkflow
from contracts.fork import ForkRequest

ANSWER_WAIT_S = 10.0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    add_verb(
        sub,
        "fork",
        fork,
        ("subtask", {"help": "the subtask to fork, pending or building"}),
        ("--name", {"default": None, "help": "the fork's name (default: the subtask's)"}),
        (
            "--approach",
            {
                "nargs": 2,
                "action": "append",
                "metavar": ("A|B", "TEXT"),
                "default": [],
                "help": "what attempt A (or B) should try, given to its builder",
            },
        ),
    )
    add_verb(
        sub,
        "merge",
        merge,
        ("winner", {"choices": ["A", "B", "a", "b"], "help": "the attempt that wins"}),
        ("subtask", {"nargs": "?", "default": "", "help": "needed when several forks wait"}),
    )


def request_of(args: argparse.Namespace) -> ForkRequest:
    approaches: dict[str, str] = {}
    for attempt, text in args.approach:
        letter = attempt.strip().upper()
        if letter not in ("A", "B"):
            raise CliError(
                f"--approach {attempt!r}: a fork has attempts A and B. Fix: write "
                '--approach A "..." --approach B "..."'
            )
        approaches[letter] = text
    try:
        return ForkRequest.model_validate(
            {"subtask": args.subtask, "name": args.name, "approaches": approaches}
        )
    except ValidationError as err:
        problems = (str(e["msg"]).removeprefix("Value error, ") for e in err.errors())
        raise CliError("; ".join(problems)) from None


async def _answer(handle: Any, before: str, starts: tuple[str, ...]) -> str:
    """The build's notice about what was just sent ("" if none came in time)."""
    deadline = asyncio.get_running_loop().time() + ANSWER_WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        notice = (await handle.query(BuildWorkflow.status)).notice
        if notice != before and notice.startswith(starts):
            return str(notice)
        await asyncio.sleep(0.2)
    return ""


async def send(handle: Any, signal: Any, arg: Any, verb: str) -> str:
    """Send `verb` to the build; its answer (the notice), or CliError with its refusal.
    The demo sends its `!fork` and `!merge` through this too, as a person's CLI does."""
    before = (await handle.query(BuildWorkflow.status)).notice
    await handle.signal(signal, arg)
    said = await _answer(handle, before, (verb, f"refused {verb}"))
    if said.startswith("refused "):
        raise CliError(said.removeprefix("refused "))
    return said or f"sent {verb} to {handle.id}; `orchestrator status` shows how it goes"


def merge_text(winner: str, subtask: str = "") -> str:
    """`!merge`'s argument: `<subtask> B`, or `B` alone."""
    return f"{subtask} {winner.upper()}".strip()


async def fork(args: argparse.Namespace) -> int:
    request = request_of(args)
    _, handle = await _build(args)
    print(await send(handle, BuildWorkflow.fork_subtask, request, "!fork"))
    return 0


async def merge(args: argparse.Namespace) -> int:
    _, handle = await _build(args)
    text = merge_text(args.winner, args.subtask)
    print(await send(handle, BuildWorkflow.merge_fork, text, "!merge"))
    return 0
