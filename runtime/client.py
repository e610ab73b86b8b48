"""Connecting to Temporal with the project's data converter."""

from __future__ import annotations

import os
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from runtime.server import DEFAULT_ADDRESS, ensure_server

TASK_QUEUE = "orchestrator"


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
    return await Client.connect(
        conn.address, namespace=conn.namespace, data_converter=pydantic_data_converter
    )
