"""CLI verbs for the two loops, all keyed by the design directory.

design | build | status | metrics | approve | answer | request-changes |
decide | pause | resume | cancel (and `say`: cli/say_cmd.py). `status` and
`metrics` show the release loop too (cli/release_cmd.py starts it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import CancelledError, TerminatedError
from temporalio.exceptions import TimeoutError as WorkflowTimeout
from temporalio.service import RPCError, RPCStatusCode

from activities.child_workflows import live_pollers
from cli import clean_cmd, finished, holds, prereqs, queues, views
from cli.bounds import MAX_WORD, bounded
from cli.common import (
    EXIT_DONE,
    EXIT_ENDED,
    EXIT_INTERRUPTED,
    EXIT_WAITING,
    CliError,
    add_verb,
    build_id,
    check_design,
    check_project,
    check_subtasks,
    client_for,
    design_id,
    feature_of,
    release_id,
    root_cause,
    same_dir,
    worker_for,
)
from cli.live_agents import as_json, live_agents, live_view
from cli.loop_classes import (
    LOOP_CLASSES,
    BuildWorkflow,
    DesignReviewWorkflow,
    LoopClass,
    SubtaskWorkflow,
)
from cli.output import Clock, Commands
from cli.summaries import loop_metadata
from contracts.build import (
    ALL_SUBTASKS_MERGEABLE,
    ALL_SUBTASKS_MERGED,
    ALL_SUBTASKS_PR_CREATED,
    PR_FINAL,
    BuildInput,
    BuildResult,
    BuildStatus,
)
from contracts.config import BuildChecks
from contracts.design import DESIGN_DOC_APPROVED, DesignInput, DesignResult, DesignStatus
from contracts.gate_hints import pending_decisions
from contracts.human import (
    BUILD_STUCK_OPTIONS,
    DESIGN_STUCK_OPTIONS,
    FAILURE_OPTIONS,
    FILE_CONFLICT_OPTIONS,
    MAX_SIGNAL_TEXT,
    SKIP_REVIEWER,
    AnswerInput,
    DecideInput,
    FeedbackInput,
    PendingDecision,
)
from contracts.integration import IntegrationOutcome, Reopen, integration_choice
from contracts.names import with_odd_characters
from contracts.release import SHIPPED, ReleaseResult, ReleaseStatus
from contracts.version import TASK_QUEUE, older_loop
from runtime.client import connect, settings_from_env
from runtime.server import is_listening

QUERY_TIMEOUT = timedelta(seconds=15)
# `decide`'s one form, in its usage, its help, its errors and docs/commands.md.
DECIDE_USAGE = "decide <dir> [scope|subtask] <choice>"
# Every choice some prompt offers (integration's stuck prompt adds reopen:<subtask>).
KNOWN_CHOICES = list(
    dict.fromkeys(
        [
            *FAILURE_OPTIONS,
            SKIP_REVIEWER,
            *BUILD_STUCK_OPTIONS,
            *DESIGN_STUCK_OPTIONS,
            *FILE_CONFLICT_OPTIONS,
            "raise",
        ]
    )
)


def positive(kind: type) -> Any:
    """An argparse type: a number above zero (a zero limit reads as none in the loop)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text} must be a number above 0")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    def verb(
        name: str, fn: Any, *args: tuple[str, dict[str, Any]], usage: str | None = None
    ) -> None:
        add_verb(sub, name, fn, *args, usage=usage)

    wait = (
        "--wait",
        {
            "action": "store_true",
            "help": "follow progress; exit 0 at the loop's result, 3 when a person must act, "
            "1 when it ended without its result",
        },
    )
    verb("design", design, wait)
    verb(
        "build",
        build,
        wait,
        (
            "--max-concurrent",
            {
                "type": positive(int),
                "default": None,
                "metavar": "N",
                "help": "subtasks building at once (default: max_concurrent_subtasks, 2)",
            },
        ),
        (
            "--forge",
            {
                "choices": ["github", "none"],
                "default": None,
                "help": "where pull requests go: github, or none (push only, PR text in a file)",
            },
        ),
        (
            "--max-cost-usd",
            {
                "type": positive(float),
                "default": None,
                "metavar": "X",
                "help": "budget in USD for the build and its subtasks; at it, the build asks",
            },
        ),
        (
            "--max-tokens",
            {
                "type": positive(int),
                "default": None,
                "metavar": "N",
                "help": "budget in tokens (cache weighed by price); at it, the build asks",
            },
        ),
        (
            "--notes",
            {
                "default": "",
                "help": "context for this build: every builder, reviewer and fixer reads it",
            },
        ),
    )
    as_json = ("--json", {"action": "store_true", "help": "machine-readable output"})
    verb("status", status, as_json)
    verb("metrics", metrics, as_json)
    verb("approve", approve)
    verb(
        "answer",
        answer,
        ("question_id", {"help": "the question's id, e.g. Q2 (`status` lists them)"}),
        ("choice", {"help": "the option's letter, e.g. B"}),
        (
            "--replace",
            {"action": "store_true", "help": "change an answer already given (else refused)"},
        ),
    )
    verb(
        "request-changes",
        request_changes,
        ("feedback", {"help": "what to change, in words (at most 20,000 characters)"}),
    )
    verb(
        "decide",
        decide,
        (
            "words",
            {
                "nargs": "+",
                "metavar": "[scope|subtask] <choice>",
                "help": "the scope or subtask the prompt is about (needed when several wait), "
                "then the choice: a failure: retry / skip / stop (a held reviewer also "
                "skip-reviewer); design stuck: continue / accept / review-together; build "
                "stuck: skip / simplify / debug / continue; a merge conflict: continue / skip; "
                "the budget: raise / stop (scope budget); file conflicts: continue / serialize "
                "/ stop (scope file-conflicts); integration stuck: continue / skip / "
                "reopen:<subtask>",
            },
        ),
        usage=f"orchestrator {DECIDE_USAGE} [--no-embedded]",
    )
    verb("pause", pause)
    verb("resume", resume)
    verb("cancel", cancel)


