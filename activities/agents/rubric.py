"""How a review is scored: severities, verified findings, and bands that derive the score.

A blind reviewer finds something new every round; if every nit could hold a pull
request, a loop would never end. So the score is not the reviewer's impression: it
is derived from the worst open issue the reviewer verified, by quoting the line
(found again by code in the file it names) and giving a case where it fails.
Low issues never block; an unverified one does not count.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from activities.agents.outputs import ReviewSubmission
from contracts.agents import ReviewIssue, Severity

DEFAULT_THRESHOLD = 0.96
SEVERITIES: dict[Severity, str] = {
    Severity.critical: (
        "the change is unsafe or does not do its job: data loss or corruption, a security "
        "hole, a crash on the main path, an acceptance criterion not met at all (e.g. the "
        "endpoint the subtask adds does not exist; a secret is logged; every retry "
        "duplicates the record)"
    ),
    Severity.high: (
        "a real bug a user or caller will hit: wrong result on a plausible input, an error "
        "swallowed, a resource leaked, a promised behaviour untested and broken, a gate "
        "that fails (e.g. an empty list raises IndexError; a timeout is never applied)"
    ),
    Severity.medium: (
        "a defect that will cost later but does not break the stated behaviour now: an edge "
        "case of the specification unhandled, a test that asserts nothing, a misleading "
        "error message, duplicated logic that will drift (e.g. a negative count is accepted "
        "and stored)"
    ),
    Severity.low: (
        "style, naming, wording, a missing docstring, a refactoring you would prefer, "
        "anything that is a matter of taste or does not change behaviour. Low issues never "
        "block a pull request"
    ),
}
_RANK = {Severity.low: 0, Severity.medium: 1, Severity.high: 2, Severity.critical: 3}
_LINE_NUMBER = re.compile(r"^\s*\d+\t")
_LOCATION = re.compile(r"^(?P<path>[^:\s][^:]*?)(?::(?P<line>\d+)(?:[-:]\d+)?)?$")


@dataclass(frozen=True)
class Band:
    worst: str  # "none" (nothing above low), "medium", "high", "critical"
    low: float
    high: float
    meaning: str


def bands(threshold: float = DEFAULT_THRESHOLD) -> list[Band]:
    """The score bands for a run's threshold: the top band starts at the threshold, so
    a review whose worst verified issue is low always clears it; any verified medium,
    high or critical issue keeps the score below it."""
    medium_top = round(max(threshold - 0.01, 0.0), 2)
    high_top = min(0.79, medium_top)
    critical_top = min(0.49, high_top)
    return [
        Band("none", threshold, 1.0, "ready: no verified open issue above low"),
        Band("medium", min(0.80, medium_top), medium_top, "the worst verified issue is medium"),
        Band("high", min(0.50, high_top), high_top, "the worst verified issue is high"),
        Band("critical", 0.0, critical_top, "the worst verified issue is critical"),
    ]


def rubric_text(threshold: float = DEFAULT_THRESHOLD) -> str:
    """The rubric as the reviewer's prompt states it."""
    lines = ["## How to review and score", "Severities:"]
    lines += [f"- {s.value}: {text}." for s, text in SEVERITIES.items()]
    lines += [
        "Verify every finding before you report it: `location` is `path:line` of a file you "
        "read, `quote` is that line (or lines) copied exactly as the file has it, without the "
        "line-number prefix read_file shows, and `failure` is a concrete case where it goes "
        "wrong (an input and what happens). The orchestrator looks for the quote in that "
        "file: a finding whose quote is not there is marked unverified and does not count. "
        "A missing piece (a test, a case) is quoted where it belongs: the acceptance "
        "criterion in the specification, or the function that lacks it.",
        "Report each problem once, most severe first. Do not restate the issues in the "
        "summary: it is 1-3 short bullets on the overall state.",
        "Then score, last. The score follows from the worst verified open issue:",
    ]
    lines += [f"- {b.low:.2f}-{b.high:.2f}: {b.meaning}" for b in bands(threshold)]
    lines.append(
        "A score outside the band of your worst verified issue is moved into it, so score "
        "within the band: higher when the issue is narrow, lower when there are several."
    )
    return "\n".join(lines)


@dataclass
class Verdict:
    """A review as scored: the issues (each marked verified or not) and the derived score."""

    score: float
    submitted: float
    issues: list[ReviewIssue] = field(default_factory=list)
    band: Band | None = None
    threshold: float = DEFAULT_THRESHOLD

    @property
    def bands(self) -> list[Band]:
        return bands(self.threshold)

    @property
    def note(self) -> str:
        """Why the score differs from the one submitted (empty when it does not)."""
        if self.band is None or abs(self.score - self.submitted) < 1e-9:
            return ""
        return (
            f"the reviewer scored {self.submitted:.2f}; {self.band.meaning}, so the score is "
            f"{self.band.low:.2f}-{self.band.high:.2f}"
        )


def worst(issues: Iterable[ReviewIssue]) -> Severity | None:
    """The most severe verified issue above low, or None."""
    found = [i.severity for i in issues if i.verified and i.severity != Severity.low]
    return max(found, key=_RANK.__getitem__) if found else None


def derive(submitted: float, issues: Sequence[ReviewIssue], threshold: float) -> Verdict:
    """The score in the band of the worst verified open issue."""
    severity = worst(issues)
    name = severity.value if severity is not None else "none"
    band = next(b for b in bands(threshold) if b.worst == name)
    score = round(min(max(submitted, band.low), band.high), 2)
    return Verdict(score, submitted, list(issues), band, threshold)


def judge(workdir: Path, review: ReviewSubmission, threshold: float) -> Verdict:
    """The review's findings checked against the files they quote, and its score derived.
    A finding above low without a failure case is not verified either."""
    issues = [
        ReviewIssue(
            severity=f.severity,
            description=f.description,
            location=f.location,
            quote=f.quote,
            failure=f.failure,
            verified=verify(workdir, f.location, f.quote)
            and (f.severity == Severity.low or bool(f.failure.strip())),
        )
        for f in review.issues
    ]
    return derive(review.score, issues, threshold)


def verify(workdir: Path, location: str | None, quote: str) -> bool:
    """Whether `quote` is in the file `location` names, inside `workdir`.

    Whitespace runs count as one space, a read_file line-number prefix is ignored, and
    an elision (`...`) may stand between quoted parts, which must appear in order.
    """
    path = _file_of(workdir, location)
    if path is None or not quote.strip():
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    haystack = _squash(text)
    lines = [_LINE_NUMBER.sub("", line) for line in quote.splitlines()]
    parts = [_squash(p) for p in re.split(r"\.\.\.|…", "\n".join(lines))]
    start = 0
    for part in filter(None, parts):
        found = haystack.find(part, start)
        if found < 0:
            return False
        start = found + len(part)
    return start > 0


def _file_of(workdir: Path, location: str | None) -> Path | None:
    """The regular file a `path[:line]` location names inside workdir (never .git)."""
    match = _LOCATION.match((location or "").strip().strip("`"))
    if match is None:
        return None
    root = Path(os.path.realpath(workdir))
    raw = match["path"].strip()
    if raw.startswith(("/", "~")) or ".." in Path(raw).parts:
        return None
    real = Path(os.path.realpath(root / raw))
    if root not in real.parents or ".git" in real.relative_to(root).parts:
        return None
    return real if real.is_file() else None


def _squash(text: str) -> str:
    return " ".join(text.split())
