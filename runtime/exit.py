"""Leaving a command: flush, then exit without interpreter finalization.

The Temporal client's native runtime can abort the process while Python tears
down its threads at exit, turning a finished command into a crash report.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from runtime import tracing


def exit_now(code: int) -> NoReturn:
    tracing.flush()  # spans still batched: exit handlers, which would send them, never run
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away; nothing to keep
            code = code or 128 + 13  # SIGPIPE's status, as a process killed by it has
    os._exit(code)
