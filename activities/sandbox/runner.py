"""Start a command in the sandbox, stream its output to a capped file, end every process.

Used by agents' `run_command` and by the gates, so both get the same confinement,
limits and process handling.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from activities.sandbox import linux, macos
from activities.sandbox.paths import READ_ONLY_FIX, read_only_problems
from activities.sandbox.proxy import FilteringProxy
from contracts.sandbox import SandboxConfig

log = logging.getLogger(__name__)

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TAIL_BYTES = 256 * 1024  # at most this much of the end is kept (errors are usually there)
CHUNK = 65536
KILL_WAIT_S = 5.0  # an unkillable process (D state) must not hang the worker
CONTAINER_FIX = (
    "In a container, run it with `--security-opt seccomp=unconfined --security-opt "
    "apparmor=unconfined --security-opt systempaths=unconfined` (docker) or the same "
    "settings in docker-compose.yml; "
)
NONE_FIX = 'or set `[sandbox] mode = "none"` in orchestrator.toml to run commands unconfined'
FORWARDER = Path(__file__).with_name("forwarder.py")
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
NONE_WARNING = (
    '[sandbox] mode = "none": agent commands and gates run unconfined, as the worker itself; '
    "a prompt-injected command can read everything the worker can"
)


class SandboxUnavailable(Exception):
    """No sandbox can be made on this machine; the message names the fix."""


@dataclass(frozen=True)
class Spec:
    """One command: what, where, for how long, and what else it may see."""

    command: str
    workdir: Path
    timeout_s: float
    config: SandboxConfig
    path_first: tuple[str, ...] = ()  # e.g. the project's venv bin
    read_only: tuple[Path, ...] = ()  # e.g. the venv and its base interpreter
    hidden: tuple[Path, ...] = ()  # inside the workdir, masked (transcripts)


@dataclass
class Outcome:
    exit_code: int | None  # None: timed out and killed
    timed_out: bool
    output_bytes: int  # everything the command printed, kept or not
    log_path: Path
    notice: str = ""
    duration_s: float = field(default=0.0)

    def clipped(self, limit: int) -> str:
        """Head and tail of the log within `limit` bytes, read without loading it whole."""
        size = self.log_path.stat().st_size
        with self.log_path.open("rb") as f:
            if size <= limit:
                return f.read().decode("utf-8", errors="replace")
            head = f.read(limit * 2 // 5)
            f.seek(size - (limit - len(head)))
            tail = f.read()
        cut = size - len(head) - len(tail)
        return (
            head.decode("utf-8", errors="replace")
            + f"\n... ({cut} bytes cut) ...\n"
            + tail.decode("utf-8", errors="replace")
        )

    def tail_lines(self, count: int) -> str:
        size = self.log_path.stat().st_size
        with self.log_path.open("rb") as f:
            f.seek(max(0, size - 16384))
            text = f.read().decode("utf-8", errors="replace")
        return "\n".join(text.strip().splitlines()[-count:])


def environment(
    path_first: tuple[str, ...] | list[str], home: str, proxy_port: int | None = None
) -> dict[str, str]:
    """The whole environment a command starts with: an allowlist, nothing inherited;
    with `proxy_port`, the variables pip, uv, curl and git take their proxy from."""
    proxy = {name: f"http://127.0.0.1:{proxy_port}" for name in PROXY_VARIABLES}
    return (proxy if proxy_port is not None else {}) | {
        "PATH": os.pathsep.join([*path_first, SYSTEM_PATH]),
        "HOME": home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "GIT_TERMINAL_PROMPT": "0",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
    }


def _shell() -> str:
    return "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"


def system_python() -> str | None:
    """The system's python3 (under /usr, which every sandbox binds), for the forwarder."""
    found = shutil.which("python3", path=SYSTEM_PATH)
    if found is None or not os.path.realpath(found).startswith("/usr/"):
        return None
    return found


# Set once bubblewrap made a sandbox in this process. A failure is never remembered: the
# person's `decide retry` after installing bubblewrap (or fixing namespaces) checks again.
_SANDBOX_WORKS = threading.Event()


def _self_test() -> str | None:
    """Why bubblewrap cannot make a sandbox here, or None when it can."""
    if _SANDBOX_WORKS.is_set():
        return None
    problem = _probe()
    if problem is None:
        _SANDBOX_WORKS.set()
    return problem


def forget_self_test() -> None:
    """Check again at the next command (a test that breaks bubblewrap on purpose)."""
    _SANDBOX_WORKS.clear()


