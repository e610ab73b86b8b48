"""CLI verbs for the two loops, all keyed by the design directory.

design | build | status | metrics | approve | answer | request-changes |
decide | pause | resume | cancel
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from cli import views
from cli.common import (
    CliError,
    add_verb,
    build_id,
    check_project,
    client_for,
    design_id,
    feature_of,
)
from contracts.build import BuildInput, BuildResult, BuildStatus
from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import AnswerInput, DecideInput, FeedbackInput
from contracts.metrics import Metrics
from runtime.client import TASK_QUEUE, settings_from_env

QUERY_TIMEOUT = timedelta(seconds=15)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    def verb(name: str, help_: str, fn: Any, *args: tuple[str, dict[str, Any]]) -> None:
        add_verb(sub, name, help_, fn, *args)

    wait = ("--wait", {"action": "store_true", "help": "follow progress until a human gate"})
    verb("design", "start (or attach to) the design-review loop", design, wait)
    verb(
        "build",
        "start (or attach to) the build loop",
        build,
        wait,
        ("--max-concurrent", {"type": int, "default": None}),
        ("--forge", {"choices": ["github", "none"], "default": None}),
        ("--max-cost-usd", {"type": float, "default": None}),
        ("--max-tokens", {"type": int, "default": None}),
    )
    verb(
        "status",
        "phase, scores, questions and decisions",
        status,
        ("--json", {"action": "store_true"}),
    )
    verb("metrics", "tokens, cost and agent time", metrics, ("--json", {"action": "store_true"}))
    verb("approve", "approve the design at the gate (signal `approved`)", approve)
    verb("answer", "answer a reviewer question", answer, ("question_id", {}), ("choice", {}))
    verb("request-changes", "send the design back with feedback", request_changes, ("feedback", {}))
    verb(
        "decide",
        "answer a stuck prompt: [scope|subtask] choice",
        decide,
        ("words", {"nargs": "+", "metavar": "[SCOPE] CHOICE"}),
    )
    verb("pause", "no new agent starts until resume (signal `!pause`)", pause)
    verb("resume", "resume after pause (signal `!resume`)", resume)
    verb("cancel", "cancel the running loop(s); branches and worktrees are kept", cancel)


async def describe_or_none(handle: WorkflowHandle) -> WorkflowExecutionDescription | None:
    """The newest run's description; None when nothing ever ran under this id."""
    try:
        return await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def running(client: Client, workflow_id: str) -> WorkflowHandle | None:
    handle = client.get_workflow_handle(workflow_id)
    desc = await describe_or_none(handle)
    return handle if desc and desc.status == WorkflowExecutionStatus.RUNNING else None


async def running_loops(client: Client, design_dir: str) -> list[tuple[str, WorkflowHandle]]:
    found = []
    for kind, wid in (("design", design_id(design_dir)), ("build", build_id(design_dir))):
        handle = await running(client, wid)
        if handle:
            found.append((kind, handle))
    if not found:
        raise CliError(
            f"no design or build loop is running for {design_dir} "
            f"(ids {design_id(design_dir)}, {build_id(design_dir)}). Start one with "
            f"`orchestrator design {design_dir}` or `orchestrator build {design_dir}`"
        )
    return found


def ui_link(workflow_id: str) -> str:
    base = settings_from_env().ui_url
    return f"{base}/{workflow_id}" if base else ""


