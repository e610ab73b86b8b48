"""Review-file timestamps, shared by the design and build loops."""

from __future__ import annotations

from datetime import datetime, timedelta

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