def _probe() -> str | None:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return (
            "bubblewrap (bwrap) is not installed. Fix: install it (`apt-get install bubblewrap` "
            "on Debian/Ubuntu, `dnf install bubblewrap` on Fedora), " + NONE_FIX
        )
    with tempfile.TemporaryDirectory(prefix="sandbox-self-test-") as tmp:
        argv = linux.bwrap_argv(bwrap, Path(tmp), read_only=[], hidden=[], tmp_mb=16)
        try:
            done = subprocess.run(
                [*argv, "--", "/bin/sh", "-c", "echo ok > probe"],
                env=environment((), linux.SANDBOX_HOME),
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap failed its self-test ({exc}). Fix: {CONTAINER_FIX}{NONE_FIX}"
        if done.returncode != 0 or not (Path(tmp) / "probe").is_file():
            err = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
            return (
                f"bubblewrap cannot create a sandbox here ({err}). Fix: allow unprivileged "
                "user namespaces (sysctl kernel.unprivileged_userns_clone=1, and on Ubuntu "
                "kernel.apparmor_restrict_unprivileged_userns=0). " + CONTAINER_FIX + NONE_FIX
            )
    if os.geteuid() == 0 and linux.pids_cgroup_root() is None:
        log.warning(
            "sandbox: the worker runs as root and cannot create a pids cgroup, so the number "
            "of processes a command starts is not bounded (RLIMIT_NPROC does not apply to "
            "root). Fix: run the worker as another user, or give it a writable cgroup"
        )
    return None


def unavailable() -> str | None:
    """Why no command can be confined on this machine, with the fix; None when one can.
    (What the CLI and a starting worker check before any loop starts.)"""
    if sys.platform == "darwin":
        return None if shutil.which("sandbox-exec") else "sandbox-exec is missing; " + NONE_FIX
    if not sys.platform.startswith("linux"):
        return f"no sandbox is known for {sys.platform}; " + NONE_FIX
    return _self_test()


async def ensure_available(config: SandboxConfig, *, warn: bool = True) -> str:
    """Raise SandboxUnavailable unless commands can be confined; return a notice to show.

    Unconfined (`mode = "none"`) is logged as a warning (once per agent or gate
    activity, and when orchestrator.toml is read at each workflow start).
    """
    if config.mode == "none":
        if warn:
            log.warning(NONE_WARNING)
        return NONE_WARNING
    if sys.platform == "darwin":
        if shutil.which("sandbox-exec") is None:
            raise SandboxUnavailable("sandbox-exec is missing from this macOS; " + NONE_FIX)
        return ""
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(f"no sandbox is known for {sys.platform}; " + NONE_FIX)
    if config.network and system_python() is None:
        raise SandboxUnavailable(
            "[sandbox] network needs the system's python3 under /usr (it bridges the "
            "sandbox to the worker's filtering proxy). Fix: install it (`apt-get install "
            "python3-minimal`), empty [sandbox] network, or " + NONE_FIX
        )
    problem = await asyncio.to_thread(_self_test)
    if problem:
        raise SandboxUnavailable(problem)
    return ""


def _limits(
    spec: Spec, bounded_by_cgroup: bool, forwarder: bool = False, file_cap: bool = False
) -> str:
    """Shell `ulimit`s applied inside, before the command (hard limits: it cannot raise them);
    with `forwarder`, the proxy bridge (python "$2", code "$3") is started after them; with
    `file_cap` (macOS, whose temporary directory is on disk), no file grows past `tmp_mb`."""
    cfg = spec.config
    parts = [
        "ulimit -c 0",
        f"ulimit -t {math.ceil(spec.timeout_s) + 5}",
        f"ulimit -d {cfg.memory_mb * 1024}",
    ]
    if file_cap:  # bash counts KiB, a POSIX sh 512-byte blocks
        parts.append(f"ulimit -f {cfg.tmp_mb * (1024 if _shell().endswith('bash') else 2048)}")
    if not bounded_by_cgroup and os.geteuid() != 0:
        # RLIMIT_NPROC counts every task of this uid on the host, the worker's included.
        flag = "-u" if _shell().endswith("bash") else "-p"  # dash calls it -p
        parts.append(f"ulimit {flag} {linux.tasks_of_user(os.geteuid()) + cfg.max_processes}")
    if forwarder:
        parts.append(f'"$2" -I -c "$3" {linux.PROXY_PORT} {linux.PROXY_SOCKET}')
    return " && ".join(parts) + ' && exec "$0" -c "$1"'


async def _start_proxy(spec: Spec, tmp: Path) -> FilteringProxy | None:
    """The command's filtering proxy when `[sandbox] network` lists destinations:
    a unix socket for bubblewrap's bind, a loopback port for sandbox-exec."""
    if spec.config.mode == "none" or not spec.config.network:
        return None
    proxy = FilteringProxy(spec.config)
    if sys.platform == "darwin":
        await proxy.listen_tcp()
    else:
        await proxy.listen_unix(tmp / "proxy.sock")
    return proxy


def _check_read_only(spec: Spec) -> None:
    """`[sandbox] read_only` is checked again where the command runs (homes, the repository
    and ORCHESTRATOR_HOME are this host's): a bind that would show them is refused."""
    if spec.config.mode == "none":
        return
    problems = read_only_problems(spec.config.read_only, spec.workdir)
    if problems:
        raise SandboxUnavailable(f"orchestrator.toml: {'; '.join(problems)}. {READ_ONLY_FIX}")


def _argv(
    spec: Spec, tmp: Path, info_fd: int, proxy: FilteringProxy | None = None
) -> tuple[list[str], dict[str, str], Path | None]:
    """The launcher's argv and environment, and the command's cgroup (if any)."""
    cfg = spec.config
    read_only = [*map(Path, cfg.read_only), *spec.read_only]
    if cfg.mode == "none":
        inner = [_shell(), "-c", _limits(spec, False), _shell(), spec.command]
        return inner, environment(spec.path_first, str(tmp)), None
    if sys.platform == "darwin":
        inner = [_shell(), "-c", _limits(spec, False, file_cap=True), _shell(), spec.command]
        port = proxy.port if proxy is not None else None
        rules = macos.profile(spec.workdir, tmp, read_only=read_only, proxy_port=port)
        env = environment(spec.path_first, str(tmp), port) | {"TMPDIR": str(tmp)}
        return ["sandbox-exec", "-p", rules, *inner], env, None
    group = linux.new_pids_cgroup(cfg.max_processes)
    script = _limits(spec, group is not None, forwarder=proxy is not None)
    inner = [_shell(), "-c", script, _shell(), spec.command]
    if proxy is not None:
        inner += [system_python() or "python3", FORWARDER.read_text(encoding="utf-8")]
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = linux.bwrap_argv(
        bwrap,
        spec.workdir,
        read_only=read_only,
        hidden=list(spec.hidden),
        tmp_mb=cfg.tmp_mb,
        proxy_socket=tmp / "proxy.sock" if proxy is not None else None,
    )
    argv = [*argv, "--info-fd", str(info_fd), "--", *inner]
    if group is not None:
        join = 'echo $$ > "$0" && exec "$@"'
        argv = ["/bin/sh", "-c", join, str(group / "cgroup.procs"), *argv]
    port = linux.PROXY_PORT if proxy is not None else None
    return argv, environment(spec.path_first, linux.SANDBOX_HOME, port), group


async def run(
    spec: Spec,
    log_path: Path,
    *,
    header: str = "",
    tick: Callable[[], None] | None = None,
    tick_s: float = 5.0,
) -> Outcome:
    """Run `spec` to its end (or its timeout), its output streamed into `log_path`.

    The log keeps the first `output_limit_bytes` and the last 256 KiB of output;
    memory use does not grow with the output. `tick` is called every `tick_s`
    while the command runs (heartbeats). Cancelling kills every process.
    """
    notice = await ensure_available(spec.config, warn=False)
    _check_read_only(spec)
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="sandbox-"))
        # The proxy lives exactly as long as the command: started first, closed last.
        proxy = await _start_proxy(spec, Path(tmp))
        if proxy is not None:
            stack.push_async_callback(proxy.close)
        info_read, info_write = os.pipe()
        argv, env, group = _argv(spec, Path(tmp), info_write, proxy)
        # Only bubblewrap gets the pipe: an unconfined command's children must not hold it.
        bwrap = spec.config.mode != "none" and sys.platform != "darwin"
        try:
            with log_path.open("wb") as out:
                if header:
                    out.write(header.encode())
                try:
                    proc = await asyncio.create_subprocess_exec(
                        *argv,
                        cwd=spec.workdir,
                        env=env,
                        stdin=asyncio.subprocess.DEVNULL,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.STDOUT,
                        start_new_session=True,  # one process group to kill from outside
                        pass_fds=(info_write,) if bwrap else (),
                    )
                finally:
                    os.close(info_write)
                init_pid = _sandbox_pid(info_read) if bwrap else _no_pid()
                sandbox = Sandbox(proc, asyncio.ensure_future(init_pid))
                exit_code, timed_out, size = await _supervise(
                    sandbox, out, spec, tick, tick_s, started
                )
                if proxy is not None:
                    out.write(proxy.notes().encode())
        finally:
            os.close(info_read)
            await _remove_cgroup(group)
    return Outcome(
        exit_code=exit_code,
        timed_out=timed_out,
        output_bytes=size,
        log_path=log_path,
        notice=notice,
        duration_s=round(time.monotonic() - started, 3),
    )


