"""How long the plan engine takes on a large design: 500 subtasks, random DAG (seeded).

Measures parse (read + metadata) + analyze (networkx order, stages, critical path,
conflicts) + render (dag.md, batches.md) as one figure, the median of several runs.

    python benchmarks/plan_scale.py [--subtasks 500] [--runs 7] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.plan import analyze, load_design, render_batches, render_dag


def subplan_text(index: int, deps: list[str], files: list[str], rng: random.Random) -> str:
    steps = "\n".join(f"{n}. Step {n} of subtask {index}" for n in range(1, rng.randint(3, 7)))
    criteria = "\n".join(f"- [ ] criterion {n} holds" for n in range(1, rng.randint(2, 6)))
    body = "Some design prose explaining the approach in detail. " * rng.randint(10, 60)
    return (
        f"# Subtask {index}\n\n"
        f"**Goal**: Build part {index} of the feature.\n"
        f"**Estimated Hours**: {rng.randint(1, 16)}\n"
        f"**Complexity**: {rng.choice(['low', 'medium', 'high'])}\n"
        f"**Files Modified**: {', '.join(files)}\n"
        f"**Dependencies**: {', '.join(deps) if deps else 'None'}\n\n"
        f"## Design\n\n{body}\n\n"
        f"**Implementation Steps**:\n{steps}\n\n"
        f"## Acceptance Criteria\n\n{criteria}\n\n"
        f"## Validation Gates\n\n- [ ] `pytest -q tests/test_part{index}.py` passes\n"
    )


def generate(root: Path, count: int, seed: int) -> int:
    """Write a design directory with `count` subplans; return the number of edges."""
    rng = random.Random(seed)
    (root / "subplans").mkdir(parents=True)
    (root / "overview.md").write_text("# Scale test\n\nA generated design.\n", encoding="utf-8")
    names = [f"{i:03d}-part-{i}" for i in range(count)]
    edges = 0
    for i, name in enumerate(names):
        # Mostly recent dependencies: a deep DAG with wide stages, like real plans.
        window = names[max(0, i - 40) : i]
        deps = sorted(rng.sample(window, k=min(len(window), rng.randint(0, 3))))
        edges += len(deps)
        files = sorted({f"pkg/mod{rng.randrange(count * 2)}.py" for _ in range(2)})
        files.append(f"tests/test_part{i}.py")
        text = subplan_text(i, deps, files, rng)
        (root / "subplans" / f"{name}.md").write_text(text, encoding="utf-8")
    return edges


def run_once(design_dir: str) -> tuple[float, int, int]:
    start = time.perf_counter()
    doc = load_design(design_dir)
    plan = analyze(doc)
    render_dag(doc, plan)
    render_batches(doc, plan)
    return time.perf_counter() - start, len(plan.stages), len(plan.conflicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subtasks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "scale"
        edges = generate(root, args.subtasks, args.seed)
        run_once(str(root))  # warm-up: imports and the OS file cache
        timings, stages, conflicts = [], 0, 0
        for _ in range(args.runs):
            seconds, stages, conflicts = run_once(str(root))
            timings.append(seconds)
    median_ms = statistics.median(timings) * 1000
    print(
        f"plan_scale: {args.subtasks} subtasks, {edges} edges, {stages} stages, "
        f"{conflicts} conflicts: parse+analyze+render median {median_ms:.1f} ms "
        f"over {args.runs} runs (min {min(timings) * 1000:.1f} ms, seed {args.seed})"
    )


if __name__ == "__main__":
    main()
