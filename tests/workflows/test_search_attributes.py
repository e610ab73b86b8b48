"""Which loops wait for me? The loops' search attributes on a real dev server, read back
with the plain `temporal` CLI and `orchestrator list`, and a server without them."""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import default as default_converter
from temporalio.worker import Replayer

from activities.search_attributes import missing
from contracts.design import DesignInput, DesignStatus
from contracts.human import AnswerInput
from runtime.server import DevServer, free_port, start_dev_server, temporal_binary
from simulators.demo_scenario import link_shortener_scenario
from simulators.messages_api import MessagesStandIn
from tests.cli.commands import orchestrator
from tests.support import (
    connect,
    make_project,
    scripted_model,
    served_status,
    sim_environ,
    spawn_worker,
    status_of,
    temporal_cli,
    until,
)
from worker import build_worker, workflows
from workflows.design_review import DesignReviewWorkflow


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch):
    with scripted_model(link_shortener_scenario(), monkeypatch) as standin:
        yield standin


def listed(address: str, query: str) -> list[dict[str, Any]]:
    """What `temporal workflow list --query ...` prints, as JSON lines."""
    done = temporal_cli(address, "workflow", "list", "--query", query, "--output", "jsonl")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def attributes(entry: dict[str, Any]) -> dict[str, Any]:
    """The loop's own search attributes in a listed entry (payloads of JSON, base64)."""
    fields = entry.get("searchAttributes", {}).get("indexedFields", {})
    return {
        name: json.loads(base64.b64decode(p["data"]))
        for name, p in fields.items()
        if name.startswith("Orchestrator")
    }


def upserts(history: Any) -> list[dict[str, Any]]:
    """Each upsert of the run: the attributes it set, decoded."""
    found = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            continue
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        found.append(
            {
                name: default_converter().payload_converter.from_payload(p)
                for name, p in fields.indexed_fields.items()
            }
        )
    return found


async def test_a_design_waiting_for_a_person_is_listed_by_the_temporal_cli_and_orchestrator_list(
    client: Client,
    temporal_server: DevServer,
    temporal_env: dict[str, str],
    task_queue: str,
    tmp_path: Path,
    sim,
) -> None:
    repo = make_project(tmp_path)
    wid = f"design-link-shortener-{uuid.uuid4().hex[:6]}"
    mine = f'WorkflowId="{wid}"'
    async with build_worker(client, task_queue):
        handle = await client.start_workflow(
            DesignReviewWorkflow.run,
            DesignInput(design_dir=str(repo.design_dir)),
            id=wid,
            task_queue=task_queue,
        )

        async def question() -> DesignStatus | None:
            st = await status_of(handle, DesignStatus)
            return st if st.phase == "questions" else None

        await until(question, what="the loop at its question")

        def waiting_for_a_person() -> list[dict[str, Any]]:
            return listed(temporal_server.address, f'OrchestratorWaitingFor="person" AND {mine}')

        entries = await until(_async(waiting_for_a_person), what="the loop listed as waiting")
        shown = attributes(entries[0])
        assert shown["OrchestratorFeature"] == "link-shortener"
        assert shown["OrchestratorRepo"] == str(repo.root)
        assert shown["OrchestratorPhase"] == "questions"
        assert shown["OrchestratorCostUsd"] > 0  # the scripted model's simulated spend

        # `orchestrator list --waiting` says the same, across repositories (no directory).
        out = await orchestrator(temporal_env, "list", "--waiting", "--json", "--no-embedded")
        assert out.returncode == 0, out.stderr
        rows = {r["workflow_id"]: r for r in json.loads(out.stdout)}
        assert rows[wid]["waiting_for"] == "person" and rows[wid]["repo"] == str(repo.root)
        table = await orchestrator(temporal_env, "list", "--no-embedded")
        assert re.search(rf"{wid}\s+{re.escape(str(repo.root))}\s+questions\s+person", table.stdout)

        await handle.execute_update(
            DesignReviewWorkflow.answer_question, AnswerInput(question_id="Q2", choice="B")
        )

        def at_gate() -> list[dict[str, Any]]:
            found = waiting_for_a_person()
            phase = attributes(found[0])["OrchestratorPhase"] if found else None
            return found if phase == "awaiting-approval" else []

        await until(_async(at_gate), what="the loop listed at its approval gate")
        await handle.signal(DesignReviewWorkflow.approved)
        await handle.result()

    done = listed(temporal_server.address, mine)
    assert attributes(done[0])["OrchestratorWaitingFor"] == "nothing"
    assert attributes(done[0])["OrchestratorPhase"] == "approved"
    assert listed(temporal_server.address, f'OrchestratorWaitingFor="person" AND {mine}') == []

    history = await handle.fetch_history()
    sets = upserts(history)
    # Only what changed is sent: no upsert repeats a value the run already has.
    have: dict[str, Any] = {}
    for sent in sets:
        assert sent and all(have.get(k) != v for k, v in sent.items()), (have, sent)
        have.update(sent)
    waits = [s["OrchestratorWaitingFor"] for s in sets if "OrchestratorWaitingFor" in s]
    assert waits[0] == "agents" and "person" in waits and waits[-1] == "nothing"
    assert len(sets) < len(history.events) / 10  # a few events in a long history
    # The run replays against today's code: the upserts are deterministic.
    replayer = Replayer(workflows=workflows(), data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


def _async(probe: Any) -> Any:
    async def run() -> Any:
        return probe()

    return run


async def test_a_server_without_them_runs_the_loops_and_the_worker_says_how_to_add_them(
    tmp_path: Path,
) -> None:
    server = start_dev_server(
        port=free_port(),
        ui_port=free_port(),
        detach=False,
        log_path=tmp_path / "server.log",
        search_attributes=False,
    )
    repo = make_project(tmp_path)
    log = tmp_path / "worker.log"
    worker = None
    try:
        with MessagesStandIn(link_shortener_scenario()) as messages:
            worker = spawn_worker(server.address, "plain-queue", sim_environ(messages.url), log)
            client = await connect(server.address)
            handle = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=str(repo.design_dir)),
                id="design-link-shortener",
                task_queue="plain-queue",
            )

            async def question() -> DesignStatus | None:
                # A worker process just spawned: under load it may poll after the server
                # gave up on a query (CANCELLED), which is "not yet", not a failure.
                st = await served_status(handle, DesignStatus)
                return st if st is not None and st.phase == "questions" else None

            st = await until(question, limit=120, what="the loop to run to its question")
            assert [q.id for q in st.open_questions] == ["Q2"]
            assert upserts(await handle.fetch_history()) == []
        said = log.read_text()
        assert "lacks the search attributes" in said and "loops started now run" in said
        fix = re.search(r"Fix: (temporal operator .*?) \(then", said)
        assert fix, said
        # The command the worker gave, pasted as it is, registers every attribute.
        for command in fix[1].split(" && "):
            argv = shlex.split(command)
            done = subprocess.run(
                [temporal_binary(), *argv[1:]], capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
        assert await missing(client) == []
    finally:
        if worker is not None:
            worker.kill()
            worker.wait()
        server.stop()
