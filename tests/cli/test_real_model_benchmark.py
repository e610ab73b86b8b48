"""benchmarks/real_model.py: without a key it says so and exits 0; with one it builds the
bundled example and reports rounds, requests, tokens by kind, cache hits, cost and time.

The run with a key is pointed at the Messages stand-in (ANTHROPIC_BASE_URL), so the
benchmark's whole path runs here without spending anything.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from simulators.demo_scenario import link_shortener_scenario
from simulators.messages_api import READABLE_CALLERS, MessagesStandIn
from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "real_model.py"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_without_a_key_it_says_so_and_exits_0(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    done = run(env, "--out", str(tmp_path / "out.md"))
    assert done.returncode == 0, done.stderr
    assert "ANTHROPIC_API_KEY is not set" in done.stdout
    assert not (tmp_path / "out.md").exists()


def test_with_a_key_it_builds_the_example_and_reports_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "real_model.md"
    with MessagesStandIn(link_shortener_scenario()) as api:
        env = {
            **os.environ,
            "ANTHROPIC_API_KEY": "sk-ant-benchmark-test",
            "ANTHROPIC_BASE_URL": api.url,
            **READABLE_CALLERS,
        }
        done = run(env, "--out", str(out), "--model", "claude-sonnet-5-5")
        assert done.returncode == 0, done.stderr[-3000:]
        assert api.refused == []
        assert all(r.thinking == {"type": "adaptive"} for r in api.requests if r.role)
    table = out.read_text()
    header, _, row = table.strip().splitlines()[-3:]
    assert "rounds per subtask" in header and "cache hit rate" in header
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["link-shortener", "ALL_SUBTASKS_PR_CREATED"]
    assert "01-models 2" in cells[2] and int(cells[3]) == len(api.requests)
    assert cells[5].endswith("%") and cells[6].startswith("$") and cells[7].endswith("min")
