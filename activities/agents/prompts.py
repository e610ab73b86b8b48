"""The words an agent receives: a stable system prompt and one task message.

Nothing in them is there for a machine: which agent call a request belongs to
travels in the request's `metadata.user_id` (see `user_id`), which the model never
sees. Reviews are blind by construction: nothing here can carry an earlier review
or score, and an editor's task lists issues and review paths, never scores.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Iterable
from typing import Any

from activities.agents.outputs import DRAFT_PINNED
from activities.agents.roles import ResolvedRole
from activities.agents.rubric import DEFAULT_THRESHOLD, rubric_text
from contracts.agents import (
    AgentCall,
    AgentSettings,
    AnswerRequest,
    ChangeRequest,
    EditRequest,
    ReviewIssue,
    ReviewRequest,
    SubtaskDraftRequest,
)

CALLER_PREFIX = "orchestrator"
MAX_USER_ID = 256  # the API's limit on metadata.user_id
FOCUS_HEADING = "Focus files (read these first):"
# A paused turn on a model that takes no final assistant message: asked to go on.
CONTINUE = "Continue from where you stopped."

_KIND_RULES = {
    "review": (
        "You review; you do not change files. This review is blind: judge the work as it is now, "
        "on its own merits. Finish by calling submit_review once: a short summary, the issues "
        "(verified, most severe first, each once), questions only a person can answer "
        "(multiple choice), the fixer you recommend, and last the score, by the rubric below."
    ),
    "edit": (
        "Make the changes with write_file and edit_file. Do not run git commit: the orchestrator "
        "commits your changes. Finish by calling submit_edit once with a short summary and the "
        "files you changed."
    ),
    "answer": (
        "You do not change files. Finish by calling submit_answer once, answering every question."
    ),
    "draft": (
        "You do not change files. Finish by calling submit_draft once with the complete subtask."
    ),
    "change": "You do not change files. Finish by calling submit_change once with your analysis.",
}


def system_prompt(resolved: ResolvedRole, call: AgentCall | None = None) -> str:
    """Role prompt plus the rules every agent shares (and a reviewer's rubric, at the run's
    threshold); identical across a run's calls of a role, so cacheable."""
    tools = ", ".join(sorted(resolved.tools)) or "none"
    turns = call.settings.max_turns if call is not None else AgentSettings().max_turns
    rubric_part = ""
    if resolved.kind == "review":
        threshold = call.threshold if isinstance(call, ReviewRequest) else DEFAULT_THRESHOLD
        rubric_part = "\n\n" + rubric_text(threshold)
    return (
        f"{resolved.role.prompt.strip()}\n\n"
        "## How you work here\n"
        f"- Your tools: {tools}, and submit_{resolved.kind}.\n"
        "- Every path is relative to the working directory; paths outside it are refused.\n"
        "- Read files before you judge or change them; do not guess their contents.\n"
        "- When tool calls do not depend on each other (reading three files, two searches), "
        "make them together in one answer: they all run, and it saves turns.\n"
        f"- You have {turns} turns (each answer is one); near the end you are told how many "
        "remain.\n"
        f"- {_KIND_RULES[resolved.kind]}\n"
        "- If your submission is rejected as invalid, read the error and submit again, corrected."
        f"{rubric_part}"
    )


def caller_id(call: AgentCall, kind: str) -> str:
    """The agent call a request belongs to, readable: `orchestrator:role:scope:round:kind`."""
    text = f"{CALLER_PREFIX}:{call.role}:{call.scope}:{call.round}:{kind}"
    return text[:MAX_USER_ID]


def user_id(call: AgentCall, kind: str, readable: bool = False) -> str:
    """`metadata.user_id`, which the model never sees. The API reference asks for "a uuid,
    hash value, or other opaque identifier" there: by default the first 32 hex digits of
    the caller id's SHA-256, stable per call and saying nothing. `readable` sends the
    caller id itself, for a local stand-in that scripts on it (never for the real API)."""
    text = caller_id(call, kind)
    return text if readable else hashlib.sha256(text.encode()).hexdigest()[:32]


def task_message(call: AgentCall, kind: str, brief: str = "") -> str:
    """The first user message: instructions, focus files, the brief (the subtask, its
    gates, a reviewer's range; see briefing.py), then what the kind needs."""
    parts: list[str] = []
    if call.instructions.strip():
        parts.append(call.instructions.strip())
    if call.focus_paths:
        parts.append(_list(FOCUS_HEADING, call.focus_paths))
    if brief.strip():
        parts.append(brief.strip())
    if isinstance(call, ReviewRequest):
        parts.append(f"You are reviewing: {call.title}")
    elif isinstance(call, EditRequest):
        if call.issues:
            parts.append(_list("Issues to resolve:", (_issue(i) for i in call.issues)))
        if call.review_paths:
            parts.append(
                _list("Review files (the full review is below the '---' line):", call.review_paths)
            )
    elif isinstance(call, AnswerRequest):
        lines = []
        for q in call.questions:
            options = ", ".join(
                f"{letter}) {text}"
                for letter, text in zip(string.ascii_uppercase, q.options, strict=False)
            )
            lines.append(f"{q.id}: {q.text} | Options: {options}")
        parts.append(_list("Questions:", lines))
    elif isinstance(call, SubtaskDraftRequest):
        parts.append(f"Subplan: {call.subplan_path}")
        if call.draft is not None:
            pinned = {k: v for k, v in call.draft.items() if k in DRAFT_PINNED}
            editable = {k: v for k, v in call.draft.items() if k not in DRAFT_PINNED}
            parts.append(
                "Fixed by the plan (set by the orchestrator; do not restate):\n"
                + json.dumps(pinned, sort_keys=True)
            )
            parts.append(
                "Starting draft (parsed from the subplan's metadata):\n"
                f"<draft>{json.dumps(editable, sort_keys=True)}</draft>"
            )
    elif isinstance(call, ChangeRequest):
        parts.append(f"Design directory: {call.design_dir}")
        parts.append(f"Requested change:\n{call.description.strip()}")
        if call.subtasks:
            parts.append(_list("Existing subtasks:", call.subtasks))
    return "\n\n".join(parts) or f"Do your task, then call submit_{kind}."


def countdown_from(total: int) -> int:
    """How many turns before the limit the model starts hearing the count."""
    return max(3, total // 8)


def turns_left(kind: str, left: int, total: int) -> str:
    if left <= 1:
        return (
            f"This is your last turn of {total}: call submit_{kind} now with what you have, "
            "and say in it what is unfinished. No other tool call can be answered."
        )
    return (
        f"[{left} turns left of {total}; every request is a turn. Finish what matters most and "
        f"call submit_{kind} before they run out.]"
    )


def nudge(kind: str) -> str:
    return (
        f"You ended your turn without calling submit_{kind}. Finish the task and call "
        f"submit_{kind} now; it is the only way your work is recorded."
    )


def _issue(issue: ReviewIssue) -> str:
    """One issue for a fixer: what, where, the line the reviewer quoted, how it fails."""
    text = f"[{issue.severity.value}] {issue.description}"
    text += f" ({issue.location})" if issue.location else ""
    if issue.failure.strip():
        text += f"\n  Fails when: {' '.join(issue.failure.split())}"
    if issue.quote.strip():
        text += "\n  Quoted: " + " / ".join(line.strip() for line in issue.quote.splitlines())
    return text


def _list(title: str, items: Iterable[Any]) -> str:
    return "\n".join([title, *(f"- {item}" for item in items)])
