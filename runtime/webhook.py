"""GitHub webhook deliveries: verified, never taken twice, reduced to the pull requests
they concern.

GitHub signs every delivery with the webhook's secret: `X-Hub-Signature-256:
sha256=<hex>`, the HMAC-SHA256 of the raw body, compared in constant time
(docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries). Each
delivery has a GUID in `X-GitHub-Delivery`, the same on a redelivery, which is how a
replay is recognised (docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks).
Nothing here talks to Temporal: `cli/webhook_cmd.py` routes what this module accepts.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

# The events a loop that follows its pull request wants to hear of, as GitHub names them.
EVENTS = (
    "check_run",
    "check_suite",
    "status",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
)
# GitHub caps webhook payloads at 25 MB and drops larger ones itself.
MAX_BODY = 25 * 1024 * 1024
# GitHub's delivery ids are GUIDs; anything else is refused before it reaches the log.
_DELIVERY_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,99}$")
# Delivery ids kept against replays (a file line each); the oldest go first.
KEEP_DELIVERIES = 50_000


def signature(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verified(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret` (constant-time compare)."""
    if not header:
        return False
    given = header.strip().encode("utf-8", "replace")
    return hmac.compare_digest(signature(secret, body).encode(), given)


def valid_delivery_id(delivery: str | None) -> bool:
    return bool(delivery) and _DELIVERY_ID.match(delivery or "") is not None


@dataclass(frozen=True)
class Concerned:
    """What a delivery is about: its repository (`owner/name`, lower case), the pull
    request numbers and branches it names, and the head commit when it says one."""

    repository: str
    numbers: frozenset[int]
    branches: frozenset[str]
    head_sha: str | None
    action: str | None

    def describe(self) -> str:
        named = [f"PR #{n}" for n in sorted(self.numbers)] + sorted(self.branches)
        return f"{', '.join(named) or 'no pull request'} of {self.repository or '?'}"


def _at(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _pulls(items: Any) -> tuple[set[int], set[str]]:
    """Numbers and head branches of a check's `pull_requests` list."""
    numbers: set[int] = set()
    branches: set[str] = set()
    for pr in items if isinstance(items, list) else []:
        if isinstance(number := _at(pr, "number"), int):
            numbers.add(number)
        if ref := _str(_at(pr, "head", "ref")):
            branches.add(ref)
    return numbers, branches


def concerned(event: str, payload: dict[str, Any]) -> Concerned:
    """The pull requests and branches one delivery names (GitHub's payload per event:
    docs.github.com/en/webhooks/webhook-events-and-payloads). A payload missing a field
    names less; it never fails here."""
    numbers: set[int] = set()
    branches: set[str] = set()
    head_sha: str | None = None
    if event.startswith("pull_request"):
        pr = payload.get("pull_request")
        if isinstance(number := _at(pr, "number"), int):
            numbers.add(number)
        if ref := _str(_at(pr, "head", "ref")):
            branches.add(ref)
        head_sha = _str(_at(pr, "head", "sha"))
    elif event in ("check_run", "check_suite"):
        check = payload.get(event)
        # A check run's pull requests are its suite's; a fork's PR is not listed at all.
        numbers, branches = _pulls(_at(check, "pull_requests"))
        suite = _at(check, "check_suite") if event == "check_run" else check
        if branch := _str(_at(suite, "head_branch")):
            branches.add(branch)
        head_sha = _str(_at(check, "head_sha"))
    elif event == "status":
        for item in payload.get("branches") or []:
            if name := _str(_at(item, "name")):
                branches.add(name)
        head_sha = _str(payload.get("sha"))
    return Concerned(
        repository=(_str(_at(payload, "repository", "full_name")) or "").lower(),
        numbers=frozenset(numbers),
        branches=frozenset(branches),
        head_sha=head_sha,
        action=_str(payload.get("action")),
    )


def idle(event: str, payload: dict[str, Any]) -> str | None:
    """Why a delivery changes nothing a loop waits for (a check still running, a pending
    status), or None. Those come by the dozen per push; waking a loop for each is a poll
    for nothing."""
    action = payload.get("action")
    if event in ("check_run", "check_suite") and action != "completed":
        return f"a {event} {action if isinstance(action, str) else ''} is not completed yet"
    if event == "status" and payload.get("state") == "pending":
        return "a pending status"
    return None


class DeliveryLogBusy(RuntimeError):
    """Another receiver holds the delivery log."""


class DeliveryLog:
    """The delivery ids taken, in a file, so a restarted receiver still refuses a replay.

    One receiver per ORCHESTRATOR_HOME holds the file's lock for its lifetime, so the
    ids in memory are the whole truth. The newest `keep` ids are kept: a replay of an
    older one is taken, and costs one poll of the forge (a delivery only says "look now").
    """

    def __init__(self, path: Path, keep: int = KEEP_DELIVERIES) -> None:
        self.path, self.keep = path, keep
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file: TextIO = open(path.with_suffix(".lock"), "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise DeliveryLogBusy(
                f"another `orchestrator webhook` uses {path} (ORCHESTRATOR_HOME). Fix: stop "
                "it, or give this one its own ORCHESTRATOR_HOME"
            ) from None
        self._mutex = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        if path.exists():
            for line in path.read_text().splitlines():
                if valid_delivery_id(line):
                    self._seen[line] = None
                    self._seen.move_to_end(line)
        self._out: TextIO | None = None
        self._trim()
        self._rewrite()

    def take(self, delivery: str) -> bool:
        """Record `delivery`; False when it was taken before (a replay)."""
        with self._mutex:
            if delivery in self._seen:
                return False
            self._seen[delivery] = None
            assert self._out is not None
            self._out.write(delivery + "\n")
            self._out.flush()
            os.fsync(self._out.fileno())
            self._lines += 1
            if self._lines > 2 * self.keep:
                self._trim()
                self._rewrite()
            return True

    def forget(self, delivery: str) -> None:
        """Give a delivery back (no loop could be told of it): GitHub's Redeliver may retry it."""
        with self._mutex:
            if self._seen.pop(delivery, 0) is None:
                self._rewrite()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
        self._lock_file.close()

    def _trim(self) -> None:
        while len(self._seen) > self.keep:
            self._seen.popitem(last=False)

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as out:
            out.write("".join(f"{d}\n" for d in self._seen))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        self._lines = len(self._seen)
        if self._out is not None:
            self._out.close()
        self._out = open(self.path, "a")
