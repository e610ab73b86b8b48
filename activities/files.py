"""Record writes: atomic, and never through a link.

Every file the orchestrator writes (review files, PR text, gate logs, reports, the
tracker, plan and subtask files, transcripts; agents' own edits) goes through here,
with two promises:

- Atomic: a reader, a retry or a crash never sees or leaves half a file.
- No links: the path is opened one directory at a time from a trusted root, every
  component with O_NOFOLLOW, relative to its parent's descriptor. A directory an
  agent replaced with a symbolic link (to the git directory, to another checkout)
  is refused before a byte is written, never followed; so is a path that is not
  inside the root, or that goes through a `.git`.

The root is the outermost git checkout holding the path (a subtask's worktree,
`<checkout>/.worktrees/<name>`, is inside the main checkout), unless the caller
names a tighter one. Links above the root are the user's own and are followed; the
workflow's paths are resolved when it starts, so a link below the root is one that
appeared since: an agent's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath

from temporalio.exceptions import ApplicationError

from activities.os_errors import raise_permanent

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
StrPath = str | os.PathLike[str]


class UnsafePath(ApplicationError):
    """A record path the orchestrator will not write: retrying cannot make it safe."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="UnsafeRecordPath", non_retryable=True)


def checkout_of(path: StrPath) -> str:
    """The root a record path is opened from when the caller names none: the outermost
    git checkout holding it, found from the top down (so no link below it is consulted);
    outside any checkout, the deepest directory that exists."""
    target = Path(os.path.abspath(path))
    found = target.anchor
    for ancestor in reversed(target.parents):
        if os.path.lexists(ancestor / ".git"):
            return str(ancestor)
        if not ancestor.is_dir():
            break
        found = str(ancestor)
    return found


def atomic_write_text(path: StrPath, text: str, *, root: StrPath | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), root=root)


def atomic_write_bytes(path: StrPath, data: bytes, *, root: StrPath | None = None) -> None:
    """Write `data` to `path` (inside `root`, no link on the way) via a temp file and rename.

    Unchanged content is left alone (a retried step does not touch mtimes); an existing
    file keeps its mode, a new one is 0644; missing directories are created. A write no
    retry can make pass (a name too long, a read-only disk) fails for good.
    """
    try:
        _write_bytes(path, data, root)
    except OSError as err:
        raise_permanent(err, f"writing {os.fspath(path)}")
        raise


def _write_bytes(path: StrPath, data: bytes, root: StrPath | None) -> None:
    with _parent(path, root, create=True) as (parent, name):
        # Writers in one directory take turns (two agents of a loop may write one record
        # at once), so the temp files removed below are only ever a dead writer's. The
        # lock is on this descriptor: it goes with it, or with a killed process.
        fcntl.flock(parent, fcntl.LOCK_EX)
        mode = 0o644
        try:
            fd = _open_in(parent, name, os.O_RDONLY, path)
        except FileNotFoundError:
            pass
        else:
            with os.fdopen(fd, "rb") as current:
                info = os.fstat(current.fileno())
                if info.st_size == len(data) and current.read(len(data) + 1) == data:
                    return
                mode = info.st_mode & 0o777
        tmp = f".{name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, 0o600, dir_fd=parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
                os.fchmod(handle.fileno(), mode)
            os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=parent)
            raise
        # Temp files of an attempt killed mid-write (SIGKILL skips the cleanup above); no
        # live writer has one here while we hold the lock.
        for entry in os.listdir(parent):
            if entry.startswith(f".{name}.") and entry.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(entry, dir_fd=parent)


def check_writable(path: StrPath, *, root: StrPath | None = None) -> bool:
    """Refuse now what `atomic_write_bytes` would refuse, writing nothing (a step that
    writes several files checks them all first: all of them or none); True if it exists."""
    try:
        with _parent(path, root, create=False) as (parent, name):
            info = os.lstat(name, dir_fd=parent)
            if not stat.S_ISREG(info.st_mode):
                raise _refusal(parent, name, path)
    except FileNotFoundError:
        return False  # it and what is missing above it are created inside the root
    return True


