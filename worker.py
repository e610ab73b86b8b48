"""Run a worker: every workflow and activity of the orchestrator on one task queue.

`python worker.py` or `orchestrator worker`. Secrets (ANTHROPIC_API_KEY,
GITHUB_TOKEN) are read here, from this process's environment, by the
activities that need them; they never travel through Temporal.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities import search_attributes
from activities.sandbox.runner import unavailable as sandbox_unavailable
from contracts.search_attributes import missing_advice
from contracts.version import TASK_QUEUE, UPGRADING, WORKFLOW_CODE_VERSION, older_version
from runtime.client import open_client, settings_from_env
from runtime.exit import exit_now
from runtime.failure_details import FailureDetailsInterceptor
from runtime.path_map import NO_PATH_MAP, PathMap, PathMapError, PathMapInterceptor
from runtime.server import ServerError, ensure_server
from runtime.startup import imports_without_gc


def workflows() -> list[type]:
    from workflows.build import BuildWorkflow
    from workflows.design_review import DesignReviewWorkflow
    from workflows.integration import IntegrationWorkflow
    from workflows.plan import PlanWorkflow
    from workflows.release import ReleaseWorkflow
    from workflows.subtask import SubtaskWorkflow

    return [
        PlanWorkflow,
        DesignReviewWorkflow,
        BuildWorkflow,
        SubtaskWorkflow,
        IntegrationWorkflow,
        ReleaseWorkflow,
    ]


# Packages the activities import lazily (the CLI imports the activity modules too, and
# never runs them) but that import their own modules in a circle: two activity threads
# importing one at once (a restarted worker's first PR polls) get a half-made module, and
# may leave it so for the worker's life (`partially initialized module 'github' has no
# attribute 'GithubObject'` on every retry). The worker imports them once, before any runs.
PRELOADED = ("github", "networkx")


def activities(host_queue: str = "") -> list[Any]:
    for name in PRELOADED:
        importlib.import_module(name)
    from activities import (
        agents,  # its ACTIVITIES load the Messages SDK first (load_sdk)
        change_files,
        checks,
        child_workflows,
        cleanup,
        config,
        design_files,
        forge,
        forge_follow,
        fork_report,
        gates,
        migration_scan,
        review_pass,
        tracker,
    )
    from activities.git import activities as git
    from activities.git import archive, promote
    from activities.host import HostClaim
    from activities.integration import activities as integration
    from activities.patterns import activities as patterns
    from activities.plan import activities as plan
    from activities.release import activities as release

    return [
        HostClaim(host_queue).claim,
        *config.ACTIVITIES,
        *plan.ACTIVITIES,
        *agents.ACTIVITIES,
        *design_files.ACTIVITIES,
        *change_files.ACTIVITIES,
        *gates.ACTIVITIES,
        *git.ACTIVITIES,
        *archive.ACTIVITIES,
        *promote.ACTIVITIES,
        *fork_report.ACTIVITIES,
        *forge.ACTIVITIES,
        *forge_follow.ACTIVITIES,
        *tracker.ACTIVITIES,
        *review_pass.ACTIVITIES,
        *migration_scan.ACTIVITIES,
        *integration.ACTIVITIES,
        *release.ACTIVITIES,
        *patterns.ACTIVITIES,
        *checks.ACTIVITIES,
        *cleanup.ACTIVITIES,
        *child_workflows.ACTIVITIES,
    ]


HEARTBEAT_THROTTLE_S = 2.0


def build_worker(
    client: Client,
    task_queue: str = TASK_QUEUE,
    max_threads: int = 32,
    host_queue: str = "",
    path_map: PathMap = NO_PATH_MAP,
    with_workflows: bool = True,
) -> Worker:
    """The shared-queue worker; with `host_queue`, subtasks it claims are bound to that queue."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows() if with_workflows else [],
        activities=activities(host_queue),
        activity_executor=ThreadPoolExecutor(max_workers=max_threads),
        max_concurrent_activities=max_threads,
        # Heartbeats reach the server every few seconds, so a cancel (the only way an
        # activity hears of it) stops a running agent or gate within seconds.
        max_heartbeat_throttle_interval=timedelta(seconds=HEARTBEAT_THROTTLE_S),
        interceptors=[
            FailureDetailsInterceptor(),
            *([PathMapInterceptor(path_map)] if path_map else []),
        ],
    )


