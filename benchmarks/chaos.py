"""Chaos: the bundled example is built while its worker and Temporal server are SIGKILLed.

A real dev server (persisting to a database file), a real worker process, the
Messages API and GitHub stand-ins with a configurable model latency. During the
build the worker is SIGKILLed K times and the server M times, at seeded random
moments, and each is restarted at once. Afterwards the invariants a user relies
on are checked and printed with the retries and recovery times:

- exactly one PR per subtask, and one branch each (local and on origin);
- integration passed: one integration PR, its branch holds every subtask branch;
- the tracker is complete and agrees with the workflow's result;
- review files = rounds reviewed x code reviewers, for every subtask;
- no leftover or dirty worktree (every one removed once integration passed); `git fsck`
  clean on the repository and origin;
- activity retries (attempts after the first) and, per restart, the seconds until
  work resumed (the next model request reached the stand-in).

    python benchmarks/chaos.py [--worker-kills 20] [--server-kills 3] [--seed 1]
                               [--latency 0.4] [--out benchmarks/results/chaos.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowHandle  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from activities.plan import run_plan, seed_subtask_files  # noqa: E402
from activities.tracker import read_tracker  # noqa: E402
from cli.demo_repo import DemoRepo, demo_config, git, prepare_demo_repo  # noqa: E402
from contracts.build import BuildInput, BuildResult  # noqa: E402
from runtime.server import DevServer, free_port, start_dev_server  # noqa: E402
from simulators.demo_scenario import link_shortener_scenario  # noqa: E402
from simulators.github_api import GitHubStandIn  # noqa: E402
from simulators.messages_api import READABLE_CALLERS, MessagesStandIn  # noqa: E402
from workflows.build import BuildWorkflow  # noqa: E402

TASK_QUEUE = "chaos"
REPOSITORY = "demo/link-shortener"
# Short heartbeats so an agent on a killed worker is retried within seconds.
CONFIG = "\n[agents]\nheartbeat_timeout_s = 5\n"
RESULTS = ROOT / "benchmarks" / "results" / "chaos.md"


@dataclass
class Run:
    """What happened: each kill, how long until work resumed, what the build returned."""

    kills: list[tuple[str, float]] = field(default_factory=list)  # (what, seconds to resume)
    worker_restarts: int = 0
    elapsed_s: float = 0.0
    result: BuildResult | None = None


class Cluster:
    """The dev server (on a database file, so a restart keeps every workflow) and a worker."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work, self.env = work, env
        self.port, self.ui_port = free_port(), free_port()
        self.db = work / "temporal.db"
        self.server: DevServer | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start_server(self) -> None:
        self.server = start_dev_server(
            self.port,
            self.ui_port,
            db_file=self.db,
            log_path=self.work / "server.log",
            headless=True,
        )

    def start_worker(self) -> None:
        env = {**os.environ, **self.env, "TEMPORAL_ADDRESS": self.address}
        with open(self.work / "worker.log", "ab") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "worker", "--task-queue", TASK_QUEUE, "--no-embedded"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait()

    def kill_server(self) -> None:
        assert self.server is not None and self.server.process is not None
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait()
        if self.server is not None:
            self.server.stop()


def approve(repo: DemoRepo) -> None:
    """What an approved design leaves behind: XML subtasks and the plan, committed."""
    seed_subtask_files(str(repo.design_dir))
    run_plan(str(repo.design_dir), write=True)
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-m", "design approved")
    git(repo.root, "push", "-q", "origin", "main")


async def connect(address: str, limit_s: float = 60.0) -> Client:
    deadline = time.monotonic() + limit_s
    while True:
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def resumed(messages: MessagesStandIn, seen: int, handle: WorkflowHandle) -> bool:
    """Work goes on: a new model request, or the build closed meanwhile."""
    while len(messages.requests) <= seen:
        try:
            if (await handle.describe()).close_time is not None:
                return True
        except Exception:  # the server may still be coming up
            pass
        await asyncio.sleep(0.1)
    return True


