"""`decide` sees one decision per failure cause, however many subtasks it holds."""

from __future__ import annotations

from cli.loop_cmds import pending_decisions
from contracts.build import BuildStatus, SubtaskView
from contracts.human import FAILURE_OPTIONS, FailureInfo, PendingDecision


def _held(scopes: list[str]) -> PendingDecision:
    return PendingDecision(
        scope="failure",
        kind="failure",
        prompt="review failed: 401",
        options=list(FAILURE_OPTIONS),
        failure=FailureInfo(step="review", scopes=scopes, error="401", cause="x:401"),
    )


def test_a_failure_holding_two_subtasks_is_one_decision() -> None:
    views = [
        SubtaskView(name=n, batch=1, dependencies=[], status="in_progress", decision=_held([n]))
        for n in ("02-storage", "03-codec")
    ]
    views.append(
        SubtaskView(
            name="05-cli",
            batch=2,
            dependencies=[],
            decision=PendingDecision(scope="05-cli", prompt="stuck", options=["skip"]),
        )
    )
    status = BuildStatus(
        feature="f",
        phase="building",
        paused=False,
        waiting_for="decide",
        subtasks=views,
        running=["02-storage", "03-codec", "05-cli"],
        cost_usd=0,
        tokens=0,
        max_cost_usd=None,
        max_tokens=None,
        decisions=[_held(["02-storage", "03-codec"])],
    )
    found = pending_decisions(status)
    assert [(d.scope, d.kind) for d in found] == [("failure", "failure"), ("05-cli", "stuck")]
