"""A local OTLP/HTTP trace receiver: what a collector (or Jaeger) does with the spans the
workers export, decoded so a test or a benchmark can read them.

It answers as the OTLP specification's HTTP transport says
(https://opentelemetry.io/docs/specs/otlp/#otlphttp): `POST /v1/traces` with a binary
protobuf `ExportTraceServiceRequest` (`Content-Type: application/x-protobuf`, optionally
gzip-compressed) gets `200` and an `ExportTraceServiceResponse`; a JSON body (the
`http/json` protocol) gets `415 Unsupported Media Type`, as a receiver that does not
speak it answers; any other path `404`, any other method `405`, a body that does not
decode `400`.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

PROTOBUF = "application/x-protobuf"
TRACES_PATH = "/v1/traces"


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    service: str
    attributes: dict[str, Any] = field(default_factory=dict)


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class OtlpCollector:
    """On 127.0.0.1, a free port; `endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self.requests = 0
        self.refused: list[int] = []
        handler = type("Handler", (_Handler,), {"collector": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OtlpCollector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except Exception as err:  # protobuf's DecodeError (protobuf is not ours to import)
            raise ValueError(f"not an ExportTraceServiceRequest: {err}") from err
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            service=str(resource.get("service.name", "")),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self._lock:
            self._spans.extend(found)
            self.requests += 1


class _Handler(BaseHTTPRequestHandler):
    collector: OtlpCollector

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self, status: int, body: bytes = b"", kind: str = PROTOBUF) -> None:
        if status != 200:
            self.collector.refused.append(status)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(405, b"method not allowed", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != TRACES_PATH:
            self._answer(404, b"not found", "text/plain")
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != PROTOBUF:
            self._answer(415, b"unsupported media type", "text/plain")
            return
        try:
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            self.collector.receive(body)
        except (ValueError, OSError, EOFError):
            self._answer(400, b"the body is not an ExportTraceServiceRequest", "text/plain")
            return
        self._answer(200, ExportTraceServiceResponse().SerializeToString())
