"""`orchestrator demo`: both loops end to end on the bundled example.

Starts (or reuses) the embedded Temporal server, runs a worker in this
process, the local Messages API and GitHub stand-ins, and a scratch copy of
the example repository; runs the design loop, answers and approves the way a
person would (printing the commands it uses), then builds every subtask to a
pull request. With ANTHROPIC_API_KEY set (and --real), the same run uses the
real model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from cli.common import CliError
from cli.demo_repo import DEMO_REPOSITORY, DemoRepo, demo_config, prepare_demo_repo
from cli.views import integration_line, metrics_view, scores_text
from contracts.build import BuildInput, BuildResult, BuildStatus
from contracts.design import DesignInput, DesignResult, DesignStatus
from contracts.human import AnswerInput
from contracts.metrics import Metrics
from runtime.client import connect, settings_from_env
from runtime.server import ServerError, orchestrator_home, temporal_binary

BANNER = "SIMULATION: model answers are scripted by the local Messages API stand-in"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the design and build loops on the bundled example")
    p.add_argument("--dir", default=None, help="scratch directory (default: ~/.orchestrator/demo)")
    p.add_argument("--real", action="store_true", help="use ANTHROPIC_API_KEY's real model")
    p.add_argument("--answer", default="A", help="option the demo picks for open questions")
    p.add_argument("--no-embedded", action="store_true")
    p.set_defaults(run=run)


def say(text: str = "") -> None:
    print(text, flush=True)


async def run(args: argparse.Namespace) -> int:
    simulated = not args.real
    if args.real and not os.environ.get("ANTHROPIC_API_KEY"):
        raise CliError("--real needs ANTHROPIC_API_KEY in the environment")
    scratch = (
        Path(args.dir)
        if args.dir
        else orchestrator_home() / "demo" / time.strftime("%Y%m%d-%H%M%S")
    )
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
            say(f"== {BANNER} ({messages.url})")
        repo = prepare_demo_repo(scratch, demo_config(github.url))
        github.add_repo(DEMO_REPOSITORY, git_dir=str(repo.origin))
        say(f"== scratch repository {repo.root} (origin {repo.origin})")
        say(f"== GitHub stand-in {github.url} (repository demo/link-shortener)")
        try:
            client = await connect(embedded=not args.no_embedded)
        except ServerError as err:
            raise CliError(str(err)) from err
        from worker import build_worker

        task_queue = f"orchestrator-demo-{uuid.uuid4().hex[:8]}"
        async with build_worker(client, task_queue):
            say(f"== worker polling {task_queue} in this process")
            say(f"== Web UI {settings_from_env().ui_url}")
            await design_phase(client, repo, task_queue, args.answer)
            result = await build_phase(client, repo, task_queue)
        say()
        say(f"PRs on the GitHub stand-in: {len(github.pulls('demo/link-shortener'))}")
        say(f"Tracker: {repo.root / 'design-docs/orchestration/pr_tracker.md'}")
        say(f"Web UI: {settings_from_env().ui_url}")
        if simulated:
            say(f"({BANNER}; cost is what the price table says the tokens would cost)")
        say(result.result)
        return 0 if result.result == "ALL_SUBTASKS_PR_CREATED" else 1


async def fresh_start(
    client: Client, workflow: str, workflow_id: str, arg: Any, task_queue: str
) -> WorkflowHandle:
    """Terminate a leftover run of an earlier demo with the same id, then start."""
    old = client.get_workflow_handle(workflow_id)
    with contextlib.suppress(RPCError):
        if (await old.describe()).status == WorkflowExecutionStatus.RUNNING:
            await old.terminate("superseded by a new `orchestrator demo`")
    return await client.start_workflow(
        workflow,
        arg,
        id=workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def design_phase(client: Client, repo: DemoRepo, task_queue: str, pick: str) -> None:
    wid = "design-link-shortener"
    say(f"\n== design loop: {wid}")
    handle = await fresh_start(
        client,
        "DesignReviewWorkflow",
        wid,
        DesignInput(design_dir=str(repo.design_dir)),
        task_queue,
    )
    seen: set[tuple[str, int]] = set()
    answered: set[str] = set()
    codebase_seen: set[str] = set()
    approved = False
    while True:
        desc = await handle.describe()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            break
        st = await handle.query("status", result_type=DesignStatus)
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
            say(f"  -> as a person would: orchestrator answer {repo.design_dir} {q.id} {pick}")
            reply = await handle.execute_update(
                "answer_question", AnswerInput(question_id=q.id, choice=pick), result_type=str
            )
            say(f"     recorded {reply}")
        if st.phase == "awaiting-approval" and not approved:
            approved = True
            address = settings_from_env().address
            cmd = [
                temporal_binary(),
                "workflow",
                "signal",
                "--address",
                address,
                "--workflow-id",
                wid,
                "--name",
                "approved",
            ]
            say("  every scope cleared the bar; approving at the gate as a person would:")
            say(f"  $ temporal workflow signal --workflow-id {wid} --name approved")
            proc = await asyncio.create_subprocess_exec(
                *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            output, _ = await proc.communicate()
            if proc.returncode != 0:
                raise CliError(f"temporal workflow signal failed: {output.decode()}")
        await asyncio.sleep(0.3)
    result = DesignResult.model_validate(await handle.result())
    design_metrics = await handle.query("metrics", result_type=Metrics)
    say(
        f"  tokens {result.tokens}, cost ${result.cost_usd:.4f} over "
        f"{design_metrics.agent_calls} agent calls"
    )
    say(f"  artifacts: {len(result.artifacts)} files, commit {str(result.commit)[:10]}")
    say(f"  {result.result}")


async def build_phase(client: Client, repo: DemoRepo, task_queue: str) -> BuildResult:
    wid = "build-link-shortener"
    say(f"\n== build loop: {wid}")
    handle = await fresh_start(
        client, "BuildWorkflow", wid, BuildInput(design_dir=str(repo.design_dir)), task_queue
    )
    seen: set[tuple[str, object]] = set()
    while True:
        running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        try:
            report_progress(await handle.query("status", result_type=BuildStatus), seen)
        except RPCError:
            pass
        if not running:
            # The poll that saw the run closed reported after it closed: the last
            # subtask's PR, set between two polls, is printed too.
            break
        await asyncio.sleep(0.3)
    result = BuildResult.model_validate(await handle.result())
    for sub in result.subtasks:
        if sub.pr_url and (sub.subtask, "pr") not in seen:
            say(f"  {sub.subtask:<12} PR {sub.pr_url}")
    if result.integration is not None:
        say(f"\n== integration: {integration_line(result.integration)}")
        say(f"  report: {repo.design_dir / 'build-reviews' / 'INTEGRATION.md'}")
    say("\n== tokens and cost (build, simulated prices)")
    say(metrics_view(await handle.query("metrics", result_type=Metrics)))
    say(f"\nmost subtasks running at once: {result.max_running}")
    return result


def report_progress(st: BuildStatus, seen: set[tuple[str, object]]) -> None:
    """Print what changed since the last poll: starts, rounds, PRs, blocked subtasks."""
    for v in st.subtasks:
        if v.status != "pending" and (v.name, "start") not in seen:
            seen.add((v.name, "start"))
            say(f"  {v.name:<12} started (running now: {', '.join(st.running) or '-'})")
        for n, scores in enumerate(v.round_scores, start=1):
            if (v.name, n) not in seen:
                seen.add((v.name, n))
                # A round with no reviewer (integration's, before the integrator changed
                # anything) is judged by its checks alone.
                checks = "checks " + ("green" if v.gates_passed else "red")
                say(f"  {v.name:<12} round {n}: {scores_text(scores) if scores else checks}")
        if v.pr_url and (v.name, "pr") not in seen:
            seen.add((v.name, "pr"))
            say(f"  {v.name:<12} PR {v.pr_url}")
        if v.status in ("blocked", "cancelled") and (v.name, "end") not in seen:
            seen.add((v.name, "end"))
            say(f"  {v.name:<12} {v.status}: {v.notes}")