async def describe_or_none(handle: WorkflowHandle) -> WorkflowExecutionDescription | None:
    """The newest run's description; None when nothing ever ran under this id."""
    try:
        return await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def recorded_design_dir(handle: WorkflowHandle) -> str | None:
    """The design directory the newest run was started with (its first event's input)."""
    async for event in handle.fetch_history_events(page_size=1):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        try:
            value = json.loads(payloads[0].data) if payloads else None
        except ValueError:
            return None
        return value.get("design_dir") if isinstance(value, dict) else None
    return None


def not_yours(workflow_id: str, recorded: str, design_dir: str) -> str:
    return (
        f"{workflow_id} belongs to another design directory: it was started for {recorded}, "
        f"not {os.path.abspath(design_dir)} (workflow ids come from the directory's name, so "
        f"two repositories with a feature called {feature_of(design_dir)!r} share them)"
    )


async def foreign_dir(handle: WorkflowHandle, design_dir: str) -> str | None:
    """The other directory a loop runs (or ran) for; None when it is `design_dir`'s."""
    recorded = await recorded_design_dir(handle)
    return None if recorded is None or same_dir(recorded, design_dir) else recorded


class ForeignLoop(CliError):
    """A loop under one of this directory's ids that another directory started."""


async def check_owner(handle: WorkflowHandle, design_dir: str) -> None:
    """Refuse to signal or attach to a loop another directory with the same name started."""
    recorded = await foreign_dir(handle, design_dir)
    if recorded is not None:
        raise ForeignLoop(
            f"{not_yours(handle.id, recorded, design_dir)}. Fix: finish or cancel the other "
            f"loop (`orchestrator cancel {recorded}`), or rename this feature directory"
        )


async def running(client: Client, workflow_id: str, design_dir: str) -> WorkflowHandle | None:
    """The running loop under `workflow_id`, if it runs for `design_dir` (refused otherwise)."""
    handle = client.get_workflow_handle(workflow_id)
    desc = await describe_or_none(handle)
    if desc is None or desc.status != WorkflowExecutionStatus.RUNNING:
        return None
    await check_owner(handle, design_dir)
    older = older_loop(workflow_id, desc.task_queue)
    if older:
        raise CliError(older)
    return handle


