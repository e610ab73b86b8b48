"""What a verb sent to an ended loop says: how it ended and the next step (issue 21)."""

from __future__ import annotations

from cli.finished import what_next

DIR = "/work/shop/design-docs/active/cart"


def test_an_approved_design_points_at_the_build() -> None:
    said = what_next("design", "design-cart", True, "DESIGN_DOC_APPROVED", DIR)
    assert said == (
        "design-cart is approved already (DESIGN_DOC_APPROVED). "
        f"Next: build it: `orchestrator build {DIR}`"
    )


def test_an_approved_design_whose_build_ended_points_at_the_build() -> None:
    unfinished = (False, "completed without its result: SUBTASKS_INCOMPLETE")
    said = what_next("design", "design-cart", True, "DESIGN_DOC_APPROVED", DIR, unfinished)
    assert said.endswith(
        "Next: the build ended completed without its result: SUBTASKS_INCOMPLETE; "
        f"`orchestrator build {DIR}` resumes it"
    )
    done = what_next("design", "design-cart", True, "X", DIR, (True, "ALL_SUBTASKS_PR_CREATED"))
    assert "the build has finished too (ALL_SUBTASKS_PR_CREATED)" in done


def test_a_cancelled_or_incomplete_loop_says_how_to_resume() -> None:
    said = what_next(
        "build", "build-cart", False, "cancelled (branches and worktrees are kept)", DIR
    )
    assert said == (
        "build-cart ended: cancelled (branches and worktrees are kept). Next: "
        f"`orchestrator build {DIR}` starts it again, resuming from what is on record"
    )
    finished = what_next("build", "build-cart", True, "ALL_SUBTASKS_PR_CREATED", DIR)
    assert finished.startswith("build-cart has finished (ALL_SUBTASKS_PR_CREATED). Next: nothing")
