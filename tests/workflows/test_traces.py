"""Traces: a worker with OTEL_EXPORTER_OTLP_ENDPOINT set exports its spans over OTLP/HTTP
to a real receiver (simulators/otlp_collector.py); one without exports nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from temporalio.client import Client

from contracts.build import BuildInput
from contracts.design import DesignInput, DesignStatus
from runtime.server import DevServer
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from simulators.messages_api import MessagesStandIn
from simulators.otlp_collector import PROTOBUF, OtlpCollector, ReceivedSpan
from tests.conftest import REPO_ROOT
from tests.support import (
    WorkerProcess,
    make_project,
    served_status,
    sim_environ,
    until,
)
from tests.workflows.builds import approve_artifacts
from workflows.build import BuildWorkflow
from workflows.design_review import DesignReviewWorkflow

TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
)


def traced(collector: OtlpCollector) -> dict[str, str]:
    # Batches leave every 200 ms instead of 5 s, so the test need not wait long.
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}


def of(collector: OtlpCollector, workflow_id: str, prefix: str) -> list[ReceivedSpan]:
    return [
        s
        for s in collector.spans()
        if s.name.startswith(prefix) and s.attributes.get("temporalWorkflowID", "") == workflow_id
    ]


async def test_a_build_exports_agent_turns_tools_and_gates_over_otlp_http(
    client: Client, temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    wid = f"build-traced-{uuid.uuid4().hex[:6]}"
    child = f"{wid}-01-models"
    with (
        GitHubStandIn() as github,
        MessagesStandIn(link_shortener_scenario()) as messages,
        OtlpCollector() as collector,
    ):
        env = {**sim_environ(messages.url, github.url), **traced(collector)}
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        repo = make_project(tmp_path, github.url)
        approve_artifacts(repo.design_dir, repo.root)
        with WorkerProcess(temporal_server.address, task_queue, env, tmp_path / "worker.log"):
            handle = await client.start_workflow(
                BuildWorkflow.run,
                BuildInput(design_dir=str(repo.design_dir)),
                id=wid,
                task_queue=task_queue,
            )

            async def gated() -> list[ReceivedSpan]:
                # A gate, and its activity's span (sent when the activity has ended).
                sent = {s.span_id for s in collector.spans()}
                return [g for g in of(collector, child, "gate ") if g.parent_id in sent]

            gates = await until(gated, limit=180, what="a gate span of 01-models")
            await handle.terminate("the test has its spans")
        turns = of(collector, child, "chat ")
        tools = of(collector, child, "execute_tool ")
        spans = collector.spans()
    assert collector.refused == []
    turn = turns[0]
    assert turn.name == "chat claude-sonnet-5-5" and turn.service == "orchestrator"
    attrs = turn.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "claude-sonnet-5-5"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert all(isinstance(attrs[k], int) for k in TOKENS), attrs
    assert attrs["gen_ai.usage.output_tokens"] > 0
    # Cached prompt tokens count in input_tokens, as the conventions ask.
    assert attrs["gen_ai.usage.input_tokens"] >= attrs["gen_ai.usage.cache_read.input_tokens"]
    assert sum(t.attributes["gen_ai.usage.cache_read.input_tokens"] for t in turns) > 0
    # A turn is a child of its activity's span, which the SDK's interceptor made.
    parents = {s.span_id: s for s in spans}
    assert parents[turn.parent_id].name.startswith("RunActivity:agent.")
    assert any(t.attributes["gen_ai.tool.name"].startswith("submit_") for t in tools)
    assert {"gen_ai.tool.call.id", "gen_ai.operation.name"} <= set(tools[0].attributes)
    gate = gates[0]
    assert isinstance(gate.attributes["process.exit.code"], int)
    assert gate.attributes["orchestrator.gate.command"] in gate.name
    assert parents[gate.parent_id].name == "RunActivity:gates.run"


async def test_without_an_endpoint_nothing_is_exported(
    client: Client, temporal_server: DevServer, task_queue: str, tmp_path: Path
) -> None:
    with MessagesStandIn(link_shortener_scenario()) as messages, OtlpCollector() as collector:
        # The collector listens, but nothing names it: OTEL_BSP_SCHEDULE_DELAY alone sets
        # nothing up.
        env = {**sim_environ(messages.url), "OTEL_BSP_SCHEDULE_DELAY": "200"}
        repo = make_project(tmp_path)
        log = tmp_path / "worker.log"
        with WorkerProcess(temporal_server.address, task_queue, env, log):
            handle = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir)),
                id=f"design-untraced-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )

            async def reviewed() -> bool:
                # The worker process may poll only after the server gave up on a query.
                st: DesignStatus | None = await served_status(handle, DesignStatus)
                return st is not None and st.phase == "questions"

            await until(reviewed, limit=120, what="the design's first reviews")
            await handle.terminate("done")
        assert collector.requests == 0


def test_a_protocol_it_cannot_speak_is_refused_with_the_fix(temporal_server: DevServer) -> None:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    done = subprocess.run(
        [sys.executable, "-m", "worker", "--no-embedded", "--task-queue", "refused"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "error: OTEL_EXPORTER_OTLP_PROTOCOL='grpc'" in done.stderr
    assert "Fix: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in done.stderr


def test_the_receiver_answers_as_an_otlp_http_receiver_does() -> None:
    """The stand-in refuses what a real receiver refuses (simulators/otlp_collector.py)."""

    def post(url: str, body: bytes, kind: str) -> tuple[int, bytes]:
        request = urllib.request.Request(url, body, {"Content-Type": kind}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    with OtlpCollector() as collector:
        traces = f"{collector.endpoint}/v1/traces"
        assert post(traces, b"{}", "application/json")[0] == 415
        assert post(f"{collector.endpoint}/v1/metrics", b"", PROTOBUF)[0] == 404
        assert post(traces, b"\xff\xff\xff", PROTOBUF)[0] == 400
        status, body = post(traces, ExportTraceServiceRequest().SerializeToString(), PROTOBUF)
        assert status == 200
        ExportTraceServiceResponse().ParseFromString(body)
        assert collector.requests == 1 and collector.refused == [415, 404, 400]
