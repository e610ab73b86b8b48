"""The version of the loops' workflow code, carried in every task queue's name.

A worker replays a running loop's history against its own workflow code, so code that
decides differently cannot take over a loop an older release started. Small changes
stay replay-compatible behind `workflow.patched`; a change that retires those branches
(or breaks replay in any other way) raises this version instead, which moves every
new loop to new task queues. Loops started before keep their queue, where only a
worker of their own release may serve them (docs/operations.md#upgrading).
"""

from __future__ import annotations

import re
from typing import Final

WORKFLOW_CODE_VERSION: Final = 4
TASK_QUEUE: Final = f"orchestrator-v{WORKFLOW_CODE_VERSION}"
HOST_QUEUE_PREFIX: Final = f"{TASK_QUEUE}-host-"
UPGRADING = "docs/operations.md#upgrading-with-loops-running"

# Version 1 used plain `orchestrator` and `orchestrator-host-<name>`.
_OURS = re.compile(r"^orchestrator(?:-v(?P<version>\d+))?(?:-host-.+)?$")


def older_version(task_queue: str) -> int | None:
    """The workflow code version of an older release whose queue this is (None: ours, or
    a queue this project does not name, such as one a person chose)."""
    found = _OURS.match(task_queue)
    if found is None:
        return None
    version = int(found["version"] or 1)
    return version if version < WORKFLOW_CODE_VERSION else None


def older_loop(workflow_id: str, task_queue: str) -> str | None:
    """Why this release cannot serve a loop found on `task_queue`, with the fix; None if it can."""
    version = older_version(task_queue)
    if version is None:
        return None
    return (
        f"{workflow_id} was started by an older release of the orchestrator (workflow code "
        f"version {version}, task queue {task_queue}); this release runs version "
        f"{WORKFLOW_CODE_VERSION} and cannot continue it. Fix: finish it with a worker of the "
        f"release that started it (`orchestrator worker --task-queue {task_queue}` from that "
        f"release), or end it (`temporal workflow terminate --workflow-id {workflow_id}`) and "
        f"start the loop again with this release: its files, branches and PRs are kept "
        f"({UPGRADING})"
    )
