"""Standing habits of the scripted model, across every rule of a scenario.

A real model has habits no single rule captures: it leaves out a file it was
asked for, it writes a `TODO` the first time it writes a file and cleans it up
once a reviewer or a gate points at it, it blames the wrong party. Issue 23's
checks run builds with exactly these, so the loops must cope with them:

    quirks:
      omit_files: [src/ledger/migrations/001_init.sql]   # never written, whatever it is told
      first_write_marker: "TODO: finish this"             # on the first write of each file
      blame: 01-money-types                               # the integrator's culprit, always

The state (which file was first written where) is keyed by the conversation and
its turn, so a request asked again (a retry, a resumed transcript) gets the same
answer, as the rest of the stand-in's script does.
"""

from __future__ import annotations

import threading
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, Field

WRITE_TOOLS = ("write_file", "edit_file")
# A marker is written as a comment the file's language accepts, so it breaks nothing
# but the smell check that looks for it.
COMMENT = {
    **dict.fromkeys(".py .sh .bash .rb .toml .yaml .yml .cfg .ini".split(), "# "),
    **dict.fromkeys(".js .jsx .ts .tsx .mjs .cjs .go .rs .java .kt .c .h .cpp .cs".split(), "// "),
    **dict.fromkeys(".sql .lua .hs".split(), "-- "),
}


class Quirks(BaseModel):
    omit_files: list[str] = Field(
        default_factory=list,
        description="paths the model never writes (its write_file/edit_file steps are left out)",
    )
    first_write_marker: str | None = Field(
        default=None,
        description="text added as a comment line to the first write of each file (per scope); "
        "a later edit conversation of that scope whose task names the file writes it clean",
    )
    blame: str | None = Field(
        default=None,
        description="the subtask the integrator names as culprit, whatever it found",
    )


def marked(path: str, content: str, marker: str) -> str:
    prefix = COMMENT.get(PurePosixPath(path).suffix, "")
    body = content if content.endswith("\n") or not content else content + "\n"
    return f"{body}{prefix}{marker}\n"


class QuirkState:
    """What the quirks remember across conversations (thread-safe: requests run in parallel)."""

    def __init__(self, quirks: Quirks) -> None:
        self.quirks = quirks
        self._lock = threading.Lock()
        # (scope, path) -> (conversation, turn) of the write that carried the marker
        self._first: dict[tuple[str, str], tuple[str, int]] = {}
        self._clean: dict[tuple[str, str], str] = {}  # what the file should have held

    def steps(self, scope: str, kind: str, prompt: str, steps: list[Any]) -> list[Any]:
        """The script's steps with omitted files left out and, for an edit whose task names a
        file that carries our marker, that file written clean first."""
        kept = [s for s in steps if not self._omitted(s)]
        if kind != "edit" or not self.quirks.first_write_marker:
            return kept
        with self._lock:
            heal = [
                (path, text)
                for (where, path), text in sorted(self._clean.items())
                if where == scope and path in prompt
            ]
        healing = [_write(path, text) for path, text in heal]
        return [*healing, *kept] if healing else kept

    def step_input(
        self, scope: str, tool: str | None, data: dict[str, Any], conversation: str, turn: int
    ) -> dict[str, Any]:
        """A write step's input, with the marker on the first write of its file."""
        marker = self.quirks.first_write_marker
        path = data.get("path")
        if not marker or tool != "write_file" or not isinstance(path, str):
            return data
        content = str(data.get("content", ""))
        key, here = (scope, path), (conversation, turn)
        with self._lock:
            first = self._first.setdefault(key, here)
            if first != here:
                return data
            self._clean.setdefault(key, content)
        return {**data, "content": marked(path, content, marker)}

    def submission(self, role: str, data: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
        """The integrator blames `blame` when its submission may name a culprit at all."""
        blame = self.quirks.blame
        if role != "integrator" or not blame or "culprit" not in schema.get("properties", {}):
            return data
        why = f"{blame} broke it (the stand-in's blame)"
        return {**data, "culprit": blame, "culprit_reason": why}

    def _omitted(self, step: Any) -> bool:
        path = step.input.get("path") if step.tool in WRITE_TOOLS else None
        return isinstance(path, str) and path in self.quirks.omit_files


def _write(path: str, content: str) -> Any:
    from simulators.scenario import Step  # here: the scenario module imports this one

    return Step(tool="write_file", input={"path": path, "content": content})
