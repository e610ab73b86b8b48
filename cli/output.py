"""What the CLI prints for a person: commands they can paste, elapsed time, colour.

A command printed by the demo, `status` or an error is pasted as it is: the
`orchestrator` and `temporal` binaries live in the project's `.venv/bin`, which
is rarely on PATH, so the command names the way the person started us
(`./run ...`), the binary on PATH when it is ours, or its absolute path.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from runtime.client import settings_from_env
from runtime.server import DEFAULT_ADDRESS, ServerError, temporal_binary

# `run` exports how it was called (`./run`, `/path/to/run`), before it changes directory.
RUN_ENV = "ORCHESTRATOR_RUN"


def _ours(name: str, beside: Path) -> str | None:
    """`name` when PATH finds the same binary as `beside`, else None."""
    found = shutil.which(name)
    if found and beside.exists() and os.path.realpath(found) == os.path.realpath(beside):
        return name
    return None


def orchestrator_prog() -> str:
    """How the person runs `orchestrator` from their shell."""
    run = os.environ.get(RUN_ENV)
    if run:
        return shlex.quote(run)
    script = Path(sys.executable).parent / "orchestrator"
    return _ours("orchestrator", script) or shlex.quote(str(script))


def temporal_command(*words: str) -> str:
    """A `temporal` CLI command, with `--address` when the server is not the default one."""
    try:
        binary = temporal_binary()
    except ServerError:
        binary = "temporal"
    address = settings_from_env().address
    extra = [] if address == DEFAULT_ADDRESS else ["--address", address]
    prog = _ours("temporal", Path(binary)) or shlex.quote(binary)
    return " ".join([prog, *(shlex.quote(w) for w in [*words, *extra])])


@dataclass(frozen=True)
class Commands:
    """Pasteable `orchestrator <verb> <design dir> ...` lines for one design directory."""

    design_dir: str
    prog: str = "orchestrator"

    @classmethod
    def for_dir(cls, design_dir: str) -> Commands:
        return cls(os.path.abspath(design_dir), orchestrator_prog())

    def verb(self, verb: str, *words: str) -> str:
        quoted = "<dir>" if self.design_dir == "<dir>" else shlex.quote(self.design_dir)
        return " ".join([self.prog, verb, quoted, *(shlex.quote(w) for w in words)])


PLACEHOLDER = Commands("<dir>")


class Clock:
    """Elapsed time since a command started, for its progress lines."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def stamp(self) -> str:
        seconds = int(time.monotonic() - self.start)
        return f"[{seconds // 60}:{seconds % 60:02d}]"


STYLES = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "dim": "2"}


def coloured(stream: TextIO) -> bool:
    """Colour only on a terminal, never with NO_COLOR set (no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, style: str, stream: TextIO | None = None) -> str:
    if not coloured(stream or sys.stdout):
        return text
    return f"\033[{STYLES[style]}m{text}\033[0m"
