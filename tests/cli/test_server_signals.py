"""`orchestrator server` stopped the way services are stopped: SIGTERM and SIGHUP.

A real `orchestrator server` process with its own home and free ports; the test
signals only that process (not its group, as systemd or `kill <pid>` do), then
checks that its Temporal dev server child is gone and the port and the state
file are free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.server import free_port, is_listening, process_alive
from tests.conftest import REPO_ROOT
from tests.support import holders_of


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    found = children_of(pid)
    return found + [d for child in found for d in descendants(child)]


def wait_for(probe: object, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if probe():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_server_stops_its_dev_server_when_signalled(signum: int, tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    address = f"127.0.0.1:{port}"
    home = tmp_path / "home"
    env = {**os.environ, "TEMPORAL_ADDRESS": address, "ORCHESTRATOR_HOME": str(home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "starter", "server", "--ui-port", str(ui_port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the signal reaches this process only, not its child
    )
    dev: list[int] = []
    try:
        wait_for(lambda: is_listening(address), 90, "the dev server's port")
        dev = descendants(server.pid)
        assert dev, "orchestrator server has no dev server child"
        db = home / "temporal.db"
        wait_for(lambda: holders_of(db), 30, "the dev server to open its database")

        server.send_signal(signum)
        code = server.wait(timeout=60)
        _, err = server.communicate(timeout=10)
        assert code == 0, err.decode(errors="replace")
        assert "stopping the dev server" in err.decode(errors="replace")
        # Everything it started is gone (so nothing of ours listens on the port; the port
        # itself may already serve another test's server: the suite runs in parallel).
        assert [pid for pid in dev if process_alive(pid)] == []
        assert holders_of(db) == []
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for pid in dev:  # never leave a server behind, even when the test fails
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
