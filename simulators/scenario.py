"""Scripts for the Messages API stand-in: what the scripted "model" does, turn by turn.

A scenario is a list of rules. The stand-in reads which agent call a request
belongs to from its `metadata.user_id`, which the model never sees: the readable
caller id `orchestrator:role:scope:round:kind` a worker sends with
ORCHESTRATOR_CALLER_IDS=readable, or the opaque id it sends otherwise (the caller
id's SHA-256, see `opaque_caller`) of a caller listed in `known_callers`. It picks
the first rule whose `match` fits, and plays it: one step (a tool call or a
text-only answer) per turn, then `submit_<kind>` with the rule's `submit`
merged over sensible defaults. Which step comes next is derived from the
conversation itself (turn = assistant messages so far + 1), so a resumed
conversation continues where it stopped, exactly as a real model would be
asked to. Faults (rate limits, overload, server errors, hangs, stream errors,
invalid submissions) are injected per rule, and so is every way a real model
or gateway misbehaves (see MISBEHAVIOURS and TRANSPORT_FAULTS): an answer the
loop must cope with replaces the scripted one, and does not use up a step of
the script (a real model, told what went wrong, would still do what it meant to).

    rules:
      - match: {role: builder, round: 1}
        steps:
          - {tool: write_file, input: {path: src/app.py, content: "print('hi')\\n"}}
          - {tool: run_command, input: {command: "python src/app.py"}}
        submit: {summary: "Added the app", files_changed: [src/app.py]}
        faults:
          - {type: "429", retry_after: 1}          # first request of the conversation
          - {type: "529", times: 6}                # a burst of overloaded_error answers
          - {type: hang, at_turn: 2, seconds: 30}  # first request of turn 2
          - {type: invalid_submission}             # first submission fails validation
          - {type: "503", headers: {x-should-retry: "false"}}  # the server says: do not retry
          - {type: empty_end_turn, at_turn: 3}     # no content, stop_reason end_turn
          - {type: max_tokens}                     # the turn's answer cut off mid-way
          - {type: html_error, code: 502}          # a proxy's HTML error page
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, field_validator

from simulators.quirks import Quirks, QuirkState
from simulators.strict_tools import STRICT_TOOL_MODELS

CALLER = re.compile(
    r"^orchestrator:(?P<role>[^:]+):(?P<scope>.+):(?P<round>\d+):(?P<kind>\w+)$", re.DOTALL
)
FOCUS_HEADING = "Focus files (read these first):"
QUESTION_LINE = re.compile(r"^- (?P<id>[A-Za-z0-9_.-]+): .* \| Options: ", re.MULTILINE)
DRAFT = re.compile(r"<draft>(?P<json>.*?)</draft>", re.DOTALL)
NUMBERED = re.compile(r"^\s*(\d+)\t")  # read_file's line-number prefix
# What a real model does now and then (docs: "Handling stop reasons"); each replaces
# the scripted answer of one request.
MISBEHAVIOURS = frozenset(
    {
        "empty_end_turn",  # end_turn with no content (happens e.g. right after tool results)
        "text_only",  # end_turn with text and no tool call
        "max_tokens",  # the answer cut off at max_tokens, a tool call's input included
        "pause_turn",  # a paused turn: send the content back to let the model continue
        "refusal",  # stop_reason refusal
        "stop_sequence",  # text ended by a stop sequence
        "unknown_tool",  # a call of a tool the request did not offer
        "bad_arguments",  # read_file with arguments of the wrong type and a NUL byte
    }
)
# With strict tools a model can do neither of the last two as such (simulators/
# strict_tools.py): its calls fit their schemas and name offered tools. bad_arguments
# then keeps what the schema allows (the NUL byte, values out of range), and
# unknown_tool becomes text.
# What a gateway or proxy in front of the API does now and then.
TRANSPORT_FAULTS = frozenset(
    {
        "plain_json",  # a stream request answered with a plain JSON message
        "stream_cut",  # the stream ends mid-message (no message_stop)
        "html_error",  # an HTML error page (status `code`, 502 by default), not the API's JSON
    }
)
# Text of misbehaving answers starts with this, and their tool ids with FAULT_TOOL_ID:
# the stand-in does not count such answers as steps of its script.
FAULT_TEXT = "[stand-in] "
FAULT_TOOL_ID = "toolu_simfault_"
STATUS_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}


class Match(BaseModel):
    role: str | None = None
    scope: str | None = None
    round: int | None = None
    kind: str | None = None

    def fits(self, header: Header) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.role, header.role),
                (self.scope, header.scope),
                (self.round, header.round),
                (self.kind, header.kind),
            )
        )


class Step(BaseModel):
    """One turn: a tool call (`tool` + `input`) and/or a text-only answer (`text`)."""

    tool: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None


class Fault(BaseModel):
    """A failure injected on the first `times` requests (of a turn, when `at_turn` is set)."""

    type: str = Field(
        description="429, 529, 500 (any status), hang, sse_error, invalid_submission, "
        "or one of MISBEHAVIOURS and TRANSPORT_FAULTS"
    )
    times: int = 1
    at_turn: int | None = None
    retry_after: float | None = Field(default=None, description="seconds, sent as retry-after")
    retry_after_ms: float | None = None
    headers: dict[str, str] = Field(
        default_factory=dict, description="status faults: extra response headers (x-should-retry)"
    )
    error_type: str | None = None  # status and sse_error faults; default from the status
    message: str | None = None
    seconds: float = Field(
        default=60.0, description="hang: how long, unless the client leaves; until: the cap"
    )
    until: str | None = Field(
        default=None, description="hold the answer (or error) until the test calls release()"
    )
    code: int = Field(default=502, description="html_error: the HTTP status of the page")

    @field_validator("type", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> str:
        return str(value)

    @property
    def status(self) -> int | None:
        return int(self.type) if self.type.isdigit() else None


class Rule(BaseModel):
    match: Match = Field(default_factory=Match)
    steps: list[Step] | None = None  # None: the kind's default steps
    submit: dict[str, Any] = Field(default_factory=dict)
    faults: list[Fault] = Field(default_factory=list)


# What `chaos` mixes in by default: every misbehaviour and transport fault a run must come
# through on its own (a refusal and a plain-JSON gateway are final by design: a person
# decides), plus overload, alone, inside a stream, or in a burst.
CHAOS_KINDS = [
    *sorted(
        (MISBEHAVIOURS - {"refusal"}) | (TRANSPORT_FAULTS - {"plain_json"}) | {"529", "sse_error"}
    ),
    "529_burst",
]
CHAOS_BURST = 3  # a `529_burst` answers this many requests in a row with 529 overloaded_error


class Chaos(BaseModel):
    """Misbehave on about one answer in `every`, of a kind from `kinds`.

    Which requests misbehave is a seeded hash of each request's place in its
    conversation (turn, and how often that turn was asked), not of arrival order,
    so parallel agents get the same mix on every run with the same seed.
    """

    every: int = Field(default=8, ge=2)
    seed: int = 0
    kinds: list[str] = Field(default_factory=lambda: list(CHAOS_KINDS))


class Scenario(BaseModel):
    rules: list[Rule] = Field(default_factory=list)
    chaos: Chaos | None = None
    quirks: Quirks = Field(default_factory=Quirks)  # habits across every rule (quirks.py)
    # The model's window: a longer prompt gets the API's 400 "prompt is too long".
    context_window: int = 200_000
    # Prompt-caching guide: a breakpoint whose prefix is shorter is not cached (no error).
    min_cacheable_tokens: int = 1024
    # Models that take strict tools (structured outputs guide); `strict` is refused elsewhere.
    strict_models: list[str] = Field(default_factory=lambda: list(STRICT_TOOL_MODELS))
    # Readable caller ids whose opaque form (see opaque_caller) the stand-in recognises.
    known_callers: list[str] = Field(default_factory=list)

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any] | Scenario | None) -> Scenario:
        """From a Scenario, a dict, or a YAML/JSON file."""
        if source is None:
            return cls()
        if isinstance(source, Scenario):
            return source
        if isinstance(source, Mapping):
            return cls.model_validate(dict(source))
        text = Path(source).read_text(encoding="utf-8")
        return cls.model_validate(yaml.safe_load(text) or {})

    def rule_for(self, header: Header) -> Rule | None:
        return next((r for r in self.rules if r.match.fits(header)), None)


class Header(BaseModel):
    role: str
    scope: str
    round: int
    kind: str


def opaque_caller(caller: str) -> str:
    """The opaque `metadata.user_id` a worker sends for a caller id: the first 32 hex
    digits of its SHA-256 (activities/agents/prompts.py `user_id`)."""
    return hashlib.sha256(caller.encode()).hexdigest()[:32]


def parse_caller(metadata: object, known: list[str] | None = None) -> Header | None:
    """The agent call named by a request's `metadata.user_id` (readable, or the opaque id
    of a caller in `known`), or None."""
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user_id, str):
        user_id = {opaque_caller(c): c for c in known or []}.get(user_id, user_id)
    match = CALLER.match(user_id) if isinstance(user_id, str) else None
    if not match:
        return None
    return Header(
        role=match["role"], scope=match["scope"], round=int(match["round"]), kind=match["kind"]
    )


Action = tuple[Literal["step", "invalid", "submit"], Step | None]


def plan_actions(
    rule: Rule | None, header: Header, prompt: str, quirks: QuirkState | None = None
) -> list[Action]:
    """The whole script of a conversation: steps, invalid submissions, the submission."""
    steps = (
        rule.steps if rule is not None and rule.steps is not None else default_steps(header, prompt)
    )
    if quirks is not None:
        steps = quirks.steps(header.scope, header.kind, prompt, steps)
    invalid = sum(f.times for f in (rule.faults if rule else []) if f.type == "invalid_submission")
    return [
        *(("step", s) for s in steps),
        *(("invalid", None) for _ in range(invalid)),
        ("submit", None),
    ]


def default_steps(header: Header, prompt: str) -> list[Step]:
    if header.kind == "review":
        return [Step(tool="read_file", input={"path": p}) for p in focus_paths(prompt)]
    return []


def focus_paths(prompt: str) -> list[str]:
    lines = prompt.splitlines()
    try:
        start = lines.index(FOCUS_HEADING) + 1
    except ValueError:
        return []
    paths = []
    for line in lines[start:]:
        if not line.startswith("- "):
            break
        paths.append(line[2:].strip())
    return paths


def submission(
    rule: Rule | None, header: Header, prompt: str, reads: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """The rule's `submit` merged over the kind's defaults. A review that names a score but
    no issues gets issues that fit the score's band, verified against what it read."""
    given = rule.submit if rule else {}
    merged = {**default_submission(header, prompt, reads), **given}
    if header.kind == "review" and "score" in given and "issues" not in given:
        merged["issues"] = calibrated_issues(float(given["score"]), header, reads)
    return merged


