"""`[sandbox] network` opens the named destinations and nothing else.

Real bubblewrap, real sockets, the real gates activity on a real worker: a
local HTTP server stands in for the package index. A sandboxed command reaches
it through the worker's filtering proxy (plain HTTP as pip sends it, and a
CONNECT tunnel as pip and uv use for HTTPS); an unlisted destination, a listed
name on another port and the Temporal server are refused by the proxy with the
reason; connecting directly, without the proxy, reaches nothing.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.worker import Worker

from activities.gates import run_gates
from contracts.sandbox import SandboxConfig
from runtime.server import DevServer
from tests.agents.agent_workflow import AgentActivityProbe
from tests.agents.conftest import Runner, git

INDEX_BODY = "package-index-stand-in: pkg-1.0.tar.gz"


class Index(http.server.ThreadingHTTPServer):
    """A package index stand-in that records every request it received."""

    paths: list[str]


@pytest.fixture
def index() -> Iterator[Index]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert isinstance(self.server, Index)
            self.server.paths.append(self.path)
            body = INDEX_BODY.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = Index(("127.0.0.1", 0), Handler)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def fetch(url: str) -> str:
    """Plain HTTP through $HTTP_PROXY, as pip's and urllib's proxy handling sends it."""
    return (
        'python3 -c "import urllib.request as u, sys; '
        f"print(u.urlopen('{url}', timeout=10).read().decode())\""
    )


def tunnel(host: str, port: int) -> str:
    """A CONNECT tunnel through $HTTPS_PROXY (what pip and uv open for HTTPS), then a GET."""
    return (
        'python3 -c "import http.client as h, os, urllib.parse as p; '
        "proxy = p.urlsplit(os.environ['HTTPS_PROXY']); "
        "c = h.HTTPConnection(proxy.hostname, proxy.port, timeout=10); "
        f"c.set_tunnel('{host}', {port}); c.request('GET', '/simple/pkg/'); "
        'print(c.getresponse().read().decode())"'
    )


def direct(port: int, host: str = "127.0.0.1") -> str:
    return f"bash -c 'echo hi > /dev/tcp/{host}/{port}' && echo connected-$((40+2))"


async def test_named_destinations_only_through_the_proxy(
    repo: Path,
    tmp_path: Path,
    index: Index,
    temporal_server: DevServer,
    client: Client,
    task_queue: str,
) -> None:
    port = index.server_address[1]
    temporal_port = int(temporal_server.address.rsplit(":", 1)[1])
    git(repo, "worktree", "add", "-q", "-b", "feat/core", ".worktrees/core")
    commands = [
        fetch(f"http://localhost:{port}/simple/pkg/"),  # listed: reachable
        tunnel("localhost", port),  # listed: reachable through CONNECT
        tunnel("example.org", 443),  # not listed
        tunnel("pypi.org", 8080),  # listed name, but not on this port
        tunnel("localhost", temporal_port),  # the Temporal server, through the proxy
        fetch(f"http://127.0.0.1:{temporal_port}/"),
        direct(port),  # around the proxy: the sandbox has its own empty network
        direct(temporal_port),
        direct(443, "1.1.1.1"),
    ]
    async with Worker(
        client, task_queue=task_queue, workflows=[AgentActivityProbe], activities=[run_gates]
    ):
        result = await Runner(client, task_queue).run(
            "gates.run",
            {
                "workdir": str(repo / ".worktrees" / "core"),
                "commands": commands,
                "log_dir": str(tmp_path / "logs"),
                "timeout_s": 60,
                "sandbox": {"network": ["pypi.org", f"localhost:{port}"]},
            },
        )
    logs = [Path(r["log_path"]).read_text() for r in result["results"]]
    passed = [r["passed"] for r in result["results"]]
    assert passed == [True, True] + [False] * 7, logs
    assert INDEX_BODY in logs[0] and INDEX_BODY in logs[1]
    assert index.paths == ["/simple/pkg/", "/simple/pkg/"]  # nothing else reached it
    assert "403 example.org:443 is not in [sandbox] network" in logs[2]
    assert "403 pypi.org:8080 is not in [sandbox] network" in logs[3]
    assert f"403 localhost:{temporal_port} is not in [sandbox] network" in logs[4]
    assert f"127.0.0.1:{temporal_port} is not in [sandbox] network" in logs[5]
    for log in logs[2:6]:  # the log says what was refused and how to open it
        assert "[sandbox proxy] refused" in log and "orchestrator.toml" in log
    for log in logs[6:]:
        assert "connected-42" not in log  # the header echoes the command, not its result
    assert "Connection refused" in logs[6] and "Connection refused" in logs[7]
    assert "Network is unreachable" in logs[8]


async def test_without_network_there_is_no_proxy(
    repo: Path, tmp_path: Path, index: Index, client: Client, task_queue: str
) -> None:
    """The default (`network = []`): no proxy variables, no way out at all."""
    port = index.server_address[1]
    async with Worker(
        client, task_queue=task_queue, workflows=[AgentActivityProbe], activities=[run_gates]
    ):
        result = await Runner(client, task_queue).run(
            "gates.run",
            {
                "workdir": str(repo),
                "commands": ["env | grep -i _proxy || echo no-proxy", direct(port)],
                "log_dir": str(tmp_path / "logs"),
            },
        )
    logs = [Path(r["log_path"]).read_text() for r in result["results"]]
    assert "no-proxy" in logs[0]
    assert "Connection refused" in logs[1] and index.paths == []


def test_network_entries_are_host_names_or_host_and_port() -> None:
    config = SandboxConfig(network=["PyPI.org", "devpi.internal:3141", "pypi.org"])
    assert config.network == ["devpi.internal:3141", "pypi.org"]
    assert config.allows("pypi.org", 443) and config.allows("pypi.org", 80)
    assert not config.allows("pypi.org", 22) and not config.allows("files.pythonhosted.org", 443)
    assert config.allows("devpi.internal", 3141) and not config.allows("devpi.internal", 443)
    for bad, says in [
        ("https://pypi.org", "is not a host name or host:port"),
        ("pypi.org:http", "is not a host name or host:port"),
        ("pypi.org:70000", "is not a port number"),
    ]:
        with pytest.raises(ValidationError) as error:
            SandboxConfig(network=[bad])
        assert says in str(error.value) and 'network = ["pypi.org"' in str(error.value)
