"""`say`, `!help` and `!status` on a real design loop at its approval gate: a hint in
`status`, from our client, the plain `temporal` CLI, a `command` line and
`orchestrator say`; the loop never advances."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import temporalio.api.sdk.v1
from temporalio.client import Client, WorkflowHandle

from contracts.design import DesignInput, DesignStatus
from contracts.human import AnswerInput
from contracts.version import TASK_QUEUE
from runtime.server import DevServer
from simulators.demo_scenario import link_shortener_scenario
from tests.cli.commands import orchestrator
from tests.support import make_project, scripted_model, temporal_cli, until
from worker import build_worker
from workflows.design_review import DesignReviewWorkflow


async def _status(handle: WorkflowHandle) -> DesignStatus:
    return await handle.query(DesignReviewWorkflow.status)


async def _signals(handle: WorkflowHandle) -> list[str]:
    history = await handle.fetch_history()
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]


async def test_say_hints_at_the_gate_and_never_advances(
    client: Client,
    temporal_server: DevServer,
    temporal_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted_model(link_shortener_scenario(), monkeypatch):
        repo = make_project(tmp_path)
        design = str(repo.design_dir)
        # The id the CLI derives from the directory, on the CLI's queue, served here.
        async with build_worker(client, TASK_QUEUE):
            handle = await client.start_workflow(
                DesignReviewWorkflow.run,
                DesignInput(design_dir=design, reviewers=["design-requirements"]),
                id="design-link-shortener",
                task_queue=TASK_QUEUE,
            )
            try:
                await _drive(handle, temporal_server, temporal_env, design)
            finally:
                await handle.terminate("the test is over")


async def _drive(
    handle: WorkflowHandle, server: DevServer, env: dict[str, str], design: str
) -> None:
    async def open_q2() -> bool:
        return any(q.id == "Q2" for q in (await _status(handle)).open_questions)

    await until(open_q2, what="question Q2")
    # Before the gate, a go-ahead names what the loop takes now: the answer.
    await handle.signal(DesignReviewWorkflow.say, "looks good")
    assert "`answer Q2 <option>`" in (await _status(handle)).hint
    await handle.execute_update(
        DesignReviewWorkflow.answer_question, AnswerInput(question_id="Q2", choice="A")
    )

    async def at_gate() -> bool:
        return (await _status(handle)).phase == "awaiting-approval"

    await until(at_gate, what="the approval gate")
    assert (await _status(handle)).hint == ""  # it named the answer, which is taken: gone

    # From the plain temporal CLI, JSON input.
    said = temporal_cli(
        server.address,
        "workflow", "signal", "--workflow-id", handle.id, "--name", "say",
        "--input", json.dumps("This looks good to me!"),
    )  # fmt: skip
    assert said.returncode == 0, said.stderr
    st = await _status(handle)
    assert '(you said "looks good")' in st.hint and "`approved`" in st.hint, st.hint

    # A negation replaces the hint with none; a question too.
    await handle.signal(DesignReviewWorkflow.say, "it doesn't look good yet")
    assert (await _status(handle)).hint == ""
    await handle.signal(DesignReviewWorkflow.say, "ready to ship?")
    assert (await _status(handle)).hint == ""

    # As a command line: `say ...`, `!help`, `!status`.
    await handle.signal(DesignReviewWorkflow.command, "say let's build")
    assert "orchestrator build <dir>" in (await _status(handle)).hint
    await handle.signal(DesignReviewWorkflow.command, "!help")
    notice = (await _status(handle)).notice
    assert notice.startswith("!help: the design loop takes now: approved; request_changes")
    await handle.signal(DesignReviewWorkflow.command, "!status")
    assert "phase awaiting-approval" in (await _status(handle)).notice

    # An empty say is refused, visibly.
    await handle.signal(DesignReviewWorkflow.say, "  ")
    assert "say: the text is empty" in (await _status(handle)).notice

    # The CLI verb: sends `say`, prints the hint the loop now shows.
    shown = await orchestrator(env, "say", design, "LGTM")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("design-link-shortener: It sounds like you're ready")
    assert f"(orchestrator approve {design})" in shown.stdout
    none = await orchestrator(env, "say", design, "not ready to ship")
    assert none.returncode == 0 and none.stdout.strip() == "design-link-shortener: no gate matches"
    empty = await orchestrator(env, "say", design, " ")
    assert empty.returncode == 2 and "nothing to say" in empty.stderr
    long = await orchestrator(env, "say", design, "x" * 20_001)
    assert long.returncode == 2 and "more than 20000" in long.stderr
    await orchestrator(env, "say", design, "looks fine")
    status = await orchestrator(env, "status", design)
    assert 'Hint: It sounds like you\'re ready to proceed (you said "looks fine")' in status.stdout
    # The Web UI's details pane shows it too (the SDK's built-in metadata query).
    meta = await handle.query(
        "__temporal_workflow_metadata", result_type=temporalio.api.sdk.v1.WorkflowMetadata
    )
    assert 'hint: It sounds like you\'re ready to proceed (you said "looks fine")' in (
        meta.current_details
    )

    # Nothing advanced: still at the gate, and no signal but say / command / the answer.
    st = await _status(handle)
    assert st.phase == "awaiting-approval" and st.waiting_for == "approved or request_changes"
    assert set(await _signals(handle)) == {"say", "command"}
