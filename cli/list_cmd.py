"""`orchestrator list [--waiting]`: the loops on the server, across repositories.

Read from the server's visibility store through the loops' search attributes
(contracts/search_attributes.py), so it needs no worker and no design directory:
the same answer as `temporal workflow list --query 'OrchestratorWaitingFor="person"'`
and the Web UI give.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from temporalio.client import WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from cli import verbs
from cli.common import NO_EMBEDDED_HELP, CliError, client_for
from cli.views import table
from contracts.search_attributes import (
    COST_USD,
    FEATURE,
    PHASE,
    REPO,
    WAITING_FOR,
    create_commands,
    waiting_query,
)
from runtime.client import settings_from_env

LOOP_TYPES = (
    "DesignReviewWorkflow",
    "BuildWorkflow",
    "SubtaskWorkflow",
    "IntegrationWorkflow",
    "ReleaseWorkflow",
)
LIMIT = 1000


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = verbs.add_parser(sub, "list")
    p.add_argument("--waiting", action="store_true", help="only the loops that wait for a person")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-embedded", action="store_true", help=NO_EMBEDDED_HELP)
    p.set_defaults(run=list_loops)


def query(waiting: bool) -> str:
    types = ", ".join(f"'{t}'" for t in LOOP_TYPES)
    q = f"ExecutionStatus = 'Running' AND WorkflowType IN ({types})"
    return f"{q} AND {waiting_query()}" if waiting else q


def row(wf: WorkflowExecution) -> dict[str, Any]:
    attrs = wf.typed_search_attributes
    return {
        "workflow_id": wf.id,
        "loop": wf.workflow_type,
        "feature": attrs.get(FEATURE),
        "repo": attrs.get(REPO),
        "phase": attrs.get(PHASE),
        "waiting_for": attrs.get(WAITING_FOR),
        "cost_usd": attrs.get(COST_USD),
    }


async def list_loops(args: argparse.Namespace) -> int:
    client = await client_for(not args.no_embedded, need_worker=False)
    try:
        found = [row(wf) async for wf in client.list_workflows(query(args.waiting), limit=LIMIT)]
    except RPCError as err:
        if err.status != RPCStatusCode.INVALID_ARGUMENT:
            raise
        conn = settings_from_env()
        fix = " && ".join(create_commands([WAITING_FOR.name], conn.namespace, conn.address))
        raise CliError(
            f"the server at {conn.address} cannot filter on {WAITING_FOR.name} ({err.message}). "
            f"Fix: register the loops' search attributes: {fix} (docs/operations.md)"
        ) from None
    found.sort(key=lambda r: (r["repo"] or "", r["feature"] or "", r["workflow_id"]))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print("No loop waits for a person." if args.waiting else "No loop is running.")
        return 0
    print(
        table(
            ["workflow", "repository", "phase", "waiting for", "cost"], [_cells(r) for r in found]
        )
    )
    return 0


def _cells(r: dict[str, Any]) -> list[str]:
    cost = r["cost_usd"]
    return [
        r["workflow_id"],
        r["repo"] or "-",
        r["phase"] or "-",
        r["waiting_for"] or "-",
        f"${cost:.2f}" if cost is not None else "-",
    ]
