"""`orchestrator change | change-approve | change-cancel | migration-approve |
migration-cancel | replay` on a running build."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from activities.config import resolve_project
from activities.git.branches import push_branch, remote_branch_sha, reset_branch
from activities.git.queries import has_remote
from cli.common import CliError, add_verb, build_id, client_for
from cli.loop_classes import BuildWorkflow, SubtaskWorkflow
from cli.loop_cmds import describe_or_none, running
from contracts.build import HAS_PR
from contracts.change import PendingChange
from contracts.gate_hints import pending_decisions
from contracts.human import MAX_SIGNAL_TEXT, ChangeInput
from contracts.reset import RESET_WINDOW_S

FIXERS = {"builder", "fixer", "performance-fixer", "design-writer"}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    def verb(name: str, fn: Any, *args: tuple[str, dict[str, Any]]) -> None:
        add_verb(sub, name, fn, *args)

    verb(
        "change",
        change,
        ("text", {"help": "the change, in words (at most 20,000 characters)"}),
    )
    verb("change-approve", change_approve)
    verb("change-cancel", change_cancel)
    for name, fn in (
        ("migration-approve", migration_approve),
        ("migration-cancel", migration_cancel),
    ):
        verb(
            name,
            fn,
            ("subtask", {"nargs": "?", "default": "", "help": "needed when several reports wait"}),
        )
    verb(
        "replay",
        replay,
        ("subtask", {"help": "the subtask's name, e.g. 02-parser"}),
        (
            "round",
            {
                "type": int,
                "nargs": "?",
                "default": None,
                "help": "the review round to go back to (1 is the first); none: `!replay`",
            },
        ),
        ("--build-id", {"default": None, "help": "workflow id (default build-<feature>)"}),
    )


async def _build(args: argparse.Namespace) -> tuple[Client, Any]:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    workflow_id = getattr(args, "build_id", None) or build_id(args.design_dir)
    handle = await running(client, workflow_id, args.design_dir)
    if handle is None:
        raise CliError(
            f"the build {workflow_id} is not running. Fix: start it with `orchestrator build "
            f"{args.design_dir}` (`orchestrator status` says how the last one ended)"
        )
    return client, handle


def _open(change: PendingChange | None) -> PendingChange | None:
    return change if change is not None and change.state not in ("done", "cancelled") else None


async def change(args: argparse.Namespace) -> int:
    text = args.text.strip()
    if not text:
        raise CliError('the change is empty. Fix: describe it: orchestrator change <dir> "..."')
    if len(text) > MAX_SIGNAL_TEXT:
        raise CliError(
            f"the change is {len(text)} characters, more than {MAX_SIGNAL_TEXT}. Fix: put the "
            "details in a file in the design directory and refer to it"
        )
    _, handle = await _build(args)
    st = await handle.query(BuildWorkflow.status)
    # The build takes one change at a time and drops a second one without a word.
    current = _open(st.change)
    if current is not None:
        then = (
            f"approve or cancel it first (`orchestrator change-approve {args.design_dir}` / "
            f"`orchestrator change-cancel {args.design_dir}`; report {current.report_path})"
            if current.state == "awaiting-decision"
            else "wait until it is applied (see `orchestrator status`), then send yours"
        )
        raise CliError(
            f"change {current.id} is still open ({current.state}): {current.description!r}. "
            f"Fix: {then}"
        )
    await handle.signal(BuildWorkflow.request_change, ChangeInput(description=args.text))
    print(f"sent !change to {handle.id}; the blast-radius report appears in `orchestrator status`")
    return 0


async def _decide_change(args: argparse.Namespace, signal: str, handler: Any) -> int:
    _, handle = await _build(args)
    st = await handle.query(BuildWorkflow.status)
    current = _open(st.change)
    if current is None or current.state != "awaiting-decision":
        what = (
            f"change {current.id} is {current.state}; its blast-radius report is not ready. "
            "Fix: wait until `orchestrator status` shows it awaiting a decision"
            if current is not None
            else 'no change is open. Fix: propose one first: orchestrator change <dir> "..."'
        )
        raise CliError(f"nothing to {signal.lstrip('!')}: {what}")
    await handle.signal(handler)
    print(f"sent {signal} to {handle.id} (change {current.id})")
    return 0


async def change_approve(args: argparse.Namespace) -> int:
    return await _decide_change(args, "!change-approve", BuildWorkflow.approve_change)


async def change_cancel(args: argparse.Namespace) -> int:
    return await _decide_change(args, "!change-cancel", BuildWorkflow.cancel_change)


async def migration_approve(args: argparse.Namespace) -> int:
    return await _migration(args, "migration-approve", BuildWorkflow.approve_migration)


async def migration_cancel(args: argparse.Namespace) -> int:
    return await _migration(args, "migration-cancel", BuildWorkflow.cancel_migration)


async def _migration(args: argparse.Namespace, verb: str, handler: Any) -> int:
    """Refused here, with the fix, when no Migration Risk Report waits (the build would
    only show the refusal in its status)."""
    _, handle = await _build(args)
    st = await handle.query(BuildWorkflow.status)
    pending = [d.scope for d in pending_decisions(st) if d.kind == "migration"]
    wanted = args.subtask.strip()
    if not pending or (wanted and wanted not in pending):
        raise CliError(
            f"nothing to {verb}: no Migration Risk Report is pending"
            + (f" for {wanted}" if wanted else "")
            + (f" (pending: {', '.join(pending)})" if pending else "")
            + ". Fix: send it while `orchestrator status` shows a subtask held on its report"
        )
    if not wanted and len(pending) > 1:
        raise CliError(
            f"reports are pending for {', '.join(pending)}. Fix: name one: "
            f"orchestrator {verb} {args.design_dir} {pending[0]}"
        )
    await handle.signal(handler, wanted or pending[0])
    print(f"sent !{verb} to {handle.id} ({wanted or pending[0]})")
    return 0


async def replay(args: argparse.Namespace) -> int:
    """Seed 004's `!replay`: without a round, the build's (workflows/build_replay.py); with
    one, a running subtask's branch back to round N's commit, its workflow reset there."""
    if args.round is None:
        return await _replay_build(args)
    client, build = await _build(args)
    child_id = f"{build.id}-{args.subtask}"
    child = client.get_workflow_handle(child_id)
    desc = await describe_or_none(child)
    if desc is None:
        names = [v.name for v in (await build.query(BuildWorkflow.status)).subtasks]
        raise CliError(
            f"the build has no subtask {args.subtask!r} that ever started ({child_id} not "
            f"found). Fix: name one of {', '.join(names)}"
        )
    if desc.status != WorkflowExecutionStatus.RUNNING:
        raise CliError(
            f"{child_id} is not running ({desc.status.name if desc.status else '?'}); replay "
            "resets a subtask that is still being built. To rework a finished one, use "
            "`orchestrator change`"
        )
    state = await child.query(SubtaskWorkflow.status)
    record = next((r for r in state.rounds if r.round == args.round), None)
    if record is None or record.commit is None:
        done = ", ".join(str(r.round) for r in state.rounds) or "none yet"
        raise CliError(
            f"{args.subtask} has no review round {args.round} (rounds: {done}). Fix: name a "
            "round it has finished"
        )
    event_id = await reset_point(child, args.round)
    if event_id is None:
        raise CliError(
            f"round {args.round} is {args.subtask}'s latest: there is no later work to discard"
        )
    if state.worktree is None or state.branch is None:
        raise CliError(f"{args.subtask} has no worktree yet")
    # The project's remote and the hosts its HTTPS remote may get GITHUB_TOKEN for.
    try:
        forge = (await asyncio.to_thread(resolve_project, args.design_dir)).config.forge
    except ApplicationError as err:  # a broken orchestrator.toml: its message names the fix
        raise CliError(err.message) from None
    remote, hosts = forge.remote, forge.git_token_hosts()
    await asyncio.to_thread(reset_branch, state.worktree, record.commit)
    if await asyncio.to_thread(has_remote, state.worktree, remote):
        pushed = await asyncio.to_thread(
            remote_branch_sha, state.worktree, remote, state.branch, hosts
        )
        if pushed:
            await asyncio.to_thread(push_branch, state.worktree, state.branch, remote, True, hosts)
    await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=child_id, run_id=desc.run_id),
            reason=f"orchestrator replay {args.subtask} round {args.round}",
            workflow_task_finish_event_id=event_id,
            request_id=str(uuid.uuid4()),
        )
    )
    print(
        f"{args.subtask}: branch {state.branch} reset to {record.commit[:10]} (after review "
        f"round {args.round}); {child_id} reset to event {event_id}; later work discarded"
    )
    return 0


async def _replay_build(args: argparse.Namespace) -> int:
    """Refused here, with the fix, when the build would refuse it (it only could in `status`)."""
    _, handle = await _build(args)
    st = await handle.query(BuildWorkflow.status)
    views = {v.name: v for v in st.subtasks if v.kind == "subtask"}
    view = views.get(args.subtask)
    if view is None:
        raise CliError(
            f"{args.subtask!r} is not a subtask of {handle.id}. Fix: name one of {', '.join(views)}"
        )
    if view.status not in HAS_PR:
        done = [n for n in st.finished if n in views]
        raise CliError(
            f"{args.subtask} has not finished ({view.status}): only a subtask with its PR is a "
            "checkpoint. Fix: "
            + (f"name one that has: {', '.join(done)}" if done else "wait until one has its PR")
        )
    asked = st.reset is not None and st.reset.state == "asked"
    if st.reset is not None and not (asked and _lapsed(st.reset.asked_at)):
        raise CliError(
            f"a !reset is {'asked' if asked else 'under way'}. Fix: let it finish, or let the "
            f"!reset lapse ({RESET_WINDOW_S // 60} minutes), then replay"
        )
    if st.replay is not None:
        raise CliError(
            f"the replay from {st.replay.subtask} is under way. Fix: wait until it is done"
        )
    await handle.signal(BuildWorkflow.ask_replay, args.subtask)
    print(
        f"sent !replay {args.subtask} to {handle.id}: what came after it goes back to pending "
        "and is rebuilt; `orchestrator status` shows the replay (or why it was refused)"
    )
    return 0


def _lapsed(asked_at: str) -> bool:
    asked = datetime.fromisoformat(asked_at)
    return (datetime.now(asked.tzinfo or UTC) - asked).total_seconds() > RESET_WINDOW_S


async def reset_point(child: Any, round_: int) -> int | None:
    """The workflow task that scheduled the fix after review round N (None if none yet)."""
    history = await child.fetch_history()
    for event in history.events:
        if not event.HasField("activity_task_scheduled_event_attributes"):
            continue
        attrs = event.activity_task_scheduled_event_attributes
        if attrs.activity_type.name != "agent.edit" or not attrs.input.payloads:
            continue
        request = json.loads(attrs.input.payloads[0].data)
        if request.get("round") == round_ and request.get("role") in FIXERS:
            return int(attrs.workflow_task_completed_event_id)
    return None
