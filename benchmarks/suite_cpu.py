"""Where the suite's CPU goes, test by test: a pytest plugin, then a report.

The suite is CPU-bound on 2 cores (each test's wall time says little: it waits while the
others run), so what makes it slower is CPU, counted here per test as the xdist worker's
own (its in-process Temporal workers and stand-ins), what its finished subprocesses used,
and what its live descendants (the worker's dev server, a spawned worker) used meanwhile.
One test runs at a time per worker, so that is the test's. Not counted: processes that
left the worker's tree (a CLI's detached embedded server or background worker).

    SUITE_CPU_OUT=/tmp/cpu.jsonl ./run test -p benchmarks.suite_cpu
    .venv/bin/python -m benchmarks.suite_cpu /tmp/cpu.jsonl [N]
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

_HZ = os.sysconf("SC_CLK_TCK")
_started: dict[str, tuple[float, float]] = {}
_config: list[pytest.Config] = []


def _descendants_cpu() -> float:
    """CPU seconds of this process's live descendants (and of what they reaped)."""
    children: dict[int, list[tuple[int, float]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        cpu = sum(int(f) for f in fields[11:15]) / _HZ
        children.setdefault(int(fields[1]), []).append((int(entry.name), cpu))
    total, todo = 0.0, [os.getpid()]
    while todo:
        for pid, cpu in children.get(todo.pop(), []):
            total += cpu
            todo.append(pid)
    return total


def _cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + _descendants_cpu()


def pytest_configure(config: pytest.Config) -> None:
    _config.append(config)


def _controller() -> bool:
    """pytest-xdist's controller hears of every test too, but runs none of them."""
    return bool(_config) and _config[0].pluginmanager.hasplugin("dsession")


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    if not _controller():
        _started[nodeid] = (time.time(), _cpu_now())


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    out = os.environ.get("SUITE_CPU_OUT")
    if not out or nodeid not in _started:
        return
    wall0, cpu0 = _started.pop(nodeid)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    row = [worker, nodeid, round(time.time() - wall0, 2), round(_cpu_now() - cpu0, 2)]
    with open(out, "a", encoding="utf-8") as file:  # one short line: appends do not interleave
        file.write(json.dumps(row) + "\n")


def report(path: str, top: int = 30) -> str:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    total = sum(r[3] for r in rows) or 1.0
    by_file: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for _, nodeid, _, cpu in rows:
        name = nodeid.split("::")[0]
        by_file[name] += cpu
        count[name] += 1
    lines = [f"{len(rows)} tests, {total:.0f} s of CPU", "", "CPU s   share  cumul  tests  file"]
    cumulative = 0.0
    for name, cpu in by_file.most_common(top):
        cumulative += cpu
        lines.append(
            f"{cpu:6.1f} {100 * cpu / total:5.1f}% {100 * cumulative / total:5.1f}% "
            f"{count[name]:6d}  {name}"
        )
    lines += ["", "CPU s   wall s  test"]
    for _, nodeid, wall, cpu in sorted(rows, key=lambda r: -r[3])[:top]:
        lines.append(f"{cpu:6.1f} {wall:7.1f}  {nodeid}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30))
