"""The embedded server's start survives a port race: `temporal server start-dev` chooses
its internal services' ports itself (a free port, bound a moment later), and another
process may take one in between; the server then dies at once with "address already in
use". Starting again picks other ports. A port the person asked for is theirs to fix."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from runtime import server as runtime_server
from runtime.server import ServerError, free_port, is_serving, start_dev_server

TAKEN = (
    'time=2026-12-07T13:48:14.650 level=ERROR msg="Failed to start gRPC listener" '
    'error="listen tcp 127.0.0.1:{port}: bind: address already in use" service=matching'
)


def racing_binary(tmp_path: Path, real: str, losses: int) -> Path:
    """A `temporal` whose `server start-dev` loses the race `losses` times (as the real one
    does: the log line, exit 1), then is the real binary."""
    script = tmp_path / "temporal"
    count = tmp_path / "starts"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in *start-dev*) ;; *) exec "' + real + '" "$@" ;; esac\n'
        f'echo x >> "{count}"\n'
        f'if [ "$(wc -l < "{count}")" -le {losses} ]; then\n'
        f"  echo '{TAKEN.format(port=free_port())}'\n  exit 1\nfi\n"
        f'exec "{real}" "$@"\n'
    )
    script.chmod(0o755)
    return script


def test_a_start_that_lost_an_internal_port_starts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runtime_server.temporal_binary()
    fake = racing_binary(tmp_path, real, losses=1)
    monkeypatch.setattr(runtime_server, "temporal_binary", lambda name="temporal": str(fake))
    log = tmp_path / "server.log"
    server = start_dev_server(
        port=free_port(), ui_port=free_port(), detach=False, log_path=log, headless=True
    )
    try:
        assert is_serving(server.address)
        assert (tmp_path / "starts").read_text().count("x") == 2
        assert "address already in use" in log.read_text()  # the log keeps the lost race
    finally:
        server.stop()


def test_a_race_lost_every_time_or_a_taken_port_of_ours_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = racing_binary(tmp_path, runtime_server.temporal_binary(), losses=99)
    monkeypatch.setattr(runtime_server, "temporal_binary", lambda name="temporal": str(fake))
    with pytest.raises(ServerError, match="address already in use"):
        start_dev_server(port=free_port(), detach=False, log_path=tmp_path / "a.log")
    assert (tmp_path / "starts").read_text().count("x") == runtime_server.START_ATTEMPTS

    # The frontend port the person chose is taken: said at once, not tried again.
    monkeypatch.undo()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        log = tmp_path / "b.log"
        with pytest.raises(ServerError, match=f"127.0.0.1:{port}") as err:
            start_dev_server(port=port, ui_port=free_port(), detach=False, log_path=log)
        assert "exited early" in str(err.value) or "did not answer" in str(err.value)
