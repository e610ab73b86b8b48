"""Appending to the token log (contracts/telemetry.py): one row per answered model request.

Exactly once, by this rule. A turn saved in the transcript is never asked again: a
retried attempt resumes after it (loop.py), so it is never logged again. A turn
whose answer arrived but whose transcript was not saved (the worker died between
the two) is asked again by the next attempt: a second request, really made and
billed, so it gets its own row, under the same turn and the next attempt. A row's
key (workflow, run, activity, attempt, turn) names one request; an append whose key
is already in the log is skipped, so no request is ever counted twice.

The file is only appended to, one `write` per row (O_APPEND), so concurrent agents
of one loop never interleave. A crash mid-write leaves at most a torn last line:
readers skip it, and the next writer starts its row on a fresh line. A failure to
write is logged and the agent goes on: the loop's ledger, not this file, is what the
budget counts, and failing the turn would only ask (and bill) it again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from activities import files
from contracts.telemetry import TokenRow, parse_rows

log = logging.getLogger(__name__)

# The log is the loops' own record, like a transcript: git never sees it, so no commit
# takes it in and no check reads it as a person's uncommitted work.
IGNORE_ALL = "*\n"


class TokenLog:
    """The token log as one agent call attempt appends to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: set[str] | None = None  # read once per attempt, then kept

    def append(self, row: TokenRow) -> bool:
        """Write `row` unless its key is in the log already; False when skipped or failed."""
        try:
            if self._keys is None:
                self._keys = {r.key for r in read_rows(self.path)}
            if row.key in self._keys:
                return False
            append_line(self.path, row.line())
        except (OSError, files.UnsafePath) as err:
            log.warning("could not write the token log %s: %s", self.path, err)
            return False
        self._keys.add(row.key)
        return True


def read_rows(path: Path) -> list[TokenRow]:
    try:
        return parse_rows(files.read_bytes(path).decode("utf-8", errors="replace"))
    except FileNotFoundError:
        return []


def append_line(path: Path, line: str) -> None:
    """One write at the end of the file; after a torn last line, on a line of its own.
    Opened as every record is (activities/files.py): never through a link."""
    _ignored_by_git(path.parent)
    fd = files.open_file(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        size = os.fstat(fd).st_size
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        data = (("\n" if torn else "") + line).encode()
        written = os.write(fd, data)
        while written < len(data):  # a short write (a full disk): the rest, or an error
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)


def _ignored_by_git(folder: Path) -> None:
    ignore = folder / ".gitignore"
    if not files.check_writable(ignore):
        files.atomic_write_text(ignore, IGNORE_ALL)
