"""Sizes the CLI refuses before it sends anything.

What a signal carries is written to the loop's history for good, even when the loop
then refuses it; a person's typo should not make a history megabytes larger. So
every argument that becomes a signal or update input is bounded here, below what
the loop itself accepts, and the Temporal server refuses anything over
`MAX_PAYLOAD_BYTES` from any client (runtime/server.py, docker-compose.yml), so a raw
`temporal workflow signal` cannot grow a history past it either.
"""

from __future__ import annotations

from cli.common import CliError
from contracts.human import MAX_SIGNAL_TEXT
from contracts.names import MAX_NAME

MAX_WORD = MAX_NAME  # a question id, a scope or subtask name, a choice's letter or word


def bounded(what: str, text: str, limit: int = MAX_SIGNAL_TEXT) -> str:
    """`text`, or a refusal naming `what`, its size and the bound."""
    if len(text) > limit:
        raise CliError(
            f"{what} is {len(text)} characters, more than {limit}. Fix: "
            + (
                "give the name `orchestrator status` shows"
                if limit <= MAX_WORD
                else "put the details in a file in the design directory and refer to it"
            )
        )
    return text
