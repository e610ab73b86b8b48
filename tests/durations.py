"""The measured durations that order the suite: longest first, so that the parallel workers
end on short tests instead of one running a long one alone.

`durations.json` holds the seconds each test took (setup to teardown) in a whole run, those of
a second or more; `./run test --store-durations` rewrites it from the run (a partial run
updates the tests it ran). The tests it does not name come after those it does, the
end-to-end modules (UNMEASURED_FIRST) first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
SHORT_S = 1.0
UNMEASURED_FIRST = (
    "tests/webui/",
    "tests/cli/test_cli_loops.py",
    "tests/cli/test_first_hour.py",
    "tests/workflows/",
    "tests/deploy/test_runtime_install.py",
    "tests/cli/",
    "tests/git/test_many_files.py",
    "tests/deploy/test_types.py",
)


def _hint(nodeid: str) -> int:
    found = (i for i, prefix in enumerate(UNMEASURED_FIRST) if nodeid.startswith(prefix))
    return next(found, len(UNMEASURED_FIRST))


def measured() -> dict[str, float]:
    return json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}


def longest_first(items: list[pytest.Item], unit_of: Callable[[str], str]) -> None:
    """Sort `items` by their unit's measured time (the tests handed out together), longest
    first, keeping each unit's tests together and in order; `after_all` tests last."""
    seconds = measured()
    unit_time: dict[str, float] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        unit = unit_of(item.nodeid)
        unit_time[unit] = unit_time.get(unit, 0.0) + seconds.get(item.nodeid, 0.0)
        first.setdefault(unit, index)
    order = {item.nodeid: index for index, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[bool, float, int, int, int]:
        unit = unit_of(item.nodeid)
        last = item.get_closest_marker("after_all") is not None
        return (last, -unit_time[unit], _hint(unit), first[unit], order[item.nodeid])

    items.sort(key=key)


class DurationStore:
    """Registered in the controller (or the one process) for --store-durations."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seen[report.nodeid] = self.seen.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        stored = measured()
        for nodeid, seconds in self.seen.items():
            stored.pop(nodeid, None)
            if seconds >= SHORT_S:
                stored[nodeid] = round(seconds, 1)
        ordered = dict(sorted(stored.items(), key=lambda kv: (-kv[1], kv[0])))
        partial = DURATIONS.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(ordered, indent=0) + "\n", encoding="utf-8")
        partial.replace(DURATIONS)
