"""The demo's release: the release loop on the integrated branch, each gate sent as a
person sends it (`!docs`, then `!critic`, `!security`, `!verify`), until SHIPPED.

The loop never advances by itself; the demo waits for each gate to be offered
(`next_gate`), prints the `temporal` command a person would paste and runs it, then
prints the stage's scores, findings and report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from cli.demo_repo import DemoRepo
from cli.demo_steps import POLL_S, Demo, next_phase, signal_as_a_person
from cli.holds import release_answers
from cli.output import paint
from cli.views import findings_text
from contracts.release import DOCS_GATE, GATES, ReleaseInput, ReleaseResult, ReleaseStatus
from workflows.release import ReleaseWorkflow

RELEASE_ID = "release-link-shortener"


async def release_phase(
    demo: Demo, client: Client, repo: DemoRepo, task_queue: str
) -> ReleaseResult:
    say = demo.say
    header = f"release loop: {RELEASE_ID} (as `{demo.cmds.verb('release')}` starts it)"
    arg = ReleaseInput(design_dir=str(repo.design_dir))
    handle = await next_phase(demo, client, header, ReleaseWorkflow, arg, task_queue, "release")
    seen: set[str] = set()
    gates = list(GATES)
    await until(demo, handle, seen, lambda st: st.next_gate == gates[0])
    say(f"  it waits for a person at each gate; first {DOCS_GATE}, the docs agent, meanwhile:")
    await signal_as_a_person(demo, RELEASE_ID, DOCS_GATE)
    st = await until(demo, handle, seen, lambda st: st.docs == "done")
    if st is not None:
        note = f" ({st.notice})" if st.notice else ""
        say(f"  docs written: {', '.join(st.docs_files)}{note}")
    for n, gate in enumerate(gates):
        later = gates[n + 1] if n + 1 < len(gates) else None
        say(f"  {gate}: opening the gate as a person would:")
        await signal_as_a_person(demo, RELEASE_ID, gate)
        st = await until(demo, handle, seen, lambda st, g=later: bool(g) and st.next_gate == g)
        if st is not None:
            stage_line(demo, st, GATES[gate])
    result = ReleaseResult.model_validate(await handle.result())
    stage_line(demo, await handle.query(ReleaseWorkflow.status), GATES[gates[-1]])
    why = f"; {result.stop_reason}" if result.stop_reason else ""
    say(f"  {RELEASE_ID}: {result.result}{why}")
    return result


def stage_line(demo: Demo, st: ReleaseStatus, name: str) -> None:
    for v in st.stages:
        if v.name == name:
            lowest = "-" if v.lowest is None else f"{v.lowest:.2f}"
            demo.say(
                f"  {name:<9} {v.status}: round {v.round}, fixer rounds {v.fix_rounds}, lowest "
                f"score {lowest}, findings {findings_text(v.findings)}; report {v.report or '-'}"
            )


async def until(
    demo: Demo,
    handle: WorkflowHandle,
    seen: set[str],
    done: Callable[[ReleaseStatus], bool],
) -> ReleaseStatus | None:
    """Poll the loop until `done(status)`; None once it has closed. A hold (a decision, a
    pause) is printed once, with the commands that answer it."""
    while True:
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return None
        try:
            st: ReleaseStatus = await handle.query(ReleaseWorkflow.status)
        except RPCError:
            st = None  # type: ignore[assignment]
        if st is not None:
            if done(st):
                return st
            holds(demo, st, seen)
        await asyncio.sleep(POLL_S)


def holds(demo: Demo, st: ReleaseStatus, seen: set[str]) -> None:
    fresh = [d for d in st.decisions if d.prompt not in seen]
    if not fresh:
        return
    seen.update(d.prompt for d in fresh)
    demo.say(
        paint(
            "A person must act: the demo waits for this (answer it from another terminal, "
            "or Ctrl-C to end the demo):",
            "bold",
        )
    )
    shown = st.model_copy(update={"decisions": fresh, "next_gate": None})
    for line in release_answers(shown, RELEASE_ID):
        print(f"    {line}", flush=True)