def loop_ids(design_dir: str) -> list[tuple[str, str]]:
    """Each loop kind with the id it has for `design_dir`."""
    return [
        ("design", design_id(design_dir)),
        ("build", build_id(design_dir)),
        ("release", release_id(design_dir)),
    ]


async def running_loops(client: Client, design_dir: str) -> list[tuple[str, WorkflowHandle]]:
    """The design, build and release loops running for `design_dir` (decide, pause, resume
    and cancel reach each of them). Another directory's loop under one of its ids is left
    alone, and refused only when none of this directory's own runs: a killed demo's build,
    still running, must not block the next demo's `decide` on its design."""
    found, foreign = [], []
    for kind, wid in loop_ids(design_dir):
        try:
            handle = await running(client, wid, design_dir)
        except ForeignLoop as refused:
            foreign.append(refused)
            continue
        if handle:
            found.append((kind, handle))
    if not found and foreign:
        raise foreign[0]
    if not found:
        await refuse_ended(
            client, [("build", build_id(design_dir)), ("design", design_id(design_dir))], design_dir
        )
        raise CliError(
            f"no design, build or release loop is running for {design_dir} "
            f"(ids {design_id(design_dir)}, {build_id(design_dir)}, {release_id(design_dir)}). "
            "Start one with "
            f"`orchestrator design {design_dir}` or `orchestrator build {design_dir}`"
        )
    return found


async def refuse_ended(client: Client, loops: list[tuple[str, str]], design_dir: str) -> None:
    """Nothing runs: when one of `loops` (kind, id) ran for this directory, say how the
    newest ended and what comes next (refused, exit 2)."""
    ended: dict[str, tuple[bool, str]] = {}
    for kind, wid in (("design", design_id(design_dir)), ("build", build_id(design_dir))):
        handle = client.get_workflow_handle(wid)
        desc = await describe_or_none(handle)
        if desc is None or desc.status == WorkflowExecutionStatus.RUNNING:
            continue
        if not await foreign_dir(handle, design_dir):
            code, line = await outcome(handle, kind)
            ended[kind] = (code == EXIT_DONE, line)
    for kind, wid in loops:
        if kind in ended:
            done, line = ended[kind]
            after = ended.get("build") if kind == "design" else None
            raise CliError(finished.what_next(kind, wid, done, line, design_dir, after))


def ui_link(workflow_id: str) -> str:
    base = settings_from_env().ui_url
    return f"{base}/{workflow_id}" if base else ""


async def start_loop(
    args: argparse.Namespace,
    workflow: LoopClass,
    workflow_id: str,
    arg: Any,
    check_files: Callable[[str], object],
    build: BuildChecks | None = None,
) -> tuple[Client, WorkflowHandle]:
    """Start the loop for this directory, or attach to the one running for it.

    What the loop would fail on at its first step (no repository, a bad
    orchestrator.toml, an unknown role) is refused first, before a server, a worker
    or a workflow is started; so is a loop under the same id for another directory.
    What it would hold on at once (`check_files`: the design directory, the XML
    subtasks) is refused before a new loop starts; a running one is attached to as
    it is, since its own agents may be editing those files.
    """
    design_dir = arg.design_dir
    await asyncio.to_thread(check_project, design_dir, build)
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    if await running(client, workflow_id, design_dir) is None:  # refuses another's loop
        await asyncio.to_thread(check_files, design_dir)
        refused = await prereqs.check_sandbox(client, design_dir, args.command)
        if refused:
            raise CliError(refused)
    await worker_for(client, not args.no_embedded)
    handle = await client.start_workflow(
        workflow.run,
        args=[arg],
        id=workflow_id,
        task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        **loop_metadata(args.command, design_dir),
    )
    print(f"{workflow.__name__} {workflow_id} running · {ui_link(workflow_id)}")
    # Follow the id, not the run: a loop that continues as new keeps its id.
    return client, client.get_workflow_handle(handle.id)


