"""Makespan of the build: our DAG scheduling versus the seeds' batch barrier.

The seed (002) finishes every subtask of batch N before it starts batch N+1, so one
slow subtask idles every slot until it is done. BuildWorkflow starts a subtask as
soon as its own dependencies have PRs. This measures what that buys on a larger
random DAG with simulated agent latencies, against the lower bound
max(critical path, total work / concurrency) that no schedule can beat.

Our figure is measured, not modelled: the real BuildWorkflow and the real activities
it calls run on Temporal's time-skipping test server, over a real design directory
committed in a real git repository; only SubtaskWorkflow is replaced by a stand-in
that sleeps its subtask's latency (written into the subtask's title, since
workflow code cannot read files). The batch barrier is simulated in plain Python
on the plan engine's stages, and so is an ideal DAG list schedule, to cross-check
the workflow's figure.

    python benchmarks/makespan.py [--subtasks 60] [--seed 7] [--concurrency 2 4 8]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import math
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import workflow

# The project root (no Path.resolve: the workflow sandbox re-runs this module and forbids it).
ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities import config, design_files, tracker
    from activities.plan import activities as plan_activities
    from activities.plan import run_plan, seed_subtask_files
    from contracts.build import BuildInput, BuildResult, SubtaskInput, SubtaskResult
    from runtime.server import temporal_binary
    from workflows.build import BuildWorkflow

RESULTS = ROOT / "benchmarks" / "results" / "makespan.md"
FEATURE = "makespan-bench"
LATENCY = re.compile(r"\(latency (\d+(?:\.\d+)?) min\)")


def latency_of(title: str) -> float:
    """Minutes of simulated agent work, as generate() wrote them into the title."""
    found = LATENCY.search(title)
    if found is None:
        raise ValueError(f"subtask title {title!r} carries no '(latency N min)'")
    return float(found.group(1))


@workflow.defn(name="SubtaskWorkflow")
class SimulatedSubtask:
    """Stands in for the real SubtaskWorkflow: the agents' time, then a PR."""

    @workflow.run
    async def run(self, inp: SubtaskInput) -> SubtaskResult:
        await workflow.sleep(timedelta(minutes=latency_of(inp.title)))
        return SubtaskResult(
            subtask=inp.subtask,
            status="pr_created",
            pr_url=f"https://forge.invalid/pulls/{inp.subtask}",
        )


# ---------------------------------------------------------------- the design


@dataclass(frozen=True)
class Dag:
    """What the schedules need: plan order, batches, dependencies, minutes each."""

    order: list[str]
    stages: list[list[str]]
    deps: dict[str, list[str]]
    minutes: dict[str, float]


def subplan_text(index: int, minutes: float, deps: list[str]) -> str:
    """A subplan in the seed-001 metadata style (as examples/link-shortener/subplans)."""
    return (
        f"# Part {index} (latency {minutes:.1f} min)\n\n"
        f"**Goal**: Build part {index} of the feature.\n"
        f"**Estimated Hours**: {max(1, round(minutes / 60))}\n"
        "**Complexity**: medium\n"
        f"**Files Modified**: pkg/part_{index}.py, tests/test_part_{index}.py\n"
        f"**Dependencies**: {', '.join(deps) if deps else 'None'}\n\n"
        "## Scope\n\n"
        f"- Part {index} and its tests.\n\n"
        "**Implementation Steps**:\n"
        f"1. Write `pkg/part_{index}.py`.\n"
        f"2. Test it in `tests/test_part_{index}.py`.\n\n"
        "## Acceptance Criteria\n\n"
        f"- [ ] part {index} behaves as specified\n\n"
        "## Validation Gates\n\n"
        f"- [ ] `pytest -q tests/test_part_{index}.py` passes\n"
    )


def generate(design_dir: Path, count: int, seed: int) -> None:
    """A seeded random DAG: each subtask depends on 0-3 recent ones; lognormal latencies.

    Recent dependencies keep the DAG deep with uneven stages, like real plans; the
    lognormal gives the long tail of agent runs (median ~45 min, clipped to 20-120).
    """
    rng = random.Random(seed)
    (design_dir / "subplans").mkdir(parents=True)
    (design_dir / "overview.md").write_text(
        "# Makespan benchmark\n\nA generated design: a random DAG of subtasks.\n",
        encoding="utf-8",
    )
    names = [f"{i:02d}-part-{i}" for i in range(1, count + 1)]
    for i, name in enumerate(names):
        window = names[max(0, i - 12) : i]
        deps = sorted(rng.sample(window, k=min(len(window), rng.randint(0, 3))))
        minutes = round(min(120.0, max(20.0, rng.lognormvariate(math.log(45), 0.6))), 1)
        text = subplan_text(i + 1, minutes, deps)
        (design_dir / "subplans" / f"{name}.md").write_text(text, encoding="utf-8")


def commit_project(root: Path, design_dir: Path) -> None:
    """What an approved design leaves behind: XML subtasks, committed on main."""
    seed_subtask_files(str(design_dir))

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git(
        "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-qm", "design"
    )


def load_dag(design_dir: Path) -> Dag:
    doc, plan = run_plan(str(design_dir))
    return Dag(
        order=plan.order,
        stages=plan.stages,
        deps={s.name: s.dependencies for s in doc.subplans},
        minutes={s.name: latency_of(s.title) for s in doc.subplans},
    )


# ---------------------------------------------------------- the models


