"""A real HTTPS git server for tests: `git http-backend` (CGI) behind a small TLS server.

It accepts only Basic auth whose password is the expected token (401 with
`WWW-Authenticate: Basic` otherwise) and records every Authorization header it
was sent, so a test can prove which credentials reached it.
"""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (one day), made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class GitHttpsServer:
    project_root: Path
    token: str
    port: int = 0
    cert: Path | None = None
    # Every Authorization header received, decoded ("user:password"), and request paths.
    credentials_seen: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def url(self, repo: str) -> str:
        return f"https://localhost:{self.port}/{repo}"


def _handler(server: GitHttpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            server.requests.append(f"{self.command} {self.path}")
            header = self.headers.get("Authorization", "")
            user = ""
            if header.startswith("Basic "):
                decoded = base64.b64decode(header[6:]).decode("utf-8", "replace")
                server.credentials_seen.append(decoded)
                user, _, password = decoded.partition(":")
                if password == server.token:
                    self._cgi(user)
                    return
            body = b"authentication required\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _cgi(self, user: str) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(server.project_root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull,
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": user,
                "REMOTE_ADDR": "127.0.0.1",
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            proc = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            status, headers = 200, []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def serve(project_root: Path, token: str, cert_dir: Path) -> Iterator[GitHttpsServer]:
    """Serve the bare repositories under `project_root` over HTTPS on 127.0.0.1."""
    cert, key = make_certificate(cert_dir)
    state = GitHttpsServer(project_root=project_root, token=token, cert=cert)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextmanager
def trusted(root: Path, token: str, tmp_path: Path, monkeypatch: Any) -> Iterator[GitHttpsServer]:
    """`serve`, with git told to trust its self-signed certificate (GIT_SSL_CAINFO)."""
    certs = tmp_path / "certs"
    certs.mkdir()
    with serve(root, token, certs) as srv:
        monkeypatch.setenv("GIT_SSL_CAINFO", str(srv.cert))
        yield srv


TOKEN = "ghp_test_token_1234567890abcdef"


@contextmanager
def origin_over_https(
    root: Path, origin: Path, tmp_path: Path, monkeypatch: Any
) -> Iterator[GitHttpsServer]:
    """`root`'s `origin` served over HTTPS (token TOKEN), where the bare repository's own
    hooks run: a local-path push would carry the orchestrator's `core.hooksPath=/dev/null`."""
    with trusted(origin.parent, TOKEN, tmp_path, monkeypatch) as srv:
        monkeypatch.delenv("GITHUB_API_URL", raising=False)
        subprocess.run(
            ["git", "remote", "set-url", "origin", srv.url(origin.name)], cwd=root, check=True
        )
        yield srv
