"""The agents running for a loop, as their heartbeats tell it: role, scope, turn, and how
full the conversation's context window is (`orchestrator budget`, `status`).

The server keeps the last heartbeat details of every pending activity, and `describe()`
returns them: no worker, no query. They are as fresh as the last heartbeat the worker
sent (it sends them at most every 0.8 heartbeat timeout, `[agents] heartbeat_timeout_s`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from cli.views import table
from contracts.telemetry import LiveAgent


async def live_agents(client: Client, handle: WorkflowHandle) -> list[LiveAgent]:
    """The agents running for a loop and the loops it started (a build's subtasks)."""
    try:
        desc = await handle.describe()
    except RPCError:
        return []  # closed meanwhile
    raw = desc.raw_description
    found = []
    for pending in raw.pending_activities:
        details = _details(client, pending.heartbeat_details.payloads)
        if "context_window" not in details:
            continue  # not an agent, or one that has not started its first turn
        fields = {k: v for k, v in details.items() if k in LiveAgent.model_fields}
        try:
            agent = LiveAgent(
                **fields,
                workflow_id=handle.id,
                activity=pending.activity_type.name,
                attempt=pending.attempt,
            )
        except ValidationError:
            continue  # details another version wrote
        found.append(agent)
    children = [c.workflow_id for c in raw.pending_children]
    for more in await asyncio.gather(
        *(live_agents(client, client.get_workflow_handle(c)) for c in children)
    ):
        found += more
    return found


def _details(client: Client, payloads: Any) -> dict[str, Any]:
    if not payloads:
        return {}
    try:
        values = client.data_converter.payload_converter.from_payloads(list(payloads))
    except Exception:  # details another version wrote: not ours to read
        return {}
    return values[0] if values and isinstance(values[0], dict) else {}


def as_json(agent: LiveAgent) -> dict[str, Any]:
    return {**agent.model_dump(mode="json"), "context_percent": round(agent.percent, 1)}


def live_view(agents: list[LiveAgent]) -> str:
    if not agents:
        return "No agent is running."
    return "Agents running (context fill as of their last heartbeat):\n" + table(
        ["agent", "scope", "turn", "context tokens / window", "fill", "phase"],
        [
            [
                a.role,
                a.scope,
                str(a.turn),
                f"{a.context_tokens:,} / {a.context_window:,}",
                f"{a.percent:.1f}%",
                a.phase,
            ]
            for a in agents
        ],
    )
