"""A fork's bookkeeping without a server: what `!fork` and `!merge` refuse or pick, which
attempt is best, and that a forked subtask is left to its fork by the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.agents import Usage
from contracts.build import BuildState, SubtaskView
from contracts.change import PendingChange
from contracts.fork import AttemptView, ForkRequest, ForkState, fork_branch, parse_fork
from workflows import build_replay, build_state, fork_state


def state(**statuses: str) -> BuildState:
    return BuildState(
        subtasks={
            n: SubtaskView(name=n, batch=1, dependencies=[], status=st)  # type: ignore[arg-type]
            for n, st in statuses.items()
        }
    )


def fork(subtask: str, status: str = "deciding", **scores: float) -> ForkState:
    f = ForkState(subtask=subtask, name=subtask, status=status, asked_at="2026-12-07T00:00:00")  # type: ignore[arg-type]
    for a in ("A", "B"):
        score = scores.get(a)
        f.attempts[a] = AttemptView(
            attempt=a,  # type: ignore[arg-type]
            branch=fork_branch(subtask, a),
            passed=score is not None and score >= 0.96,
            scores={"r": score} if score is not None else {},
        )
    return f


def test_fork_refuses_what_cannot_be_built_twice() -> None:
    s = state(a="pr_created", b="in_progress", c="pending", d="skipped")
    s.forks["b"] = fork("b", "running")
    said = {n: fork_state.refusal(s, ForkRequest(subtask=n)) for n in ("zz", "a", "b", "d", "c")}
    assert said["zz"].startswith("!fork zz: no such subtask in this build. Fix: fork one of a, b")
    assert "it has its pull request" in said["a"]
    assert "it is forked already (fork b, running)" in said["b"]
    assert "it is skipped" in said["d"]
    assert said["c"] == ""
    taken = fork_state.refusal(s, ForkRequest(subtask="c", name="b"))
    assert "the name b is taken by the fork of b" in taken
    s.change = PendingChange(id=1, description="x", requested_at="t", state="awaiting-decision")
    assert "spec change 1 is awaiting-decision. Fix: approve or cancel it first" in (
        fork_state.refusal(s, ForkRequest(subtask="c"))
    )


def test_fork_text_and_names_are_checked() -> None:
    assert parse_fork("02-parser choice") == ForkRequest(subtask="02-parser", name="choice")
    with pytest.raises(ValueError, match="names one subtask"):
        parse_fork("a b c")
    with pytest.raises(ValueError, match="lowercase letters"):
        ForkRequest(subtask="a", name="Fork/A")


def test_merge_names_the_fork_when_several_wait() -> None:
    s = state(a="in_progress", b="in_progress")
    assert "no fork waits for a pick" in str(fork_state.parse_merge(s, "B"))
    s.forks["a"] = fork("a")
    assert fork_state.parse_merge(s, "b") == ("a", "B")
    s.forks["b"] = fork("b")
    assert "Fix: name one, e.g. `!merge a B`" in str(fork_state.parse_merge(s, "B"))
    assert fork_state.parse_merge(s, "b A") == ("b", "A")
    assert fork_state.parse_merge(s, "A b") == ("b", "A")
    assert "no fork of zz or A waits for a pick" in str(fork_state.parse_merge(s, "zz A"))
    assert "name the winner, A or B" in str(fork_state.parse_merge(s, "a C"))


def test_best_is_the_passing_attempt_with_the_higher_lowest_score() -> None:
    assert fork_state.best(fork("a", A=0.97, B=0.99)) == "B"
    assert fork_state.best(fork("a", A=0.99, B=0.5)) == "A", "B did not pass"
    assert fork_state.best(fork("a", A=0.98, B=0.98)) == "A", "a tie: A"
    assert fork_state.best(fork("a", A=0.5)) is None


def test_a_forked_subtask_is_not_scheduled_and_both_attempts_count_in_the_budget() -> None:
    s = state(a="pending", b="pending")
    s.forks["a"] = fork("a", "asked")
    assert build_state.ready(s, []) == ["b"]
    s.forks["a"].status = "merged"
    assert build_state.ready(s, []) == ["a", "b"]
    for attempt in s.forks["a"].attempts.values():
        attempt.ledger.add("builder", f"a@{attempt.attempt}", Usage(input_tokens=100))
    s.forks["a"].spent_before.add("builder", "a", Usage(input_tokens=7))
    assert build_state.ledger(s).total.input_tokens == 207


def test_a_replay_waits_for_a_fork_after_its_checkpoint_to_be_decided() -> None:
    s = state(a="pr_created", b="in_progress", c="pending")
    s.finished = ["a"]
    now = datetime(2026, 12, 7, tzinfo=UTC)
    s.forks["b"] = fork("b", "deciding")
    said = build_replay.refusal(s, "a", now)
    assert (
        said
        == "the fork of b (b) is deciding. Fix: let it end and decide it (!merge A|B), then replay"
    )
    s.forks["b"].status = "merged"  # decided: b is rebuilt once, from its design
    assert build_replay.refusal(s, "a", now) == ""
    s.forks["c"] = fork("c", "asked")  # a fork of a pending subtask starts from the new base
    assert build_replay.refusal(s, "a", now) == ""
