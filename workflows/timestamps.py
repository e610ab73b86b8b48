"""Review-file timestamps, shared by the design and build loops, and a loop's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from temporalio import workflow

STAMP = "%Y-%m-%d-%H-%M-%S"


def stamp(now: datetime, after: str | None = None) -> str:
    """UTC `YYYY-MM-DD-HH-MM-SS`, the seeds' review timestamp, strictly after `after`.

    Two rounds of one scope can finish within a second; the file name
    `<scope>_<timestamp>_<reviewer>.md` must still be new, never an overwrite.
    """
    if after is not None:
        earliest = datetime.strptime(after, STAMP).replace(tzinfo=now.tzinfo) + timedelta(seconds=1)
        now = max(now, earliest)
    return now.strftime(STAMP)


class Clocked(Protocol):
    """The part of a loop's state (carried across continue-as-new) that knows its start."""

    started_at: str | None


def start_clock(s: Clocked) -> None:
    """Note when the loop started: once, so a run continued as new keeps the first start."""
    if s.started_at is None:
        s.started_at = workflow.now().isoformat()


def elapsed(s: Clocked) -> float:
    """Seconds since the loop started (`metrics`); 0 before it did."""
    if not s.started_at:
        return 0.0
    return (workflow.now() - datetime.fromisoformat(s.started_at)).total_seconds()
