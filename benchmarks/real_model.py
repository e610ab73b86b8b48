"""The build against the real Anthropic API: rounds, requests, tokens, cache hits, cost, time.

Runs the bundled example (and any design directory given) through the build loop
with the real model, on a scratch copy of its repository: an embedded Temporal
dev server, a worker in this process, the GitHub stand-in for pull requests (the
bundled example) or no forge (a design directory of yours: nothing is pushed
anywhere). The design is taken as approved: its subtasks are drafted
deterministically from the subplans when it has none yet. It reports, per design:
rounds per subtask, model requests, tokens by kind (input, output, cache writes,
cache reads), the cache hit rate (cache reads over all prompt tokens), the cost
from the model table, and the wall time; and writes them as a markdown table
(`--out`, default benchmarks/results/real_model.md) for the table in docs/figures.md.

A build that stops to ask a person (a budget, a stuck subtask, a failure) is
reported as far as it got, with what it asked, and cancelled: nothing waits for
an answer. `--budget-usd` (default 25) bounds what one design may spend.

Without ANTHROPIC_API_KEY it says so and exits 0: it never falls back to a stand-in.

    python benchmarks/real_model.py [DESIGN_DIR ...] [--model claude-sonnet-5-5]
                                    [--budget-usd 25] [--out benchmarks/results/real_model.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from temporalio.client import Client, WorkflowHandle  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from activities.agents.loop import API_KEY_ENV, BASE_URL_ENV, CALLER_IDS_ENV  # noqa: E402
from activities.agents.models import DEFAULT_MODEL  # noqa: E402
from activities.plan import run_plan, seed_subtask_files  # noqa: E402
from cli.demo_repo import DEMO_REPOSITORY, git, prepare_demo_repo  # noqa: E402
from contracts.agents import Usage  # noqa: E402
from contracts.build import BuildInput, BuildResult, BuildStatus  # noqa: E402
from contracts.metrics import Metrics  # noqa: E402
from runtime.server import free_port, start_dev_server  # noqa: E402
from simulators.github_api import GitHubStandIn  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows.build import BuildWorkflow  # noqa: E402

TASK_QUEUE = "real-model"
RESULTS = ROOT / "benchmarks" / "results" / "real_model.md"
POLL_S = 5.0
COLUMNS = (
    "design",
    "result",
    "rounds per subtask",
    "requests",
    "input / output / cache write / cache read tokens",
    "cache hit rate",
    "cost",
    "wall time",
)


@dataclass
class Outcome:
    design: str
    result: str = "not run"
    rounds: dict[str, int] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    elapsed_s: float = 0.0
    asked: str = ""  # what the build stopped to ask a person, if it did

    @property
    def cache_hit_rate(self) -> float:
        u = self.usage
        prompt = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
        return u.cache_read_input_tokens / prompt if prompt else 0.0

    def row(self) -> str:
        u = self.usage
        rounds = ", ".join(f"{k} {v}" for k, v in self.rounds.items()) or "-"
        result = self.result + (f" (asked: {self.asked})" if self.asked else "")
        cells = [
            self.design,
            result,
            rounds,
            str(u.requests),
            f"{u.input_tokens:,} / {u.output_tokens:,} / {u.cache_creation_input_tokens:,} / "
            f"{u.cache_read_input_tokens:,}",
            f"{self.cache_hit_rate:.0%}",
            f"${u.cost_usd:.2f}",
            f"{self.elapsed_s / 60:.1f} min",
        ]
        return "| " + " | ".join(cells) + " |"


def config(model: str, forge: str) -> str:
    """orchestrator.toml for a benchmark run: the model under test, the given forge."""
    lines = [f'\n[models]\ndefault = "{model}"\n', f'[forge]\nkind = "{forge}"']
    if forge == "github":
        # The stand-in runs no CI: the benchmark measures the loop up to the PRs.
        lines.append(f'repository = "{DEMO_REPOSITORY}"\nfollow = false')
    return "\n".join(lines) + "\n"


def approve(root: Path, design_dir: Path) -> None:
    """A design taken as approved: its subtasks and plan, committed (drafted from the
    subplans when the directory has no subtasks yet)."""
    if not any((design_dir / "subtasks").glob("*.xml")):
        seed_subtask_files(str(design_dir))
    run_plan(str(design_dir), write=True)
    git(root, "add", "-A")
    if git(root, "status", "--porcelain"):
        git(root, "commit", "-q", "-m", "benchmark: design approved")


def bundled(work: Path, model: str, github: GitHubStandIn) -> tuple[Path, Path]:
    repo = prepare_demo_repo(
        work / "link-shortener", config(model, "github") + f'api_url = "{github.url}"\n'
    )
    github.add_repo(DEMO_REPOSITORY, git_dir=str(repo.origin))
    approve(repo.root, repo.design_dir)
    git(repo.root, "push", "-q", "origin", "main")
    return repo.root, repo.design_dir


def copied(work: Path, design: Path, model: str) -> tuple[Path, Path]:
    """A scratch clone of the repository holding `design`, with no forge: nothing leaves it."""
    top = Path(git(design, "rev-parse", "--show-toplevel"))
    root = work / top.name
    subprocess.run(["git", "clone", "-q", "--local", str(top), str(root)], check=True)
    git(root, "remote", "remove", "origin")
    toml = root / "orchestrator.toml"
    text = toml.read_text(encoding="utf-8") if toml.exists() else ""
    kept = [line for line in text.splitlines() if not line.strip().startswith("default =")]
    toml.write_text("\n".join(kept) + config(model, "none"), encoding="utf-8")
    design_dir = root / design.resolve().relative_to(top)
    approve(root, design_dir)
    return root, design_dir


async def run_build(client: Client, design_dir: Path, name: str, budget: float) -> Outcome:
    outcome = Outcome(design=name)
    started = time.monotonic()
    handle = await client.start_workflow(
        BuildWorkflow.run,
        BuildInput(design_dir=str(design_dir), max_cost_usd=budget),
        id=f"real-model-{name}-{int(time.time())}",
        task_queue=TASK_QUEUE,
    )
    result = await _finish(handle, outcome)
    outcome.elapsed_s = time.monotonic() - started
    metrics: Metrics = await handle.query(BuildWorkflow.metrics)
    outcome.usage = metrics.total
    if result is not None:
        outcome.result = result.result
        outcome.rounds = {s.subtask: s.rounds for s in result.subtasks}
        if result.integration is not None:
            outcome.rounds["integration"] = result.integration.rounds
    return outcome


async def _finish(handle: WorkflowHandle, outcome: Outcome) -> BuildResult | None:
    """The build's result; or, when it waits for a person, what it asked (then cancelled)."""
    while True:
        try:
            done = await asyncio.wait_for(asyncio.shield(handle.result()), POLL_S)
            return BuildResult.model_validate(done)
        except TimeoutError:
            pass
        status: BuildStatus = await handle.query(BuildWorkflow.status)
        if status.waiting_for not in ("agents", "nothing", ""):  # a person is asked
            outcome.result = "held"
            outcome.asked = status.waiting_for
            outcome.rounds = {s.name: s.round for s in status.subtasks}
            await handle.cancel()
            return None


