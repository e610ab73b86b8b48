"""`orchestrator webhook --port N --secret-env NAME`: GitHub deliveries end a loop's wait
on its pull request early.

A loop that follows its pull request polls the forge between timers; a verified
delivery about that pull request sends it `forge_event`, so it polls now. Polling
stays the fallback: a lost, refused or never-configured webhook only means the next
poll comes at its usual time. Which loops follow which pull request is asked of
Temporal (the running subtask and integration loops on the task queue, their `status`),
never guessed from ids.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client, WorkflowExecution, WorkflowQueryFailedError
from temporalio.service import RPCError

from cli import verbs
from cli.common import NO_EMBEDDED_HELP, CliError, client_for
from contracts.build import SubtaskState
from contracts.follow import ForgeEvent
from contracts.version import TASK_QUEUE
from runtime.server import orchestrator_home
from runtime.webhook import EVENTS, Concerned, DeliveryLog, DeliveryLogBusy
from runtime.webhook_http import Receiver, Reply, RouteUnavailable, WebhookServer
from workflows.integration import IntegrationWorkflow
from workflows.subtask import SubtaskWorkflow

log = logging.getLogger("orchestrator.webhook")

# GitHub gives up on a delivery after 10 s: answer before that.
ROUTE_TIMEOUT_S = 8.0
QUERY_TIMEOUT_S = 5.0
# The loops that follow a pull request, by workflow type.
LOOPS: dict[str, type[SubtaskWorkflow] | type[IntegrationWorkflow]] = {
    "SubtaskWorkflow": SubtaskWorkflow,
    "IntegrationWorkflow": IntegrationWorkflow,
}
_PR_PATH = re.compile(r"/([^/]+/[^/]+)/pull/(\d+)/?$")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = verbs.add_parser(sub, "webhook")
    p.add_argument("--port", type=port, required=True, help="the port to listen on (1-65535)")
    p.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    p.add_argument(
        "--secret-env",
        required=True,
        metavar="NAME",
        help="the environment variable holding the webhook's secret (never the secret itself)",
    )
    p.add_argument(
        "--task-queue",
        default=TASK_QUEUE,
        help=f"the loops' task queue, as the worker's (default {TASK_QUEUE})",
    )
    p.add_argument("--no-embedded", action="store_true", help=NO_EMBEDDED_HELP)
    p.set_defaults(run=run_webhook)


def port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def secret_from(name: str) -> bytes:
    value = os.environ.get(name, "")
    if not value:
        state = "empty" if name in os.environ else "not set"
        raise CliError(
            f"the environment variable {name} (--secret-env) is {state}: "
            f"it must hold the secret of the GitHub webhook. Fix: `export {name}=<the secret "
            "you set on GitHub>` (e.g. from your secret store), then run the command again"
        )
    return value.encode()


@dataclass(frozen=True)
class Follower:
    """A running loop and the pull request it follows."""

    workflow_id: str
    loop: type[SubtaskWorkflow] | type[IntegrationWorkflow]
    repository: str  # owner/name, lower case
    pr_number: int
    branch: str | None

    def follows(self, c: Concerned) -> bool:
        return self.repository == c.repository and (
            self.pr_number in c.numbers or self.branch in c.branches
        )


def followed(state: SubtaskState) -> tuple[str, int] | None:
    """`owner/name` and number of the pull request a loop's state names, if any."""
    found = _PR_PATH.search(state.pr_url or "")
    if found is None or state.pr_number is None:
        return None
    return found[1].lower(), state.pr_number


async def followers(client: Client, task_queue: str) -> list[Follower]:
    """The running subtask and integration loops on `task_queue` that have a pull request."""
    types = " OR ".join(f"WorkflowType = '{name}'" for name in LOOPS)
    query = f"({types}) AND ExecutionStatus = 'Running' AND TaskQueue = '{task_queue}'"
    running = [wf async for wf in client.list_workflows(query, limit=1000)]
    states = await asyncio.gather(*(_status(client, wf) for wf in running))
    found = []
    for wf, state in zip(running, states, strict=True):
        pr = followed(state) if state is not None else None
        if pr is not None and state is not None:
            loop = LOOPS[wf.workflow_type]
            found.append(Follower(wf.id, loop, pr[0], pr[1], state.branch))
    return found


async def _status(client: Client, wf: WorkflowExecution) -> SubtaskState | None:
    handle = client.get_workflow_handle(wf.id, run_id=wf.run_id)
    try:
        state: SubtaskState = await handle.query(
            LOOPS[wf.workflow_type].status, rpc_timeout=timedelta(seconds=QUERY_TIMEOUT_S)
        )
    except (RPCError, WorkflowQueryFailedError) as err:
        log.warning("%s did not answer its status query (no worker?): %s", wf.id, err)
        return None
    return state


async def deliver(
    client: Client, task_queue: str, event: str, delivery: str, concerns: Concerned
) -> Reply:
    """Send `forge_event` to every loop following what the delivery concerns."""
    try:
        loops = await followers(client, task_queue)
    except RPCError as err:
        raise RouteUnavailable(f"Temporal: {err.message}") from err
    chosen = [f for f in loops if f.follows(concerns)]
    if not chosen:
        return Reply(202, f"no running loop follows {concerns.describe()}")
    told, failed = [], []
    for f in chosen:
        wake = ForgeEvent(
            delivery=delivery, event=event, pr_number=f.pr_number, head_sha=concerns.head_sha
        )
        try:
            await client.get_workflow_handle(f.workflow_id).signal(f.loop.forge_event, wake)
            told.append(f"{f.workflow_id} (PR #{f.pr_number})")
        except RPCError as err:  # it closed meanwhile: its next poll, if any, is on time
            failed.append(f"{f.workflow_id}: {err.message}")
    if not told:
        return Reply(202, f"no loop could be told ({'; '.join(failed)})")
    missed = f"; not told {'; '.join(failed)}" if failed else ""
    return Reply(200, f"told {', '.join(told)}{missed}")


async def run_webhook(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    secret = secret_from(args.secret_env)
    if "'" in args.task_queue:
        raise CliError(f"--task-queue {args.task_queue!r}: a task queue name has no quotes")
    client = await client_for(embedded=not args.no_embedded, need_worker=False)
    try:
        deliveries = DeliveryLog(orchestrator_home() / "webhook" / "deliveries")
    except DeliveryLogBusy as err:
        raise CliError(str(err)) from None
    loop = asyncio.get_running_loop()

    def route(event: str, delivery: str, concerns: Concerned) -> Reply:
        future = asyncio.run_coroutine_threadsafe(
            deliver(client, args.task_queue, event, delivery, concerns), loop
        )
        try:
            return future.result(timeout=ROUTE_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            raise RouteUnavailable(f"Temporal did not answer in {ROUTE_TIMEOUT_S:.0f} s") from None

    try:
        server = WebhookServer((args.host, args.port), Receiver(secret, deliveries, route))
    except OSError as err:
        deliveries.close()
        raise CliError(
            f"cannot listen on {args.host}:{args.port}: {err.strerror}. Fix: choose another "
            "--port, or stop what listens there"
        ) from None
    await serve(server, args, deliveries)
    return 0


async def serve(server: WebhookServer, args: argparse.Namespace, deliveries: DeliveryLog) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    log.info(
        "listening on http://%s:%s/ for GitHub deliveries (%s); loops on task queue %s; "
        "delivery ids kept in %s; Ctrl-C stops",
        host,
        port,
        ", ".join(EVENTS),
        args.task_queue,
        deliveries.path,
    )
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # A second stop signal while the receiver closes must not kill it half-way.
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        deliveries.close()
        log.info("stopped")