@dataclass
class Sandbox:
    """The launcher, and (from bwrap's --info-fd) the host pid of the sandbox's init."""

    proc: asyncio.subprocess.Process
    init_pid: asyncio.Future[int | None]

    async def kill(self) -> None:
        """SIGKILL the launcher's group and the sandbox's init (which takes every process
        of its PID namespace with it), reap, and wait until the namespace is gone."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        pid = await self._init_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        await _bounded(self.proc.wait())
        await self.gone()

    async def gone(self) -> None:
        """Wait (boundedly) until the sandbox's init, and so all its processes, ended."""
        pid = await self._init_pid()
        if pid is None:
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # already gone
            return
        ended = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, ended.set)  # a pidfd turns readable when its process ends
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), KILL_WAIT_S)
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    async def _init_pid(self) -> int | None:
        done, _ = await asyncio.wait({self.init_pid}, timeout=KILL_WAIT_S)
        return self.init_pid.result() if done and not self.init_pid.cancelled() else None


async def _no_pid() -> None:
    """Unconfined or on macOS there is no PID namespace to wait for."""
    return None


async def _sandbox_pid(fd: int) -> int | None:
    """bwrap writes `{"child-pid": N}` to --info-fd once the sandbox exists."""

    def read() -> int | None:
        data = b""
        while b"}" not in data:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        try:
            return int(json.loads(data.decode())["child-pid"])
        except (ValueError, KeyError, TypeError):
            return None  # no bwrap (mode "none", macOS) or it failed to start

    return await asyncio.to_thread(read)