async def start_loop(
    args: argparse.Namespace, workflow: str, workflow_id: str, arg: Any
) -> WorkflowHandle:
    # What the loop would fail on at its first step (no repository, a bad
    # orchestrator.toml, an unknown role), refused before anything is started.
    await asyncio.to_thread(check_project, arg.design_dir)
    client = await client_for(embedded=not args.no_embedded)
    handle = await client.start_workflow(
        workflow,
        arg,
        id=workflow_id,
        task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    print(f"{workflow} {workflow_id} running · {ui_link(workflow_id)}")
    return handle


async def design(args: argparse.Namespace) -> int:
    design_dir = os.path.abspath(args.design_dir)
    feature_of(design_dir)
    handle = await start_loop(
        args, "DesignReviewWorkflow", design_id(design_dir), DesignInput(design_dir=design_dir)
    )
    if args.wait:
        return await follow(handle, "design")
    print(f"Watch it: orchestrator status {args.design_dir} (or --wait)")
    return 0


async def build(args: argparse.Namespace) -> int:
    design_dir = os.path.abspath(args.design_dir)
    feature_of(design_dir)
    handle = await start_loop(
        args,
        "BuildWorkflow",
        build_id(design_dir),
        BuildInput(
            design_dir=design_dir,
            max_concurrent_subtasks=args.max_concurrent,
            forge=args.forge,
            max_cost_usd=args.max_cost_usd,
            max_tokens=args.max_tokens,
        ),
    )
    if args.wait:
        return await follow(handle, "build")
    print(f"Watch it: orchestrator status {args.design_dir} (or --wait)")
    return 0


async def query_status(handle: WorkflowHandle, kind: str) -> DesignStatus | BuildStatus:
    result_type = DesignStatus if kind == "design" else BuildStatus
    return await handle.query("status", result_type=result_type)


def at_gate(kind: str, st: DesignStatus | BuildStatus) -> bool:
    if isinstance(st, DesignStatus):
        return bool(st.decisions or st.open_questions) or st.phase == "awaiting-approval"
    return any(v.decision for v in st.subtasks) or st.paused or "budget" in st.waiting_for


async def follow(handle: WorkflowHandle, kind: str) -> int:
    """Print each change of state until the next human gate or the end."""
    last = ""
    while True:
        desc = await handle.describe()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            if desc.status == WorkflowExecutionStatus.COMPLETED:
                result_type = DesignResult if kind == "design" else BuildResult
                result = result_type.model_validate(await handle.result())
                print(f"\n{result.result}")
                return 0
            await handle.result()  # raises the failure, reported by main()
            return 1
        try:
            st = await query_status(handle, kind)
        except RPCError:
            await asyncio.sleep(1)
            continue
        text = views.design_view(st) if isinstance(st, DesignStatus) else views.build_view(st)
        if text != last:
            print(text, "\n", flush=True)
            last = text
        if at_gate(kind, st):
            print(f"A person must decide now (see above). Web UI: {ui_link(handle.id)}")
            return 0
        await asyncio.sleep(1.5)


async def existing_loops(
    client: Client, design_dir: str
) -> list[tuple[str, WorkflowHandle, WorkflowExecutionStatus | None]]:
    """The design and build loops that ran (or run) for `design_dir`, newest run of each."""
    found = []
    for kind, wid in (("design", design_id(design_dir)), ("build", build_id(design_dir))):
        handle = client.get_workflow_handle(wid)
        desc = await describe_or_none(handle)
        if desc is not None:
            found.append((kind, handle, desc.status))
    if not found:
        raise CliError(
            f"nothing has run for {design_dir} yet; start with `orchestrator design {design_dir}`"
        )
    return found


async def query_or_none(handle: WorkflowHandle, name: str, result_type: type) -> Any | None:
    """A finished loop answers queries too: a worker replays its history. None if none does."""
    try:
        return await handle.query(name, result_type=result_type, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        return None


async def status(args: argparse.Namespace) -> int:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    out: dict[str, Any] = {}
    for kind, handle, state in await existing_loops(client, args.design_dir):
        if state == WorkflowExecutionStatus.RUNNING:
            st = await query_status(handle, kind)
            out[kind] = st.model_dump(mode="json")
            if not args.json:
                print(views.design_view(st) if kind == "design" else views.build_view(st))  # type: ignore[arg-type]
                print()
            continue
        name = state.name if state else "UNKNOWN"
        out[kind] = {"workflow_id": handle.id, "status": name}
        if not args.json:
            print(f"{kind} ({handle.id}): {name}\n")
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


async def metrics(args: argparse.Namespace) -> int:
    # A finished loop's metrics come from a worker replaying it: make sure one polls.
    client = await client_for(embedded=not args.no_embedded)
    for kind, handle, state in await existing_loops(client, args.design_dir):
        closed = state != WorkflowExecutionStatus.RUNNING
        label = f"{kind} ({state.name if state else 'UNKNOWN'})" if closed else kind
        m = await query_or_none(handle, "metrics", Metrics)
        if m is None:
            raise CliError(
                f"no worker answered the metrics query of {handle.id}; start one with "
                "`orchestrator worker` and try again"
            )
        print(m.model_dump_json(indent=2) if args.json else f"{label}:\n{views.metrics_view(m)}\n")
    return 0


async def signal_design(args: argparse.Namespace, name: str, arg: Any = None) -> WorkflowHandle:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    handle = await running(client, design_id(args.design_dir))
    if handle is None:
        raise CliError(f"the design loop {design_id(args.design_dir)} is not running")
    await (handle.signal(name) if arg is None else handle.signal(name, arg))
    return handle


async def approve(args: argparse.Namespace) -> int:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    handle = await running(client, design_id(args.design_dir))
    if handle is None:
        raise CliError(f"the design loop {design_id(args.design_dir)} is not running")
    st = await handle.query("status", result_type=DesignStatus)
    if st.phase != "awaiting-approval":
        raise CliError(
            f"the design is not at the approval gate yet (phase {st.phase}; "
            f"waiting for {st.waiting_for})"
        )
    await handle.signal("approved")
    print(f"approved {handle.id}")
    return 0


async def answer(args: argparse.Namespace) -> int:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    handle = await running(client, design_id(args.design_dir))
    if handle is None:
        raise CliError(f"the design loop {design_id(args.design_dir)} is not running")
    reply = await handle.execute_update(
        "answer_question",
        AnswerInput(question_id=args.question_id, choice=args.choice),
        result_type=str,
    )
    print(f"recorded {reply}")
    return 0


async def request_changes(args: argparse.Namespace) -> int:
    await signal_design(args, "request_changes", FeedbackInput(feedback=args.feedback))
    print("sent request_changes")
    return 0


async def decide(args: argparse.Namespace) -> int:
    words = args.words
    decision = DecideInput(choice=words[-1], scope=words[0] if len(words) > 1 else None)
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    for kind, handle in await running_loops(client, args.design_dir):
        st = await query_status(handle, kind)
        pending = (
            [d.scope for d in st.decisions]
            if isinstance(st, DesignStatus)
            else [v.name for v in st.subtasks if v.decision]
        )
        if decision.scope is None and len(pending) > 1:
            raise CliError(f"several prompts wait ({', '.join(pending)}); name one")
        if (
            (decision.scope in pending)
            or (decision.scope is None and pending)
            or (kind == "build" and decision.scope == "budget")
        ):
            await handle.signal("decide", decision)
            print(f"sent decide {decision.scope or pending[0]} {decision.choice} to {handle.id}")
            return 0
    raise CliError("no prompt waits for that decision; see `orchestrator status`")


async def _both(args: argparse.Namespace, signal: str) -> int:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    for _, handle in await running_loops(client, args.design_dir):
        await handle.signal(signal)
        print(f"sent {signal} to {handle.id}")
    return 0


async def pause(args: argparse.Namespace) -> int:
    return await _both(args, "!pause")


async def resume(args: argparse.Namespace) -> int:
    return await _both(args, "!resume")


async def cancel(args: argparse.Namespace) -> int:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    for _, handle in await running_loops(client, args.design_dir):
        await handle.cancel()
        print(f"cancel requested for {handle.id} (branches and worktrees are kept)")
    return 0
