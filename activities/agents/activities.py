"""Agent activities: one durable Messages API tool-use loop per call.

Each activity takes a small request (paths, role, round), runs the role's agent
in its workdir, writes what the agent produced to disk (review file, commit,
subtask XML) and returns a small result with token usage and cost. Retrying is
always safe: a finished call is replayed from its transcript without calling
the model again, and an unfinished one resumes from its last completed turn.
"""

from __future__ import annotations

import asyncio
import os
import string
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import worktree_changes
from activities.agents import edit_worktree, review_cache, rubric
from activities.agents import transcript as transcripts
from activities.agents.cancel import cancel_requested, finish_in_thread
from activities.agents.commit import (
    Cancelled,
)
from activities.agents.errors import non_retryable
from activities.agents.loop import reports_usage, run_agent, settle, spent_so_far
from activities.agents.outputs import (
    DRAFT_PINNED,
    AnswerSubmission,
    DraftSubmission,
    EditSubmission,
    OutputKind,
    ReviewSubmission,
    builder_submission,
    integrator_submission,
)
from activities.agents.review_file import write_review
from activities.agents.roles import ResolvedRole, resolve_role
from activities.plan.design_dir import parse_subplan
from activities.plan.pipeline import subtask_issues
from activities.plan.subtask_xml import subtask_from_subplan, write_subtask
from contracts.agents import (
    AgentCall,
    AnswerRequest,
    AnswerResult,
    ChangeAnalysis,
    ChangeAnalysisResult,
    ChangeRequest,
    EditRequest,
    EditResult,
    QuestionAnswer,
    ReviewRequest,
    ReviewResult,
    SubtaskDraftRequest,
    SubtaskDraftResult,
    Usage,
)
from contracts.plan import PlanError, SubplanMeta
from contracts.subtask import SubtaskSpec


async def _role(call: AgentCall, kind: OutputKind) -> ResolvedRole:
    return await asyncio.to_thread(resolve_role, call.role, kind, Path(call.workdir), call.settings)


