"""`orchestrator demo`: the design, build and release loops end to end on the example.

Starts (or reuses) the embedded Temporal server, runs a worker in this
process, the local Messages API and GitHub stand-ins, and a scratch copy of
the example repository; runs the design loop, answers and approves the way a
person would (printing the commands it uses), builds every subtask to a pull
request and follows each PR (the demo plays its CI and one reviewer: one red CI
run is fixed, one review comment answered) until it is mergeable, integrates,
then opens the release gates as a person would until SHIPPED. With
ANTHROPIC_API_KEY set (and --real), the same run uses the real model.

Nothing is silent: a hold is printed the moment it appears, with its reason and
the commands that answer it; the worker's log goes to a file, not the terminal;
Ctrl-C ends the demo's loops (they cannot go on without this process) and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError

from activities.sandbox.runner import unavailable
from cli import demo_clean, verbs
from cli.common import EXIT_INTERRUPTED, NO_EMBEDDED_HELP, CliError
from cli.demo_clean import MARKER, QUEUE_PREFIX
from cli.demo_fork import DemoFork
from cli.demo_progress import report_progress
from cli.demo_release import RELEASE_ID, release_phase
from cli.demo_repo import (
    DEMO_FOLLOW,
    DEMO_REPOSITORY,
    DemoRepo,
    demo_config,
    prepare_demo_repo,
)
from cli.demo_steps import POLL_S, Demo, fresh_start, next_phase, signal_as_a_person
from cli.loop_classes import BuildWorkflow, DesignReviewWorkflow
from cli.loop_cmds import pending_decisions
from cli.output import Commands, orchestrator_prog, paint
from cli.views import integration_line, metrics_view, scores_text
from contracts.build import (
    ALL_SUBTASKS_MERGEABLE,
    ALL_SUBTASKS_PR_CREATED,
    BuildInput,
    BuildResult,
)
from contracts.design import DesignInput, DesignResult
from contracts.human import AnswerInput
from contracts.release import SHIPPED, ReleaseResult
from runtime.client import connect, settings_from_env
from runtime.server import ServerError, orchestrator_home

if TYPE_CHECKING:
    from cli.demo_forge import DemoForge  # PyGithub: imported when a demo runs, not per verb

BANNER = "SIMULATION: model answers are scripted by the local Messages API stand-in"
DESIGN_ID, BUILD_ID = "design-link-shortener", "build-link-shortener"
CANCEL_WAIT_S = 15.0
BUILD_DONE = (ALL_SUBTASKS_MERGEABLE, ALL_SUBTASKS_PR_CREATED)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        sub,
        "demo",
        description="Both loops end to end on examples/link-shortener, against local "
        "stand-ins for the Anthropic and GitHub APIs (a scripted model), in a scratch "
        "repository under ~/.orchestrator/demo/.",
    )
    p.add_argument("--dir", default=None, help="scratch directory (default: ~/.orchestrator/demo)")
    p.add_argument("--real", action="store_true", help="use ANTHROPIC_API_KEY's real model")
    p.add_argument(
        "--answer", default="A", help="the option the demo picks for open questions (default A)"
    )
    p.add_argument(
        "--sandbox",
        choices=["os", "none"],
        default="os",
        help='the example\'s [sandbox] mode: "os" (bubblewrap; the default) or "none" '
        "(commands run unconfined, for a machine where bubblewrap cannot run)",
    )
    p.add_argument(
        "--clean",
        action="store_true",
        help="remove earlier demo directories and end what earlier demos left running, then exit",
    )
    p.add_argument("--no-embedded", action="store_true", help=NO_EMBEDDED_HELP)
    p.set_defaults(run=run)


def check_sandbox(args: argparse.Namespace) -> None:
    """Before anything starts: the builders and gates run in the sandbox."""
    if args.sandbox == "none":
        return
    problem = unavailable()
    if problem:
        raise CliError(
            "the demo stops before starting anything: its builders and gates run in a "
            f"sandbox, and {problem} (for the demo: `{orchestrator_prog()} demo --sandbox none`)"
        )


def log_to(path: Path) -> None:
    """The in-process worker's log (and the Temporal core's) goes to `path`, not the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("ORCHESTRATOR_LOG_LEVEL", "INFO"))
    logging.captureWarnings(True)
    core = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="WARN"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    with contextlib.suppress(RuntimeError):  # a runtime already in use keeps its logging
        Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=core)))