def read_bytes(path: StrPath, *, root: StrPath | None = None) -> bytes:
    """A regular file's bytes, read with the same no-link walk (FileNotFoundError if absent)."""
    with _parent(path, root, create=False) as (parent, name):
        with os.fdopen(_open_in(parent, name, os.O_RDONLY, path), "rb") as handle:
            return handle.read()


def open_file(path: StrPath, flags: int, *, root: StrPath | None = None, mode: int = 0o644) -> int:
    """A descriptor for a regular file (a lock, a log appended to), opened without
    following links; with O_CREAT, missing directories are created too."""
    with _parent(path, root, create=bool(flags & os.O_CREAT)) as (parent, name):
        return _open_in(parent, name, flags, path, mode)


def _open_in(parent: int, name: str, flags: int, shown: StrPath, mode: int = 0o644) -> int:
    try:
        fd = os.open(name, flags | _FILE_FLAGS, mode, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (*_NOT_FOLLOWED, errno.EISDIR, errno.ENXIO):  # ENXIO: a FIFO
            raise _refusal(parent, name, shown) from exc
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _refusal(parent, name, shown)
    os.set_blocking(fd, True)
    return fd


@contextlib.contextmanager
def _parent(path: StrPath, root: StrPath | None, *, create: bool) -> Iterator[tuple[int, str]]:
    """The descriptor of `path`'s directory, reached from `root` without following links."""
    base, parts = _inside(path, checkout_of(path) if root is None else root)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in parts[:-1]:
            child = _child(fd, name, path, create)
            os.close(fd)
            fd = child
        yield fd, parts[-1]
    finally:
        os.close(fd)


def _child(parent: int, name: str, shown: StrPath, create: bool) -> int:
    """Directory `name` of `parent`, opened without following a link; created if asked."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as exc:
        if exc.errno in _NOT_FOLLOWED:
            raise _refusal(parent, name, shown) from exc
        raise
    with contextlib.suppress(FileExistsError):  # another writer made it first
        os.mkdir(name, 0o777, dir_fd=parent)
    return _child(parent, name, shown, create=False)


# What open() says of a link it was told not to follow (Linux: ENOTDIR with O_DIRECTORY,
# ELOOP without; FreeBSD: EMLINK), or of a file where a directory should be.
_NOT_FOLLOWED = (errno.ENOTDIR, errno.ELOOP, errno.EMLINK)


def _inside(path: StrPath, root: StrPath) -> tuple[str, list[str]]:
    """(root as given or resolved, the components below it); refuses what is not inside."""
    given = os.fspath(path)
    if ".." in PurePath(given).parts:
        raise UnsafePath(f"refused {given}: '..' in a record path. Fix: pass a path inside {root}")
    target = os.path.abspath(given)
    for base in dict.fromkeys((os.path.abspath(root), os.path.realpath(root))):
        rel = os.path.relpath(target, base)
        parts = [] if rel == os.curdir else rel.split(os.sep)
        if parts and parts[0] != os.pardir:
            if any(p.lower() == ".git" for p in parts):
                raise UnsafePath(
                    f"refused {given}: it goes through a `.git` (a repository's "
                    "own files are never records). Fix: remove the nested repository from "
                    f"{root} and retry"
                )
            return base, parts
    raise UnsafePath(
        f"refused {given}: it is outside the checkout {root}. Fix: keep records "
        "inside the checkout (the design directory, the tracker path)"
    )


def _refusal(parent: int, name: str, shown: StrPath) -> UnsafePath:
    """Say what is in the way: a link (and where it points), or the wrong kind of file."""
    try:
        info = os.lstat(name, dir_fd=parent)
    except OSError:
        info = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        try:
            target = os.readlink(name, dir_fd=parent)
        except OSError:
            target = "?"
        return UnsafePath(
            f"refused {os.fspath(shown)}: `{name}` on that path is a symbolic link (to "
            f"{target}), and records are never written or read through links. Fix: remove "
            f"the link `{name}` (an agent may have planted it in its worktree) and retry"
        )
    kind = "gone" if info is None else _KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
    return UnsafePath(
        f"refused {os.fspath(shown)}: `{name}` on that path is {kind}, not what the record "
        f"needs there. Fix: move `{name}` out of the way and retry"
    )


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFREG: "a file",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}