def build_host_worker(
    client: Client, host_queue: str, max_threads: int = 32, path_map: PathMap = NO_PATH_MAP
) -> Worker:
    """Activities only, on this host's own queue: the steps that touch its worktrees."""
    return build_worker(client, host_queue, max_threads, host_queue, path_map, with_workflows=False)


async def run(
    task_queue: str = TASK_QUEUE,
    embedded: bool = True,
    metrics_port: int | None = None,
    host: str | None = None,
    path_map: PathMap = NO_PATH_MAP,
) -> None:
    conn = settings_from_env()
    ensure_server(conn.address, conn.namespace, embedded=embedded)
    runtime = None
    if metrics_port is not None:
        runtime = Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(bind_address=f"0.0.0.0:{metrics_port}")
            )
        )
    client = await open_client(conn, **({"runtime": runtime} if runtime else {}))
    lacking = await search_attributes.missing(client, conn.namespace)
    if lacking:
        logging.warning("%s", missing_advice(lacking, conn.namespace, conn.address))
    from activities.host import default_host, host_queue

    own = host_queue(host or default_host())
    with imports_without_gc():  # every workflow and activity module is imported here
        shared = build_worker(client, task_queue, host_queue=own, path_map=path_map)
        local = build_host_worker(client, own, path_map=path_map)
    logging.info("worker polling %s and %s on %s", task_queue, own, conn.address)
    mapped = "; ".join(f"{c} -> {lo}" for c, lo in path_map.pairs)
    print(
        f"Worker polling task queues {task_queue!r} and {own!r} at {conn.address}"
        + (f"; metrics on :{metrics_port}/metrics" if metrics_port else "")
        + (f"; repository paths mapped {mapped}" if mapped else ""),
        file=sys.stderr,
        flush=True,
    )
    await asyncio.gather(shared.run(), local.run())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orchestrator worker", description=__doc__)
    p.add_argument("--task-queue", default=os.environ.get("ORCHESTRATOR_TASK_QUEUE", TASK_QUEUE))
    p.add_argument("--no-embedded", action="store_true", help="never start the embedded server")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics")
    p.add_argument(
        "--host",
        default=None,
        help="name of this host's own task queue (default: $ORCHESTRATOR_HOST or the hostname)",
    )
    p.add_argument(
        "--path-map",
        action="append",
        default=[],
        metavar="CANONICAL=LOCAL",
        help="this host's clone of a repository lives at LOCAL, not at the CANONICAL path "
        "the loops were started with (repeatable; also $ORCHESTRATOR_PATH_MAP, "
        "entries separated by ';')",
    )
    p.add_argument(
        "--without-sandbox",
        action="store_true",
        help="start although no sandbox can be made here (every loop it serves must set "
        '[sandbox] mode = "none"; the others hold at their first command)',
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("ORCHESTRATOR_LOG_LEVEL", "INFO"))
    try:
        path_map = PathMap.from_env(args.path_map)
    except PathMapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    older = older_version(args.task_queue)
    if older is not None:
        # Its loops' histories were made by other workflow code: replaying them here fails.
        print(
            f"error: task queue {args.task_queue!r} holds loops of an older release (workflow "
            f"code version {older}); this release runs version {WORKFLOW_CODE_VERSION} on "
            f"{TASK_QUEUE!r}. Fix: serve {args.task_queue!r} with a worker of the release that "
            f"started its loops, and run this one on {TASK_QUEUE!r} (unset "
            f"ORCHESTRATOR_TASK_QUEUE or pass --task-queue {TASK_QUEUE}); see {UPGRADING}",
            file=sys.stderr,
        )
        return 2
    problem = None if args.without_sandbox else sandbox_unavailable()
    if problem:
        # Before any workflow task: a worker without a sandbox would hold every build.
        print(
            f"error: this worker cannot confine agent commands and gates: {problem} "
            '(a worker only for repositories with mode = "none" starts with --without-sandbox)',
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(
            run(args.task_queue, not args.no_embedded, args.metrics_port, args.host, path_map)
        )
    except KeyboardInterrupt:
        return 130
    except ServerError as err:  # the address, the server or ORCHESTRATOR_HOME: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    exit_now(main())