async def benchmark(args: argparse.Namespace, work: Path) -> list[Outcome]:
    port, ui_port = free_port(), free_port()
    server = start_dev_server(port, ui_port, log_path=work / "server.log", headless=True)
    outcomes: list[Outcome] = []
    try:
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=pydantic_data_converter)
        with GitHubStandIn() as github:
            os.environ["GITHUB_API_URL"] = github.url
            os.environ.setdefault("GITHUB_TOKEN", "benchmark-github-token")
            async with build_worker(client, TASK_QUEUE):
                designs = [("link-shortener", bundled(work, args.model, github))]
                designs += [
                    (Path(d).resolve().name, copied(work, Path(d).resolve(), args.model))
                    for d in args.designs
                ]
                for name, (_, design_dir) in designs:
                    outcome = await run_build(client, design_dir, name, args.budget_usd)
                    print(outcome.row(), flush=True)
                    outcomes.append(outcome)
    finally:
        server.stop()
    return outcomes


def report(args: argparse.Namespace, outcomes: list[Outcome]) -> str:
    lines = [
        f"Real model: {args.model}, on {time.strftime('%Y-%m-%d')}; budget "
        f"${args.budget_usd:g} per design.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *(o.row() for o in outcomes),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "designs", nargs="*", help="design directories to build besides the example"
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--budget-usd", type=float, default=25.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not os.environ.get(API_KEY_ENV):
        print(
            f"{API_KEY_ENV} is not set: this benchmark calls the real Anthropic API (and is "
            "paid for), so it did nothing. Set the key and run it again to fill the table in "
            "docs/figures.md."
        )
        return 0
    if os.environ.get(CALLER_IDS_ENV) and not os.environ.get(BASE_URL_ENV):
        print(f"unsetting {CALLER_IDS_ENV}: Anthropic's API gets opaque caller ids")
        os.environ.pop(CALLER_IDS_ENV)
    work = Path(tempfile.mkdtemp(prefix="real-model-"))
    try:
        outcomes = asyncio.run(benchmark(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(args, outcomes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
