"""A local stand-in for the Anthropic Messages API: a scripted model over real HTTP.

The real `anthropic` client talks to it (set ANTHROPIC_BASE_URL to `.url`), so
every code path of the agents (tool use, streaming, errors, retries) runs as in
production. It speaks the Messages API shape: `POST /v1/messages` with
messages, system, tools, tool_choice and stream; answers carry `text` and
`tool_use` blocks, a `stop_reason` and `usage` with deterministic token counts
(characters / 4) including prompt caching (a `cache_control` prefix seen
before is a cache read). What the "model" does is a scenario (see
simulators/scenario.py). Every request is logged for assertions.

    with MessagesStandIn({"rules": [...]}) as api:
        os.environ["ANTHROPIC_BASE_URL"] = api.url
        os.environ.update(READABLE_CALLERS)
        ...
        assert [r.turn for r in api.requests] == [1, 2, 3]

    python -m simulators.messages_api --port 8766 --scenario scenario.yaml
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import math
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from simulators import thinking_rules
from simulators.quirks import QuirkState
from simulators.scenario import (
    CHAOS_BURST,
    FAULT_TEXT,
    FAULT_TOOL_ID,
    MISBEHAVIOURS,
    STATUS_ERROR_TYPES,
    Fault,
    Header,
    Rule,
    Scenario,
    Step,
    invalid_submission,
    parse_caller,
    plan_actions,
    submission,
)
from simulators.strict_tools import refusal, strict_answer, strict_tools

MAX_CACHE_BREAKPOINTS = 4
# What a worker needs in its environment for this stand-in to know its calls: the
# readable caller id in metadata.user_id (activities/agents/loop.py; the real API gets
# an opaque one).
READABLE_CALLERS = {"ORCHESTRATOR_CALLER_IDS": "readable"}
STOP_SEQUENCE = "\n\nEND"
PARTIAL_KEY = "_partial_json"  # not sent: a cut-off tool call's input, as far as it got


@dataclass
class LoggedRequest:
    """One request as the stand-in saw it (for test assertions)."""

    role: str | None
    scope: str | None
    round: int | None
    kind: str | None
    turn: int
    conversation: str
    fault: str | None
    action: str  # the tool the answer calls ("read_file", "submit_review"), "text", or "error"
    stream: bool
    model: str
    tools: list[str]
    system: str
    prompt: str  # the first user message
    tool_results: list[dict[str, Any]] = field(default_factory=list)  # of the last user message
    last_text: str = ""  # text blocks of the last user message (e.g. a nudge to submit)
    at: float = field(default_factory=time.monotonic)
    usage: dict[str, int] = field(default_factory=dict)
    max_tokens: int = 0
    stop_reason: str | None = None
    # Where the request put cache_control: "tools", "system" or "messages" per breakpoint.
    breakpoints: list[str] = field(default_factory=list)
    strict: list[str] = field(default_factory=list)  # the tools sent with strict: true
    user_id: str | None = None  # metadata.user_id as sent
    thinking: dict[str, Any] | None = None  # the request's `thinking`, as sent
    effort: str | None = None  # output_config.effort
    # Thinking blocks the request sent back (type, signature present), oldest first.
    thinking_sent: list[str] = field(default_factory=list)


class ApiError(Exception):
    def __init__(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.error_type, self.headers = status, error_type, headers or {}


class MessagesStandIn:
    """Scripted Messages API on 127.0.0.1; start/stop or use as a context manager."""

    def __init__(
        self,
        scenario: Scenario | Mapping[str, Any] | str | Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        api_key: str | None = None,
    ) -> None:
        self.scenario = Scenario.load(scenario)
        self._quirks = QuirkState(self.scenario.quirks)
        self.api_key = api_key  # None: any non-empty key is accepted
        self.latency_s = 0.0  # how long the "model" thinks before each answer
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._fault_counts: dict[tuple[str, int], int] = {}
        self._asked: dict[tuple[str, int], int] = {}  # chaos: how often each turn was asked
        self._bursts: dict[str, int] = {}  # chaos: 529s still due in a conversation
        self._cache: set[str] = set()
        # Every request refused as the real API would refuse it (status 400): a client bug,
        # or a request over the window. Tests assert on it; a strict run expects none.
        self._refused: list[str] = []
        self._stopping = threading.Event()
        self._gates: dict[str, threading.Event] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> MessagesStandIn:
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="messages-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MessagesStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- inspection ----------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def refused(self) -> list[str]:
        """The messages of the 400s the strict checks answered, oldest first."""
        with self._lock:
            return list(self._refused)

    def reset(self, scenario: Scenario | Mapping[str, Any] | str | Path | None = None) -> None:
        """Forget the log, fault counters and cache; optionally switch scenario."""
        with self._lock:
            self._log.clear()
            self._refused.clear()
            self._fault_counts.clear()
            self._asked.clear()
            self._bursts.clear()
            self._cache.clear()
            if scenario is not None:
                self.scenario = Scenario.load(scenario)
            self._quirks = QuirkState(self.scenario.quirks)

    def wait_for(
        self, predicate: Callable[[LoggedRequest], bool], timeout: float = 30.0
    ) -> LoggedRequest:
        """Block until a logged request satisfies `predicate` (for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.requests:
                if predicate(record):
                    return record
            time.sleep(0.05)
        raise TimeoutError("no matching request reached the Messages API stand-in")

    def release(self, gate: str) -> None:
        """Let every request held by a fault with `until: <gate>` answer."""
        self._gate(gate).set()

    def _gate(self, name: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    # -- the model -----------------------------------------------------------------

    def _authorize(self, headers: Mapping[str, str]) -> None:
        key = headers.get("x-api-key") or ""
        auth = headers.get("authorization") or ""
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            raise ApiError(401, "authentication_error", "x-api-key header is required")
        if self.api_key is not None and key != self.api_key:
            raise ApiError(401, "authentication_error", "invalid x-api-key")

    def _take_fault(self, conversation: str, turn: int, rule: Rule | None) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(rule.faults if rule else []):
                if fault.type == "invalid_submission":
                    continue
                if fault.at_turn is not None and fault.at_turn != turn:
                    continue
                key = (conversation, index)
                if self._fault_counts.get(key, 0) < fault.times:
                    self._fault_counts[key] = self._fault_counts.get(key, 0) + 1
                    return fault
            return self._chaos(conversation, turn)

    def _chaos(self, conversation: str, turn: int) -> Fault | None:
        """The scenario's random misbehaviour for this request, if any (see Chaos)."""
        chaos = self.scenario.chaos
        if chaos is None or not chaos.kinds:
            return None
        if self._bursts.get(conversation, 0) > 0:
            self._bursts[conversation] -= 1
            return Fault(type="529")
        asked = self._asked.get((conversation, turn), 0)
        self._asked[(conversation, turn)] = asked + 1
        digest = hashlib.sha256(f"{chaos.seed}:{conversation}:{turn}:{asked}".encode())
        draw = int(digest.hexdigest(), 16)
        if draw % chaos.every:
            return None
        kind = chaos.kinds[(draw // chaos.every) % len(chaos.kinds)]
        if kind == "529_burst":
            self._bursts[conversation] = CHAOS_BURST - 1
            kind = "529"
        return Fault(type=kind)

    def _usage(self, body: Mapping[str, Any], output: list[dict[str, Any]]) -> dict[str, int]:
        """Deterministic token counts (characters / 4) with prompt caching.

        As in the real API, a `cache_control` breakpoint writes the prefix up to
        it, and a later request reads the longest written prefix found at any
        block boundary up to its own last breakpoint.
        """
        digest = hashlib.sha256()
        total = 0
        boundaries: list[tuple[str, int, bool]] = []  # (prefix hash, length, is breakpoint)
        for seg in _segments(body):
            text = _segment_text(seg)
            digest.update(text.encode())
            total += len(text)
            boundaries.append((digest.hexdigest(), total, "cache_control" in seg))
        floor = self.scenario.min_cacheable_tokens
        marks = [
            i for i, (_, length, mark) in enumerate(boundaries) if mark and _tokens(length) >= floor
        ]
        read = created = 0
        with self._lock:
            if marks:
                for key, length, _ in boundaries[: marks[-1] + 1]:
                    if key in self._cache:
                        read = length
                last_key, last_length, _ = boundaries[marks[-1]]
                if last_key not in self._cache:
                    created = last_length - read
                self._cache.update(boundaries[i][0] for i in marks)
        return {
            "input_tokens": max(1, _tokens(total) - _tokens(read) - _tokens(created)),
            "output_tokens": max(1, _tokens(len(json.dumps(output)))),
            "cache_creation_input_tokens": _tokens(created),
            "cache_read_input_tokens": _tokens(read),
        }

    def _check(self, body: Any, headers: Mapping[str, str]) -> None:
        """Refuse what the real API refuses, with its status and message."""
        _validate(body)
        strict_problem = refusal(body.get("tools"), str(body["model"]), self.scenario.strict_models)
        problem = (
            strict_problem
            or thinking_rules.refusal(body, headers)
            or thinking_rules.prefill_refusal(body)
        )
        _, blocks_problem = thinking_rules.checked(body, headers)
        if problem or blocks_problem:
            raise _invalid(str(problem or blocks_problem))
        prompt_tokens = _tokens(sum(len(_segment_text(seg)) for seg in _segments(body)))
        if prompt_tokens > self.scenario.context_window:
            # The API's answer to an over-long prompt (seen verbatim in the wild, e.g.
            # github.com/earendil-works/pi/issues/102 with claude-opus-4-5).
            raise _invalid(
                f"prompt is too long: {prompt_tokens} tokens > "
                f"{self.scenario.context_window} maximum"
            )

    def respond(
        self, headers: Mapping[str, str], body: Mapping[str, Any], gone: Callable[[float], bool]
    ) -> tuple[dict[str, Any], Fault | None]:
        """The answer to one request, or an ApiError; `gone(seconds)` waits for a disconnect."""
        self._authorize(headers)
        try:
            self._check(body, headers)
        except ApiError as exc:
            with self._lock:
                self._refused.append(str(exc))
            raise
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        messages = body["messages"]
        # The task is the first block: a nudge added to the same message is not a new task.
        prompt = _text_of(_blocks(messages[0]["content"])[:1])
        header = parse_caller(body.get("metadata"), self.scenario.known_callers)
        # A final assistant message is continued (after pause_turn), not answered anew.
        turn = 1 + sum(1 for m in messages[:-1] if m["role"] == "assistant")
        script_turn = 1 + sum(
            1 for m in messages[:-1] if m["role"] == "assistant" and not _misbehaved(m)
        )
        caller = json.dumps(body.get("metadata"), sort_keys=True)
        conversation = hashlib.sha256(f"{caller}\n{prompt}".encode()).hexdigest()[:12]
        rule = self.scenario.rule_for(header) if header else None
        fault = self._take_fault(conversation, turn, rule) if header else None
        tools = [t.get("name", "") for t in body.get("tools") or []]
        strict = strict_tools(body.get("tools"))
        metadata = body.get("metadata") or {}
        record = LoggedRequest(
            role=header.role if header else None,
            scope=header.scope if header else None,
            round=header.round if header else None,
            kind=header.kind if header else None,
            turn=turn,
            conversation=conversation,
            fault=fault.type if fault else None,
            action="error" if fault and fault.status is not None else "",
            stream=bool(body.get("stream")),
            model=str(body.get("model")),
            tools=tools,
            system=_text_of(body.get("system") or ""),
            prompt=prompt,
            tool_results=_tool_results(messages[-1]),
            breakpoints=_breakpoints(body),
            last_text=_text_of(messages[-1]["content"]),
            strict=sorted(strict),
            user_id=metadata.get("user_id"),
            thinking=body.get("thinking") if isinstance(body.get("thinking"), dict) else None,
            effort=(body.get("output_config") or {}).get("effort"),
            thinking_sent=[
                b.get("type", "")
                for m in messages
                if m.get("role") == "assistant"
                for b in _blocks(m.get("content"))
                if b.get("type") in ("thinking", "redacted_thinking")
            ],
        )
        with self._lock:
            self._log.append(record)
        if fault is not None and fault.until:
            # The request is in flight until the test releases it: the answer (or error)
            # lands exactly when the test wants it to.
            self._gate(fault.until).wait(timeout=fault.seconds)
        if fault is not None and fault.status is not None:
            status = fault.status
            extra: dict[str, str] = {}
            if fault.retry_after is not None:
                extra["retry-after"] = f"{fault.retry_after:g}"
            if fault.retry_after_ms is not None:
                extra["retry-after-ms"] = f"{fault.retry_after_ms:g}"
            extra.update(fault.headers)
            raise ApiError(
                status,
                fault.error_type or STATUS_ERROR_TYPES.get(status, "api_error"),
                # The API's own words for an overload: {"type": "overloaded_error",
                # "message": "Overloaded"} (Errors reference, HTTP 529).
                fault.message or ("Overloaded" if status == 529 else f"simulated {status}"),
                extra,
            )
        if fault is not None and fault.type == "html_error":
            record.action = "error"
            raise ApiError(fault.code, "", "html")
        if fault is not None and fault.type == "hang" and gone(fault.seconds):
            record.action = "disconnected"
            return {}, fault
        content, stop_reason = _answer(
            rule,
            header,
            prompt,
            script_turn,
            conversation,
            _reads(messages),
            self._quirks,
            body.get("tools"),
        )
        # A strict tool's calls fit its schema, whatever the script or a misbehaviour says.
        instead = f"{FAULT_TEXT}I wanted a tool this request does not offer."
        content = strict_answer(content, strict, set(tools), instead)
        partial: dict[int, str] = {}
        if fault is not None and fault.type in MISBEHAVIOURS:
            content, stop_reason, partial = _misbehave(fault.type, content, conversation, turn)
            content = strict_answer(content, strict, set(tools), instead, partial)
        if content and stop_reason not in ("refusal",) and thinking_rules.thinks(body):
            display = (body.get("thinking") or {}).get("display")
            content = [thinking_rules.thinking_block(body, display), *content]
            partial = {index + 1: text for index, text in partial.items()}
        if stop_reason == "tool_use" and not any(b["type"] == "tool_use" for b in content):
            stop_reason = "end_turn"
        record.action = next((b["name"] for b in content if b["type"] == "tool_use"), "text")
        usage = self._usage(body, content)
        if stop_reason == "max_tokens":
            usage["output_tokens"] = int(body["max_tokens"])
        record.usage = usage
        record.max_tokens = int(body["max_tokens"])
        record.stop_reason = stop_reason
        message = {
            "id": f"msg_sim_{uuid.uuid4().hex[:16]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": STOP_SEQUENCE if stop_reason == "stop_sequence" else None,
            "usage": usage,
        }
        if partial:  # what the stream sends of a cut-off tool call's input
            message[PARTIAL_KEY] = partial
        return message, fault


def _misbehaved(message: Mapping[str, Any]) -> bool:
    """An assistant message that only holds a misbehaving answer (not a step of the script)."""
    blocks = [b for b in _blocks(message.get("content")) if b.get("type") != "thinking"]
    return bool(blocks) and all(
        str(b.get("text", "")).startswith(FAULT_TEXT)
        if b.get("type") == "text"
        else str(b.get("id", "")).startswith(FAULT_TOOL_ID)
        for b in blocks
    )


def _misbehave(
    kind: str, content: list[dict[str, Any]], conversation: str, turn: int
) -> tuple[list[dict[str, Any]], str, dict[int, str]]:
    """The answer a misbehaving model gives instead of `content` (docs: "Handling stop reasons")."""
    tool_id = f"{FAULT_TOOL_ID}{conversation}_{turn}_{uuid.uuid4().hex[:6]}"
    if kind == "empty_end_turn":
        return [], "end_turn", {}
    if kind == "text_only":
        return [{"type": "text", "text": f"{FAULT_TEXT}I think I am done."}], "end_turn", {}
    if kind == "stop_sequence":
        return [{"type": "text", "text": f"{FAULT_TEXT}Let me think"}], "stop_sequence", {}
    if kind == "refusal":
        return [], "refusal", {}
    if kind == "pause_turn":
        return [{"type": "text", "text": f"{FAULT_TEXT}Working on it."}], "pause_turn", {}
    if kind == "unknown_tool":
        call = {"type": "tool_use", "id": tool_id, "name": "browse_web", "input": {"url": "x"}}
        return [call], "tool_use", {}
    if kind == "bad_arguments":
        args = {"path": "src/\x00core.py", "offset": "abc", "limit": -3}
        call = {"type": "tool_use", "id": tool_id, "name": "read_file", "input": args}
        return [call], "tool_use", {}
    # max_tokens: the answer cut off half-way; a tool call keeps what its input had so far
    cut: list[dict[str, Any]] = []
    partial: dict[int, str] = {}
    for block in content:
        if block["type"] == "text":
            cut.append(
                {"type": "text", "text": FAULT_TEXT + block["text"][: len(block["text"]) // 2]}
            )
        else:
            text = json.dumps(block["input"])
            partial[len(cut)] = text[: len(text) // 2]
            cut.append({**block, "id": tool_id, "input": {}})
            break
    return cut or [{"type": "text", "text": f"{FAULT_TEXT}Let me"}], "max_tokens", partial


def _reads(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(path, result) of each read_file call in the conversation that succeeded."""
    paths: dict[str, str] = {}
    found: list[tuple[str, str]] = []
    for message in messages:
        for block in _blocks(message.get("content")):
            if block.get("type") == "tool_use" and block.get("name") == "read_file":
                paths[str(block.get("id"))] = str((block.get("input") or {}).get("path", ""))
            elif block.get("type") == "tool_result" and not block.get("is_error"):
                path = paths.get(str(block.get("tool_use_id")))
                content = block.get("content")
                text = content if isinstance(content, str) else _text_of(content or [])
                if path:
                    found.append((path, text))
    return found


def _answer(
    rule: Rule | None,
    header: Header | None,
    prompt: str,
    turn: int,
    conversation: str,
    reads: list[tuple[str, str]],
    quirks: QuirkState | None = None,
    tools: Any = None,
) -> tuple[list[dict[str, Any]], str]:
    if header is None:
        text = (
            "I am a scripted stand-in; name the agent call in metadata.user_id "
            "(orchestrator:role:scope:round:kind: run the worker with "
            "ORCHESTRATOR_CALLER_IDS=readable, or list the caller in known_callers)."
        )
        return [{"type": "text", "text": text}], "end_turn"
    actions = plan_actions(rule, header, prompt, quirks)
    what, step = actions[min(turn, len(actions)) - 1]
    tool_id = f"toolu_sim_{conversation}_{turn}"
    submit_name = f"submit_{header.kind}"
    if what == "submit":
        data = submission(rule, header, prompt, reads)
        if quirks is not None:
            schema = next((t for t in tools or [] if t.get("name") == submit_name), {})
            data = quirks.submission(header.role, data, schema.get("input_schema") or {})
        return [{"type": "tool_use", "id": tool_id, "name": submit_name, "input": data}], "tool_use"
    if what == "invalid":
        data = invalid_submission(header)
        return [{"type": "tool_use", "id": tool_id, "name": submit_name, "input": data}], "tool_use"
    assert isinstance(step, Step)
    content: list[dict[str, Any]] = []
    if step.text:
        content.append({"type": "text", "text": step.text})
    if step.tool:
        data = step.input
        if quirks is not None:
            data = quirks.step_input(header.scope, step.tool, data, conversation, turn)
        content.append({"type": "tool_use", "id": tool_id, "name": step.tool, "input": data})
        return content, "tool_use"
    return content or [{"type": "text", "text": "..."}], "end_turn"


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def _validate(body: Any) -> None:
    """The checks the real API makes that a client bug would trip, with the API's messages.

    From the Messages API reference (POST /v1/messages, `messages`): "Our models are
    trained to operate on alternating user and assistant conversational turns";
    the first message must use the user role; "all messages must have non-empty
    content except for the optional final assistant message" (a final assistant
    message is continued by the model); text blocks must be non-empty. From the
    tool-use guide ("Handling tool use and tool results"): every `tool_use` block
    must be answered by a `tool_result` with its id in the very next (user)
    message, and "tool result blocks must come FIRST in the content array"; a
    `tool_result` must answer a `tool_use` of the message before it. From the
    prompt-caching guide: at most 4 blocks may carry `cache_control`.
    """
    if not isinstance(body, dict):
        raise _invalid("body must be a JSON object")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            raise _invalid(f"{name}: Field required")
    metadata = body.get("metadata")
    if metadata is not None:
        # Messages API reference: `metadata` is an object whose only field is `user_id`
        # (a string or null); any other key is refused.
        if not isinstance(metadata, dict):
            raise _invalid("metadata: Input should be a valid dictionary")
        for key in metadata:
            if key != "user_id":
                raise _invalid(f"metadata.{key}: Extra inputs are not permitted")
        if metadata.get("user_id") is not None and not isinstance(metadata["user_id"], str):
            raise _invalid("metadata.user_id: Input should be a valid string")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        raise _invalid("messages: at least one message is required")
    if messages[0].get("role") != "user":
        raise _invalid("messages: first message must use the user role")
    last = len(messages) - 1
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        content = message.get("content")
        empty = content == "" or content == [] or content is None
        if empty and not (index == last and message["role"] == "assistant"):
            raise _invalid(
                "messages: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        for n, block in enumerate(_blocks(content) if not isinstance(content, str) else []):
            if block.get("type") == "text" and not str(block.get("text", "")).strip():
                raise _invalid(
                    f"messages.{index}.content.{n}.text: text content blocks must contain "
                    "non-whitespace text"
                )
        if index == last and message["role"] == "assistant" and not empty:
            final = _blocks(content)[-1]
            if (
                final.get("type") == "text"
                and str(final.get("text", "")) != str(final.get("text", "")).rstrip()
            ):
                raise _invalid("final assistant content cannot end with trailing whitespace")
    for index, (before, after) in enumerate(itertools.pairwise(messages), start=1):
        if before["role"] == after["role"]:
            raise _invalid(
                'messages: roles must alternate between "user" and "assistant", but found '
                f'multiple "{after["role"]}" roles in a row'
            )
        blocks = _blocks(after["content"])
        given = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if before["role"] == "assistant":
            wanted = [
                b.get("id") for b in _blocks(before["content"]) if b.get("type") == "tool_use"
            ]
            leading = list(itertools.takewhile(lambda b: b.get("type") == "tool_result", blocks))
            answered = {b.get("tool_use_id") for b in leading}
            missing = [w for w in wanted if w not in answered]
            if missing:
                raise _invalid(
                    f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(map(str, missing))}. Each `tool_use` block "
                    "must have a corresponding `tool_result` block in the next message."
                )
            stray = [g for g in given if g not in wanted]
        else:
            stray = given
        if stray:
            raise _invalid(
                f"messages.{index}.content.0: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {', '.join(map(str, stray))}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
    marks = sum(1 for seg in _segments(body) if "cache_control" in seg)
    if marks > MAX_CACHE_BREAKPOINTS:
        raise _invalid(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {marks}."
        )


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _segments(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Tools, system, then message blocks: the order the API caches prefixes in."""
    segments: list[dict[str, Any]] = [dict(t) for t in body.get("tools") or []]
    segments += _blocks(body.get("system") or [])
    for message in body.get("messages") or []:
        segments += [{"role": message.get("role"), **b} for b in _blocks(message.get("content"))]
    return segments


def _breakpoints(body: Mapping[str, Any]) -> list[str]:
    marks = [("tools", t) for t in body.get("tools") or []]
    marks += [("system", b) for b in _blocks(body.get("system") or [])]
    marks += [
        ("messages", b) for m in body.get("messages") or [] for b in _blocks(m.get("content"))
    ]
    return [where for where, block in marks if "cache_control" in block]


def _segment_text(segment: Mapping[str, Any]) -> str:
    """A segment as counted and cached: its content, whatever its cache marker."""
    return json.dumps({k: v for k, v in segment.items() if k != "cache_control"}, sort_keys=True)


def _text_of(content: Any) -> str:
    return "\n".join(b.get("text", "") for b in _blocks(content) if b.get("type") == "text")


def _tool_results(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    results = []
    for block in _blocks(message.get("content")):
        if block.get("type") == "tool_result":
            content = block.get("content")
            text = content if isinstance(content, str) else _text_of(content or [])
            results.append(
                {
                    "tool_use_id": block.get("tool_use_id"),
                    "content": text,
                    "is_error": bool(block.get("is_error")),
                }
            )
    return results


def _tokens(chars: int) -> int:
    return math.ceil(chars / 4)


class _Handler(BaseHTTPRequestHandler):
    standin: MessagesStandIn
    server_version = "MessagesStandIn/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        pass

    def do_POST(self) -> None:
        if self.path.split("?")[0].rstrip("/") != "/v1/messages":
            self._error(ApiError(404, "not_found_error", f"no route for {self.path}"))
            return
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._error(ApiError(400, "invalid_request_error", "body is not valid JSON"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            message, fault = self.standin.respond(headers, body, self._wait_for_disconnect)
        except ApiError as exc:
            self._error(exc)
            return
        if not message:  # the client left during a hang
            self.close_connection = True
            return
        partial = message.pop(PARTIAL_KEY, {})
        kind = fault.type if fault is not None else None
        if isinstance(body, dict) and body.get("stream") and kind != "plain_json":
            stream_error = None
            if kind == "sse_error":
                stream_error = fault.error_type or "overloaded_error"  # type: ignore[union-attr]
            self._stream(message, sse_error=stream_error, cut=kind == "stream_cut", partial=partial)
        elif kind == "sse_error":
            self._error(ApiError(529, "overloaded_error", "Overloaded"))
        else:
            self._json(200, message)

    def _wait_for_disconnect(self, seconds: float) -> bool:
        """Hang: True as soon as the client hangs up, False after `seconds`."""
        deadline = time.monotonic() + seconds
        conn = self.connection
        while time.monotonic() < deadline and not self.standin._stopping.is_set():
            readable, _, _ = select.select([conn], [], [], 0.1)
            if readable:
                try:
                    if not conn.recv(1, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
                time.sleep(0.1)
        return self.standin._stopping.is_set()

    def _json(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", f"req_sim_{uuid.uuid4().hex[:12]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(payload)

    def _error(self, exc: ApiError) -> None:
        if not exc.error_type:  # a proxy's page, not the API's JSON
            self._html(exc.status)
            return
        body = {"type": "error", "error": {"type": exc.error_type, "message": str(exc)}}
        self._json(exc.status, body, exc.headers)

    def _html(self, status: int) -> None:
        reason = self.responses.get(status, ("Error",))[0]
        page = (
            f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        ).encode()
        self.send_response(status)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(page)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(page)

    def _stream(
        self,
        message: dict[str, Any],
        *,
        sse_error: str | None,
        cut: bool = False,
        partial: Mapping[int, str] | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", f"req_sim_{uuid.uuid4().hex[:12]}")
        self.end_headers()
        self.close_connection = True
        events = _events(message, sse_error=sse_error, partial=partial)
        if cut:  # the connection ends mid-message: no content_block_stop, no message_stop
            events = events[: max(3, len(events) - 3)]
        try:
            for event, data in events:
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
        except OSError:
            pass


def _events(
    message: dict[str, Any],
    *,
    sse_error: str | None = None,
    partial: Mapping[int, str] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The Messages streaming protocol for one message; `sse_error` breaks it off midway."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    if sse_error:
        events.append(
            (
                "error",
                {
                    "type": "error",
                    "error": {"type": sse_error, "message": f"simulated {sse_error}"},
                },
            )
        )
        return events
    for index, block in enumerate(message["content"]):
        if block["type"] == "thinking":
            events += _thinking_events(index, block)
            continue
        if block["type"] == "text":
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            for chunk in _chunks(block["text"]):
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": chunk},
                        },
                    )
                )
        else:
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {**block, "input": {}},
                    },
                )
            )
            sent = (partial or {}).get(index)
            for chunk in _chunks(json.dumps(block["input"]) if sent is None else sent):
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": chunk},
                        },
                    )
                )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": message.get("stop_sequence"),
                },
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _thinking_events(index: int, block: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A thinking block as the API streams it: its text, then its signature."""
    start = {"type": "thinking", "thinking": "", "signature": ""}
    deltas = [{"type": "thinking_delta", "thinking": c} for c in _chunks(block["thinking"])]
    deltas.append({"type": "signature_delta", "signature": block["signature"]})
    return [
        (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        ),
        *(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            for delta in deltas
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def _chunks(text: str, size: int = 200) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Scripted Anthropic Messages API on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--scenario",
        help="YAML or JSON scenario file, or `link-shortener` for the bundled example's script "
        "(default: built-in behaviour)",
    )
    parser.add_argument("--api-key", help="accept only this key (default: any non-empty key)")
    parser.add_argument(
        "--omit-file", action="append", default=[], help="a quirk: never write this path"
    )
    parser.add_argument("--first-write-marker", help="a quirk: a TODO on each file's first write")
    parser.add_argument("--blame", help="a quirk: the integrator always names this subtask")
    args = parser.parse_args(argv)
    scenario: Any = args.scenario
    if scenario == "link-shortener":
        from simulators.demo_scenario import link_shortener_scenario

        scenario = link_shortener_scenario(design_rel="examples/link-shortener")
    scenario = Scenario.load(scenario)
    habits = {"first_write_marker": args.first_write_marker, "blame": args.blame}
    scenario.quirks = scenario.quirks.model_copy(
        update={k: v for k, v in habits.items() if v}
        | ({"omit_files": args.omit_file} if args.omit_file else {})
    )
    standin = MessagesStandIn(scenario, port=args.port, host=args.host, api_key=args.api_key)
    standin.start()
    print(
        f"Messages API stand-in on {standin.url} (export ANTHROPIC_BASE_URL={standin.url})",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
