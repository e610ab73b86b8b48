"""What the sandbox costs per command: `true` run confined and unconfined, in a worktree.

Both go through the same runner (scrubbed environment, limits, output to a
capped file); the difference is bubblewrap's namespaces, mounts and (as root)
the per-command pids cgroup. Medians of `--runs` commands each.

    python benchmarks/sandbox_start.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.sandbox import Spec, run
from contracts.sandbox import SandboxConfig


async def median_ms(workdir: Path, mode: str, runs: int) -> float:
    config = SandboxConfig(mode=mode)  # type: ignore[arg-type]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        outcome = await run(Spec("true", workdir, 30, config), workdir.parent / "out.log")
        times.append(time.perf_counter() - started)
        assert outcome.exit_code == 0, outcome.log_path.read_text()
    return statistics.median(times) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        await asyncio.to_thread(subprocess.run, ["git", "init", "-q", str(repo)], check=True)
        unconfined = await median_ms(repo, "none", args.runs)
        confined = await median_ms(repo, "os", args.runs)
    print(f"unconfined: {unconfined:.0f} ms median per command")
    print(f"sandboxed:  {confined:.0f} ms median per command")
    print(f"overhead:   {confined - unconfined:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