async def chaos(args: argparse.Namespace, work: Path) -> tuple[Run, list[tuple[str, str, bool]]]:
    rng = random.Random(args.seed)
    plan = ["worker"] * args.worker_kills + ["server"] * args.server_kills
    rng.shuffle(plan)
    run = Run()
    with GitHubStandIn() as github, MessagesStandIn(link_shortener_scenario()) as messages:
        messages.latency_s = args.latency
        env = {
            "ANTHROPIC_API_KEY": "chaos-anthropic-key",
            "GITHUB_TOKEN": "chaos-github-token",
            "ANTHROPIC_BASE_URL": messages.url,
            "GITHUB_API_URL": github.url,
            **READABLE_CALLERS,
        }
        repo = prepare_demo_repo(work / "project", demo_config(github.url) + CONFIG)
        # As on GitHub, the repository exists (its branches on the bare origin) before any PR.
        github.add_repo(REPOSITORY, git_dir=str(repo.origin))
        approve(repo)
        cluster = Cluster(work, env)
        cluster.start_server()
        cluster.start_worker()
        try:
            client = await connect(cluster.address)
            started = time.monotonic()
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id="build-link-shortener-chaos",
                task_queue=TASK_QUEUE,
            )
            for what in plan:
                # A random moment of the build: some model requests later.
                target = len(messages.requests) + rng.randint(1, args.spacing)
                while len(messages.requests) < target:
                    if (await handle.describe()).close_time is not None:
                        break
                    await asyncio.sleep(0.05)
                else:
                    seen = len(messages.requests)
                    if what == "worker":
                        cluster.kill_worker()
                        cluster.start_worker()
                    else:
                        cluster.kill_server()
                        cluster.start_server()
                        if cluster.worker is not None and cluster.worker.poll() is not None:
                            cluster.start_worker()  # it gave up while the server was gone
                            run.worker_restarts += 1
                        client = await connect(cluster.address)
                        handle = client.get_workflow_handle(handle.id)
                    restarted = time.monotonic()
                    await asyncio.wait_for(resumed(messages, seen, handle), args.resume_limit)
                    run.kills.append((what, time.monotonic() - restarted))
                    continue
                break  # the build finished before every planned kill
            run.result = BuildResult.model_validate(await handle.result())
            run.elapsed_s = time.monotonic() - started
            retries = await retried_attempts(client, handle, run.result)
            checks = invariants(repo, github, run.result)
            checks.append(("activity retries (attempts after the first)", str(retries), True))
        finally:
            cluster.stop()
    return run, checks


async def retried_attempts(client: Client, build: WorkflowHandle, result: BuildResult) -> int:
    """Attempts after the first, over the build and every subtask's history."""
    handles = [build] + [
        client.get_workflow_handle(f"{build.id}-{s.subtask}") for s in result.subtasks
    ]
    retries = 0
    for handle in handles:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                retries += max(0, event.activity_task_started_event_attributes.attempt - 1)
    return retries


