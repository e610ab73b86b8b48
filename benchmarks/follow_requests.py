"""GitHub requests per pull request per hour while its CI stays pending.

The real BuildWorkflow builds N independent subtasks (scripted agents on the Messages
API stand-in, real git) and each SubtaskWorkflow follows its PR on the GitHub REST
stand-in, whose branch protection requires a check `ci` that never reports: every PR
waits, `blocked`. On Temporal's time-skipping test server the benchmark then lets
`--hours` of simulated time pass; the loops poll on their real schedule (`[forge] poll_s`
first, doubling up to `poll_max_s` while nothing changes, conditional requests with ETags)
and the stand-in's request log says how many requests they made and how many it answered
304 Not Modified (free against GitHub's rate limit).

    python benchmarks/follow_requests.py [--prs 3] [--hours 1] [--poll-s 30] [--poll-max-s 600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from temporalio.client import WorkflowHandle  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from contracts.build import BuildInput, BuildStatus  # noqa: E402
from runtime.server import temporal_binary  # noqa: E402
from simulators.github_api import GitHubStandIn  # noqa: E402
from simulators.messages_api import MessagesStandIn  # noqa: E402
from tests.support import sim_environ  # noqa: E402
from tests.workflows.builds import (  # noqa: E402
    ONE_REVIEWER,
    REPO,
    passes_review,
    tiny_project,
    writes_file_rule,
)
from worker import build_worker  # noqa: E402
from workflows.build import BuildWorkflow  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "follow_requests.md"
PULL = re.compile(r"/pulls/\d+$")  # each poll reads the PR once


def names(n: int) -> list[str]:
    return [f"s{i:02d}" for i in range(n)]


async def wait_all_following(
    handle: WorkflowHandle[Any, Any], count: int, limit: float = 900.0
) -> None:
    """Until every subtask's PR exists and its loop waits on CI (real time)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        st: BuildStatus = await handle.query(BuildWorkflow.status)
        waiting = [v for v in st.subtasks if v.status == "ci_running" and v.pull is not None]
        if len(waiting) == count:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"not every one of {count} subtasks was following its PR in {limit} s")


async def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    subtasks = names(args.prs)
    rules = [r for s in subtasks for r in (writes_file_rule(s), passes_review(s))]
    forge = f"follow = true\npoll_s = {args.poll_s}\npoll_max_s = {args.poll_max_s}"
    with GitHubStandIn() as github, MessagesStandIn({"rules": rules}) as messages:
        os.environ.update(sim_environ(messages.url, github.url))
        os.environ["ORCHESTRATOR_HOME"] = str(tmp / "home")
        design: dict[str, list[str]] = {s: [] for s in subtasks}
        repo = tiny_project(tmp, github.url, design, ONE_REVIEWER, forge=forge)
        github.protect(REPO, "main", contexts=["ci"], strict=False)  # `ci` never reports
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=temporal_binary("temporal-test-server"),
        )
        queue = f"follow-bench-{uuid.uuid4().hex[:8]}"
        try:
            async with build_worker(env.client, queue):
                handle = await env.client.start_workflow(
                    BuildWorkflow.run,
                    # A subtask following its PR holds its slot: N at once need N slots.
                    BuildInput(
                        design_dir=str(repo.design_dir), max_concurrent_subtasks=len(subtasks)
                    ),
                    id=f"build-follow-bench-{uuid.uuid4().hex[:6]}",
                    task_queue=queue,
                )
                await wait_all_following(handle, len(subtasks))
                github.clear_requests()
                began = time.monotonic()
                await env.sleep(timedelta(hours=args.hours))
                wall = time.monotonic() - began
                seen = github.requests
                await handle.terminate("benchmark done")
        finally:
            await env.shutdown()
    polls = [r for r in seen if r.method == "GET" and PULL.search(r.path)]
    per_pr_hour = len(seen) / len(subtasks) / args.hours
    return {
        "requests": len(seen),
        "not_modified": len([r for r in seen if r.status == 304]),
        "per_pr_hour": per_pr_hour,
        "polls_per_pr_hour": len(polls) / len(subtasks) / args.hours,
        "wall_s": wall,
        "counted": sorted({f"{r.method} {r.path} ({r.status})" for r in seen if r.status != 304}),
    }


def report(args: argparse.Namespace, fig: dict[str, Any]) -> str:
    share = fig["not_modified"] / fig["requests"] if fig["requests"] else 0.0
    counted = fig["requests"] - fig["not_modified"]
    return "\n".join(
        [
            f"Following {args.prs} PRs whose required check never reports, {args.hours} h of "
            f"simulated time, poll_s {args.poll_s}, poll_max_s {args.poll_max_s}:",
            "",
            "| PRs | hours | requests | 304 Not Modified | counted against the limit "
            "| requests per PR per hour | polls per PR per hour | wall time |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {args.prs} | {args.hours} | {fig['requests']:.0f} | {fig['not_modified']:.0f} "
            f"({share:.0%}) | {counted:.0f} | {fig['per_pr_hour']:.1f} "
            f"| {fig['polls_per_pr_hour']:.1f} | {fig['wall_s']:.0f} s |",
            "",
            "Answered other than 304: " + ("; ".join(fig["counted"]) or "none") + ".",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prs", type=int, default=3)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--poll-s", type=float, default=30.0)
    parser.add_argument("--poll-max-s", type=float, default=600.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fig = asyncio.run(measure(args, Path(tmp)))
    text = report(args, fig)
    RESULTS.write_text(f"# Follow requests\n\n`python benchmarks/follow_requests.py`\n\n{text}")
    print(text)


if __name__ == "__main__":
    main()