async def design(args: argparse.Namespace) -> int:
    design_dir = os.path.abspath(args.design_dir)
    feature_of(design_dir)
    client, handle = await start_loop(
        args,
        DesignReviewWorkflow,
        design_id(design_dir),
        DesignInput(design_dir=design_dir),
        check_design,
    )
    if args.wait:
        return await follow(client, handle, "design", design_dir)
    print(f"Watch it: {Commands.for_dir(design_dir).verb('status')} (or --wait)")
    return EXIT_DONE


async def build(args: argparse.Namespace) -> int:
    design_dir = os.path.abspath(args.design_dir)
    feature_of(design_dir)
    client, handle = await start_loop(
        args,
        BuildWorkflow,
        build_id(design_dir),
        BuildInput(
            design_dir=design_dir,
            max_concurrent_subtasks=args.max_concurrent,
            forge=args.forge,
            max_cost_usd=args.max_cost_usd,
            max_tokens=args.max_tokens,
            notes=checked_notes(args.notes),
        ),
        check_subtasks,
        BuildChecks(forge=args.forge),
    )
    if args.wait:
        return await follow(client, handle, "build", design_dir)
    print(f"Watch it: {Commands.for_dir(design_dir).verb('status')} (or --wait)")
    return EXIT_DONE


def checked_notes(text: str) -> str:
    """`--notes`, refused here when the loop would refuse it."""
    if len(text.strip()) > MAX_SIGNAL_TEXT:
        raise CliError(
            f"--notes is {len(text.strip())} characters, more than {MAX_SIGNAL_TEXT}. Fix: put "
            "the details in a file in the design directory and refer to it"
        )
    return text.strip()


async def query_status(
    client: Client, handle: WorkflowHandle, kind: str
) -> DesignStatus | BuildStatus | ReleaseStatus:
    st: DesignStatus | BuildStatus | ReleaseStatus
    if kind == "release":
        return await handle.query(LOOP_CLASSES["release"].status)
    if kind == "design":
        st = await handle.query(DesignReviewWorkflow.status)
        st.retrying = await _retrying(handle)
        return st
    st = await handle.query(BuildWorkflow.status)
    await asyncio.gather(*(_live_phase(client, handle, st, name) for name in st.running))
    children = [client.get_workflow_handle(f"{handle.id}-{n}") for n in st.running]
    for found in await asyncio.gather(*(_retrying(h) for h in [handle, *children])):
        st.retrying += found
    return st


async def _retrying(handle: WorkflowHandle) -> list[str]:
    """Steps the server retries after a failure (overload, 5xx, a dead worker): their
    attempt and last error, so a loop that seems to stand still says why."""
    try:
        desc = await handle.describe()
    except RPCError:
        return []  # closed meanwhile
    out = []
    for pending in desc.raw_description.pending_activities:
        if pending.attempt > 1 and pending.HasField("last_failure"):
            error = " ".join(pending.last_failure.message.split())[:300]
            out.append(
                f"{handle.id}: {pending.activity_type.name} attempt {pending.attempt}: {error}"
            )
    return out


async def _live_phase(client: Client, handle: WorkflowHandle, st: BuildStatus, name: str) -> None:
    """A running subtask tells its build only what changes its row; its phase is read
    from the subtask itself (workflow id `<build id>-<subtask>`)."""
    child = client.get_workflow_handle(f"{handle.id}-{name}")
    try:
        live = await child.query(SubtaskWorkflow.status)
    except (RPCError, WorkflowQueryFailedError):
        return  # it closed between the two queries: the build's row is final
    for view in st.subtasks:
        if view.name == name:
            view.phase = live.phase


def view(st: DesignStatus | BuildStatus | ReleaseStatus) -> str:
    if isinstance(st, ReleaseStatus):
        return views.release_view(st)
    return views.design_view(st) if isinstance(st, DesignStatus) else views.build_view(st)


def answers(st: DesignStatus | BuildStatus | ReleaseStatus, cmds: Commands) -> list[str]:
    if isinstance(st, ReleaseStatus):  # its gates and decisions are signals to send
        return holds.release_answers(st, release_id(cmds.design_dir))
    return holds.answers(st, pending_decisions(st), cmds)


