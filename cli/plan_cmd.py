"""`orchestrator plan <design-dir>`: stages, critical path and conflicts for a person."""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from activities.plan import run_plan
from activities.plan.design_dir import PlanError
from activities.plan.render import format_plan_text
from cli import verbs
from cli.common import DIR_HELP, NO_EMBEDDED_HELP, CliError, check_config, client_for, feature_of
from contracts.plan import PlanRequest, PlanResult
from contracts.version import TASK_QUEUE


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(sub, "plan")
    p.add_argument("design_dir", metavar="<dir>", help=DIR_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--write", action="store_true", help="also write plan/dag.md, plan/batches.md")
    p.add_argument("--durable", action="store_true", help="run it as a Temporal workflow")
    p.add_argument("--no-embedded", action="store_true", help=NO_EMBEDDED_HELP)
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    # The loops read orchestrator.toml at their start: `plan` is where to hear about it first.
    await asyncio.to_thread(check_config, args.design_dir)
    if args.durable:
        client = await client_for(embedded=not args.no_embedded)
        from temporalio.common import WorkflowIDConflictPolicy

        from workflows.plan import PlanWorkflow

        result: PlanResult = await client.execute_workflow(
            PlanWorkflow.run,
            args=[PlanRequest(design_dir=os.path.abspath(args.design_dir), write=args.write)],
            id=f"plan-{feature_of(args.design_dir)}",
            task_queue=TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        plan = result.plan
        text = None
    else:
        try:
            doc, plan = run_plan(args.design_dir, write=args.write)
        except PlanError as err:
            raise CliError(str(err)) from err
        text = format_plan_text(doc, plan)
    if args.json:
        print(plan.to_public_json())
    else:
        print(text if text is not None else json.dumps(json.loads(plan.to_public_json()), indent=2))
    return 0
