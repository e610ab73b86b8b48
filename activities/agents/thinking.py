"""How much an agent thinks, and the output room that takes, for the model it runs on.

A role carries an effort (low ... max; high for builders, fixers and reviewers, low
for the drafter and the answerer). On a model with adaptive thinking that is
`thinking: {type: "adaptive"}` with `output_config.effort` (adaptive thinking guide,
https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking). On a
model of the 4.5 generation, whose only mode is manual extended thinking, it is a
`budget_tokens` (at least 1,024 and below `max_tokens`, extended thinking guide);
low effort there means no thinking. A model the table does not know gets no
thinking setting at all: nothing an unknown endpoint could refuse.

Thinking tokens count toward `max_tokens`, so the first request of a turn gets
room for thinking at that effort plus the answer; a turn still cut off at
`max_tokens` is asked again with twice the room, up to the model's output limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from activities.agents import models

# Output room (thinking and answer) for a turn's first request, by effort.
ADAPTIVE_ROOM = {"low": 8_000, "medium": 16_000, "high": 32_000, "xhigh": 48_000, "max": 64_000}
# Extended thinking: the budget by effort (low: no thinking).
EXTENDED_BUDGET = {"low": 0, "medium": 4_000, "high": 10_000, "xhigh": 16_000, "max": 24_000}


@dataclass(frozen=True)
class Plan:
    """What every request of one agent call sends for thinking, and its output room."""

    params: dict[str, Any] = field(default_factory=dict)  # thinking, output_config
    max_tokens: int = 8_000
    max_tokens_limit: int = 32_000
    binds_prefix: bool = False  # preserved thinking: blocks are bound to their prefix
    prefill: bool = True  # a final assistant message may be sent (continued)

    @property
    def thinks(self) -> bool:
        return "thinking" in self.params


def plan(model: str, effort: str, answer_room: int, limit: int) -> Plan:
    """The thinking settings for `model` at `effort`; `answer_room` is the room a turn's
    answer needs besides thinking, `limit` the largest max_tokens for an unknown model."""
    info = models.lookup(model)
    if info is None:
        return Plan(max_tokens=answer_room, max_tokens_limit=max(limit, answer_room))
    ceiling = info.max_output
    common = {"binds_prefix": info.preserved_thinking, "prefill": info.prefill}
    level = models.effort_for(info, effort)
    output = {"output_config": {"effort": level}} if level else {}
    if info.thinking == "adaptive":
        room = min(ceiling, max(answer_room, ADAPTIVE_ROOM.get(effort, answer_room)))
        params: dict[str, Any] = {"thinking": {"type": "adaptive"}, **output}
        return Plan(params, room, ceiling, **common)
    if info.thinking == "extended" and EXTENDED_BUDGET.get(effort, 0) >= 1024:
        budget = min(EXTENDED_BUDGET[effort], ceiling - answer_room)
        if budget >= 1024:
            params = {"thinking": {"type": "enabled", "budget_tokens": budget}, **output}
            return Plan(params, min(ceiling, budget + answer_room), ceiling, **common)
    return Plan(output, min(ceiling, answer_room), ceiling, **common)