async def run(args: argparse.Namespace) -> int:
    if args.clean:
        return await demo_clean.clean(not args.no_embedded)
    simulated = not args.real
    if args.real and not os.environ.get("ANTHROPIC_API_KEY"):
        raise CliError("--real needs ANTHROPIC_API_KEY in the environment")
    check_sandbox(args)
    scratch = (
        Path(args.dir)
        if args.dir
        else orchestrator_home() / "demo" / time.strftime("%Y%m%d-%H%M%S")
    )
    task_queue = f"{QUEUE_PREFIX}{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / MARKER).write_text(json.dumps({"pid": os.getpid(), "task_queue": task_queue}))
    log_to(scratch / "worker.log")
    demo = Demo()
    with contextlib.ExitStack() as stack:
        from simulators.github_api import GitHubStandIn

        github = stack.enter_context(GitHubStandIn(state_path=str(scratch / "github.json")))
        os.environ["GITHUB_TOKEN"] = os.environ.get("DEMO_GITHUB_TOKEN", "sim-github-token")
        os.environ["GITHUB_API_URL"] = github.url
        if simulated:
            from simulators.demo_scenario import link_shortener_scenario
            from simulators.messages_api import READABLE_CALLERS, MessagesStandIn

            messages = stack.enter_context(MessagesStandIn(link_shortener_scenario()))
            os.environ["ANTHROPIC_BASE_URL"] = messages.url
            os.environ["ANTHROPIC_API_KEY"] = "sim-anthropic-key"
            os.environ.update(READABLE_CALLERS)  # the scripted model keys on them
            demo.say(f"== {BANNER} ({messages.url})")
        config = demo_config(github.url, forge=DEMO_FOLLOW) + (
            '\n[sandbox]\nmode = "none"\n' if args.sandbox == "none" else ""
        )
        repo = prepare_demo_repo(scratch, config)
        demo.cmds = Commands.for_dir(str(repo.design_dir))
        github.add_repo(DEMO_REPOSITORY, git_dir=str(repo.origin))
        from cli.demo_forge import DemoForge

        forge = DemoForge(github, DEMO_REPOSITORY, repo.origin)
        forge.protect()
        demo.say(f"== scratch repository {repo.root} (origin {repo.origin})")
        demo.say(
            f"== GitHub stand-in {github.url} (repository {DEMO_REPOSITORY}; its CI and "
            "reviewer are simulated by the demo)"
        )
        try:
            client = await connect(embedded=not args.no_embedded)
        except ServerError as err:
            raise CliError(str(err)) from err
        from worker import build_worker

        async with build_worker(client, task_queue):
            demo.say(
                f"== worker polling {task_queue} in this process (log {scratch / 'worker.log'})"
            )
            demo.say(f"== Web UI {settings_from_env().ui_url}")
            try:
                await design_phase(demo, client, repo, task_queue, args.answer)
                result = await build_phase(demo, client, repo, task_queue, forge)
                release = await release_after(demo, client, repo, task_queue, result)
            except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels this task
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                await interrupted(demo, client, scratch, task_queue)
                return EXIT_INTERRUPTED
        demo.say()
        pulls = len(github.pulls(DEMO_REPOSITORY))
        demo.say(f"PRs on the GitHub stand-in: {pulls}; {forge.summary()}")
        demo.say(
            "  (the stand-in stops with the demo, so those links stop answering; the "
            f"branches stay in {repo.origin}: git -C {repo.origin} branch)"
        )
        demo.say(f"Tracker: {repo.root / 'design-docs/orchestration/pr_tracker.md'}")
        if release is not None:
            demo.say(f"Release reports: {repo.design_dir / 'release'}/")
            for path in release.reports:
                demo.say(f"  {path}")
        demo.say(f"Web UI: {settings_from_env().ui_url}")
        demo.say(
            f"Afterwards: {demo.cmds.verb('status')}; {demo.cmds.verb('metrics')}. "
            f"Stop the server: {orchestrator_prog()} stop. Remove demo directories: "
            f"{orchestrator_prog()} demo --clean"
        )
        if simulated:
            demo.say(f"({BANNER}; cost is what the price table says the tokens would cost)")
        if release is None:
            print(result.result, flush=True)
            return 1
        print(release.result, flush=True)
        return 0 if release.result == SHIPPED else 1


async def release_after(
    demo: Demo, client: Client, repo: DemoRepo, task_queue: str, build: BuildResult
) -> ReleaseResult | None:
    """The release, once the build integrated (the release loop's first check); else why not."""
    integration = build.integration
    if build.result not in BUILD_DONE or integration is None or integration.status != "passed":
        why = integration_line(integration) if integration else "no integration"
        demo.say(f"== no release: the build ended {build.result}, integration {why}")
        return None
    return await release_phase(demo, client, repo, task_queue)