def invalid_submission(header: Header) -> dict[str, Any]:
    if header.kind == "review":
        return {"score": 7, "summary": []}
    return {}


# A calibrated reviewer (activities/agents/rubric.py): the score follows from the worst
# verified open issue. Bands at the default threshold 0.96.
BAND_SEVERITY = ((0.96, None), (0.80, "medium"), (0.50, "high"), (0.0, "critical"))


def calibrated_issues(
    score: float, header: Header, reads: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The issues a calibrated reviewer giving `score` reports: none in the top band, else
    one of the band's severity, quoting the first non-empty line it read (so it is
    verified); without a read file, nothing it could quote."""
    severity = next(sev for floor, sev in BAND_SEVERITY if score >= floor)
    if severity is None:
        return []
    path, number, line = first_line(reads)
    return [
        {
            "severity": severity,
            "location": f"{path}:{number}" if path else "",
            "quote": line,
            "failure": "an empty or malformed input: nothing says what happens",
            "description": f"error handling in {header.scope} is underspecified",
        }
    ]


def first_line(reads: Sequence[tuple[str, str]]) -> tuple[str, int, str]:
    """(path, line number, text) of the first non-empty line of the first file read whose
    result is still in the conversation (a cleared one holds nothing to quote)."""
    for path, text in reads:
        if text.startswith("[tool result cleared"):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            match = NUMBERED.match(line)
            body = line[match.end() :] if match else line
            if body.strip() and not body.startswith("... ("):
                return path, int(match[1]) if match else number, body
    return "", 0, ""


def default_submission(
    header: Header, prompt: str, reads: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    kind = header.kind
    if kind == "review":
        fixer = "design-writer" if "design" in header.role else "fixer"
        if header.round >= 2:
            return {
                "summary": [f"{header.scope} is ready", "No blocking issues remain"],
                "issues": [],
                "questions": [],
                "recommended_fixer": None,
                "score": 0.97,
            }
        return {
            "summary": [f"{header.scope} is mostly complete", "One gap needs work"],
            "issues": calibrated_issues(0.85, header, reads),
            "questions": [],
            "recommended_fixer": fixer,
            "score": 0.85,
        }
    if kind == "edit":
        return {"summary": "No changes were needed (simulated).", "files_changed": []}
    if kind == "answer":
        return {
            "answers": [
                {
                    "id": m["id"],
                    "answered": False,
                    "choice": None,
                    "reasoning": "The repository does not settle this.",
                }
                for m in QUESTION_LINE.finditer(prompt)
            ]
        }
    if kind == "draft":
        found = DRAFT.search(prompt)
        return json.loads(found["json"]) if found else {}
    if kind == "change":
        return {"touched": [], "scope": "Small", "summary": "No subtask is affected (simulated)."}
    return {}
