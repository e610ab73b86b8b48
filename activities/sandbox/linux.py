"""bubblewrap's command line for one sandboxed command, and the process-count cgroup.

The sandbox's root is empty and read-only; only what is bound here exists inside
it. The system (/usr and the merged-/usr links, a few files of /etc) is
read-only, the worktree is the one writable place besides size-bounded /tmp,
/var/tmp and /dev/shm, and the repository's git directory is bound read-only
over it, so `git status` and `git diff` work while hooks and config cannot be
written.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from pathlib import Path

from activities.sandbox.paths import git_dirs

SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What programs need from /etc: users, name resolution, TLS roots, the dynamic linker,
# Debian's alternatives (/usr/bin/* links point there), time zone, git's system config.
ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "gitconfig",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "pki",
    "resolv.conf",
    "services",
    "ssl",
)
CGROUP_NAME = "orchestrator-sandbox"
# Where the worker's filtering proxy (activities/sandbox/proxy.py) appears inside, and the
# loopback port the forwarder (forwarder.py) bridges to it: the sandbox's only way out.
PROXY_SOCKET = "/run/orchestrator/proxy.sock"
PROXY_PORT = 3128
# The only writable places besides the worktree: private, memory-backed, `[sandbox] tmp_mb` each.
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
SANDBOX_HOME = "/tmp/home"


def bwrap_argv(
    bwrap: str,
    workdir: Path,
    *,
    read_only: list[Path],
    hidden: list[Path],
    tmp_mb: int,
    proxy_socket: Path | None = None,
) -> list[str]:
    """bwrap's options (everything before `--`) for a command run in `workdir`.

    The network namespace is always the sandbox's own (loopback only); with
    `proxy_socket` the worker's filtering proxy is bound in at PROXY_SOCKET.
    """
    argv = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",  # no nested namespace to regain capabilities in
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",  # no TIOCSTI into the worker's terminal
        "--hostname",
        "sandbox",
    ]
    argv += ["--ro-bind", "/usr", "/usr"]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            argv += ["--ro-bind", link, link]
    for name in ETC:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    # `--size` bounds the next `--tmpfs` only; `--dev` would leave /dev/shm on its own
    # unbounded /dev, so each scratch place gets its own bounded mount.
    for scratch in SCRATCH:
        argv += ["--size", str(tmp_mb * 1024 * 1024), "--tmpfs", scratch]
    argv += ["--dir", SANDBOX_HOME]
    if proxy_socket is not None:
        argv += ["--ro-bind", str(proxy_socket), PROXY_SOCKET]
    for path in read_only:
        argv += ["--ro-bind-try", str(path), str(path)]
    argv += ["--bind", str(workdir), str(workdir)]
    for path in git_dirs(workdir):
        argv += ["--ro-bind", str(path), str(path)]
    for path in hidden:
        if path.is_dir():
            argv += ["--tmpfs", str(path), "--remount-ro", str(path)]
        elif path.exists():
            argv += ["--ro-bind", "/dev/null", str(path)]
    # The root and /dev are bubblewrap's own unbounded tmpfs: read-only once set up, so the
    # worktree and the bounded scratch places are all a command can write.
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
    return [*argv, "--chdir", str(workdir)]


@functools.cache
def pids_cgroup_root() -> Path | None:
    """A cgroup directory under which each command gets its own `pids.max`, or None.

    RLIMIT_NPROC is not enforced for the host's root user, so a worker running as
    root bounds processes with the pids controller (cgroup v1 or v2) when it may
    create cgroups; a worker running as another user uses RLIMIT_NPROC.
    """
    if os.geteuid() != 0:
        return None
    v1 = Path("/sys/fs/cgroup/pids")
    v2 = Path("/sys/fs/cgroup")
    candidates: list[tuple[Path, bool]] = [(v1, False)]
    controls = v2 / "cgroup.subtree_control"
    if controls.is_file():
        with contextlib.suppress(OSError):
            if "pids" in controls.read_text().split():
                candidates.append((v2, True))
    for base, unified in candidates:
        root = base / CGROUP_NAME
        try:
            root.mkdir(exist_ok=True)
            if unified:
                (root / "cgroup.subtree_control").write_text("+pids")
            probe = root / f"probe-{uuid.uuid4().hex[:8]}"
            probe.mkdir()
            (probe / "pids.max").write_text("8")
            probe.rmdir()
        except OSError:
            continue
        return root
    return None


def new_pids_cgroup(max_processes: int) -> Path | None:
    """A fresh cgroup allowing `max_processes` tasks, or None where none can be made."""
    root = pids_cgroup_root()
    if root is None:
        return None
    group = root / uuid.uuid4().hex
    group.mkdir()
    (group / "pids.max").write_text(str(max_processes))
    return group


def remove_cgroup(group: Path | None) -> bool:
    """Remove a command's cgroup once its last task (killed with the PID namespace) is gone."""
    if group is None:
        return True
    try:
        group.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def tasks_of_user(uid: int) -> int:
    """Threads the host counts against this uid's RLIMIT_NPROC (every process of it)."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count
