"""Spans of the work inside activities: each agent turn (a model request, named and
attributed by the OpenTelemetry GenAI semantic conventions), each tool call and each
gate, carrying the id of the workflow they work for.

Nothing happens here unless runtime/tracing.py set tracing up (it calls `enable`):
every helper is then a plain call, and OpenTelemetry is never imported.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from temporalio import activity

from contracts.build import GateCommand

T = TypeVar("T")
PROVIDER = "anthropic"

_tracer: Any = None


def enable(tracer: Any) -> None:
    global _tracer
    _tracer = tracer


def on() -> bool:
    return _tracer is not None


class _Off(AbstractContextManager["_Off"]):
    """The span of a process that traces nothing: takes attributes, keeps none."""

    def set_attribute(self, key: str, value: Any) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


OFF = _Off()


def _ids() -> dict[str, Any]:
    """The workflow (and run, activity) the span works for."""
    if not activity.in_activity():
        return {}
    info = activity.info()
    return {
        "temporalWorkflowID": info.workflow_id or "",
        "temporalRunID": info.workflow_run_id or "",
        "temporalActivityID": info.activity_id,
    }


async def model_turn(
    request: Awaitable[T], *, model: str, agent: str, scope: str, turn: int, max_tokens: int
) -> T:
    """One request to the Messages API (`request`), as a `chat <model>` span with the
    tokens it used."""
    if _tracer is None:
        return await request
    from opentelemetry.trace import SpanKind

    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.system": PROVIDER,  # the attribute's name before semantic conventions 1.37
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": max_tokens,
        "gen_ai.agent.name": agent,
        "orchestrator.agent.scope": scope,
        "orchestrator.agent.turn": turn,
        **_ids(),
    }
    with _tracer.start_as_current_span(
        f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        message = await request
        for key, value in usage_attributes(message).items():
            span.set_attribute(key, value)
        return message


def usage_attributes(message: Any) -> dict[str, Any]:
    """A Messages API answer's usage in GenAI terms. The conventions count cached prompt
    tokens in `gen_ai.usage.input_tokens`; Anthropic's `input_tokens` leaves them out."""
    usage = message.usage
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    written = getattr(usage, "cache_creation_input_tokens", None) or 0
    return {
        "gen_ai.response.id": message.id or "",
        "gen_ai.response.model": message.model or "",
        "gen_ai.response.finish_reasons": [message.stop_reason or ""],
        "gen_ai.usage.input_tokens": (usage.input_tokens or 0) + read + written,
        "gen_ai.usage.output_tokens": usage.output_tokens or 0,
        "gen_ai.usage.cache_read.input_tokens": read,
        "gen_ai.usage.cache_creation.input_tokens": written,
    }


def tool_call(name: str, call_id: str) -> AbstractContextManager[Any]:
    """An `execute_tool <name>` span around one tool call of the model's; the caller sets
    `error.type` on it when the tool answered with an error."""
    if _tracer is None:
        return OFF
    return _tracer.start_as_current_span(  # type: ignore[no-any-return]
        f"execute_tool {name}",
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
            **_ids(),
        },
    )


async def gate(command: str, run: Awaitable[GateCommand]) -> GateCommand:
    """One gate command as a `gate` span with its verdict."""
    if _tracer is None:
        return await run
    with _tracer.start_as_current_span(
        f"gate {command[:80]}", attributes={"orchestrator.gate.command": command, **_ids()}
    ) as span:
        result = await run
        span.set_attribute("process.exit.code", result.exit_code)
        span.set_attribute("orchestrator.gate.passed", result.passed)
        return result
