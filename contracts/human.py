"""What people send and what they are asked: signals, questions, decisions.

Signal names are the words users already type (`approved`, `!pause`, ...);
`command` takes any of them as one line of text, parsed here, deterministically.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import string
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from contracts.names import ascii_twin, odd_characters


class AnswerInput(BaseModel):
    question_id: str = Field(description="Q1, Q2, ... as shown by `status`")
    choice: str = Field(description="the option's letter (B) or its text")
    replace: bool = Field(
        default=False, description="change an answer already on record (else refused)"
    )


class DecideInput(BaseModel):
    """A stuck prompt's answer; `scope` names the scope or subtask (optional if only one waits)."""

    choice: str
    scope: str | None = None


class FeedbackInput(BaseModel):
    feedback: str


class ChangeInput(BaseModel):
    description: str


class BudgetInput(BaseModel):
    """`raise_budget`: new limits for the build; at least one, each above zero and finite."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    max_cost_usd: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_at_least(self) -> BudgetInput:
        if self.max_cost_usd is None and self.max_tokens is None:
            raise ValueError("it names no limit")
        return self


# How each input is written from the plain `temporal` CLI (`--input '...'`), for refusals.
EXAMPLES = {
    "answer": '{"question_id": "Q1", "choice": "B"}',
    "answer_question": '{"question_id": "Q1", "choice": "B"}',
    "decide": '{"choice": "skip", "scope": "02-parser"}',
    "request_changes": '"what to change" (or {"feedback": "what to change"})',
    "!change": '"what to change" (or {"description": "what to change"})',
    "raise_budget": '{"max_cost_usd": 20} or {"max_tokens": 5000000}',
    "command": '"answer Q1 B" (one line of text)',
    "say": '"looks good" (what you think, in words)',
    "!migration-approve": '"" (or "<subtask>" when several reports wait)',
    "!migration-cancel": '"" (or "<subtask>" when several reports wait)',
    "approved": '"an optional note"',
    "!pattern-add": '"<finished subtask>" (e.g. "01-models")',
    "!fork": '"<subtask> [name]" (or {"subtask": "02-parser", "approaches": {"A": "..."}})',
    "!merge": '"A" or "B" (or "<subtask> B" when several forks wait)',
    **{
        name: '{"design_dir": "/abs/path/design-docs/active/<feature>"}'
        for name in ("DesignReviewWorkflow", "BuildWorkflow", "PlanWorkflow", "ReleaseWorkflow")
    },
}
# What the loops send one another: nothing a person sends, so no form to show.
INTERNAL = {
    "subtask_progress": "a build's subtasks",
    "budget_hold": "the build",
    "failure_hold": "the build",
    "outage_retried": "the build",
}
NO_INPUT = object()


@functools.cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_SAID = {
    "missing": "is missing",
    "extra_forbidden": "is not a field of this input",
    "model_type": "should be a JSON object",
    "dict_type": "should be a JSON object",
    "string_type": "should be text",
    "int_type": "should be a whole number",
    "float_type": "should be a number",
}


def _problems(err: ValidationError) -> str:
    """Pydantic's errors as `field: what is wrong` (the union's string branch left out)."""
    found = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"] if p not in ("str", "function-after[_one_at_least()]")]
        loc = [p for p in loc if not p[:1].isupper()]  # the model's name in a union
        msg = _SAID.get(e["type"]) or str(e["msg"]).removeprefix("Value error, ")
        msg = msg.replace("Input should", "should")
        text = f"{'.'.join(loc)} {msg}" if loc else msg
        if text not in found:
            found.append(text)
    return "; ".join(found[:3])


def signal_input(
    signal: str, args: Sequence[Any], shape: Any = None, optional: bool = False
) -> Any:
    """The one input a signal or update was sent with, as `shape` (None: it takes none).

    Raises ValueError saying what arrived, what was expected and how to send it, so a
    handler can refuse visibly instead of failing its workflow task (a wrong count
    of inputs) or being dropped by the SDK without a word (an input of the wrong shape).
    A JSON `null` counts as no input.
    """
    values = [a for a in args if a is not None]
    example = EXAMPLES.get(signal, "")
    if signal in INTERNAL:
        how = f"Fix: leave {signal} to {INTERNAL[signal]}, which sends it"
    else:
        how = f"Fix: send --input '{example}'"
    if shape is None:
        if values:
            raise ValueError(
                f"{signal} takes no input, got {_shown(values[0])}. Fix: send it without --input"
            )
        return NO_INPUT
    if not values:
        if optional:
            return None
        raise ValueError(f"{signal} needs an input. {how}")
    if len(values) > 1:
        raise ValueError(
            f"{signal} takes one input, got {len(values)}. Fix: send one --input '{example}'"
        )
    value = values[0]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{signal}: {value!r} is not a finite number. {how}")
    try:
        return _adapter(shape).validate_python(value)
    except ValidationError as err:
        raise ValueError(
            f"{signal}: {_shown(value)} is not its input ({_problems(err)}). {how}"
        ) from None


def unknown_message(kind: str, name: str, loop: str, known: Sequence[str]) -> str:
    """A signal or update this loop has no handler for: its names, and the closest one."""
    twin = ascii_twin(name)
    close = (
        ([twin] if twin in known else [])
        or difflib.get_close_matches(name, known, n=1)
        or [k for k in known if k.startswith(name) or name.startswith(k)]
    )
    said = [f"it holds {odd}"] if (odd := odd_characters(name)) else []
    said += [f"did you mean {close[0]!r}?"] if close else []
    hint = f" ({'; '.join(said)})" if said else ""
    return (
        f"the {loop} takes no {kind} {name!r}{hint}. Fix: use one of {', '.join(known)} "
        "(docs/commands.md lists each with its input)"
    )


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
    kind: Literal[
        "stuck",
        "conflict",
        "budget",
        "debug",
        "review-together",
        "failure",
        "forge",
        "migration",
        "fork",
    ] = "stuck"
    failure: FailureInfo | None = None


DESIGN_STUCK_OPTIONS = ["continue", "accept", "review-together"]
BUILD_STUCK_OPTIONS = ["skip", "simplify", "debug", "continue"]
FAILURE_OPTIONS = ["retry", "skip", "stop"]
# A failed step with nothing to skip (a loop's own step, not one scope's): retry or stop.
RETRY_OR_STOP = ("retry", "stop")
SKIP_REVIEWER = "skip-reviewer"  # a held reviewer: the round goes on without its score
FILE_CONFLICTS = "file-conflicts"  # `decide <dir> file-conflicts <choice>`, before a build starts
FILE_CONFLICT_OPTIONS = ["continue", "serialize", "stop"]
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
        "!migration-approve": "!migration-approve",
        "!migration-cancel": "!migration-cancel",
        "!reset": "!reset",
        "!reset-confirm": "!reset-confirm",
        "!replay": "!replay",
        "!status": "!status",
        "status": "!status",
        "!help": "!help",
        "help": "!help",
        "say": "say",
        "!budget": "!budget",
        "!raise-budget": "!raise-budget",
    }
    return ParsedCommand(signal=aliases.get(verb, verb), text=rest.strip())


def parse_answer(text: str) -> AnswerInput:
    """`Q1 B` -> AnswerInput; raises ValueError with the expected form."""
    parts = text.split(maxsplit=1)
    if len(parts) != 2:
        raise ValueError(
            "an answer names a question and an option. Fix: send `answer <question-id> "
            "<option>`, e.g. `answer Q1 B`"
        )
    return AnswerInput(question_id=parts[0], choice=parts[1])


def parse_decide(text: str) -> DecideInput:
    """`skip` or `<scope> <choice>`."""
    parts = text.split()
    if not parts:
        raise ValueError(
            "a decision needs a choice. Fix: send `decide [<scope>] <choice>`, e.g. "
            "`decide 02-parser skip`"
        )
    if len(parts) == 1:
        return DecideInput(choice=parts[0])
    return DecideInput(scope=parts[0], choice=parts[1])


class ToPerson(BaseModel):
    """What a loop's state keeps to tell a person, shown in `status` and the Web UI; the
    design and build states hold it alike."""

    notice: str = Field(
        default="",
        description="the last signal refused and why, or what !help, !status, !budget answered",
    )
    hint: str = Field(default="", description="the gate hint for what a person last said (`say`)")
    hint_waiting_for: str = Field(
        default="", description="what the loop waited for then: the hint stands while it still does"
    )
