"""`orchestrator say <dir> "looks good"`: a gate hint from the running loop(s), nothing more.

Sends `say` (by method reference) to each loop running for the directory, then asks
its `status` for the hint it now shows (seed 004's natural-language gate hints). A
hint names the command that would advance the loop; `say` itself never advances it.
"""

from __future__ import annotations

import argparse
import shlex
from functools import partial

from cli import queues
from cli.bounds import bounded
from cli.common import CliError, add_verb, client_for
from cli.loop_classes import LOOP_CLASSES
from cli.loop_cmds import running_loops
from contracts.gate_hints import NO_GATE


def add_parser(sub: argparse._SubParsersAction) -> None:
    add_verb(
        sub,
        "say",
        "tell the running loop(s) what you think; words that sound like a gate "
        '("looks good", "let\'s build") get a hint naming the command to send. '
        "It never advances anything",
        say,
        ("text", {"help": "what you think, in words (at most 20,000 characters)"}),
    )


async def say(args: argparse.Namespace) -> int:
    text = bounded("what you say", args.text.strip())
    if not text:
        raise CliError('there is nothing to say. Fix: orchestrator say <dir> "looks good"')
    # The hint is read back with a query, which takes a worker: make sure one runs.
    client = await client_for(embedded=not args.no_embedded)
    for kind, handle in await running_loops(client, args.design_dir):
        loop = LOOP_CLASSES[kind]
        await handle.signal(loop.say, text)
        # A query after the signal sees it: the server answers once the signal is handled.
        st = await queues.answered(handle.id, partial(handle.query, loop.status))
        # The loop names the directory `<dir>`; here it is the one the person typed.
        print(f"{handle.id}: {st.hint.replace('<dir>', shlex.quote(args.design_dir)) or NO_GATE}")
    return 0