async def interrupted(demo: Demo, client: Client, scratch: Path, task_queue: str) -> None:
    """Ctrl-C: the loops cannot go on without this process (its worker and stand-ins end
    with it), so cancel them while the worker still runs, and end what does not stop."""
    demo.say(paint("Interrupted: ending the demo's loops (a second Ctrl-C skips this).", "bold"))
    ended = []
    for wid in (RELEASE_ID, BUILD_ID, DESIGN_ID):
        handle = client.get_workflow_handle(wid)
        with contextlib.suppress(RPCError):
            desc = await handle.describe()
            if desc.status == WorkflowExecutionStatus.RUNNING and desc.task_queue == task_queue:
                await handle.cancel()  # this demo's: its worker still runs to clean up
                ended.append(handle)
    deadline = time.monotonic() + CANCEL_WAIT_S
    for handle in ended:
        while time.monotonic() < deadline:
            with contextlib.suppress(RPCError):
                if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                    break
            await asyncio.sleep(0.3)
    left = await demo_clean.end_leftovers(client, task_queue)
    for line in left:
        demo.say(f"  {line}")
    demo.say(
        f"The demo's loops are cancelled; nothing of the demo keeps running except the "
        f"embedded Temporal server. Its files stay in {scratch}."
    )
    prog = orchestrator_prog()
    demo.say(f"  run it again:        {prog} demo")
    demo.say(f"  remove old demos:    {prog} demo --clean")
    demo.say(f"  stop the server:     {prog} stop")


async def design_phase(
    demo: Demo, client: Client, repo: DemoRepo, task_queue: str, pick: str
) -> None:
    say = demo.say
    say(f"== design loop: {DESIGN_ID}")
    handle = await fresh_start(
        client,
        DesignReviewWorkflow,
        DESIGN_ID,
        DesignInput(design_dir=str(repo.design_dir)),
        task_queue,
        "design",
    )
    seen: set[tuple[str, int]] = set()
    answered: set[str] = set()
    codebase_seen: set[str] = set()
    approved = False
    while True:
        desc = await handle.describe()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            break
        st = await handle.query(DesignReviewWorkflow.status)
        for sc in st.scopes:
            for n, scores in enumerate(sc.round_scores, start=1):
                if (sc.name, n) not in seen:
                    seen.add((sc.name, n))
                    say(f"  review {sc.name:<14} round {n}: {scores_text(scores)}")
        for q in st.answered_questions:
            if q.answered_by == "codebase" and q.id not in codebase_seen:
                codebase_seen.add(q.id)
                say(f"  {q.id} answered from the codebase: {q.choice}) {q.answer_text()}")
                say(f"     reasoning: {q.reasoning}")
        for q in st.open_questions:
            if q.id in answered:
                continue
            answered.add(q.id)
            say(f"  question {q.id}: {q.text} [{q.options_line()}]")
            say(f"  -> as a person would: {demo.cmds.verb('answer', q.id, pick)}")
            reply = await handle.execute_update(
                DesignReviewWorkflow.answer_question, AnswerInput(question_id=q.id, choice=pick)
            )
            say(f"     recorded {reply}")
        if st.phase == "awaiting-approval" and not approved:
            approved = True
            say("  every scope cleared the bar; approving at the gate as a person would:")
            await signal_as_a_person(demo, DESIGN_ID, "approved")
        demo.holds(st, pending_decisions(st))
        await asyncio.sleep(POLL_S)
    result = DesignResult.model_validate(await handle.result())
    design_metrics = await handle.query(DesignReviewWorkflow.metrics)
    say(
        f"  tokens {result.tokens}, cost ${result.cost_usd:.4f} over "
        f"{design_metrics.agent_calls} agent calls"
    )
    say(f"  artifacts: {len(result.artifacts)} files, commit {str(result.commit)[:10]}")
    say(f"  {result.result}")


async def build_phase(
    demo: Demo, client: Client, repo: DemoRepo, task_queue: str, forge: DemoForge
) -> BuildResult:
    say = demo.say
    arg = BuildInput(design_dir=str(repo.design_dir))
    handle = await next_phase(
        demo, client, f"build loop: {BUILD_ID}", BuildWorkflow, arg, task_queue, "build"
    )
    seen: set[tuple[str, object]] = set()
    fork = DemoFork(demo, handle)
    while True:
        for line in await forge.tick():  # the PRs' CI and reviewer, as they happen
            say(line)
        running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        try:
            st = await handle.query(BuildWorkflow.status)
        except RPCError:
            st = None
        if st is not None:
            report_progress(demo, st, seen)
            await fork.step(st, seen, act=running)
            if running:
                demo.holds(st, pending_decisions(st))
        if not running:
            # The poll that saw the run closed reported after it closed: the last
            # subtask's PR, set between two polls, is printed too.
            break
        await asyncio.sleep(POLL_S)
    result = BuildResult.model_validate(await handle.result())
    for sub in result.subtasks:
        if sub.pr_url and (sub.subtask, "pr") not in seen:
            say(f"  {sub.subtask:<12} PR {sub.pr_url}")
    say(f"== build: {result.result}")
    if fork.summary():
        say(f"== fork: {fork.summary()}")
    if result.integration is not None:
        say(f"== integration: {integration_line(result.integration)}")
        say(f"  report: {repo.design_dir / 'build-reviews' / 'INTEGRATION.md'}")
    say("== tokens and cost (build, simulated prices)")
    print(metrics_view(await handle.query(BuildWorkflow.metrics)), flush=True)
    say(f"most subtasks running at once: {result.max_running}")
    return result
