"""Command lines whose mistake is in their surroundings: the environment, the pipe, a file
only another user could read. Each runs `orchestrator` as its own process, as a person
does, and must end with one line that says what is wrong and the fix: exit 2, no
traceback, nothing written. (These crashed with a traceback or said the wrong thing.)
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.server import DevServer, free_port
from tests.badinput.support import git, make_repo, snapshot, write
from tests.conftest import REPO_ROOT

# Root reads any file: a command meant to meet an unreadable one runs without the
# capabilities that let it (a non-root user needs no such help).
AS_A_USER = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
)


def orchestrator(
    *args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None, **kw: object
) -> subprocess.CompletedProcess[str]:
    # Nothing answers at this address unless a case says otherwise.
    environ = {**os.environ, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}", **(env or {})}
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "starter", *args],
        cwd=REPO_ROOT,
        env=environ,
        capture_output="stdout" not in kw,
        text=True,
        timeout=120,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


def one_line(done: subprocess.CompletedProcess[str], *said: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for part in said:
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that got past its refusal must not touch the person's ~/.orchestrator."""
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "orchestrator-home"))


@pytest.fixture
def design(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    design = make_repo(root)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    return design


@pytest.fixture
def http_server() -> Iterator[str]:
    """Something at an address that is not Temporal: a plain HTTP server."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_address_with_a_scheme_is_told_to_drop_it(design: Path) -> None:
    done = orchestrator("status", str(design), env={"TEMPORAL_ADDRESS": "http://localhost:7233"})
    one_line(
        done,
        "TEMPORAL_ADDRESS 'http://localhost:7233' has a scheme (http://)",
        "Fix: drop the scheme: TEMPORAL_ADDRESS=localhost:7233",
    )


@pytest.mark.parametrize("verb", ["status", "worker"])
def test_an_address_that_is_not_temporal_says_what_answered(
    design: Path, http_server: str, verb: str
) -> None:
    args = ["worker", "--no-embedded"] if verb == "worker" else ["status", str(design)]
    done = orchestrator(*args, env={"TEMPORAL_ADDRESS": http_server})
    one_line(
        done,
        f"TEMPORAL_ADDRESS {http_server}: an HTTP server answered (HTTP/1.0 200 OK)",
        "not a Temporal server's gRPC frontend",
        "Fix: point TEMPORAL_ADDRESS at the Temporal server",
    )


def test_an_orchestrator_home_that_is_a_file_is_named(design: Path, tmp_path: Path) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a directory\n")
    before = snapshot(tmp_path)
    done = orchestrator("status", str(design), env={"ORCHESTRATOR_HOME": str(home)})
    one_line(
        done,
        f"ORCHESTRATOR_HOME {home} cannot hold the orchestrator's local state: it is a file",
        "Fix: point ORCHESTRATOR_HOME at a directory",
    )
    assert snapshot(tmp_path) == before


def test_a_reader_that_stops_reading_is_no_crash(design: Path) -> None:
    """`orchestrator plan <dir> | head -1`: the pipe closes before the plan is printed."""
    read, write_end = os.pipe()
    os.close(read)
    try:
        done = orchestrator("plan", str(design), stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr  # as a process ended by SIGPIPE
    assert done.stderr == "", done.stderr


@pytest.mark.skipif(os.geteuid() == 0 and not Path("/usr/bin/setpriv").exists(), reason="setpriv")
@pytest.mark.parametrize(
    ("verb", "rel"),
    [
        ("plan", "orchestrator.toml"),
        ("design", "orchestrator.toml"),
        ("design", ".orchestrator/agents/security.md"),
    ],
)
def test_an_unreadable_config_is_said_to_be_unreadable(design: Path, verb: str, rel: str) -> None:
    """It was told to commit the file: git saw it as changed because it could not read it."""
    root = design.parents[2]
    write(root / "orchestrator.toml", '[reviewers]\ncode = ["security"]\n')
    role = "---\nname: security\ndescription: x\n---\nReview.\n"
    write(root / ".orchestrator/agents/security.md", role)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "config")
    (root / rel).chmod(0)
    try:
        done = orchestrator(verb, str(design), "--no-embedded", prefix=AS_A_USER)
    finally:
        (root / rel).chmod(0o644)
    one_line(
        done,
        f"{root}/{rel}: is unreadable (Permission denied)",
        "Fix: make it readable by the user running the orchestrator",
    )
    assert "commit" not in done.stderr


def test_an_address_with_a_port_past_65535_is_refused(design: Path) -> None:
    """It was taken for a local address with no server, and the embedded server was started
    on port 99999 (its own error, three lines, and a log in ORCHESTRATOR_HOME)."""
    done = orchestrator("status", str(design), env={"TEMPORAL_ADDRESS": "localhost:99999"})
    one_line(done, "TEMPORAL_ADDRESS 'localhost:99999' is not host:port (a port from 1 to 65535)")


def test_a_namespace_the_server_does_not_have_is_named(
    design: Path, temporal_server: DevServer
) -> None:
    """It read as "nothing has run for <dir>": every call answered "not found"."""
    env = {"TEMPORAL_ADDRESS": temporal_server.address, "TEMPORAL_NAMESPACE": "no-such-space"}
    done = orchestrator("status", str(design), "--no-embedded", env=env)
    one_line(
        done,
        "TEMPORAL_NAMESPACE 'no-such-space' does not exist on the server at",
        "Fix: set TEMPORAL_NAMESPACE to an existing one",
    )
