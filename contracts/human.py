"""What people send and what they are asked: signals, questions, decisions.

Signal names are the words users already type (`approved`, `!pause`, ...);
`command` takes any of them as one line of text, parsed here, deterministically.
"""

from __future__ import annotations

import string
from typing import Literal

from pydantic import BaseModel, Field


class AnswerInput(BaseModel):
    question_id: str = Field(description="Q1, Q2, ... as shown by `status`")
    choice: str = Field(description="the option's letter (B) or its text")


class DecideInput(BaseModel):
    """A stuck prompt's answer; `scope` names the scope or subtask (optional if only one waits)."""

    choice: str
    scope: str | None = None


class FeedbackInput(BaseModel):
    feedback: str


class ChangeInput(BaseModel):
    description: str


class TrackedQuestion(BaseModel):
    id: str
    text: str
    options: list[str]
    scope: str
    reviewer: str
    # answering: the question answerer is looking in the codebase; open: a person must answer
    status: Literal["answering", "open", "answered"] = "answering"
    choice: str | None = None  # letter
    answered_by: Literal["codebase", "human"] | None = None
    reasoning: str = ""

    def option_letter(self, choice: str) -> str | None:
        """Accept `B`, `b`, `B)` or the option's text; None if it is not an option."""
        c = choice.strip().rstrip(")").strip()
        letters = string.ascii_uppercase[: len(self.options)]
        if len(c) == 1 and c.upper() in letters:
            return c.upper()
        for letter, text in zip(letters, self.options, strict=False):
            if c.lower() == text.strip().lower():
                return letter
        return None

    def answer_text(self) -> str:
        if self.choice is None:
            return ""
        index = string.ascii_uppercase.index(self.choice)
        return self.options[index] if index < len(self.options) else self.choice

    def options_line(self) -> str:
        return ", ".join(
            f"{letter}) {text}"
            for letter, text in zip(string.ascii_uppercase, self.options, strict=False)
        )


class FailureInfo(BaseModel):
    """A step that failed for good: what it was, the real cause, and how hard it was tried."""

    step: str = Field(description="the activity's summary, e.g. `review 02-parser · code-perf`")
    scopes: list[str] = Field(default_factory=list, description="every scope held by this cause")
    error: str = Field(description="the innermost error, as the activity phrased it (with its fix)")
    error_type: str = ""
    cause: str = Field(default="", description="steps failing with the same cause share a hold")
    attempts: int | None = None
    retry_state: str = ""


class PendingDecision(BaseModel):
    """A question the workflow itself asks (stuck loop, merge conflict, budget, a failure)."""

    scope: str
    prompt: str
    options: list[str]
    kind: Literal["stuck", "conflict", "budget", "debug", "review-together", "failure"] = "stuck"
    failure: FailureInfo | None = None


DESIGN_STUCK_OPTIONS = ["continue", "accept", "review-together"]
BUILD_STUCK_OPTIONS = ["skip", "simplify", "debug", "continue"]
FAILURE_OPTIONS = ["retry", "skip", "stop"]
FAILURE_SCOPE = "failure"  # `decide failure <choice>`: the failure decision, whatever it holds
# Signal texts are kept in workflow state: bounded, so one signal cannot bloat every task.
MAX_SIGNAL_TEXT = 20_000


class ParsedCommand(BaseModel):
    signal: str
    text: str = ""


def parse_command(line: str) -> ParsedCommand:
    """`"!change add dark mode"` -> signal `!change` with text; unknown verbs are kept as-is."""
    stripped = line.strip()
    verb, _, rest = stripped.partition(" ")
    verb = verb.lower()
    aliases = {
        "approve": "approved",
        "approved": "approved",
        "request_changes": "request_changes",
        "request-changes": "request_changes",
        "answer": "answer",
        "decide": "decide",
        "pause": "!pause",
        "!pause": "!pause",
        "resume": "!resume",
        "!resume": "!resume",
        "!change": "!change",
        "change": "!change",
        "!change-approve": "!change-approve",
        "!change-cancel": "!change-cancel",
        "!status": "!status",
        "!budget": "!budget",
        "!raise-budget": "!raise-budget",
    }
    return ParsedCommand(signal=aliases.get(verb, verb), text=rest.strip())


def parse_answer(text: str) -> AnswerInput:
    """`Q1 B` -> AnswerInput; raises ValueError with the expected form."""
    parts = text.split(maxsplit=1)
    if len(parts) != 2:
        raise ValueError("expected `answer <question-id> <option>`, e.g. `answer Q1 B`")
    return AnswerInput(question_id=parts[0], choice=parts[1])


def parse_decide(text: str) -> DecideInput:
    """`skip` or `<scope> <choice>`."""
    parts = text.split()
    if not parts:
        raise ValueError("expected `decide [<scope>] <choice>`")
    if len(parts) == 1:
        return DecideInput(choice=parts[0])
    return DecideInput(scope=parts[0], choice=parts[1])