def person_needed(st: DesignStatus | BuildStatus) -> bool:
    """Whether the loop waits for a person: a question, the gate, a decision, a pause."""
    if st.paused or pending_decisions(st):
        return True
    if isinstance(st, DesignStatus):
        return bool(st.open_questions) or st.phase == "awaiting-approval"
    return st.change is not None and st.change.state == "awaiting-decision"


async def follow(client: Client, handle: WorkflowHandle, kind: str, design_dir: str) -> int:
    """Print each change of state until the loop needs a person (3) or closes (0 or 1).

    A hold is printed the moment it appears, with the commands that answer it; Ctrl-C
    stops following (130) and says what keeps running and how to act on it.
    """
    last, clock, cmds = "", Clock(), Commands.for_dir(design_dir)
    try:
        while True:
            desc = await handle.describe()
            if desc.status != WorkflowExecutionStatus.RUNNING:
                return await report_end(handle, kind, last)
            try:
                st = await query_status(client, handle, kind)
            except (RPCError, WorkflowQueryFailedError):
                await asyncio.sleep(1)
                continue
            text = view(st)
            if text != last:
                print(f"{clock.stamp()} {text}", "\n", flush=True)
                last = text
            if person_needed(st):
                print("\n".join(answers(st, cmds)), flush=True)
                print(f"A person must act now: {st.waiting_for}. Web UI: {ui_link(handle.id)}")
                return EXIT_WAITING
            await asyncio.sleep(1.5)
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels this task
        print(holds.still_running(handle.id, kind, cmds), file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


async def report_end(handle: WorkflowHandle, kind: str, last: str) -> int:
    """The closed loop's final table (if it changed since the last one) and how it ended."""
    st = await query_or_none(handle, LOOP_CLASSES[kind].status)
    if st is not None and view(st) != last:
        print(view(st), "\n", flush=True)
    code, line = await outcome(handle, kind)
    integration = await integration_of(handle) if kind == "build" else None
    if integration is not None:
        print(f"\nIntegration {views.integration_line(integration)}")
    if code == EXIT_DONE:
        print(f"\n{line}")
    else:
        print(f"\n{handle.id}: {line}", flush=True)
    return code


async def integration_of(handle: WorkflowHandle) -> IntegrationOutcome | None:
    """A finished build's integration outcome (None: not finished, or no integration step)."""
    try:
        raw = await handle.result(rpc_timeout=QUERY_TIMEOUT)
    except (WorkflowFailureError, RPCError):
        return None
    return BuildResult.model_validate(raw).integration


async def outcome(handle: WorkflowHandle, kind: str) -> tuple[int, str]:
    """How and why a closed loop ended: (0, its result) or (1, what happened instead)."""
    try:
        raw = await handle.result(rpc_timeout=QUERY_TIMEOUT)
    except WorkflowFailureError as err:
        cause = err.cause
        if isinstance(cause, CancelledError):
            return EXIT_ENDED, "cancelled (branches and worktrees are kept)"
        if isinstance(cause, TerminatedError):
            reason = cause.message if cause.message != "Workflow terminated" else ""
            return EXIT_ENDED, f"terminated: {reason or 'no reason given'}"
        if isinstance(cause, WorkflowTimeout):
            return EXIT_ENDED, "timed out (its workflow execution timeout passed)"
        return EXIT_ENDED, f"failed: {root_cause(err)}"
    if kind == "release":
        release = ReleaseResult.model_validate(raw)
        reports = f"; reports: {', '.join(release.reports)}" if release.reports else ""
        why = f"; {release.stop_reason}" if release.stop_reason else ""
        return (EXIT_DONE if release.result == SHIPPED else EXIT_ENDED), (
            f"{release.result}{why}{reports}"
        )
    if kind == "design":
        design_result = DesignResult.model_validate(raw)
        if design_result.result == DESIGN_DOC_APPROVED:
            return EXIT_DONE, design_result.result
        return EXIT_ENDED, f"completed without its result: {design_result.result}"
    build_result = BuildResult.model_validate(raw)
    if build_result.result in (
        ALL_SUBTASKS_PR_CREATED,
        ALL_SUBTASKS_MERGEABLE,
        ALL_SUBTASKS_MERGED,
    ):
        return EXIT_DONE, build_result.result
    missing = [
        f"{s.subtask} {s.status}" + (f" ({s.notes})" if s.notes else "")
        for s in build_result.subtasks
        if s.status not in PR_FINAL
    ]
    return EXIT_ENDED, f"completed without its result: {build_result.result}" + (
        f"; {'; '.join(missing)}" if missing else ""
    )


async def existing_loops(
    client: Client, design_dir: str
) -> list[tuple[str, WorkflowHandle, WorkflowExecutionDescription]]:
    """The design, build and release loops that ran (or run) for `design_dir`, newest run
    of each.

    A loop under the same id that another directory started is not this one's: it is
    named on stderr and left out.
    """
    found, foreign = [], []
    for kind, wid in loop_ids(design_dir):
        handle = client.get_workflow_handle(wid)
        desc = await describe_or_none(handle)
        if desc is None:
            continue
        other = await foreign_dir(handle, design_dir)
        if other is None:
            found.append((kind, handle, desc))
        else:
            foreign.append(not_yours(wid, other, design_dir))
    for note in foreign if found else []:
        print(f"note: {note}; not shown", file=sys.stderr)
    if not found:
        start = f"start with `orchestrator design {design_dir}`"
        if foreign:
            raise CliError(
                f"nothing has run for {design_dir} yet: {'; '.join(foreign)}. Fix: {start} "
                "once the other loops have finished, or rename this feature directory"
            )
        raise CliError(f"nothing has run for {design_dir} yet; {start}")
    return found


async def query_or_none(handle: WorkflowHandle, query: Any) -> Any | None:
    """A finished loop answers queries too: a worker replays its history. None if none does."""
    try:
        return await handle.query(query, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        return None


async def status(args: argparse.Namespace) -> int:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    out: dict[str, Any] = {}
    cmds = Commands.for_dir(args.design_dir)
    for kind, handle, desc in await existing_loops(client, args.design_dir):
        if desc.status == WorkflowExecutionStatus.RUNNING:
            if desc.task_queue == TASK_QUEUE:
                await worker_for(client, not args.no_embedded)  # it needs one to answer
            unserved = await queues.unserved(client, desc)
            if unserved:  # a query would wait for a worker that never comes
                out[kind] = {"workflow_id": handle.id, "status": "RUNNING", "unserved": unserved}
                if not args.json:
                    print(f"{kind} ({handle.id}): RUNNING, but nothing serves it\n  {unserved}\n")
                continue
            st = await queues.answered(handle.id, partial(query_status, client, handle, kind))
            live = await live_agents(client, handle)
            out[kind] = {**st.model_dump(mode="json"), "live_agents": [as_json(a) for a in live]}
            if not args.json:
                shown = [view(st), live_view(live) if live else "", "\n".join(answers(st, cmds))]
                print("\n\n".join(filter(None, shown)))
                print()
            continue
        # Closed: how and why it ended, from its close event (no worker needed).
        name = desc.status.name if desc.status else "UNKNOWN"
        code, line = await outcome(handle, kind)
        closed = desc.close_time.isoformat(timespec="seconds") if desc.close_time else None
        out[kind] = {
            "workflow_id": handle.id,
            "status": name,
            "closed_at": closed,
            "finished_with_result": code == EXIT_DONE,
            "outcome": line,
        }
        integration = await integration_of(handle) if kind == "build" else None
        if integration is not None:
            out[kind]["integration"] = integration.model_dump(mode="json")
        if not args.json:
            print(f"{kind} ({handle.id}): {name}" + (f" at {closed}" if closed else ""))
            print(f"  {'completed: ' if code == EXIT_DONE else ''}{line}")
            if integration is not None:
                print(f"  integration {views.integration_line(integration)}")
            print()
    if "build" in out:
        used = await asyncio.to_thread(clean_cmd.worktrees_used, args.design_dir)
        out["worktrees"] = used
        if not args.json:
            print(clean_cmd.worktrees_line(used))
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


async def metrics(args: argparse.Namespace) -> int:
    # A finished loop's metrics come from a worker replaying it, on the loop's own queue.
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    async with contextlib.AsyncExitStack() as stack:
        for kind, handle, desc in await existing_loops(client, args.design_dir):
            if desc.task_queue == TASK_QUEUE:
                await worker_for(client, not args.no_embedded)
            state = desc.status
            closed = state != WorkflowExecutionStatus.RUNNING
            label = f"{kind} ({state.name if state else 'UNKNOWN'})" if closed else kind
            unserved = await queues.serve_queries(client, desc, stack)  # the loop's own queue
            m = None if unserved else await query_or_none(handle, LOOP_CLASSES[kind].metrics)
            if m is None:
                raise CliError(
                    unserved
                    or f"no worker answered the metrics query of {handle.id} (task queue "
                    f"{desc.task_queue}); start one with `orchestrator worker --task-queue "
                    f"{desc.task_queue}` and try again"
                )
            text = (
                m.model_dump_json(indent=2) if args.json else f"{label}:\n{views.metrics_view(m)}\n"
            )
            print(text)
    return 0


async def running_design(args: argparse.Namespace) -> WorkflowHandle:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    handle = await running(client, design_id(args.design_dir), args.design_dir)
    if handle is None:
        await refuse_ended(client, [("design", design_id(args.design_dir))], args.design_dir)
        raise CliError(
            f"the design loop {design_id(args.design_dir)} is not running. Fix: start it with "
            f"`orchestrator design {args.design_dir}` (`orchestrator status` says how the last "
            "one ended)"
        )
    return handle


async def signal_design(args: argparse.Namespace, signal: Any, arg: Any) -> WorkflowHandle:
    handle = await running_design(args)
    await handle.signal(signal, arg)
    return handle


async def approve(args: argparse.Namespace) -> int:
    handle = await running_design(args)
    st = await handle.query(DesignReviewWorkflow.status)
    if st.phase != "awaiting-approval":
        raise CliError(
            f"the design is not at the approval gate yet (phase {st.phase}; "
            f"waiting for {st.waiting_for}). Fix: do what it waits for, then approve when "
            "`orchestrator status` shows awaiting-approval"
        )
    await handle.signal(DesignReviewWorkflow.approved)
    print(f"approved {handle.id}")
    return 0


async def answer(args: argparse.Namespace) -> int:
    sent = AnswerInput(
        question_id=bounded("the question id", args.question_id, MAX_WORD),
        choice=bounded("the choice", args.choice),
        replace=args.replace,
    )
    handle = await running_design(args)
    reply = await handle.execute_update(DesignReviewWorkflow.answer_question, sent)
    print(f"recorded {reply}")
    return 0


async def request_changes(args: argparse.Namespace) -> int:
    # What the loop would refuse is refused here, where the person can hear it.
    text = args.feedback.strip()
    if not text:
        raise CliError(
            "the feedback is empty. Fix: say what to change: "
            'orchestrator request-changes <dir> "..."'
        )
    if len(text) > MAX_SIGNAL_TEXT:
        raise CliError(
            f"the feedback is {len(text)} characters, more than {MAX_SIGNAL_TEXT}. Fix: put the "
            "details in a file in the design directory and refer to it"
        )
    await signal_design(
        args, DesignReviewWorkflow.request_changes, FeedbackInput(feedback=args.feedback)
    )
    print("sent request_changes")
    return 0


async def decide(args: argparse.Namespace) -> int:
    words = [bounded("a word of the decision", w, MAX_WORD) for w in args.words]
    if len(words) > 2:
        raise CliError(
            f"{len(words)} words after the directory. Fix: send `{DECIDE_USAGE}`, "
            "e.g. `decide <dir> 02-parser skip`"
        )
    decision = DecideInput(choice=words[-1], scope=words[0] if len(words) > 1 else None)
    choice = decision.choice.strip().lower()
    known = choice in KNOWN_CHOICES or isinstance(integration_choice(choice), Reopen)
    if not known and await starts_something(args.design_dir):
        # Refused before a server or a worker is started: a typo is only a typo.
        raise CliError(
            f"{decision.choice!r} is not a choice any prompt offers. Fix: choose one of: "
            f"{', '.join(KNOWN_CHOICES)}, reopen:<subtask> ({DECIDE_USAGE}; "
            f"`orchestrator status {args.design_dir}` lists what waits)"
        )
    # A decision resumes the loop, and reading what waits takes a worker: make sure one runs.
    client = await client_for(
        embedded=not args.no_embedded,
        need_worker=await starts_something(args.design_dir, unless_all_served=True),
    )
    waiting: list[tuple[WorkflowHandle, PendingDecision]] = []
    kinds: dict[str, str] = {}
    for kind, handle in await running_loops(client, args.design_dir):
        kinds[handle.id] = kind
        st = await queues.answered(handle.id, partial(query_status, client, handle, kind))
        waiting += [(handle, d) for d in pending_decisions(st)]
    listed = "; ".join(f"{d.scope} ({'/'.join(d.options)})" for _, d in waiting)
    if not waiting:
        raise CliError(
            "no prompt waits for a decision. Fix: see `orchestrator status` for what the loops "
            "wait for"
        )
    if decision.scope is None:
        if len(waiting) > 1:
            raise CliError(
                f"several prompts wait: {listed}. Fix: name one: decide <dir> <scope> <choice>"
            )
        chosen = waiting
    else:
        chosen = [(h, d) for h, d in waiting if d.scope == decision.scope]
        # One held scope or subtask of a failure decision may be answered on its own.
        chosen = chosen or [
            (h, d) for h, d in waiting if d.failure and decision.scope in d.failure.scopes
        ]
        if not chosen:
            raise CliError(
                f"no prompt waits on {decision.scope!r}; waiting: {listed}. Fix: name one of them"
            )
    handle, pending = chosen[0]
    # The loops compare the lower-cased choice with the options and ignore anything else.
    if decision.choice.strip().lower() not in [o.lower() for o in pending.options]:
        said = with_odd_characters(f"{decision.choice!r} is not an option", decision.choice)
        raise CliError(
            f"{said} for {pending.scope} ({pending.prompt}). "
            f"Fix: choose one of: {', '.join(pending.options)} "
            f"(orchestrator decide {args.design_dir} {pending.scope} <choice>)"
        )
    scope = decision.scope or pending.scope
    await handle.signal(
        LOOP_CLASSES[kinds[handle.id]].decide, DecideInput(choice=decision.choice, scope=scope)
    )
    print(f"sent decide {scope} {decision.choice} to {handle.id}")
    return 0


async def starts_something(design_dir: str, *, unless_all_served: bool = False) -> bool:
    """Whether reading what waits would start a server or a worker: none answers now (with
    `unless_all_served`: some running loop of the directory has no worker on its queue, or
    none runs; a demo's loops are served on the demo's own queue, so no other is needed)."""
    if not is_listening(settings_from_env().address):
        return True
    client = await connect(embedded=False)
    served = []
    for _, wid in loop_ids(design_dir):
        desc = await describe_or_none(client.get_workflow_handle(wid))
        if desc is not None and desc.status == WorkflowExecutionStatus.RUNNING:
            served.append(bool(await live_pollers(client, desc.task_queue)))
    if unless_all_served:
        return not served or not all(served)
    return not any(served)


async def _both(args: argparse.Namespace, said: str, handler: Callable[[LoopClass], Any]) -> int:
    """Send each running loop its own handler (`handler(BuildWorkflow)` is `.pause`)."""
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    for kind, handle in await running_loops(client, args.design_dir):
        await handle.signal(handler(LOOP_CLASSES[kind]))
        print(f"sent {said} to {handle.id}")
    return 0


async def pause(args: argparse.Namespace) -> int:
    return await _both(args, "!pause", lambda loop: loop.pause)


async def resume(args: argparse.Namespace) -> int:
    return await _both(args, "!resume", lambda loop: loop.resume)


async def cancel(args: argparse.Namespace) -> int:
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    for _, handle in await running_loops(client, args.design_dir):
        await handle.cancel()
        print(f"cancel requested for {handle.id} (branches and worktrees are kept)")
    return 0
