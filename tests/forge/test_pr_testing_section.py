"""The PR body's Testing section (seed 002, issue 23): tests run, passed, failed and skipped,
read from the gate output of the runner that ran them, the benchmark gates, and a footer
naming the design directory and the review record; within GitHub's 65,536 characters."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from activities import test_counts
from activities.forge import BODY_LIMIT, limit_body, render_pr_body
from contracts.build import GateCommand, SuiteCounts
from contracts.forge import PrBodyInput

# Summaries as the runners print them (jest 29 and vitest 1-3 are not installed here).
JEST = """PASS  src/a.test.js
FAIL  src/b.test.js
Test Suites: 1 failed, 1 passed, 2 total
Tests:       1 failed, 2 skipped, 5 passed, 8 total
Snapshots:   0 total
Time:        1.2 s
"""
VITEST = """ ✓ src/a.test.ts (3 tests) 4ms
 ❯ src/b.test.ts (2 tests | 1 failed) 6ms

 Test Files  1 failed | 1 passed (2)
      Tests  1 failed | 3 passed | 1 skipped (5)
   Start at  10:00:00
"""
GO_VERBOSE = """=== RUN   TestA
--- PASS: TestA (0.00s)
=== RUN   TestB
    --- SKIP: TestB/sub (0.00s)
--- FAIL: TestB (0.00s)
FAIL
FAIL\texample.com/app\t0.01s
"""
GO_PLAIN = (
    "ok  \texample.com/app/a\t0.01s\nok  \texample.com/app/b\t(cached)\n"
    "FAIL\texample.com/app/c\t0.02s\n"
)


def run(cwd: Path, *command: str) -> str:
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


def test_pytest_counts_from_a_real_run(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\ndef test_a(): pass\n\ndef test_b(): assert False\n\n"
        "@pytest.mark.skip\ndef test_c(): pass\n\ndef test_d(): pass\n"
    )
    out = run(tmp_path, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    counts = test_counts.count("python -m pytest -q", out)
    assert counts == SuiteCounts(runner="pytest", passed=2, failed=1, skipped=1)


def has_cargo() -> bool:
    """A rustup shim without a default toolchain (an empty HOME) is no toolchain."""
    if shutil.which("cargo") is None:
        return False
    return subprocess.run(["cargo", "--version"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not has_cargo(), reason="no Rust toolchain")
def test_cargo_test_counts_from_a_real_run(tmp_path: Path) -> None:
    run(tmp_path, "cargo", "new", "--lib", "--offline", "--vcs", "none", "x")
    (tmp_path / "x/src/lib.rs").write_text(
        "#[test] fn a() {}\n#[test] fn b() { panic!() }\n#[test] #[ignore] fn c() {}\n"
    )
    out = run(tmp_path / "x", "cargo", "test", "--offline")
    assert test_counts.count("cargo test", out) == SuiteCounts(
        runner="cargo test", passed=1, failed=1, skipped=1
    ), out


@pytest.mark.parametrize(
    ("command", "output", "expected"),
    [
        ("npx jest", JEST, SuiteCounts(runner="jest", passed=5, failed=1, skipped=2)),
        ("npm test", JEST, SuiteCounts(runner="jest", passed=5, failed=1, skipped=2)),
        ("npx vitest run", VITEST, SuiteCounts(runner="vitest", passed=3, failed=1, skipped=1)),
        (
            "go test -v ./...",
            GO_VERBOSE,
            SuiteCounts(runner="go test", passed=1, failed=1, skipped=1),
        ),
        (
            "go test ./...",
            GO_PLAIN,
            SuiteCounts(runner="go test", unit="packages", passed=2, failed=1),
        ),
        ("make check", "all good\n", None),
    ],
)
def test_each_runners_summary_is_read(
    command: str, output: str, expected: SuiteCounts | None
) -> None:
    assert test_counts.count(command, output) == expected


def gate(command: str, passed: bool = True, tests: SuiteCounts | None = None, **kw) -> GateCommand:  # type: ignore[no-untyped-def]
    return GateCommand(
        command=command,
        exit_code=0 if passed else 1,
        passed=passed,
        duration_s=1.0,
        log_path="/logs/x.log",
        tests=tests,
        **kw,
    )


def test_the_testing_section_and_footer() -> None:
    body = render_pr_body(
        PrBodyInput(
            subtask="02-storage",
            reviews_dir="design-docs/active/shop/build-reviews/02-storage",
            design_dir="design-docs/active/shop",
            gate_results=[
                gate("pytest -q tests", tests=SuiteCounts(runner="pytest", passed=11, skipped=1)),
                gate("cargo test", tests=SuiteCounts(runner="cargo test", passed=3, failed=0)),
                gate("./check.sh", passed=False),
                gate("cargo bench", tail="bench: 1,234 ns/iter (+/- 5)"),
                gate("smell: imports resolve", kind="smell"),
                gate("lint: ruff", kind="lint"),
            ],
        )
    )
    testing = body.split("## Testing\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert testing == [
        "- `pytest -q tests` (pytest): 12 tests run: 11 passed, 0 failed, 1 skipped",
        "- `cargo test` (cargo test): 3 tests run: 3 passed, 0 failed, 0 skipped",
        "- `./check.sh`: fail (exit 1; no test counts in its output)",
        "- Total: 15 tests run: 14 passed, 0 failed, 1 skipped",
        "- Benchmarks: `cargo bench`: pass (bench: 1,234 ns/iter (+/- 5))",
    ]
    assert body.rstrip().endswith(
        "_Opened by the orchestrator's build workflow (design `design-docs/active/shop`, "
        "review record `design-docs/active/shop/build-reviews/02-storage`)._"
    )


def test_a_body_with_thousands_of_gates_stays_within_githubs_limit() -> None:
    many = [gate(f"pytest tests/test_{n}.py " + "-k x " * 60) for n in range(3000)]
    body = render_pr_body(
        PrBodyInput(subtask="s", gate_results=many, gates={g.command: True for g in many})
    )
    assert "- ... 2970 more (see the gate logs)" in body
    kept = limit_body(body, "design-docs/x/build-reviews/s/PULL_REQUEST.md")
    assert len(kept) <= BODY_LIMIT and "PULL_REQUEST.md" in kept
