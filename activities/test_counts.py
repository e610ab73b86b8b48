"""How many tests a gate ran, passed, failed and skipped, read from its output.

For the PR body's Testing section (seed 002): pytest, go test (`-v` or `-json`
per test; without them, per package), jest, vitest and cargo test are
recognised by their summary lines. Anything else has no counts, and the PR shows
the gate's raw result instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from contracts.build import SuiteCounts

READ_LIMIT = 5_000_000  # a log is bounded by [gates] output_limit plus its kept tail

PYTEST = re.compile(
    r"^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)"
    r"(?:, )?)+)\s+in [\d.]+s",
    re.MULTILINE,
)
GO_TEST = re.compile(r"^\s*--- (PASS|FAIL|SKIP): ", re.MULTILINE)
GO_JSON = re.compile(r'"Action":"(pass|fail|skip)","Package":"[^"]*","Test":"')
GO_PACKAGE = re.compile(r"^(ok|FAIL)\s+\S+\s+(?:[\d.]+s|\(cached\))", re.MULTILINE)
JEST = re.compile(r"^Tests:\s+(.*?\d+ total)", re.MULTILINE)
VITEST = re.compile(r"^\s*Tests\s+(.*?)\s+\((\d+)\)\s*$", re.MULTILINE)
CARGO = re.compile(
    r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured",
    re.MULTILINE,
)


def _word_counts(text: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", text)}


def _pytest(out: str) -> SuiteCounts | None:
    found = PYTEST.findall(out)
    if not found:
        return None
    n = _word_counts(found[-1])
    return SuiteCounts(
        runner="pytest",
        passed=n.get("passed", 0) + n.get("xpassed", 0),
        failed=n.get("failed", 0) + n.get("error", 0) + n.get("errors", 0),
        skipped=n.get("skipped", 0) + n.get("xfailed", 0),
    )


def _go(out: str) -> SuiteCounts | None:
    events = GO_JSON.findall(out) or GO_TEST.findall(out)
    if events:
        words = [e.lower() for e in events]
        return SuiteCounts(
            runner="go test",
            passed=words.count("pass"),
            failed=words.count("fail"),
            skipped=words.count("skip"),
        )
    packages = GO_PACKAGE.findall(out)
    if not packages:
        return None
    return SuiteCounts(
        runner="go test",
        unit="packages",
        passed=packages.count("ok"),
        failed=packages.count("FAIL"),
    )


def _summary(runner: str, line: re.Pattern[str]) -> Callable[[str], SuiteCounts | None]:
    """jest's `Tests: 1 failed, 5 passed, 6 total`, vitest's `Tests  1 failed | 5 passed (6)`."""

    def parse(out: str) -> SuiteCounts | None:
        found = line.findall(out)
        if not found:
            return None
        n = _word_counts(found[-1] if isinstance(found[-1], str) else found[-1][0])
        return SuiteCounts(
            runner=runner,
            passed=n.get("passed", 0),
            failed=n.get("failed", 0),
            skipped=n.get("skipped", 0) + n.get("todo", 0),
        )

    return parse


_jest, _vitest = _summary("jest", JEST), _summary("vitest", VITEST)


def _cargo(out: str) -> SuiteCounts | None:
    found = CARGO.findall(out)
    if not found:
        return None
    return SuiteCounts(
        runner="cargo test",
        passed=sum(int(f[0]) for f in found),
        failed=sum(int(f[1]) for f in found),
        skipped=sum(int(f[2]) for f in found),
    )


PARSERS: list[tuple[str, Callable[[str], SuiteCounts | None]]] = [
    ("pytest", _pytest),
    ("py.test", _pytest),
    ("go test", _go),
    ("vitest", _vitest),
    ("jest", _jest),
    ("cargo test", _cargo),
]


def count(command: str, output: str) -> SuiteCounts | None:
    """The command's own runner first (`pytest`, `go test`, ...); a wrapper (`make test`,
    `npm test`) by whichever summary its output carries."""
    named = [p for word, p in PARSERS if word in command]
    for parse in [*named, *(p for _, p in PARSERS if p not in named)]:
        found = parse(output)
        if found is not None:
            return found
    return None


def of_log(command: str, log_path: Path) -> SuiteCounts | None:
    try:
        with log_path.open(encoding="utf-8", errors="replace") as log:
            return count(command, log.read(READ_LIMIT))
    except OSError:
        return None
