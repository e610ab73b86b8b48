"""A subtask's bookkeeping, without a server: fixer, progress, stuck, what the fixer hears."""

from __future__ import annotations

import pytest

from contracts.agents import ReviewIssue, ReviewResult, Severity
from contracts.build import GateCommand, GateResult, IntegrationState, SubtaskState
from workflows import subtask_state


def review(score: float, fixer: str | None = None, issue: str = "") -> ReviewResult:
    return ReviewResult(
        role=f"r{score}",
        scope="a",
        round=1,
        score=score,
        review_path=f"r{score}.md",
        recommended_fixer=fixer,
        issues=[ReviewIssue(severity=Severity.medium, description=issue)] if issue else [],
    )


def gates(*passed: bool) -> GateResult:
    return GateResult(
        results=[
            GateCommand(
                command=f"g{i}",
                exit_code=0 if p else 1,
                passed=p,
                log_path=f"g{i}.log",
                duration_s=0.1,
            )
            for i, p in enumerate(passed)
        ]
    )


def test_the_fixer_follows_the_reviews_and_the_gates() -> None:
    assert subtask_state.choose_fixer(
        [review(0.5, "builder"), review(0.5, "fixer")], True, 0.96
    ) == ("builder")
    assert subtask_state.choose_fixer([review(0.99, "builder")], False, 0.96) == "fixer"
    assert subtask_state.choose_fixer([review(0.5, "performance-fixer")], True, 0.96) == (
        "performance-fixer"
    )


def test_green_gates_are_progress_and_rounds_without_it_get_stuck() -> None:
    s = SubtaskState(round_cap=8)
    _, lowest = subtask_state.record_round(s, 1, "c1", gates(False), [review(0.9)])
    assert lowest == 0.9 and s.best == pytest.approx(-0.1)  # red gates: a point below green
    subtask_state.record_round(s, 2, "c2", gates(True), [review(0.8)])
    assert s.rounds_without_progress == 0  # green gates beat a higher score with red ones
    subtask_state.record_round(s, 3, "c3", gates(True), [review(0.8)])
    subtask_state.record_round(s, 4, "c4", gates(True), [review(0.7)])
    assert [r.commit for r in s.rounds] == ["c1", "c2", "c3", "c4"]
    assert subtask_state.stuck_reason(s, 4, stuck_after=2) == "2 rounds without a better score"
    assert subtask_state.stuck_reason(s, 4, stuck_after=3) is None
    assert subtask_state.stuck_reason(s, 8, stuck_after=3) == "the round cap (8)"


def test_the_fixer_hears_the_issues_below_the_bar_and_every_red_gate() -> None:
    issues = subtask_state.fix_issues(
        [review(0.5, issue="off by one"), review(0.99, issue="nit")], gates(True, False), 0.96
    )
    assert [i.description.splitlines()[0] for i in issues] == [
        "off by one",
        "gate `g1` failed (exit 1):",
    ]
    assert issues[1].location == "g1.log"
    fallback = subtask_state.fix_issues([review(0.5)], gates(True), 0.96)
    assert [i.description for i in fallback] == ["Address the reviews."]


def test_the_build_hears_the_state() -> None:
    s = SubtaskState(status="in_progress", phase="reviewing", round=2)
    subtask_state.record_round(s, 2, "c", gates(True, False), [review(0.9)])
    report = subtask_state.progress(s, "a", generation=3)
    assert (report.generation, report.gates_passed, report.round_scores) == (
        3,
        False,
        [{"r0.9": 0.9}],
    )
    assert "gates: `g0` ok, `g1` FAIL" in subtask_state.details(s, "a")


def test_refused_configuration_changes_stay_in_the_notes_to_the_end() -> None:
    s = SubtaskState(notes="building")
    subtask_state.refuse(s, "builder", ["orchestrator.toml"])
    subtask_state.refuse(s, "fixer", [".orchestrator/agents/x.md", "orchestrator.toml"])
    assert s.refused == [".orchestrator/agents/x.md", "orchestrator.toml"]
    assert s.notes.startswith(
        "fixer left changes the orchestrator refuses; refused agent changes to "
    )
    final = subtask_state.with_refusals(s, "2 review round(s)")
    assert final.startswith("2 review round(s); refused agent changes to .orchestrator/agents")
    assert subtask_state.with_refusals(SubtaskState(), "2 review round(s)") == "2 review round(s)"


def test_a_child_loop_keeps_the_state_it_carries_else_starts_one_as_its_build_is() -> None:
    fresh = subtask_state.carried_or_new(None, IntegrationState, True, 7)
    assert isinstance(fresh, IntegrationState)
    assert fresh.paused and fresh.round_cap == 7
    carried = SubtaskState(round_cap=3)
    assert subtask_state.carried_or_new(carried, SubtaskState, True, 7) is carried
    assert not carried.paused and carried.round_cap == 3
