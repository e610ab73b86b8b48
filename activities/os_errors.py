"""File-system errors no retry can fix: said once, with the fix, instead of retried.

A name too long for the file system, a path through a file, a read-only disk or a
missing permission stays so until a person changes something; retried with the
model's backoff they cost an hour before anyone heard of them. Raised as
non-retryable, the step holds at once for a person (`decide retry` after the fix).
"""

from __future__ import annotations

import errno
import os

from temporalio.exceptions import ApplicationError

NAME_MAX = 255  # bytes in one file name on every file system the workers run on

_FIXES = {
    errno.ENAMETOOLONG: "shorten the name it is made of (a feature, subtask, role or workflow "
    "id), then decide retry",
    errno.ELOOP: "remove the symbolic link that leads back to itself, then decide retry",
    errno.ENOTDIR: "a part of the path is a file, not a directory: move that file away, then "
    "decide retry",
    errno.EISDIR: "a directory stands where the file should be: move it away, then decide retry",
    errno.EACCES: "give the user running the worker access to it (`chmod`/`chown`), then "
    "decide retry",
    errno.EPERM: "give the user running the worker access to it (`chmod`/`chown`), then "
    "decide retry",
    errno.EROFS: "the file system is mounted read-only: make it writable, then decide retry",
    errno.ENOSPC: "the disk is full: free space on it, then decide retry",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota, then decide retry",
    errno.EFBIG: "the file would exceed the file system's size limit: free or move data, "
    "then decide retry",
}


def _longest_name(path: str) -> str:
    name = max(path.split(os.sep), key=lambda p: len(p.encode()), default="")
    size = len(name.encode())
    return f" (a name of {size} bytes; a file name holds {NAME_MAX})" if size > NAME_MAX else ""


def permanent(err: OSError, doing: str) -> ApplicationError | None:
    """`err` as a non-retryable failure saying what was being done and the fix; None when a
    retry may pass (a file another process is replacing, an interrupted call)."""
    fix = _FIXES.get(err.errno or 0)
    if fix is None:
        return None
    path = str(err.filename or "")
    why = err.strerror or str(err)
    extra = _longest_name(path) if err.errno == errno.ENAMETOOLONG else ""
    return ApplicationError(
        f"{doing}: {why}: {path}{extra}. Fix: {fix}",
        type=f"OSError:{errno.errorcode.get(err.errno or 0, 'E?')}",
        non_retryable=True,
    )


def raise_permanent(err: OSError, doing: str) -> None:
    """Raise `err` as non-retryable when no retry can pass; return otherwise (re-raise it)."""
    failure = permanent(err, doing)
    if failure is not None:
        raise failure from err
