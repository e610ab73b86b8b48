"""Traces over OTLP: set up only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its `_TRACES_`
form) is set; otherwise nothing is imported, set up or exported.

When on, the SDK's `TracingInterceptor` goes on every client (the CLI's and the
worker's; a worker takes its client's interceptors), so a loop's trace runs from the
command that started it through its workflow and activities, and the agent turns, tool
calls and gates (activities/tracing.py) are spans inside their activity's. The OTLP
exporter reads the standard variables itself (endpoint, headers, timeout,
compression); the protocol is `http/protobuf`, the only one this install carries.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from runtime.server import ServerError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOL_VARS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
PROTOCOL = "http/protobuf"
FLUSH_MS = 5000

_provider: TracerProvider | None = None


class TracingError(ServerError):
    """The tracing variables ask for what cannot be done; the message says the fix."""


def wanted() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARS)


def interceptors() -> list[Any]:
    """The client's tracing interceptor once tracing is set up; none when it is off."""
    if not wanted():
        return []
    set_up()
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def set_up() -> None:
    """The process's tracer provider, exporting in batches over OTLP/HTTP (once)."""
    global _provider
    if _provider is not None:
        return
    _check_protocol()
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from activities import tracing

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win over this default.
    defaults = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "orchestrator"}
    provider = TracerProvider(resource=Resource.create(defaults))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    tracing.enable(provider.get_tracer("orchestrator"))
    _provider = provider


def _check_protocol() -> None:
    for name in PROTOCOL_VARS:
        value = os.environ.get(name, "").strip()
        if value and value != PROTOCOL:
            raise TracingError(
                f"{name}={value!r}: this orchestrator exports traces over OTLP with "
                f"{PROTOCOL!r} only. Fix: set {name}={PROTOCOL} (or unset it) and point "
                "OTEL_EXPORTER_OTLP_ENDPOINT at the collector's OTLP/HTTP port (4318)"
            )
        if value:
            return  # the traces-specific variable, when set, decides


def flush() -> None:
    """Send what is batched: before the process exits without running its exit handlers
    (runtime/exit.py)."""
    if _provider is not None:
        _provider.force_flush(FLUSH_MS)
        _provider.shutdown()
