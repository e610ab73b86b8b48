"""The design loop's bookkeeping as pure functions of its state (no Temporal, no I/O).

A review round's scores and progress, when a scope is stuck, which reviewer
questions are new, how answers land (a person's answer wins over the
codebase's), and what the loop waits for: decided here from `DesignState`
alone, so it is unit-tested without a server.
"""

from __future__ import annotations

from contracts.agents import AnswerResult, ReviewResult
from contracts.design import DesignState, ScopeState
from contracts.gate_hints import notice_lines
from contracts.human import AnswerInput, PendingDecision, TrackedQuestion
from contracts.names import with_odd_characters
from contracts.search_attributes import Waiting


def record_round(sc: ScopeState, results: list[ReviewResult]) -> float:
    """Keep one round's scores; returns the lowest (the scope's score for the round)."""
    sc.scores = {r.role: r.score for r in results}
    sc.review_paths = [r.review_path for r in results]
    lowest = min(sc.scores.values()) if sc.scores else 0.0
    sc.history.append(lowest)
    sc.round_scores.append(dict(sc.scores))
    if lowest > sc.best + 1e-9:
        sc.best, sc.rounds_without_progress = lowest, 0
    else:
        sc.rounds_without_progress += 1
    return lowest


def stuck_reason(sc: ScopeState, stuck_after: int, round_cap: int) -> str | None:
    """Why the scope is stuck (no progress, or the round cap), or None."""
    if sc.rounds_without_progress >= stuck_after:
        return f"{sc.rounds_without_progress} rounds without a better score"
    if sc.round >= round_cap:
        return f"the round cap ({round_cap})"
    return None


def track_questions(
    s: DesignState, scope: str, results: list[ReviewResult]
) -> list[TrackedQuestion]:
    """Reviewer questions not asked before (by text), numbered Q1, Q2, ... across the loop."""
    known = {q.text.strip().lower() for q in s.questions}
    new: list[TrackedQuestion] = []
    for r in results:
        for q in r.questions:
            if q.text.strip().lower() in known:
                continue
            known.add(q.text.strip().lower())
            tracked = TrackedQuestion(
                id=f"Q{len(s.questions) + 1}",
                text=q.text,
                options=q.options,
                scope=scope,
                reviewer=r.role,
            )
            s.questions.append(tracked)
            new.append(tracked)
    return new


def settle_from_codebase(new: list[TrackedQuestion], result: AnswerResult) -> None:
    """The question answerer's answers; what it could not settle opens for a person."""
    by_id = {q.id: q for q in new}
    for answer in result.answers:
        q = by_id.get(answer.id)
        # A person's answer given while the answerer ran wins over the codebase's.
        if q is None or q.status != "answering" or not answer.answered or not answer.choice:
            continue
        letter = q.option_letter(answer.choice)
        if letter is None:
            continue
        q.status, q.choice, q.answered_by = "answered", letter, "codebase"
        q.reasoning = answer.reasoning
    for q in new:
        if q.status == "answering":
            q.status = "open"


def check_answer(s: DesignState, answer: AnswerInput) -> TrackedQuestion:
    """The question a person answers; ValueError saying what is wrong and what is valid."""
    q = next((q for q in s.questions if q.id.lower() == answer.question_id.lower()), None)
    if q is None:
        known = ", ".join(q.id for q in s.questions) or "none yet"
        raise ValueError(
            f"unknown question id {answer.question_id!r}; known: {known}. Fix: answer one of "
            "the open questions `status` lists"
        )
    if q.option_letter(answer.choice) is None:
        raise ValueError(
            with_odd_characters(f"{q.id} has no option {answer.choice!r}", answer.choice)
            + f". Fix: choose one of: {q.options_line()}"
        )
    return q


def _who(q: TrackedQuestion) -> str:
    return "a person" if q.answered_by == "human" else "the codebase"


def changes_an_answer(s: DesignState, answer: AnswerInput) -> bool:
    """Whether `answer` (already checked) would replace a different answer on record."""
    q = check_answer(s, answer)
    return q.status == "answered" and q.option_letter(answer.choice) != q.choice


def check_change(s: DesignState, answer: AnswerInput) -> None:
    """A person's answer replaces one on record only when they say so (`replace`), and
    only while the writer has not folded it into the design yet; ValueError otherwise."""
    if not changes_an_answer(s, answer):
        return
    q = check_answer(s, answer)
    given = f"{q.choice}) {q.answer_text()}, by {_who(q)}"
    if q.id in s.answers_applied:
        raise ValueError(
            f"{q.id} is already answered ({given}) and the writer has put that answer into the "
            "design. Fix: send request_changes saying what to decide instead"
        )
    if not answer.replace:
        raise ValueError(
            f"{q.id} is already answered ({given}). Fix: to change the answer, send it again "
            f"with replace: `orchestrator answer <dir> {q.id} {answer.choice} --replace`, or "
            f'--input \'{{"question_id": "{q.id}", "choice": "{answer.choice}", '
            '"replace": true}\''
        )


def apply_answer(s: DesignState, answer: AnswerInput) -> TrackedQuestion:
    changed = changes_an_answer(s, answer)
    q = check_answer(s, answer)
    before = f" (replacing {q.choice}, given by {_who(q)})" if changed else ""
    q.choice = q.option_letter(answer.choice)
    q.status, q.answered_by, q.reasoning = "answered", "human", f"answered by a person{before}"
    return q


def waiting_for(s: DesignState, holds: list[PendingDecision]) -> str:
    """What the loop waits for, most pressing first (`holds`: its open failure decisions)."""
    return waiting(s, holds)[1]


def waiting(s: DesignState, holds: list[PendingDecision]) -> tuple[Waiting, str]:
    """Who the loop waits for (the search attribute) and what for (`status`)."""
    if s.paused:
        return "person", "!resume (paused: no new agent starts)"
    for d in holds:
        return "person", f"decide {' / '.join(d.options)}: {d.prompt}"
    if s.decisions:
        d = s.decisions[0]
        return "person", f"decide {d.scope}: {' / '.join(d.options)}"
    if s.phase == "questions":
        open_ids = [q.id for q in s.questions if q.status == "open"]
        return "person", "answers to " + ", ".join(open_ids)
    if s.phase == "awaiting-approval":
        return "person", "approved or request_changes"
    if s.phase in ("approved", "cancelled") or s.stop_reason:
        return "nothing", f"nothing ({s.phase if not s.stop_reason else 'stopped'})"
    return "agents", "agents"


def details(s: DesignState, feature: str, waiting: str, note: str = "") -> str:
    """The Web UI's current-details pane: a short markdown status."""
    lines = [f"**{feature or 'design'}** · phase `{s.phase}`"]
    if note:
        lines.append(note)
    lines.append(f"waiting for: {waiting}")
    for sc in s.scopes.values():
        scores = ", ".join(f"{k} {v:.2f}" for k, v in sc.scores.items()) or "-"
        lines.append(f"- {sc.name}: {sc.state}, round {sc.round}, {scores}")
    for q in s.questions:
        if q.status == "open":
            lines.append(f"- {q.id}: {q.text} ({q.options_line()})")
    return "\n".join([*lines, *notice_lines(s, waiting)])