async def _supervise(
    sandbox: Sandbox,
    out: BinaryIO,
    spec: Spec,
    tick: Callable[[], None] | None,
    tick_s: float,
    started: float,
) -> tuple[int | None, bool, int]:
    proc = sandbox.proc
    write = out.write
    limit = spec.config.output_limit_bytes
    keep_tail = min(TAIL_BYTES, limit // 2)
    reader = asyncio.ensure_future(read_all(proc, write, limit - keep_tail, keep_tail))
    waiter = asyncio.ensure_future(proc.wait())
    deadline = started + spec.timeout_s
    timed_out = False
    try:
        while not waiter.done():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                await sandbox.kill()
                break
            await asyncio.wait({waiter}, timeout=min(tick_s, left))
            if tick is not None and not waiter.done():
                tick()
        # The command's end ends the sandbox (its PID namespace): nothing holds the pipe.
        # Unconfined (mode "none") a detached child could: its group is killed.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await sandbox.gone()
        done, _ = await asyncio.wait({reader}, timeout=KILL_WAIT_S)
        if not done:
            reader.cancel()
    except asyncio.CancelledError:
        reader.cancel()
        await sandbox.kill()
        raise
    finished = reader.done() and not reader.cancelled()
    written, kept_tail, total = reader.result() if finished else (0, [], 0)
    end = b"".join(kept_tail)[-keep_tail:] if keep_tail else b""
    cut = total - written - len(end)
    if cut > 0:
        write(f"\n... [{cut} bytes of output cut; the command printed {total}] ...\n".encode())
    write(end)
    if timed_out:
        write(f"\n[timed out after {spec.timeout_s:g}s and killed]\n".encode())
    return (None if timed_out else proc.returncode), timed_out, total


async def read_all(
    proc: asyncio.subprocess.Process,
    write: Callable[[bytes], object],
    keep_head: int,
    keep_tail: int,
) -> tuple[int, list[bytes], int]:
    """Stream stdout: the head goes to the file, a bounded tail stays in memory."""
    assert proc.stdout is not None
    written = total = tail_size = 0
    tail: collections.deque[bytes] = collections.deque()
    while data := await proc.stdout.read(CHUNK):
        total += len(data)
        if written < keep_head:
            part = data[: keep_head - written]
            write(part)
            written += len(part)
            data = data[len(part) :]
        if data:
            tail.append(data)
            tail_size += len(data)
            while tail and tail_size - len(tail[0]) >= keep_tail:
                tail_size -= len(tail.popleft())
    return written, list(tail), total


async def _remove_cgroup(group: Path | None) -> None:
    """The cgroup goes once its last task (the sandbox's init, a zombie until reaped) has."""
    for _ in range(100):  # 5 s at most: a reparented zombie init is reaped by then
        if linux.remove_cgroup(group):
            return
        await asyncio.sleep(0.05)
    log.warning("sandbox: cgroup %s still has tasks; left in place", group)


async def _bounded(step: Awaitable[object]) -> None:
    """Await `step` for at most KILL_WAIT_S, even through a second cancellation."""
    waiting = asyncio.ensure_future(step)
    deadline = time.monotonic() + KILL_WAIT_S
    while not waiting.done() and time.monotonic() < deadline:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({waiting}, timeout=max(0.0, deadline - time.monotonic()))
