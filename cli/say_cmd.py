"""`orchestrator say <dir> "looks good"`: a gate hint from the running loop(s), nothing more.

Sends `say` (by method reference) to each loop running for the directory, then asks
its `status` for the hint it now shows (seed 004's natural-language gate hints). A
hint names the command that would advance the loop; `say` itself never advances it.
"""

from __future__ import annotations

import argparse
import os
import shlex
from functools import partial

from cli import queues
from cli.bounds import bounded
from cli.common import CliError, add_verb, client_for
from cli.loop_classes import LOOP_CLASSES
from cli.loop_cmds import running_loops, starts_something
from cli.release_cmd import running_release
from contracts.gate_hints import NO_GATE
from workflows.release import ReleaseWorkflow


def add_parsers(sub: argparse._SubParsersAction) -> None:
    add_verb(
        sub,
        "say",
        say,
        ("text", {"help": "what you think, in words (at most 20,000 characters)"}),
    )


async def say(args: argparse.Namespace) -> int:
    text = bounded("what you say", args.text.strip())
    if not text:
        raise CliError('there is nothing to say. Fix: orchestrator say <dir> "looks good"')
    # The hint is read back with a query, which takes a worker: make sure one runs.
    client = await client_for(
        embedded=not args.no_embedded,
        need_worker=await starts_something(args.design_dir, unless_all_served=True),
    )
    release = await running_release(client, os.path.abspath(args.design_dir))
    try:
        loops = await running_loops(client, args.design_dir)
    except CliError:
        if release is None:
            raise
        loops = []
    for kind, handle in loops:
        loop = LOOP_CLASSES[kind]
        await handle.signal(loop.say, text)
        # A query after the signal sees it: the server answers once the signal is handled.
        st = await queues.answered(handle.id, partial(handle.query, loop.status))
        _show(handle.id, st.hint, args.design_dir)
    if release is not None:
        await release.signal(ReleaseWorkflow.say, text)
        rst = await queues.answered(release.id, partial(release.query, ReleaseWorkflow.status))
        _show(release.id, rst.hint, args.design_dir)
    return 0


def _show(wid: str, hint: str, design_dir: str) -> None:
    # The loop names the directory `<dir>`; here it is the one the person typed.
    print(f"{wid}: {hint.replace('<dir>', shlex.quote(design_dir)) or NO_GATE}")
