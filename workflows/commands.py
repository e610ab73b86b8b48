"""The `command` signal: one line of text, routed to the signal it names."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.human import parse_command

Handler = Callable[[str], object]


async def run_command(line: str, handlers: Mapping[str, Handler]) -> None:
    """`"!change add dark mode"` -> handlers["!change"]("add dark mode"); bad input is logged."""
    cmd = parse_command(line)
    handler = handlers.get(cmd.signal)
    if handler is None:
        workflow.logger.warning("unknown command %r (known: %s)", line, ", ".join(handlers))
        return
    try:
        result = handler(cmd.text)
        if inspect.isawaitable(result):
            await result
    except ValueError as err:
        workflow.logger.warning("ignored command %r: %s", line, err)
