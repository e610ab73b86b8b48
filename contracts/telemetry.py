"""The token log: one JSON line per model turn, in `<design dir>/telemetry/token_log.jsonl`.

The agent activity appends a row for every answer the Messages API returned (see
activities/agents/telemetry.py for the exactly-once rule); `orchestrator budget` and
anyone with `jq` read it. A row holds counts, never prompt text or secrets.
docs/design-directory.md describes the format.
"""

from __future__ import annotations

import json
import posixpath

from pydantic import BaseModel, Field, ValidationError

from contracts.agents import Usage

TELEMETRY_DIR = "telemetry"
TOKEN_LOG = "token_log.jsonl"


def token_log_path(design_dir: str) -> str:
    """Where a loop's agents log their turns: beside the design, under `telemetry/`."""
    return posixpath.join(design_dir, TELEMETRY_DIR, TOKEN_LOG)


def row_key(workflow_id: str, run_id: str, activity_id: str, attempt: int, turn: int) -> str:
    """A request's identity: the activity attempt that asked it and the transcript's turn."""
    return f"{workflow_id}/{run_id}/{activity_id}/a{attempt}/t{turn}"


class TokenRow(BaseModel):
    """One model turn: one answered request to the Messages API."""

    key: str = Field(description="workflow/run/activity/attempt/turn: unique per request")
    time: str = Field(description="when the answer arrived, UTC ISO 8601")
    workflow_id: str
    run_id: str
    activity_id: str
    attempt: int
    role: str
    scope: str = Field(description="the subtask or subplan (or consistency, answers, ...)")
    round: int
    turn: int = Field(description="the conversation's turn, counted across attempts")
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cost_usd: float
    duration_s: float = Field(description="the request, from asking to the answer")
    stop_reason: str | None = None
    context_tokens: int = Field(description="the request's size as the API counted it")
    context_window: int

    def usage(self) -> Usage:
        """The turn's spend (one request), to add up as the loops' ledger does."""
        return Usage.model_validate(
            {**self.model_dump(include=set(Usage.model_fields)), "requests": 1}
        )

    def line(self) -> str:
        """The row as written: one line of JSON, its newline included."""
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":")) + "\n"


def parse_rows(text: str) -> list[TokenRow]:
    """Every whole row of a token log. A line that is not one (the torn tail of a write a
    crash cut short, a blank line) is skipped: it never was a complete row."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rows.append(TokenRow.model_validate_json(line))
        except (ValidationError, ValueError):
            continue
    return rows


class LiveAgent(BaseModel):
    """A running agent call as its last heartbeat tells it (`orchestrator budget`)."""

    workflow_id: str
    activity: str = Field(description="the activity type, e.g. agent.review")
    attempt: int = 1
    role: str = ""
    scope: str = ""
    round: int = 0
    turn: int = 0
    phase: str = ""
    model: str = ""
    context_tokens: int = Field(
        default=0,
        description="the conversation's size: the last request as the API counted "
        "it, or the request in flight as estimated",
    )
    context_window: int = 0

    @property
    def percent(self) -> float:
        return 100.0 * self.context_tokens / self.context_window if self.context_window else 0.0
