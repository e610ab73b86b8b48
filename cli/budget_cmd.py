"""`orchestrator budget <dir>`: what the loops spend, and how full each live agent's context is.

Three sources, each the one that knows. The running agents' heartbeats
(cli/live_agents.py: role, scope, turn, the context's tokens and the model's window).
The loops' ledgers: the `metrics` query (tokens and cost per role, failed calls included), and
the build's `status` for its budget limits. The token log in the design directory:
one row per answered model request (docs/design-directory.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)

from cli import queues
from cli.common import add_verb, client_for, worker_for
from cli.live_agents import as_json, live_agents, live_view
from cli.loop_classes import LOOP_CLASSES, BuildWorkflow
from cli.loop_cmds import existing_loops, query_or_none
from cli.views import table
from contracts.agents import Usage
from contracts.build import BuildStatus
from contracts.metrics import Metrics
from contracts.telemetry import LiveAgent, TokenRow, parse_rows, token_log_path
from contracts.version import TASK_QUEUE


def add_parsers(sub: argparse._SubParsersAction) -> None:
    add_verb(
        sub,
        "budget",
        budget,
        ("--json", {"action": "store_true", "help": "machine-readable output"}),
    )


def token_log_summary(design_dir: str) -> dict[str, Any]:
    """The token log's rows added up per role (turns = answered requests)."""
    path = token_log_path(os.path.abspath(design_dir))
    try:
        rows = parse_rows(Path(path).read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        rows = []
    return {"path": path, "turns": len(rows), **_added(rows)}


def _added(rows: list[TokenRow]) -> dict[str, Any]:
    by_role: dict[str, Usage] = {}
    for row in rows:
        by_role[row.role] = by_role.get(row.role, Usage()) + row.usage()
    total = sum(by_role.values(), Usage())
    return {"total": total, "by_role": by_role}


async def loop_budget(
    client: Client,
    kind: str,
    handle: WorkflowHandle,
    desc: WorkflowExecutionDescription,
    args: argparse.Namespace,
    stack: contextlib.AsyncExitStack,
) -> dict[str, Any]:
    """One loop: its live agents, its ledger, and the build's limits."""
    running = desc.status == WorkflowExecutionStatus.RUNNING
    out: dict[str, Any] = {
        "workflow_id": handle.id,
        "status": desc.status.name if desc.status else "UNKNOWN",
        "live": await live_agents(client, handle) if running else [],
    }
    if desc.task_queue == TASK_QUEUE:
        await worker_for(client, not args.no_embedded)  # the ledger is a query
    unserved = await queues.serve_queries(client, desc, stack)
    metrics = None if unserved else await query_or_none(handle, LOOP_CLASSES[kind].metrics)
    out["ledger"] = metrics
    if metrics is None:
        out["unanswered"] = unserved or f"no worker answered the metrics query of {handle.id}"
    if kind == "build" and running and not unserved:
        st = await query_or_none(handle, BuildWorkflow.status)
        if isinstance(st, BuildStatus):
            out["limits"] = {
                "max_cost_usd": st.max_cost_usd,
                "max_tokens": st.max_tokens,
                "budget_tokens": st.budget_tokens,
                "held": st.phase == "budget",
            }
    return out


async def budget(args: argparse.Namespace) -> int:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    out: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        for kind, handle, desc in await existing_loops(client, args.design_dir):
            out[kind] = await loop_budget(client, kind, handle, desc, args, stack)
    out["token_log"] = await asyncio.to_thread(token_log_summary, args.design_dir)
    if args.json:
        print(json.dumps(_jsonable(out), indent=2))
    else:
        print(budget_view(out))
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, LiveAgent):
        return as_json(value)
    if isinstance(value, Metrics | Usage):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def roles_view(by_role: dict[str, Usage]) -> str:
    return table(
        ["role", "tokens", "input", "output", "cache read", "cache write", "cost USD"],
        [
            [
                role,
                f"{u.total_tokens:,}",
                f"{u.input_tokens:,}",
                f"{u.output_tokens:,}",
                f"{u.cache_read_input_tokens:,}",
                f"{u.cache_creation_input_tokens:,}",
                f"{u.cost_usd:.4f}",
            ]
            for role, u in sorted(by_role.items())
        ],
    )


def limits_line(limits: dict[str, Any]) -> str:
    cost, tokens = limits["max_cost_usd"], limits["max_tokens"]
    if cost is None and tokens is None:
        return "Budget: no limit ([budget] in orchestrator.toml, or build --max-cost-usd)"
    parts = [f"${cost:.2f}" if cost is not None else "", f"{tokens:,} tokens" if tokens else ""]
    said = " and ".join(p for p in parts if p)
    used = f"{limits['budget_tokens']:,} tokens weighed by price"
    return f"Budget: {said}; used {used}" + ("; HELD at the limit" if limits["held"] else "")


def budget_view(out: dict[str, Any]) -> str:
    lines: list[str] = []
    for kind in ("design", "build", "release"):
        loop = out.get(kind)
        if loop is None:
            continue
        lines += [f"{kind} ({loop['workflow_id']}): {loop['status']}", live_view(loop["live"])]
        metrics: Metrics | None = loop["ledger"]
        if metrics is None:
            lines.append(f"Ledger: {loop['unanswered']}")
        else:
            t = metrics.total
            lines += [
                f"Ledger: {t.total_tokens:,} tokens in {metrics.agent_calls} agent calls; "
                f"cost ${t.cost_usd:.4f}",
                roles_view(metrics.by_role),
            ]
        if "limits" in loop:
            lines.append(limits_line(loop["limits"]))
        lines.append("")
    log = out["token_log"]
    t = log["total"]
    lines.append(
        f"Token log {log['path']}: {log['turns']} turns, {t.total_tokens:,} tokens, "
        f"cost ${t.cost_usd:.4f}"
    )
    return "\n".join(lines)
