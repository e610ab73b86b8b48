"""The `command` signal: one line of text, routed to the signal it names."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.human import DecideInput, parse_command, parse_decide

Handler = Callable[[str], object]


def loop_commands(
    decide: Callable[[DecideInput], object],
    pause: Callable[[], object],
    resume: Callable[[], object],
) -> dict[str, Handler]:
    """The lines every loop a person starts takes for its `decide`, `!pause` and `!resume`
    signals (`"decide Q1 retry"`)."""
    return {
        "decide": lambda text: decide(parse_decide(text)),
        "!pause": lambda _: pause(),
        "!resume": lambda _: resume(),
    }


async def run_command(
    line: str, handlers: Mapping[str, Handler], refuse: Callable[[str], None]
) -> None:
    """`"!change add dark mode"` -> handlers["!change"]("add dark mode").

    A line that names no handler of this loop, or whose text does not parse, is
    refused through `refuse` (shown in `status`), never dropped without a word.
    """
    cmd = parse_command(line)
    handler = handlers.get(cmd.signal)
    if handler is None:
        verb = line.strip().split(" ", 1)[0]
        refuse(
            f"command {line.strip()[:60]!r}: {verb!r} is not a command of this loop. Fix: start "
            f'the line with one of {", ".join(handlers)} (e.g. "answer Q1 B")'
            if verb
            else f"command: the line is empty. Fix: send one of {', '.join(handlers)}"
        )
        return
    try:
        result = handler(cmd.text)
        if inspect.isawaitable(result):
            await result
    except ValueError as err:
        refuse(f"command {line.strip()[:60]!r}: {err}")