def _in_workdir(call: AgentCall, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else Path(call.workdir) / candidate


@activity.defn(name="agent.review")
@reports_usage
async def agent_review(req: ReviewRequest) -> ReviewResult:
    """A blind review: the reviewer reads the work and submits; the activity checks each
    finding's quote in the file it names, derives the score from the worst verified open
    issue (rubric.py) and writes the file.

    With `reuse`, a review of identical input made before (same role, model, prompt,
    scope, title, instructions and focus-file bytes) is returned as it is, with no
    model request and zero usage, while its review file still exists.
    """
    resolved = await _role(req, "review")
    key: str | None = None
    if req.reuse or req.remember:
        key = await asyncio.to_thread(review_cache.review_key, req, resolved)
    if req.reuse and key is not None:
        cached = await asyncio.to_thread(review_cache.load, req, key)
        if cached is not None:
            return cached.model_copy(update={"round": req.round, "usage": Usage()})
    workdir, review_file = Path(req.workdir), _in_workdir(req, req.review_path)
    start: worktree_changes.Changes | None = None
    if "run_command" in resolved.tools:
        start = await asyncio.to_thread(edit_worktree.noted_in_own_worktree, req)
    try:
        outcome = await run_agent(req, resolved, ReviewSubmission)
        review = outcome.output
        verdict = await asyncio.to_thread(rubric.judge, workdir, review, req.threshold)
        await finish_in_thread(write_review, review_file, req.title, review, verdict)
    finally:
        if start is not None:  # what its commands left is never the next editor's to commit
            await finish_in_thread(
                worktree_changes.discard, workdir, start, req.role, {review_file}, tidy=True
            )
    result = ReviewResult(
        role=req.role,
        scope=req.scope,
        round=req.round,
        score=verdict.score,
        issues=verdict.issues,
        questions=review.questions,
        recommended_fixer=review.recommended_fixer,
        review_path=req.review_path,
        usage=outcome.usage,
    )
    if key is not None:
        await finish_in_thread(review_cache.save, req, key, result)
    return result


@activity.defn(name="agent.edit")
@reports_usage
async def agent_edit(req: EditRequest) -> EditResult:
    """A writer, builder or fixer changes files; the activity (not the model) commits them."""
    resolved = await _role(req, "edit")
    submission = (
        integrator_submission(req.culprits)
        if req.culprits
        else builder_submission(req.patterns_offered)
        if req.patterns_offered
        else EditSubmission
    )
    start = (
        await asyncio.to_thread(edit_worktree.noted_in_own_worktree, req) if req.commit else None
    )
    if start:  # a person's changes hold the subtask before the model is asked
        await asyncio.to_thread(edit_worktree.refuse_persons_changes, req, start)
    check = edit_worktree.commit_check(req, resolved) if req.commit else None
    try:
        return await _edit_and_commit(req, resolved, submission, check, start)
    except (asyncio.CancelledError, Cancelled):
        if start is not None and cancel_requested():
            # Work never committed is no one's to keep: the worktree goes back to how the
            # call found it, so a restarted subtask does not take it for a person's.
            await finish_in_thread(edit_worktree.discard_since, req, start, tidy=True)
        raise


async def _edit_and_commit(
    req: EditRequest,
    resolved: ResolvedRole,
    submission: type[Any],
    check: Callable[[Any], Awaitable[None]] | None,
    start: worktree_changes.Changes | None,
) -> EditResult:
    outcome = await run_agent(req, resolved, submission, check=check)
    workdir = Path(req.workdir)
    claimed = {p for p in outcome.output.files_changed if not os.path.isabs(p)}
    files = sorted(outcome.workspace.touched | _existing(workdir, claimed))
    sha: str | None = None
    summary = outcome.output.summary
    refused: list[str] = []
    if req.commit:
        sha, files, refused = await finish_in_thread(
            edit_worktree.commit,
            req,
            resolved,
            outcome.workspace,
            outcome.transcript.fingerprint,
            start or {},
        )
        if outcome.transcript.commit != sha:
            outcome.transcript.commit = sha
            await finish_in_thread(transcripts.save, outcome.transcript_path, outcome.transcript)
        if refused:
            activity.logger.warning(
                "%s left changes the orchestrator refuses (%s): not committed, discarded",
                req.role,
                ", ".join(refused),
            )
            summary = (
                f"{summary}\n\nRefused by the orchestrator, not committed and discarded: "
                f"{', '.join(refused)} (agents may not change .orchestrator/, "
                "orchestrator.toml or .gitmodules: configuration comes from the commit the loop "
                "started from; nor commit nested repositories or files git cannot store)"
            ).strip()
    return EditResult(
        role=req.role,
        scope=req.scope,
        round=req.round,
        files_changed=files,
        summary=summary,
        commit=sha,
        usage=outcome.usage,
        culprit=getattr(outcome.output, "culprit", None),
        culprit_reason=getattr(outcome.output, "culprit_reason", ""),
        patterns_used=sorted(set(getattr(outcome.output, "patterns_used", []))),
        refused=refused,
    )


@activity.defn(name="agent.answer_questions")
@reports_usage
async def agent_answer_questions(req: AnswerRequest) -> AnswerResult:
    """Settle reviewers' questions from the codebase where it can; the rest go to the person.

    The question ids are the workflow's: an answer's id is matched to the asked one
    whatever its case or spacing, and kept as asked. An answerer whose output cannot
    be used leaves every question to the person (the result's note says why): it only
    ever saves the person work, it never stops the design loop.
    """
    ids = {_answer_key(q.id): q.id for q in req.questions}
    letters = {q.id: string.ascii_uppercase[: len(q.options)] for q in req.questions}

    def pinned(sub: AnswerSubmission) -> list[QuestionAnswer]:
        return [a.model_copy(update={"id": ids.get(_answer_key(a.id), a.id)}) for a in sub.answers]

    def check(sub: AnswerSubmission) -> None:
        given = [a.id for a in pinned(sub)]
        if sorted(given) != sorted(ids.values()):
            raise ValueError(
                f"answer every question exactly once: expected ids {list(ids.values())}, "
                f"got {[a.id for a in sub.answers]}"
            )
        for a in pinned(sub):
            if a.answered and (a.choice or "").strip().upper() not in letters[a.id]:
                raise ValueError(
                    f"{a.id}: choice must be one of {', '.join(letters[a.id])} when answered"
                )

    resolved = await _role(req, "answer")
    try:
        outcome = await run_agent(req, resolved, AnswerSubmission, check=check)
        given, usage, note = pinned(outcome.output), outcome.usage, outcome.transcript.note
    except ApplicationError as exc:
        if exc.type not in _OUTPUT_UNUSABLE:
            raise
        note = (
            f"the question answerer gave no usable answer ({exc.type}: "
            f"{str(exc.message).splitlines()[0][:300]}); every question goes to a person"
        )
        fallback = AnswerSubmission(
            answers=[QuestionAnswer(id=i, answered=False, reasoning=note) for i in ids.values()]
        )
        await asyncio.to_thread(settle, req, resolved, fallback, note)
        activity.logger.warning("%s: %s", req.scope, note)
        given, usage = fallback.answers, spent_so_far()
    answers = [
        a.model_copy(
            update={"choice": a.choice.strip().upper() if a.answered and a.choice else None}
        )
        for a in given
    ]
    return AnswerResult(answers=answers, usage=usage, note=note or "")


def _answer_key(question_id: str) -> str:
    return "".join(question_id.split()).upper()


@activity.defn(name="agent.draft_subtask")
@reports_usage
async def agent_draft_subtask(req: SubtaskDraftRequest) -> SubtaskDraftResult:
    """Fill the subtask model from a subplan; the activity writes `subtasks/NN-name.xml`.

    What the plan knows (id, title, dependencies, files) is set from the subplan, never
    taken from the model. The draft must pass the build's own plan check before it is
    written; the model hears what fails and fixes it. A drafter that cannot get there
    gives way to the deterministic draft from the subplan, and the result says so: an
    approved design always builds.
    """
    name = Path(req.xml_path).stem
    meta = await asyncio.to_thread(_subplan_meta, req, name)
    if req.draft is None:
        seed = subtask_from_subplan(meta)
        req = req.model_copy(update={"draft": seed.model_dump(mode="json")})
    else:
        seed = SubtaskSpec.model_validate(req.draft)
    pinned = {k: getattr(seed, k) for k in DRAFT_PINNED}
    design_dir = str(Path(req.xml_path).parent.parent)

    def spec_of(sub: DraftSubmission) -> SubtaskSpec:
        return SubtaskSpec.model_validate({**sub.model_dump(), **pinned})

    def check(sub: DraftSubmission) -> None:
        issues = subtask_issues(design_dir, meta, spec_of(sub))
        if issues:
            raise ValueError(
                "the subtask would not pass the build's plan check:\n"
                + "\n".join(f"- {i.problem}" for i in issues)
            )

    resolved = await _role(req, "draft")
    try:
        outcome = await run_agent(req, resolved, DraftSubmission, check=check)
        usage, note = outcome.usage, outcome.transcript.note
        # A settled fallback (note set) is replayed as the subplan's draft it was.
        spec = subtask_from_subplan(meta) if note else spec_of(outcome.output)
    except ApplicationError as exc:
        if exc.type not in _OUTPUT_UNUSABLE:
            raise
        spec, usage = subtask_from_subplan(meta), spent_so_far()
        note = (
            f"the subtask drafter did not produce a usable draft ({exc.type}: "
            f"{str(exc.message).splitlines()[0][:300]}); the deterministic draft from "
            f"{req.subplan_path} was written instead"
        )
        issues = subtask_issues(design_dir, meta, spec)
        if issues:
            raise non_retryable(
                f"cannot write {req.xml_path}: {note}, and it fails the plan check too: "
                + "; ".join(f"{i.problem} (fix: {i.fix})" for i in issues),
                "PlanError",
            ) from exc
        await asyncio.to_thread(
            settle, req, resolved, DraftSubmission.model_validate(spec.model_dump()), note
        )
        activity.logger.warning("%s: %s", req.xml_path, note)
    try:
        await finish_in_thread(write_subtask, _in_workdir(req, req.xml_path), spec)
    except (OSError, ValueError) as exc:
        raise non_retryable(f"cannot write {req.xml_path}: {exc}", "SubtaskWriteFailed") from exc
    return SubtaskDraftResult(xml_path=req.xml_path, usage=usage, note=note or "")


# The model's output could not be used (the drafter and the answerer then fall back to
# what code can do alone); anything else (a missing key, an endpoint that refuses
# requests) is a person's to fix and holds like every other agent's failure.
_OUTPUT_UNUSABLE = frozenset(
    {
        "InvalidAgentOutput",
        "AgentTurnLimit",
        "AgentTokenLimit",
        "ModelRefused",
        "ContextWindowExceeded",
    }
)


@activity.defn(name="agent.analyze_change")
@reports_usage
async def agent_analyze_change(req: ChangeRequest) -> ChangeAnalysisResult:
    """Report which subtasks a spec change touches (the `!change` blast radius)."""
    known = set(req.subtasks)

    def check(analysis: ChangeAnalysis) -> None:
        unknown = sorted({t.subtask for t in analysis.touched} - known) if known else []
        if unknown:
            raise ValueError(f"unknown subtask(s) {unknown}; use names from {sorted(known)}")

    outcome = await run_agent(req, await _role(req, "change"), ChangeAnalysis, check=check)
    result = outcome.output
    return ChangeAnalysisResult(
        touched=result.touched, scope=result.scope, summary=result.summary, usage=outcome.usage
    )


def _subplan_meta(req: SubtaskDraftRequest, name: str) -> SubplanMeta:
    """The subplan as the plan parses it: the drafter's pinned facts and its fallback."""
    path = _in_workdir(req, req.subplan_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise non_retryable(
            f"cannot read subplan {req.subplan_path}: {exc}; pass an existing subplan_path",
            "PlanError",
        ) from exc
    try:
        meta, _ = parse_subplan(name, req.subplan_path, req.subplan_path, text)
    except PlanError as exc:
        raise non_retryable(str(exc), "PlanError") from exc
    return meta


def _existing(workdir: Path, paths: set[str]) -> set[str]:
    return {p for p in paths if ".." not in Path(p).parts and (workdir / p).exists()}


ACTIVITIES: list[Any] = [
    agent_review,
    agent_edit,
    agent_answer_questions,
    agent_draft_subtask,
    agent_analyze_change,
]
