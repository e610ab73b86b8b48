"""The design loop's bookkeeping, without a server: rounds, stuck, questions, answers."""

from __future__ import annotations

import pytest

from contracts.agents import AnswerResult, HumanQuestion, ReviewResult
from contracts.design import DesignState, ScopeState
from contracts.human import AnswerInput
from workflows import design_state


def review(role: str, score: float, questions: list[str] = ()) -> ReviewResult:  # type: ignore[assignment]
    return ReviewResult(
        role=role,
        scope="s",
        round=1,
        score=score,
        review_path=f"r/{role}.md",
        questions=[HumanQuestion(id="x", text=q, options=["Yes", "No"]) for q in questions],
    )


def test_rounds_count_progress_and_stuck() -> None:
    sc = ScopeState(name="s")
    for round_, scores in enumerate([(0.8, 0.9), (0.85, 0.9), (0.85, 0.99), (0.84, 0.9)], 1):
        sc.round = round_
        lowest = design_state.record_round(sc, [review("a", scores[0]), review("b", scores[1])])
    assert lowest == 0.84 and sc.history == [0.8, 0.85, 0.85, 0.84]
    assert sc.rounds_without_progress == 2  # no better lowest score in rounds 3 and 4
    assert design_state.stuck_reason(sc, stuck_after=3, round_cap=8) is None
    assert design_state.stuck_reason(sc, stuck_after=2, round_cap=8) == (
        "2 rounds without a better score"
    )
    assert design_state.stuck_reason(sc, stuck_after=3, round_cap=4) == "the round cap (4)"


def test_questions_are_asked_once_and_a_persons_answer_wins() -> None:
    s = DesignState()
    new = design_state.track_questions(
        s, "s", [review("a", 0.9, ["Keep case?"]), review("b", 0.9, ["keep case? ", "Where?"])]
    )
    assert [(q.id, q.text) for q in new] == [("Q1", "Keep case?"), ("Q2", "Where?")]
    assert design_state.track_questions(s, "t", [review("c", 0.9, ["Where?"])]) == []
    # The person answers Q1 while the question answerer is still looking.
    design_state.apply_answer(s, AnswerInput(question_id="q1", choice="No"))
    codebase = AnswerResult.model_validate(
        {
            "answers": [
                {"id": "Q1", "answered": True, "choice": "A", "reasoning": "code"},
                {"id": "Q2", "answered": False},
            ]
        }
    )
    design_state.settle_from_codebase(new, codebase)
    assert (new[0].choice, new[0].answered_by) == ("B", "human")
    assert new[1].status == "open"
    with pytest.raises(ValueError, match="unknown question id 'Q9'; known: Q1, Q2"):
        design_state.check_answer(s, AnswerInput(question_id="Q9", choice="A"))
    with pytest.raises(ValueError, match="Q2 has no option 'C'"):
        design_state.check_answer(s, AnswerInput(question_id="Q2", choice="C"))
    assert design_state.waiting_for(s, holds=[]) == "agents"
    s.phase = "questions"
    assert design_state.waiting_for(s, holds=[]) == "answers to Q2"
