"""Connecting to Temporal with the project's data converter."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from runtime import tracing
from runtime.server import (
    DEFAULT_ADDRESS,
    DEFAULT_UI_PORT,
    ServerError,
    ensure_server,
    split_address,
)


@dataclass(frozen=True)
class Connection:
    address: str
    namespace: str

    @property
    def ui_url(self) -> str:
        host, _, port = self.address.rpartition(":")
        if host in ("localhost", "127.0.0.1") and port.isdigit():
            return f"http://localhost:{int(port) + 1000}/namespaces/{self.namespace}/workflows"
        return os.environ.get("TEMPORAL_UI_URL", "")


def settings_from_env() -> Connection:
    return Connection(
        address=os.environ.get("TEMPORAL_ADDRESS", DEFAULT_ADDRESS),
        namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
    )


async def connect(embedded: bool = True, conn: Connection | None = None) -> Client:
    """Connect to TEMPORAL_ADDRESS, starting the embedded server when allowed."""
    conn = conn or settings_from_env()
    ensure_server(conn.address, conn.namespace, embedded=embedded)
    return await open_client(conn)


async def open_client(conn: Connection, **options: Any) -> Client:
    """The client, or a ServerError saying what answered at the address when Temporal did
    not (the SDK's own error is a Rust transport message in a traceback)."""
    traced = tracing.interceptors()  # none unless OTEL_EXPORTER_OTLP_ENDPOINT is set
    try:
        client = await Client.connect(
            conn.address,
            namespace=conn.namespace,
            data_converter=pydantic_data_converter,
            interceptors=traced,
            **options,
        )
    except RuntimeError as err:
        said = str(err).splitlines()[0][:200]
        answered = await asyncio.to_thread(what_answers, conn.address)
        raise ServerError(
            f"TEMPORAL_ADDRESS {conn.address}: {answered}, "
            f"not a Temporal server's gRPC frontend (the client said: {said}). Fix: point "
            "TEMPORAL_ADDRESS at the Temporal server (host:port of its frontend; the embedded "
            f"one's is {DEFAULT_ADDRESS}, and {DEFAULT_UI_PORT} is its Web UI), or unset it"
        ) from None
    await _namespace_exists(client, conn)
    return client


async def _namespace_exists(client: Client, conn: Connection) -> None:
    """A namespace the server does not have: every later call would say "not found", which
    the CLI reads as "no loop ran here"."""
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=conn.namespace)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise ServerError(
            f"TEMPORAL_NAMESPACE {conn.namespace!r} does not exist on the server at "
            f"{conn.address}. Fix: set TEMPORAL_NAMESPACE to an existing one (`temporal "
            "operator namespace list`), create it (`temporal operator namespace create "
            f"--namespace {conn.namespace}`), or unset it for default"
        ) from None


def what_answers(address: str) -> str:
    """A look at whatever listens at `address`: the first line it answers an HTTP request with."""
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            sock.settimeout(3)
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = sock.recv(512)
    except TimeoutError:
        return "something accepted the connection and said nothing"
    except OSError as err:
        return f"nothing could be reached ({err.strerror or err})"
    if not data:
        return "something accepted the connection and closed it without a word"
    first = data.split(b"\r\n", 1)[0].decode("latin-1")
    if data.startswith(b"HTTP/"):
        return f"an HTTP server answered ({first[:80]})"
    if data[3:4] == b"\x04" or data.startswith(b"\x00\x00"):  # an HTTP/2 SETTINGS frame
        return "an HTTP/2 (gRPC) server answered, but not as Temporal does"
    return f"something that is not Temporal answered ({first[:60]!r})"