def invariants(
    repo: DemoRepo, github: GitHubStandIn, result: BuildResult
) -> list[tuple[str, str, bool]]:
    names = [s.subtask for s in result.subtasks]
    checks: list[tuple[str, str, bool]] = []

    def check(what: str, seen: object, ok: bool) -> None:
        checks.append((what, str(seen), ok))

    check("result", result.result, result.result == "ALL_SUBTASKS_PR_CREATED")
    integration = f"integration/{repo.design_dir.name}"
    passed = result.integration is not None and result.integration.status == "passed"
    check("integration passed", result.integration and result.integration.status, passed)
    heads = sorted(p["head"]["ref"] for p in github.pulls(REPOSITORY))
    check(
        "one PR per subtask (and one for integration)",
        f"{len(heads)} PRs for {len(names)} + 1",
        heads == sorted([*(f"feat/{n}" for n in names), integration]),
    )
    merged = [
        subprocess.run(["git", "merge-base", "--is-ancestor", f"feat/{n}", integration],
                       cwd=repo.root).returncode == 0
        for n in names
    ]  # fmt: skip
    check("integration branch holds every subtask branch", f"{sum(merged)} of {len(names)}",
          all(merged))  # fmt: skip
    local = git(repo.root, "branch", "--list", "feat/*", "--format=%(refname:short)").split()
    remote = git(repo.origin, "branch", "--list", "feat/*", "--format=%(refname:short)").split()
    want = sorted(f"feat/{n}" for n in names)
    check(
        "one branch each (local, origin)",
        f"{len(local)}, {len(remote)}",
        sorted(local) == want == sorted(remote),
    )
    rows = read_tracker(str(repo.root / "design-docs/orchestration/pr_tracker.md"))[
        repo.design_dir.name
    ]
    agree = [(r.subtask, r.status, r.pr) for r in rows] == [
        (s.subtask, s.status, s.pr_url) for s in result.subtasks
    ] + [("integration", "pr_created", result.integration and result.integration.pr_url)]
    check("tracker complete, agrees with the workflow", f"{len(rows)} rows", agree)
    reviewers = 3  # the demo's code reviewers
    counts = {
        n: len(list((repo.design_dir / "build-reviews" / n).glob("*_code-*.md"))) for n in names
    }
    rounds = {s.subtask: s.rounds * reviewers for s in result.subtasks}
    check(
        "review files = rounds x reviewers",
        f"{sum(counts.values())} = {sum(rounds.values())}",
        counts == rounds,
    )
    left = [n for n in [*names, "integration"] if (repo.root / ".worktrees" / n).is_dir()]
    dirty = [
        n
        for n in left
        if git(repo.root / ".worktrees" / n, "status", "--porcelain", "--untracked-files=no")
    ]
    listed = git(repo.root, "worktree", "list", "--porcelain").count("worktree ") - 1
    check(
        "no leftover or dirty worktree (removed once integration passed)",
        f"{listed} worktrees, {len(dirty)} dirty",
        listed == 0 and not dirty,
    )
    fsck = [
        subprocess.run(["git", "fsck", "--no-progress"], cwd=p, capture_output=True, text=True)
        for p in (repo.root, repo.origin)
    ]
    check(
        "git fsck (repository, origin)",
        " / ".join("clean" if f.returncode == 0 else "ERRORS" for f in fsck),
        all(f.returncode == 0 for f in fsck),
    )
    return checks


def report(args: argparse.Namespace, run: Run, checks: list[tuple[str, str, bool]]) -> str:
    kills = {w: [s for what, s in run.kills if what == w] for w in ("worker", "server")}
    lines = [
        f"Chaos run: seed {args.seed}, model latency {args.latency:g} s, planned "
        f"{args.worker_kills} worker and {args.server_kills} server SIGKILLs; the build "
        f"took {run.elapsed_s:.0f} s.",
        "",
        "| check | seen | holds |",
        "|---|---|---|",
        *(f"| {what} | {seen} | {'yes' if ok else 'NO'} |" for what, seen, ok in checks),
    ]
    for what, waits in kills.items():
        if waits:
            lines.append(
                f"| {what} SIGKILLs done, seconds to resumed work (median / max) | "
                f"{len(waits)}: {sorted(waits)[len(waits) // 2]:.1f} / {max(waits):.1f} | yes |"
            )
        else:
            lines.append(f"| {what} SIGKILLs done | 0 | yes |")
    if run.worker_restarts:
        lines.append(
            f"| workers that exited while the server was down | {run.worker_restarts} | yes |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker-kills", type=int, default=20)
    parser.add_argument("--server-kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.4, help="seconds per model answer")
    parser.add_argument(
        "--spacing", type=int, default=12, help="at most this many model requests between kills"
    )
    parser.add_argument(
        "--resume-limit", type=float, default=300.0, help="seconds a restart may take to resume"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    try:
        run, checks = asyncio.run(chaos(args, work))
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)
    text = report(args, run, checks)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
