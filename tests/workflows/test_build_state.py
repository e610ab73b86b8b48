"""The build's bookkeeping, without a server: scheduling, reports, failure holds, waiting."""

from __future__ import annotations

from contracts.build import BuildState, SubtaskProgress, SubtaskResult, SubtaskView
from contracts.change import Affected, PendingChange
from contracts.follow import PullSummary
from contracts.human import FAILURE_OPTIONS, FailureInfo, PendingDecision
from contracts.plan import Conflict
from workflows import build_state, merge_order


def state(**deps: list[str]) -> BuildState:
    """a diamond by default: a <- b, a <- c, (b, c) <- d."""
    deps = deps or {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    return BuildState(
        subtasks={n: SubtaskView(name=n, batch=1, dependencies=d) for n, d in deps.items()}
    )


def held(name: str, cause: str = "ModelRequestRejected:401") -> PendingDecision:
    return PendingDecision(
        scope="failure",
        kind="failure",
        prompt=f"{name} failed",
        options=list(FAILURE_OPTIONS),
        failure=FailureInfo(step=f"builder · {name}", scopes=[name], error="401", cause=cause),
    )


def test_a_subtask_is_ready_when_its_own_dependencies_have_prs() -> None:
    s = state()
    assert build_state.ready(s, running=[]) == ["a"]
    s.subtasks["a"].status = "pr_created"
    assert build_state.ready(s, running=["b"]) == ["c"]  # b runs already; d waits for both
    s.subtasks["b"].status = s.subtasks["c"].status = "pr_created"
    assert build_state.ready(s, running=[]) == ["d"]


def test_a_change_holds_what_it_reaches() -> None:
    s = state()
    s.change = PendingChange(id=1, description="x", state="analyzing", requested_at="t")
    assert build_state.ready(s, running=[]) == []
    s.change.state = "awaiting-decision"
    s.change.affected = [Affected(subtask="b", state="pending", why="named")]
    s.subtasks["a"].status = "pr_created"
    assert build_state.ready(s, running=[]) == ["c"]


def test_a_blocked_dependency_blocks_its_dependents_transitively() -> None:
    s = state()
    s.subtasks["a"].status = "blocked"
    build_state.block_orphans(s)
    assert {n: v.status for n, v in s.subtasks.items()} == {
        "a": "blocked",
        "b": "blocked",
        "c": "blocked",
        "d": "blocked",
    }
    assert s.subtasks["d"].notes == "dependency b, c has no PR"


def test_a_stale_or_late_report_changes_nothing() -> None:
    view = SubtaskView(name="a", batch=1, dependencies=[], generation=2)
    old = SubtaskProgress(subtask="a", generation=1, status="in_progress", phase="x", round=1)
    assert not build_state.apply_progress(view, old) and view.status == "pending"
    view.status = "pr_created"
    late = SubtaskProgress(subtask="a", generation=2, status="in_progress", phase="y", round=2)
    assert not build_state.apply_progress(view, late) and view.status == "pr_created"


def test_one_cause_one_decision_and_decide_reaches_every_held_subtask() -> None:
    s = state(a=[], b=[], c=[])
    s.subtasks["a"].decision = held("a")
    s.subtasks["b"].decision = held("b")
    s.subtasks["c"].decision = held("c", cause="Timeout:heartbeat")
    groups = build_state.failure_decisions(s, running=["a", "b", "c"])
    assert [g.failure.scopes for g in groups if g.failure] == [["a", "b"], ["c"]]
    assert build_state.held_by_failure(s, ["a", "b", "c"], None) == ["a", "b"]
    assert build_state.held_by_failure(s, ["a", "b", "c"], "failure") == ["a", "b"]
    assert build_state.held_by_failure(s, ["a", "b", "c"], "c") == ["c"]
    assert build_state.held_by_failure(s, ["a", "b", "c"], "nope") == []
    # A finished child's last report is not a hold.
    assert build_state.failure_decisions(s, running=[]) == []


def test_what_the_build_waits_for_and_the_tracker_carries_the_cause() -> None:
    s = state(a=[], b=[])
    assert build_state.waiting_for(s, running=[], own=[]) == "nothing"
    s.subtasks["a"].status = "in_progress"
    s.subtasks["a"].decision = held("a")
    waiting = build_state.waiting_for(s, running=["a"], own=[])
    assert waiting == "decide retry/skip/stop (a failed)"
    s.budget_hold = True
    assert build_state.waiting_for(s, running=["a"], own=[]).startswith("decide budget")
    rows = build_state.tracker_rows(s)
    assert rows[0].notes == "held for a person: builder · a failed: 401"


def test_serialize_chains_the_subtasks_of_each_conflict_in_plan_order() -> None:
    s = state(a=[], b=[], c=[], d=[])
    conflicts = [
        Conflict(stage=1, file="x.py", subtasks=["a", "b", "c"]),
        Conflict(stage=1, file="y.py", subtasks=["c", "b"]),
    ]
    build_state.serialize(s, conflicts, order=["a", "b", "c", "d"])
    assert {n: v.dependencies for n, v in s.subtasks.items()} == {
        "a": [],
        "b": ["a"],
        "c": ["b"],
        "d": [],
    }
    assert s.serialized == {"b": ["a"], "c": ["b"]}
    assert build_state.ready(s, running=[]) == ["a", "d"]
    prompt = build_state.conflicts_prompt(conflicts)
    assert prompt.startswith("Subtasks of one stage change the same files: stage 1: x.py (a, b, c)")


def following(v: SubtaskView, status: str, merge: str = "", may: bool = False) -> None:
    v.status = status  # type: ignore[assignment]
    v.pull = PullSummary(merge=merge, may_merge=may)  # type: ignore[arg-type]


def test_a_pr_that_only_waits_on_the_forge_holds_no_slot() -> None:
    s = state(a=[], b=[], c=[])
    following(s.subtasks["a"], "ci_running")
    following(s.subtasks["b"], "ci_failed")
    s.subtasks["b"].pull.fixing = True  # type: ignore[union-attr]
    s.subtasks["c"].status = "in_progress"
    assert build_state.busy(s, ["a", "b", "c"]) == 2  # b's fixer and c's builder work


def test_prs_merge_one_at_a_time_in_dependency_then_plan_order() -> None:
    """`merge = "auto"`: the turn goes to the first waiting PR whose dependencies merged
    (and that was told so); it is said again when its holder lost the leave."""
    s = state()
    running = ["a", "b", "c"]
    following(s.subtasks["c"], "mergeable", "waiting")  # c waits, but a has not merged
    following(s.subtasks["a"], "ci_running")
    assert merge_order.next_turn(s, running) is None
    following(s.subtasks["a"], "mergeable", "waiting")
    assert merge_order.next_turn(s, running) == "a" and s.merge_turn == "a"
    assert merge_order.next_turn(s, running) == "a"  # no leave reported yet: said again
    following(s.subtasks["a"], "mergeable", "merging", may=True)
    assert merge_order.next_turn(s, running) is None  # a has it: nobody else
    s.subtasks["a"].status = "merged"
    assert merge_order.next_turn(s, ["b", "c"]) is None  # c not told of a's merge yet
    assert merge_order.news(s, ["b", "c"]) == {"b": ["a"], "c": ["a"]}
    s.merge_told = {"b": ["a"], "c": ["a"]}
    assert merge_order.news(s, ["b", "c"]) == {}
    following(s.subtasks["b"], "mergeable", "waiting")
    assert merge_order.next_turn(s, ["b", "c"]) == "b"  # plan order: b before c
    # A PR waiting to merge is not done: its reports count, and integration waits for it.
    assert build_state.apply_progress(
        s.subtasks["b"], SubtaskProgress(subtask="b", status="ci_running", phase="x", round=1)
    )


def test_integration_waits_for_prs_waiting_to_merge() -> None:
    s = state(a=[])
    assert build_state.add_integration(s) is None
    following(s.subtasks["a"], "mergeable", "waiting")
    assert build_state.ready(s, running=["a"]) == []
    following(s.subtasks["a"], "mergeable")  # merge = "manual": done with its PR
    assert build_state.ready(s, running=[]) == ["integration"]


def test_a_dependency_that_ended_unmerged_declines_its_dependents_merge() -> None:
    s = state()
    s.subtasks["a"].status = "pr_created"  # a person skipped following a's PR
    following(s.subtasks["b"], "ci_running")
    s.subtasks["c"].status = "in_progress"  # not following yet: told once it does
    (why,) = merge_order.declined(s, ["b", "c"]).values()
    assert list(merge_order.declined(s, ["b", "c"])) == ["b"]
    assert "a pr_created: not merged" in why
    assert merge_order.declined(s, ["a", "b", "c"]) == {}  # a still runs: not ended
    s.merge_declined["b"] = why
    assert merge_order.declined(s, ["b", "c"]) == {}  # told once


def test_a_followed_integration_pr_counts_in_the_build_result() -> None:
    """The build is no more done than integration's PR, when it was followed; integration
    without a followed PR (follow = false, failed, skipped) leaves the subtasks' result."""
    s = state(a=[])
    assert build_state.add_integration(s) is None
    integ = s.subtasks["integration"]
    results = [SubtaskResult(subtask="a", status="merged")]
    assert build_state.build_result(results, integ) == "ALL_SUBTASKS_MERGED"  # not followed
    following(integ, "mergeable")
    assert build_state.build_result(results, integ) == "ALL_SUBTASKS_MERGEABLE"
    following(integ, "merged")
    assert build_state.build_result(results, integ) == "ALL_SUBTASKS_MERGED"
    following(integ, "pr_created")  # a person skipped following it
    assert build_state.build_result(results, integ) == "ALL_SUBTASKS_PR_CREATED"
    following(integ, "blocked")  # integration failed: its outcome says so
    assert build_state.build_result(results, integ) == "ALL_SUBTASKS_MERGED"
    following(integ, "merged")
    outcome = build_state.integration_outcome(s, "f")
    assert outcome is not None and (outcome.status, outcome.pr_status) == ("passed", "merged")


def test_integration_merges_last_and_is_declined_when_a_subtask_did_not_merge() -> None:
    s = state(a=[], b=[])
    assert build_state.add_integration(s) is None
    s.subtasks["a"].status = s.subtasks["b"].status = "merged"
    s.merge_told["integration"] = ["a", "b"]  # what it knew as it started
    following(s.subtasks["integration"], "mergeable", "waiting")
    assert merge_order.news(s, ["integration"]) == {}
    assert merge_order.next_turn(s, ["integration"]) == "integration"
    assert build_state.busy(s, ["integration"]) == 0  # waiting on the forge: no slot
    s.subtasks["b"].status = "pr_created"  # a person skipped following b's PR
    (why,) = merge_order.declined(s, ["integration"]).values()
    assert "b pr_created: not merged" in why
