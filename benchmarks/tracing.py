"""What traces cost: the design loop's speed with tracing off and on, in one run.

Each run is the example's design loop from its start to its first question for a person
(some 40 agent conversations against the scripted model, whose instant answers leave the
loop's own work as all there is to measure: the worst case for any overhead), in a
worker process of its own on a dev server. "off": no OTEL_EXPORTER_OTLP_ENDPOINT;
"on": the worker exports every span over OTLP/HTTP to a local receiver. Runs alternate
off/on, so a machine's drift weighs on both. Also the helpers' own cost with tracing
off (activities/tracing.py), per call, against a plain await.

    python benchmarks/tracing.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities import tracing
from cli.demo_repo import demo_config, prepare_demo_repo
from contracts.design import DesignInput, DesignStatus
from runtime.server import free_port, start_dev_server
from simulators.demo_scenario import link_shortener_scenario
from simulators.messages_api import READABLE_CALLERS, MessagesStandIn
from simulators.otlp_collector import OtlpCollector
from workflows.design_review import DesignReviewWorkflow

ROOT = Path(__file__).resolve().parent.parent


def spawn_worker(
    address: str, queue: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker", "--no-embedded", "--task-queue", queue],
            cwd=ROOT,
            env={**env, "TEMPORAL_ADDRESS": address},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def until(probe: Callable[[], Awaitable[bool]]) -> None:
    for _ in itertools.count():
        if await probe():
            return
        await asyncio.sleep(0.05)


async def one_run(
    client: Client, address: str, env: dict[str, str], work: Path, label: str
) -> float:
    """Seconds from the loop's start to its first question, on a worker of its own."""
    repo = prepare_demo_repo(work / label, demo_config(None))
    queue = f"bench-{label}"
    log = work / f"{label}.log"
    worker = await asyncio.to_thread(spawn_worker, address, queue, env, log)

    async def polling() -> bool:
        return "Worker polling" in log.read_text(errors="replace")

    try:
        await until(polling)
        started = time.perf_counter()
        handle = await client.start_workflow(
            DesignReviewWorkflow.run,
            DesignInput(design_dir=str(repo.design_dir)),
            id=f"design-{label}",
            task_queue=queue,
        )

        async def asking() -> bool:
            st: DesignStatus = await handle.query(DesignReviewWorkflow.status)
            return st.phase == "questions"

        await until(asking)
        took = time.perf_counter() - started
        await handle.terminate("measured")
        return took
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait)


async def helper_ns(calls: int = 200_000) -> tuple[float, float]:
    """Nanoseconds per call: a plain await, and the same through the off helper."""

    async def answer() -> int:
        return 1

    started = time.perf_counter()
    for _ in range(calls):
        await answer()
    plain = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        await tracing.model_turn(answer(), model="m", agent="a", scope="s", turn=1, max_tokens=1)
    helped = time.perf_counter() - started
    return plain / calls * 1e9, helped / calls * 1e9


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode")
    args = parser.parse_args()
    assert not tracing.on()
    with (
        tempfile.TemporaryDirectory() as tmp,
        MessagesStandIn(link_shortener_scenario()) as messages,
        OtlpCollector() as collector,
    ):
        work = Path(tmp)
        server = start_dev_server(
            port=free_port(), ui_port=free_port(), detach=False, log_path=work / "server.log"
        )
        try:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP")}
            base.update(
                ANTHROPIC_BASE_URL=messages.url, ANTHROPIC_API_KEY="simulated", **READABLE_CALLERS
            )
            modes = {"off": base, "on": {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}}
            times: dict[str, list[float]] = {"off": [], "on": []}
            for i in range(args.runs):
                for mode, env in modes.items():
                    took = await one_run(client, server.address, env, work, f"{mode}-{i}")
                    times[mode].append(took)
                    print(f"run {i + 1} {mode}: {took:.2f} s", flush=True)
        finally:
            server.stop()
        spans = len(collector.spans())
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    plain, helped = await helper_ns()
    print(f"tracing off: {off:.2f} s median to the first question ({args.runs} runs)")
    print(f"tracing on:  {on:.2f} s median ({spans} spans received over OTLP/HTTP)")
    print(f"on / off:    {on / off:.3f}")
    print(f"helper with tracing off: {helped - plain:.0f} ns per agent turn over a plain await")


if __name__ == "__main__":
    asyncio.run(main())
