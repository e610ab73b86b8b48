"""`orchestrator release <dir> [--wait]`: start (or attach to) the release loop.

The release loop (`release-<feature>`) holds seed 004's gates on the feature's
integration branch. It is refused here, with the fix, while the build has not
integrated (no `integration/<feature>` branch, or INTEGRATION.md not passed); a
release already running for the directory is reported, not started twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from cli.common import (
    EXIT_DONE,
    EXIT_ENDED,
    EXIT_INTERRUPTED,
    EXIT_WAITING,
    CliError,
    add_verb,
    check_project,
    client_for,
    feature_of,
    release_id,
    worker_for,
)
from cli.loop_cmds import running, ui_link
from cli.summaries import loop_metadata
from contracts.release import ReleaseInput, ReleaseResult, ReleaseStatus
from contracts.version import TASK_QUEUE
from workflows.release import ReleaseWorkflow


def add_parsers(sub: argparse._SubParsersAction) -> None:
    add_verb(
        sub,
        "release",
        release,
        (
            "--wait",
            {
                "action": "store_true",
                "help": "follow progress; exit 0 at SHIPPED, 3 when a person must act (a gate "
                "to send, a decision), 1 at NOT_SHIPPED",
            },
        ),
    )


def check_integrated(design_dir: str) -> None:
    """What the loop's first step checks, refused here with the same message."""
    from temporalio.exceptions import ApplicationError

    from activities.config import repository_of
    from activities.release.activities import integrated
    from contracts.release import IntegratedRequest

    root = repository_of(Path(design_dir))
    if root is None:
        raise CliError(f"{design_dir} is not in a git repository. Fix: pass a design directory")
    try:
        integrated(
            IntegratedRequest(
                repo_root=str(root), design_dir=design_dir, feature=feature_of(design_dir)
            )
        )
    except ApplicationError as err:
        raise CliError(err.message) from err


async def running_release(client: Client, design_dir: str) -> WorkflowHandle | None:
    return await running(client, release_id(design_dir), design_dir)


async def release(args: argparse.Namespace) -> int:
    design_dir = os.path.abspath(args.design_dir)
    wid = release_id(design_dir)
    await asyncio.to_thread(check_project, design_dir)
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    handle = await running_release(client, design_dir)
    if handle is not None:
        print(f"ReleaseWorkflow {wid} is already running: attached, not started again")
    else:
        await asyncio.to_thread(check_integrated, design_dir)
        await worker_for(client, not args.no_embedded)
        started = await client.start_workflow(
            ReleaseWorkflow.run,
            ReleaseInput(design_dir=design_dir),
            id=wid,
            task_queue=TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            **loop_metadata("release", design_dir),
        )
        handle = client.get_workflow_handle(started.id)
        print(f"ReleaseWorkflow {wid} running · {ui_link(wid)}")
    if args.wait:
        return await follow(handle)
    print(
        f"Send the gates in order: temporal workflow signal -w {wid} --name '!critic' "
        "(then !security, !verify); watch it with --wait or the `status` query"
    )
    return EXIT_DONE


def view(st: ReleaseStatus) -> str:
    stages = ", ".join(
        f"{s.name} {s.status}" + (f" ({sum(s.findings.values())} findings)" if s.findings else "")
        for s in st.stages
    )
    notice = f"\n  {st.notice}" if st.notice else ""
    return f"release {st.feature}: {st.phase}; {stages}; waiting for: {st.waiting_for}{notice}"


async def follow(handle: WorkflowHandle) -> int:
    """Print each change until a person must act (3) or the loop ends (0 SHIPPED, 1 not)."""
    last = ""
    try:
        while True:
            desc = await handle.describe()
            if desc.status != WorkflowExecutionStatus.RUNNING:
                return await ended(handle, desc.status)
            try:
                st: ReleaseStatus = await handle.query(ReleaseWorkflow.status)
            except RPCError:
                await asyncio.sleep(1)
                continue
            text = view(st)
            if text != last:
                print(text, flush=True)
                last = text
            if st.next_gate or st.decisions:
                what = st.next_gate or "; ".join(
                    f"decide {d.scope} <{' | '.join(d.options)}>: {d.prompt}" for d in st.decisions
                )
                print(f"A person must act now: {what}")
                return EXIT_WAITING
            await asyncio.sleep(1.5)
    except asyncio.CancelledError:
        print(f"Stopped following; {handle.id} goes on.", flush=True)
        return EXIT_INTERRUPTED


async def ended(handle: WorkflowHandle, status: WorkflowExecutionStatus | None) -> int:
    if status != WorkflowExecutionStatus.COMPLETED:
        print(f"{handle.id} ended {status.name if status else 'unknown'}")
        return EXIT_ENDED
    result = ReleaseResult.model_validate(await handle.result())
    print(f"{handle.id}: {result.result}; reports: {', '.join(result.reports) or '-'}")
    if result.stop_reason:
        print(result.stop_reason)
    return EXIT_DONE if result.result == "SHIPPED" else EXIT_ENDED
