"""The demo's `!merge` answers only a pick it can justify. The whole demo (its fork sent,
both attempts reviewed, B merged) is checked end to end by the killed demo's rerun in
test_first_hour.py; this is the branch a scripted run never takes: with a real model no
attempt may pass, and then the pick is a person's, printed as every other hold is."""

from __future__ import annotations

from typing import Any

import pytest

from cli.demo_fork import DemoFork
from cli.demo_steps import Demo
from contracts.build import BuildStatus, SubtaskView
from contracts.fork import AttemptView, ForkState
from contracts.gate_hints import pending_decisions
from contracts.human import PendingDecision

PROMPT = "Fork 05-cli of 05-cli ended: A blocked; B blocked. Send `!merge A` or `!merge B`"


def deciding(passed: bool) -> BuildStatus:
    attempts = {
        a: AttemptView(
            attempt=a,
            branch=f"fork/05-cli-{a}",
            status="passed" if passed else "blocked",
            passed=passed,
            scores={"code-correctness": 0.9},
            round=3,
            ended_at="2026-12-07T10:00:00+00:00",
        )
        for a in ("A", "B")
    }
    fork = ForkState(
        subtask="05-cli",
        name="05-cli",
        status="deciding",
        asked_at="2026-12-07T09:00:00+00:00",
        attempts=attempts,
        report_path="/d/build-reviews/05-cli/FORK-05-cli.md",
    )
    view = SubtaskView(
        name="05-cli",
        batch=4,
        dependencies=["04-service"],
        status="in_progress",
        decision=PendingDecision(scope="05-cli", kind="fork", prompt=PROMPT, options=["a", "b"]),
    )
    return BuildStatus(
        feature="link-shortener", phase="building", paused=False, waiting_for="person",
        subtasks=[view], running=["05-cli"], cost_usd=0.0, tokens=0, max_cost_usd=None,
        max_tokens=None, forks=[fork],
    )  # fmt: skip


async def test_no_attempt_passed_the_demo_leaves_the_pick_to_a_person(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = Demo()
    handle: Any = None  # a merge sent through it would fail the test
    fork = DemoFork(demo, handle, sent=True)
    st = deciding(passed=False)
    seen: set[tuple[str, object]] = set()
    await fork.step(st, seen)
    demo.holds(st, pending_decisions(st))
    out = capsys.readouterr().out
    assert "05-cli@A     blocked after 3 round(s): code-correctness 0.90\n" in out
    assert "fork 05-cli compared: /d/build-reviews/05-cli/FORK-05-cli.md" in out
    assert "merging it as a person would" not in out and not fork.merged
    assert "A person must act" in out and PROMPT in out
    assert "b: orchestrator decide <dir> b" in out, out
    assert fork.summary() == (
        "05-cli forked (deciding); report /d/build-reviews/05-cli/FORK-05-cli.md"
    )