def batch_barrier(dag: Dag, slots: int) -> float:
    """Seed 002: list-schedule one batch on `slots`, wait for all of it, then the next."""
    now = 0.0
    for stage in dag.stages:
        free = [now] * slots
        end = now
        for name in stage:
            start = heapq.heappop(free)
            finish = start + dag.minutes[name]
            heapq.heappush(free, finish)
            end = max(end, finish)
        now = end
    return now


def dag_list_schedule(dag: Dag, slots: int) -> float:
    """BuildWorkflow's policy in plain Python: start ready subtasks in plan order."""
    done: set[str] = set()
    started: set[str] = set()
    running: list[tuple[float, str]] = []
    now = 0.0
    while len(done) < len(dag.order):
        for name in dag.order:
            if len(running) >= slots:
                break
            if name not in started and all(d in done for d in dag.deps[name]):
                started.add(name)
                heapq.heappush(running, (now + dag.minutes[name], name))
        now, name = heapq.heappop(running)
        done.add(name)
        while running and running[0][0] == now:
            done.add(heapq.heappop(running)[1])
    return now


def critical_path(dag: Dag) -> float:
    finish: dict[str, float] = {}
    for name in dag.order:
        finish[name] = dag.minutes[name] + max((finish[d] for d in dag.deps[name]), default=0.0)
    return max(finish.values())


def lower_bound(dag: Dag, slots: int) -> float:
    """No schedule beats the longest chain, nor the total work spread over every slot."""
    return max(critical_path(dag), sum(dag.minutes.values()) / slots)


# ------------------------------------------------------- the measurement


async def workflow_makespan(
    client: Client, design_dir: Path, slots: int, queue: str
) -> tuple[float, int]:
    """Simulated minutes from BuildWorkflow's start to its close, and its peak concurrency."""
    handle = await client.start_workflow(
        BuildWorkflow.run,
        BuildInput(design_dir=str(design_dir), max_concurrent_subtasks=slots, forge="none"),
        id=f"build-{FEATURE}-c{slots}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
    )
    result: BuildResult = await handle.result()
    if result.result != "ALL_SUBTASKS_PR_CREATED":
        raise RuntimeError(f"build at concurrency {slots} ended {result.result}")
    desc = await handle.describe()
    if desc.close_time is None:
        raise RuntimeError(f"{handle.id} has no close time")
    return (desc.close_time - desc.start_time).total_seconds() / 60, result.max_running


async def measure(design_dir: Path, concurrencies: list[int]) -> dict[int, tuple[float, int]]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=temporal_binary("temporal-test-server"),
    )
    queue = f"makespan-{uuid.uuid4().hex[:8]}"
    figures: dict[int, tuple[float, int]] = {}
    try:
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[BuildWorkflow, SimulatedSubtask],
            activities=[
                *config.ACTIVITIES,
                *plan_activities.ACTIVITIES,
                *tracker.ACTIVITIES,
                *design_files.ACTIVITIES,
            ],
            activity_executor=ThreadPoolExecutor(max_workers=4),
        ):
            for slots in concurrencies:
                figures[slots] = await workflow_makespan(env.client, design_dir, slots, queue)
    finally:
        await env.shutdown()
    return figures


# ------------------------------------------------------------ the report


def table(dag: Dag, figures: dict[int, tuple[float, int]]) -> tuple[str, list[str]]:
    """The markdown table, and cross-check lines where the workflow and the model differ."""
    rows = [
        "| concurrency | DAG (workflow) | batch barrier | lower bound "
        "| DAG/bound | barrier/bound | barrier/DAG |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    checks: list[str] = []
    for slots, (ours, peak) in sorted(figures.items()):
        barrier, bound = batch_barrier(dag, slots), lower_bound(dag, slots)
        model = dag_list_schedule(dag, slots)
        rows.append(
            f"| {slots} | {ours:.0f} min | {barrier:.0f} min | {bound:.0f} min "
            f"| {ours / bound:.2f} | {barrier / bound:.2f} | {barrier / ours:.2f} |"
        )
        checks.append(
            f"concurrency {slots}: workflow {ours:.1f} min vs ideal DAG list schedule "
            f"{model:.1f} min ({(ours - model) * 60:+.1f} s); peak running {peak}"
        )
    return "\n".join(rows), checks


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subtasks", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        design_dir = root / "design-docs" / "active" / FEATURE
        generate(design_dir, args.subtasks, args.seed)
        commit_project(root, design_dir)
        dag = load_dag(design_dir)
        figures = asyncio.run(measure(design_dir, args.concurrency))
    rows, checks = table(dag, figures)
    edges = sum(len(d) for d in dag.deps.values())
    header = (
        f"{len(dag.order)} subtasks, {edges} edges, {len(dag.stages)} batches, seed {args.seed}; "
        f"latencies {min(dag.minutes.values()):.0f}-{max(dag.minutes.values()):.0f} min, "
        f"total work {sum(dag.minutes.values()):.0f} min, critical path {critical_path(dag):.0f} "
        "min. Simulated minutes (Temporal time-skipping)."
    )
    report = (
        "# Makespan: DAG scheduling vs the batch barrier\n\n"
        "Generated by `benchmarks/makespan.py`; see its docstring for the method.\n\n"
        f"{header}\n\n{rows}\n\n" + "\n".join(f"- {c}" for c in checks) + "\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    print(header)
    print()
    print(rows)
    print()
    print("\n".join(checks))
    print(f"\nwrote {RESULTS} in {time.perf_counter() - began:.1f} s wall")


if __name__ == "__main__":
    main()
