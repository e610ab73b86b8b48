"""Atomic file writes: a reader, a retry or a crash never sees or leaves half a file.

Every activity that writes a file (agents' edits, review files, transcripts,
the tracker, plan and design files, PR text) goes through here, so they all
behave the same when a worker dies mid-write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from activities.os_errors import raise_permanent


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` as UTF-8 via a temp file in the same directory and `os.replace`.

    Unchanged content is left alone (a retried step does not touch mtimes); an
    existing file keeps its mode, a new one is 0644 rather than mkstemp's 0600. A
    write no retry can make pass (a name too long, a read-only disk) fails for good.
    """
    try:
        _write(Path(path), text)
    except OSError as err:
        raise_permanent(err, f"writing {path}")
        raise


def _write(target: Path, text: str) -> None:
    data = text.encode("utf-8")
    try:
        if target.read_bytes() == data:
            return
        mode = target.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Temp files of an attempt killed mid-write (SIGKILL skips the cleanup above).
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()
