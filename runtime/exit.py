"""Leaving a command: flush, then exit without interpreter finalization.

The Temporal client's native runtime can abort the process while Python tears
down its threads at exit, turning a finished command into a crash report.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
