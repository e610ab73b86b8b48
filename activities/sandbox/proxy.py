"""The filtering HTTP/HTTPS proxy a sandboxed command reaches the network through.

The sandbox keeps its own, empty network namespace; this proxy runs in the
worker, outside it, for the lifetime of one command, and connects only to the
destinations `[sandbox] network` lists (a bare name: its ports 80 and 443; a
`host:port`: that port). HTTPS goes through `CONNECT host:port`, so the proxy
sees the name, not an address, and the sandbox needs no DNS. Plain HTTP comes in
absolute form (`GET http://host/path`) and is sent on as one request. Anything
else is answered `403` with the reason in the status line (what pip, uv, curl
and git print), and each refusal is noted for the command's log.

It listens on a unix socket bound into the sandbox (Linux: a forwarder inside
bridges a loopback port to it) or on a loopback TCP port (macOS, where the
profile lets the command reach only that port). The design follows Anthropic's
sandbox-runtime (`srt`): proxy outside, socket bridged in, proxy variables set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from activities.sandbox.forwarder import pump
from contracts.sandbox import SandboxConfig

log = logging.getLogger(__name__)

HEAD_LIMIT = 64 * 1024  # a request head larger than this is refused
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 30.0
HOP_HEADERS = {b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive"}


class Refused(Exception):
    """A request the proxy will not pass on: (HTTP status, reason shown to the client)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class FilteringProxy:
    """One command's proxy: where it listens, and what it refused (for the command's log)."""

    config: SandboxConfig
    refused: list[str] = field(default_factory=list)
    port: int | None = None  # the TCP port when listening on loopback (macOS)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def listen_unix(self, path: Path) -> None:
        self._server = await asyncio.start_unix_server(self._accept, path=str(path))

    async def listen_tcp(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and cut every tunnel: the proxy lives only as long as the command."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def notes(self) -> str:
        """What the command's log says about refused destinations (empty when none)."""
        if not self.refused:
            return ""
        listed = ", ".join(self.config.network)
        lines = [f"[sandbox proxy] refused {r}" for r in dict.fromkeys(self.refused)]
        lines.append(
            f"[sandbox proxy] only these destinations are open: {listed}. Fix: add the host "
            "(or host:port) to `[sandbox] network` in orchestrator.toml if the project needs it"
        )
        return "\n" + "\n".join(lines) + "\n"

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_w: asyncio.StreamWriter | None = None
        try:
            try:
                head = await asyncio.wait_for(_read_head(client_r), HEAD_TIMEOUT_S)
                method, target, version, headers = _parse(head)
                host, port, first = self._destination(method, target, version, headers)
                try:
                    upstream_r, upstream_w = await asyncio.wait_for(
                        asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
                    )
                except (OSError, TimeoutError) as exc:
                    raise Refused(502, f"cannot reach {host}:{port} ({exc})") from exc
            except Refused as refusal:
                await _answer(client_w, refusal.status, refusal.reason)
                return
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                await _answer(client_w, 400, "incomplete or oversized request head")
                return
            assert upstream_w is not None  # connected, or answered and returned above
            if method == b"CONNECT":
                client_w.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            else:
                upstream_w.write(first)
            await asyncio.gather(
                pump(client_r, upstream_w), pump(upstream_r, client_w), return_exceptions=True
            )
        finally:
            for writer in (client_w, upstream_w):
                if writer is not None:
                    writer.close()

    def _destination(
        self, method: bytes, target: bytes, version: bytes, headers: list[bytes]
    ) -> tuple[str, int, bytes]:
        """Where the request goes, if it may, and what to send first (plain HTTP only)."""
        text = target.decode("latin-1")
        if method == b"CONNECT":
            host, port = _split_host_port(text, default=None)
            first = b""
        else:
            url = urllib.parse.urlsplit(text)
            if url.scheme != "http" or not url.hostname:
                raise Refused(
                    400,
                    "send HTTPS through CONNECT and HTTP in absolute form "
                    f"(got {method.decode('latin-1')} {text[:200]})",
                )
            host, port = _split_host_port(url.netloc.rpartition("@")[2], default=80)
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            kept = [h for h in headers if h.split(b":", 1)[0].strip().lower() not in HOP_HEADERS]
            lines = [b" ".join([method, path.encode("latin-1"), version]), *kept]
            first = b"\r\n".join([*lines, b"Connection: close", b"", b""])
        if not self.config.allows(host, port):
            self.refused.append(f"{host}:{port}")
            log.info("sandbox proxy: refused %s:%s (not in [sandbox] network)", host, port)
            raise Refused(403, f"{host}:{port} is not in [sandbox] network")
        return host, port, first


def _split_host_port(text: str, default: int | None) -> tuple[str, int]:
    """`host:port` or `[v6]:port`; `default` when no port is given (None: one is needed)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = text.partition(":")
    if not port:
        if default is None:
            raise Refused(400, f"CONNECT needs host:port (got {text[:200]})")
        return host.lower(), default
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise Refused(400, f"bad port in {text[:200]}")
    return host.lower(), int(port)


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > HEAD_LIMIT:
        raise asyncio.LimitOverrunError("request head too large", len(head))
    return head


def _parse(head: bytes) -> tuple[bytes, bytes, bytes, list[bytes]]:
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        raise Refused(400, "not an HTTP request")
    return parts[0].upper(), parts[1], parts[2], lines[1:]


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    reason = reason.replace("\r", " ").replace("\n", " ")
    body = f"orchestrator sandbox proxy: {reason}\n".encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(OSError):
        await writer.drain()
