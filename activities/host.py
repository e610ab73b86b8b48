"""Host affinity: a subtask's worktree lives on one disk, so its steps run on one host.

Each worker serves the shared task queue and its own `orchestrator-v<N>-host-<name>`
queue. A subtask claims a host by running `host.claim` on the shared queue;
whichever worker picks it up answers with its own host queue, and every later
step that touches the worktree is sent there.
"""

from __future__ import annotations

import os
import re
import socket

from temporalio import activity

from contracts.version import HOST_QUEUE_PREFIX


def default_host() -> str:
    return os.environ.get("ORCHESTRATOR_HOST") or socket.gethostname()


def host_queue(host: str) -> str:
    return HOST_QUEUE_PREFIX + re.sub(r"[^0-9A-Za-z._-]+", "-", host)


class HostClaim:
    """`queue` empty: this worker serves no host queue (in-process tests, the demo)."""

    def __init__(self, queue: str = "") -> None:
        self.queue = queue

    @activity.defn(name="host.claim")
    def claim(self, subtask: str) -> str:
        activity.logger.info("subtask %s claimed by %s", subtask, self.queue or "any worker")
        return self.queue
