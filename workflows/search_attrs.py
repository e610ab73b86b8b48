"""A loop's search attributes (contracts/search_attributes.py), upserted when they change.

Every loop owns one `LoopAttributes` and calls `show` where it refreshes what a person
sees (its Web UI details): the attributes follow the same changes. An upsert is an event
in the history, so only attributes whose value changed are sent, and the cost in whole
cents. The loop upserts only when the server has the attributes (a workflow task that
upserts one it lacks fails): `ProjectContext.search_attributes`, found by the activity
that resolved the project and so the same in every replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.config import ProjectContext
    from contracts.search_attributes import (
        COST_USD,
        FEATURE,
        PHASE,
        REPO,
        WAITING_FOR,
        Waiting,
    )


class LoopAttributes:
    """`ctx` returns the loop's project once resolved (None before: nothing is shown)."""

    def __init__(self, ctx: Callable[[], ProjectContext | None]) -> None:
        self.ctx = ctx

    def show(self, phase: str, waiting: Waiting, cost_usd: float) -> None:
        ctx = self.ctx()
        if ctx is None or not ctx.search_attributes or workflow.unsafe.is_read_only():
            return
        wanted: list[tuple[Any, Any]] = [
            (FEATURE, ctx.feature),
            (REPO, ctx.repo_root),
            (PHASE, phase),
            (WAITING_FOR, waiting),
            (COST_USD, round(cost_usd, 2)),
        ]
        # What the run has: its own upserts, and what a continue-as-new carried over.
        have = workflow.info().typed_search_attributes
        changed = [key.value_set(value) for key, value in wanted if have.get(key) != value]
        if changed:
            workflow.upsert_search_attributes(changed)
