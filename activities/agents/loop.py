"""The tool-use loop: ask the model, run the tools it calls, until it submits.

One call of `run_agent` is one activity attempt. It resumes from the saved
transcript (so a crashed worker does not pay for finished turns twice),
heartbeats while it waits, and ends with the validated submission or an
ApplicationError that says whether retrying can help.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import functools
import inspect
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx2
from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

if TYPE_CHECKING:  # imported where used: the SDK takes seconds to import, and the CLI
    import anthropic  # imports the workflows (and so this module) to name their messages

from activities import sandbox, tracing
from activities.agents import briefing, context, prompts, strict, thinking
from activities.agents import transcript as transcripts
from activities.agents.cancel import raise_if_cancelled
from activities.agents.errors import classify, incomplete_stream, non_retryable
from activities.agents.pricing import cost_usd, price_for
from activities.agents.roles import ResolvedRole
from activities.agents.telemetry import TokenLog
from activities.agents.tools import ToolLimits, Workspace, tool_definitions
from activities.git.command import GitError, GitInputError
from activities.git.commit_guard import PROTECTED_PATHS
from activities.git.queries import main_checkout, repo_root_of
from contracts.agents import AgentCall, Usage
from contracts.telemetry import TokenRow, row_key

log = logging.getLogger(__name__)

Out = TypeVar("Out", bound=BaseModel)
Req = TypeVar("Req", bound=AgentCall)
Res = TypeVar("Res")
# Checks a submission must pass before it is accepted (a ValueError goes back to the
# model); one that reads files returns an awaitable, so the worker's event loop is free.
Check = Callable[[Out], Awaitable[None] | None]
MAX_INVALID_SUBMISSIONS = 3
HEARTBEAT_EVERY_S = 2.0
API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
# `readable`: send the readable caller id as metadata.user_id (for a local stand-in that
# scripts on it); anything else, or unset: the opaque hash the API's guidance asks for.
CALLER_IDS_ENV = "ORCHESTRATOR_CALLER_IDS"


@dataclass
class AgentOutcome(Generic[Out]):
    output: Out
    usage: Usage
    transcript: transcripts.Transcript
    transcript_path: Path
    workspace: Workspace


@dataclass
class Meter:
    """What the running agent call has spent so far (the usage its result would report)."""

    usage: Usage = field(default_factory=Usage)


_METER: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("agent_meter", default=None)


def _spent(usage: Usage) -> None:
    meter = _METER.get()
    if meter is not None:
        meter.usage = usage


def reports_usage(
    fn: Callable[[Req], Awaitable[Res]],
) -> Callable[[Req], Awaitable[Res]]:
    """Every exception leaving an agent activity carries `usage`: the call's spend so far.

    The same figure a result's `usage` reports: every completed turn in the call's
    transcript, earlier attempts' included, plus a turn whose answer arrived before
    the failure. Zero when the failure came before any model request. A worker
    interceptor copies it into the failure, so a workflow books failed calls too.
    """

    @functools.wraps(fn)
    async def wrapper(req: Req) -> Res:
        meter = Meter()
        token = _METER.set(meter)
        try:
            return await fn(req)
        except BaseException as exc:
            with contextlib.suppress(AttributeError, TypeError):
                exc.usage = meter.usage  # type: ignore[attr-defined]
            raise
        finally:
            _METER.reset(token)

    return wrapper


def spent_so_far() -> Usage:
    """What the running agent call has spent (inside a `reports_usage` activity)."""
    meter = _METER.get()
    return meter.usage if meter is not None else Usage()


def settle(call: AgentCall, resolved: ResolvedRole, result: BaseModel, note: str) -> None:
    """Make `result` the call's final result, chosen by code instead of the model (a
    fallback): a retried activity replays it, note included, without asking the model."""
    path = resolve_in(Path(call.workdir), call.transcript_path)
    record = _load_or_start(path, call, resolved, messages=[])
    record.complete = True
    record.result = result.model_dump(mode="json")
    record.note = note
    record.usage = spent_so_far()
    transcripts.save(path, record)


def _load_or_start(
    path: Path, call: AgentCall, resolved: ResolvedRole, messages: list[dict[str, Any]]
) -> transcripts.Transcript:
    """The call's transcript on disk (same fingerprint), or a new one opening with `messages`."""
    fingerprint = transcripts.fingerprint(call)
    return transcripts.load(path, fingerprint) or transcripts.Transcript(
        fingerprint=fingerprint,
        role=call.role,
        scope=call.scope,
        round=call.round,
        kind=resolved.kind,
        model=resolved.model,
        messages=messages,
    )


def resolve_in(workdir: Path, path: str) -> Path:
    """An orchestrator-chosen path (absolute, or relative to workdir)."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else workdir / candidate


def repository_boundary(workdir: Path) -> Path:
    """The main checkout that holds `workdir` (a worktree lies inside it), or the workdir."""
    try:
        return Path(main_checkout(str(workdir)))
    except (GitError, GitInputError):
        return Path(os.path.realpath(workdir))


def read_grants(workdir: Path, paths: Iterable[str]) -> frozenset[Path]:
    """Files handed over by path (focus files, reviews, gate logs) the agent may read.

    Paths in design files end up here (Files Modified, `<file>`), so a grant is kept
    only inside the repository, never in its git directory and never a transcript:
    a design cannot open the worker's files to an agent.
    """
    boundary = repository_boundary(workdir)
    grants: set[Path] = set()
    for raw in paths:
        real = Path(os.path.realpath(resolve_in(workdir, raw)))
        if real == boundary or boundary not in real.parents:
            log.warning("not granting %s to the agent: outside the repository %s", raw, boundary)
            continue
        if ".git" in real.relative_to(boundary).parts or transcripts.is_transcript(real):
            log.warning("not granting %s to the agent: reserved for the orchestrator", raw)
            continue
        grants.add(real)
    return frozenset(grants)


def protected_paths(workdir: Path, agents_dir: str) -> frozenset[Path]:
    """The configuration an agent may not write, in the checkout it works in."""
    try:
        top = Path(repo_root_of(str(workdir)))
    except (GitError, GitInputError):
        top = Path(os.path.realpath(workdir))
    return frozenset(Path(os.path.realpath(top / rel)) for rel in (*PROTECTED_PATHS, agents_dir))


def load_sdk() -> None:
    """Import the Messages SDK before any activity runs. Its import takes seconds of CPU;
    left to the first model call, it would stall the worker's event loop that long, and
    with it the heartbeats of every activity running there (a short heartbeat timeout then
    takes a live attempt for a dead one). The CLI, which imports the workflows (and so
    this module) to name their messages, never calls this."""
    import anthropic  # noqa: F401


def make_client(timeout_s: float) -> anthropic.AsyncAnthropic:
    """A client with its own retries off: Temporal owns retries."""
    import anthropic

    key = os.environ.get(API_KEY_ENV)
    if not key:
        raise non_retryable(
            f"{API_KEY_ENV} is not set in the worker's environment; set it (and "
            f"{BASE_URL_ENV} for a Messages-compatible endpoint other than Anthropic's) "
            "and restart the worker",
            "MissingApiKey",
        )
    return anthropic.AsyncAnthropic(
        api_key=key,
        base_url=os.environ.get(BASE_URL_ENV) or None,
        max_retries=0,
        timeout=timeout_s,
        http_client=anthropic.DefaultAsyncHttpxClient(verify=tls_context(), timeout=timeout_s),
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every agent call of the process: the SDK's client would build
    its own each time, reading the system's certificates again (some 30 ms of CPU a call).
    Sharing it is safe: a context only holds settings and the trusted certificates."""
    return httpx2.create_ssl_context()


def _user_id(call: AgentCall, kind: str) -> str:
    readable = os.environ.get(CALLER_IDS_ENV, "").strip().lower() == "readable"
    return prompts.user_id(call, kind, readable=readable)


@functools.lru_cache(maxsize=64)
def submit_tool(kind: str, model: type[BaseModel]) -> dict[str, Any]:
    """`submit_<kind>`: its input schema is the output model's JSON schema. Made once per
    process (a schema is milliseconds of pydantic work, asked for on every agent call);
    shared, so never changed in place (`strict.for_model` copies what it tightens)."""
    return {
        "name": f"submit_{kind}",
        "description": f"Submit your final result. Call exactly once, when you are done. "
        f"{(model.__doc__ or '').strip()}",
        "input_schema": inline_refs(model.model_json_schema()),
    }


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace local `$ref`s by their definitions; endpoints differ in `$defs` support."""
    defs = schema.get("$defs", {})

    def expand(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:  # recursive model: keep the reference
                    raise _Recursive
                merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
                return expand(merged, (*seen, name))
            return {k: expand(v, seen) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [expand(v, seen) for v in node]
        return node

    try:
        expanded: dict[str, Any] = expand(schema, ())
        return expanded
    except _Recursive:
        return schema


class _Recursive(Exception):
    pass


class Heartbeater:
    """Heartbeats in the background so a slow model call is never taken for a dead worker."""

    def __init__(self) -> None:
        self.details: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Heartbeater:
        if activity.in_activity():
            timeout = activity.info().heartbeat_timeout
            # Often enough that a cancel (it only arrives with a heartbeat's answer)
            # stops the agent within seconds; the worker throttles what reaches the server.
            interval = (
                min(timeout.total_seconds() / 2, HEARTBEAT_EVERY_S)
                if timeout
                else HEARTBEAT_EVERY_S
            )
            self._task = asyncio.create_task(self._run(max(0.1, interval)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def beat(self, **details: Any) -> None:
        self.details.update(details)
        if activity.in_activity():
            activity.heartbeat(dict(self.details))

    async def _run(self, interval: float) -> None:
        while True:
            activity.heartbeat(dict(self.details))
            await asyncio.sleep(interval)


async def run_agent(
    call: AgentCall,
    resolved: ResolvedRole,
    output_model: type[Out],
    *,
    check: Check[Out] | None = None,
) -> AgentOutcome[Out]:
    """Run (or resume, or replay) one agent call until it submits a valid `output_model`."""
    workdir = Path(call.workdir)
    if not workdir.is_dir():
        raise non_retryable(
            f"workdir {call.workdir!r} does not exist; create the worktree/checkout first",
            "WorkdirMissing",
        )
    settings = call.settings
    kind = resolved.kind
    path = resolve_in(workdir, call.transcript_path)
    workspace = Workspace(
        root=workdir,
        allowed=resolved.tools,
        command_timeout_s=settings.command_timeout_s,
        command_output_limit=settings.command_output_limit,
        # A read_file page (and its closing notice) stays under the clip below.
        read_chars=max(1000, settings.tool_result_limit - 1000),
        sandbox=settings.sandbox,
        hide_reviews=kind == "review",
        hidden_files=frozenset({Path(os.path.realpath(path))}),
        extra_readable=read_grants(
            workdir,
            [
                *call.focus_paths,
                *getattr(call, "review_paths", []),
                *(g.log_path for g in getattr(call, "gates", []) if g.log_path),
            ],
        ),
        protected=protected_paths(workdir, settings.agents_dir),
        writable=frozenset(Path(os.path.realpath(resolve_in(workdir, p))) for p in write_scope)
        if (write_scope := getattr(call, "write_scope", None))
        else None,
    )
    if "run_command" in resolved.tools:
        # A role with a shell runs only where its commands can be confined.
        try:
            await sandbox.ensure_available(settings.sandbox)
        except sandbox.SandboxUnavailable as exc:
            raise non_retryable(
                f"{call.role} runs commands, and {exc}", "SandboxUnavailable"
            ) from exc
    record = _load_or_start(path, call, resolved, messages=[])
    _spent(record.usage)
    if record.complete and record.result is not None:
        done = output_model.model_validate(record.result)
        workspace.touched.update(record.files_touched)
        return AgentOutcome(done, record.usage, record, path, workspace)
    if not record.messages:  # a new call: its first message, written once
        first = prompts.task_message(call, kind, await asyncio.to_thread(briefing.brief, call))
        record.messages = [{"role": "user", "content": first}]

    record.attempts += 1
    record.messages = _repaired(record.messages)
    submit = submit_tool(kind, output_model)
    # Strict where the model supports it: the API then guarantees schema-valid calls.
    limits = ToolLimits(
        settings.command_timeout_s, settings.command_output_limit, settings.tool_result_limit
    )
    tools = strict.for_model([*tool_definitions(resolved.tools, limits), submit], resolved.model)
    system = [{"type": "text", "text": prompts.system_prompt(resolved, call)}]
    fixed_chars = context.chars(tools) + context.chars(system)
    window = record.context_window or context.context_window(
        resolved.model, settings.context_windows
    )
    estimator = context.Estimator(record.tokens_per_char or context.DEFAULT_TOKENS_PER_CHAR)
    outputs = context.Outputs(
        transcripts.outputs_dir(path), settings.tool_result_limit, "read_file" in resolved.tools
    )
    workspace.extra_readable = workspace.extra_readable | outputs.saved()
    price = price_for(resolved.model, settings.prices)
    plan = thinking.plan(
        resolved.model, resolved.effort, settings.max_tokens_per_turn, settings.max_tokens_limit
    )
    max_tokens, max_tokens_limit = plan.max_tokens, plan.max_tokens_limit
    token_log = _token_log(call)
    async with make_client(settings.request_timeout_s) as client, Heartbeater() as hb:
        # Who this is, for `orchestrator budget` (heartbeat details are what the server
        # shows of a running activity): never prompt text.
        hb.details.update(
            role=call.role,
            scope=call.scope,
            round=call.round,
            model=resolved.model,
            context_window=window,
        )
        while True:
            raise_if_cancelled()  # no new request once cancellation has arrived
            if record.turns >= settings.max_turns:
                raise non_retryable(
                    f"agent {call.role} ({call.scope}, round {call.round}) used all "
                    f"{settings.max_turns} turns without submitting, though its last turn asked "
                    "for the submission. Fix: raise [agents] max_turns in orchestrator.toml, or "
                    "narrow the task, then retry",
                    "AgentTurnLimit",
                )
            turn = record.turns + 1  # every request is a turn: nothing loops unbounded
            _count_down(record.messages, kind, settings.max_turns - turn + 1, settings.max_turns)
            room = window - max_tokens
            _unbind(record, context.clear_old(record.messages, fixed_chars, room, estimator), plan)
            _fits_or_fail(call, record.messages, fixed_chars, room, estimator, window)
            hb.beat(
                turn=turn,
                phase="waiting on model",
                tokens=record.usage.total_tokens,
                # The request in flight, as estimated (the API's count replaces it below).
                context_tokens=estimator.tokens(fixed_chars + context.chars(record.messages)),
                context_window=window,
            )
            started = time.monotonic()
            request = _request(system, tools, record.messages, resolved.model, estimator)
            try:
                message = await tracing.model_turn(
                    _ask(
                        client,
                        model=resolved.model,
                        max_tokens=max_tokens,
                        metadata={"user_id": _user_id(call, kind)},
                        **plan.params,
                        **request,
                    ),
                    model=resolved.model,
                    agent=call.role,
                    scope=call.scope,
                    turn=turn,
                    max_tokens=max_tokens,
                )
            except context.ContextTooLong as exc:
                # The API counted more than the estimate allowed for: learn its count and
                # its window, clear what can be cleared, and ask again. The refused request
                # is never stored as it was.
                sent = context.chars(request["messages"]) + fixed_chars
                estimator.calibrate(sent, exc.tokens)
                window = min(window, exc.maximum)
                record.context_window = window
                record.tokens_per_char = estimator.tokens_per_char
                goal = (window - max_tokens) * context.CLEAR_TO
                touched = context.clear_until(record.messages, fixed_chars, goal, estimator)
                if not touched:
                    raise _too_long(call, exc.tokens, window) from exc
                _unbind(record, touched, plan)
                record.turns = turn
                transcripts.save(path, record)
                continue
            counted = (
                (message.usage.input_tokens or 0)
                + (getattr(message.usage, "cache_creation_input_tokens", None) or 0)
                + (getattr(message.usage, "cache_read_input_tokens", None) or 0)
            )
            estimator.calibrate(context.chars(request["messages"]) + fixed_chars, counted)
            record.tokens_per_char = estimator.tokens_per_char
            spent = _usage(message.usage, price, time.monotonic() - started)
            _spent(record.usage + spent)  # paid for, even if the tools below fail
            hb.beat(context_tokens=counted)
            if token_log is not None:  # before the transcript: see telemetry.py
                row = _token_row(call, resolved.model, turn, spent, message, counted, window)
                await asyncio.to_thread(token_log.append, row)
            content = _clean([_block(b) for b in message.content])
            stop = message.stop_reason
            if stop == "refusal":
                # Docs ("Handling stop reasons"): the refused turn is not kept; asking the
                # same again will not help.
                record.turns = turn
                record.usage = record.usage + spent
                _spent(record.usage)
                transcripts.save(path, record)
                raise non_retryable(
                    f"the model ({resolved.model}) refused to go on with the task of agent "
                    f"{call.role} ({call.scope}, round {call.round}) (stop_reason 'refusal'). "
                    "Asking again will not help: reword the role's prompt or the task's "
                    "instructions, take out of the focus files what may trip the model's "
                    "safety filters, or use another model (settings.model or the role's "
                    "`model`), then retry",
                    "ModelRefused",
                )
            if stop == "max_tokens" and max_tokens < max_tokens_limit:
                # Docs: raise max_tokens or continue. The cut-off answer is dropped and the
                # turn asked again with twice the room, up to the model's maximum.
                max_tokens = min(max_tokens_limit, max_tokens * 2)
                output, replies = None, None
            elif stop == "pause_turn" or not content:
                # pause_turn: send the content back as it is and the model continues it.
                # No content (an empty end_turn happens, e.g. right after tool results): it
                # is never stored (the API refuses empty messages); the model is nudged.
                if content:
                    _add_assistant(record.messages, content)
                    if not plan.prefill:  # the model takes no final assistant message
                        _add_user_text(record.messages, prompts.CONTINUE)
                else:
                    _add_user_text(record.messages, prompts.nudge(kind))
                output, replies = None, None
            else:
                _add_assistant(record.messages, content)
                hb.beat(turn=turn, phase="running tools")
                cut_off = stop in ("max_tokens", "model_context_window_exceeded")
                output, replies = await _handle_tools(
                    content,
                    submit["name"],
                    output_model,
                    check,
                    workspace,
                    record,
                    outputs,
                    cut_off,
                )
                if output is None:
                    if not replies:
                        replies = [{"type": "text", "text": _nudge(kind, cut_off, max_tokens)}]
                    record.messages.append({"role": "user", "content": replies})
            record.turns = turn
            took = round(time.monotonic() - started, 3)  # the turn: model and tools
            record.usage = record.usage + spent.model_copy(update={"duration_s": took})
            _spent(record.usage)
            record.files_touched = sorted(set(record.files_touched) | workspace.touched)
            if output is not None:
                record.complete = True
                record.result = output.model_dump(mode="json")
            transcripts.save(path, record)
            hb.beat(turn=turn, phase="turn complete", tokens=record.usage.total_tokens)
            if output is not None:
                return AgentOutcome(output, record.usage, record, path, workspace)
            if record.invalid_submissions >= MAX_INVALID_SUBMISSIONS:
                raise non_retryable(
                    f"model kept submitting invalid output: {MAX_INVALID_SUBMISSIONS} invalid "
                    f"submit_{kind} calls by {call.role} ({call.scope}, round {call.round}); last "
                    f"error: {_last_error(record)}. Check the role's prompt or use a stronger "
                    "model",
                    "InvalidAgentOutput",
                )
            if record.usage.weighted_tokens > settings.max_total_tokens:
                raise non_retryable(
                    f"agent {call.role} ({call.scope}, round {call.round}) used "
                    f"{record.usage.weighted_tokens} tokens (cache reads weighed at 0.1, cache "
                    f"writes at 1.25, as they are priced), over settings.max_total_tokens="
                    f"{settings.max_total_tokens}; raise [agents] max_total_tokens or narrow "
                    "the task",
                    "AgentTokenLimit",
                )


def _token_log(call: AgentCall) -> TokenLog | None:
    """The loop's token log; none outside an activity (a row names its activity)."""
    if not call.token_log or not activity.in_activity():
        return None
    return TokenLog(resolve_in(Path(call.workdir), call.token_log))


def _token_row(
    call: AgentCall, model: str, turn: int, spent: Usage, message: Any, counted: int, window: int
) -> TokenRow:
    info = activity.info()
    wid, run = info.workflow_id or "", info.workflow_run_id or ""
    return TokenRow(
        key=row_key(wid, run, info.activity_id, info.attempt, turn),
        time=datetime.now(UTC).isoformat(timespec="milliseconds"),
        workflow_id=wid,
        run_id=run,
        activity_id=info.activity_id,
        attempt=info.attempt,
        turn=turn,
        model=model,
        stop_reason=message.stop_reason,
        context_tokens=counted,
        context_window=window,
        **call.model_dump(include={"role", "scope", "round"}),
        **spent.model_dump(include=set(TokenRow.model_fields) & set(Usage.model_fields)),
    )


async def _ask(client: anthropic.AsyncAnthropic, **request: Any) -> Any:
    """One streamed request; its complete message, or a classified ApplicationError.

    A reply that is not a complete event stream (a gateway answering with plain
    JSON, a connection cut before `message_stop`) is an error the SDK does not
    always raise: its accumulator is checked here.
    """
    import anthropic

    model = request["model"]
    response: httpx2.Response | None = None
    try:
        async with client.messages.stream(tool_choice={"type": "auto"}, **request) as stream:
            response = stream.response
            finished = False
            async for event in stream:
                finished = finished or event.type == "message_stop"
            if finished:
                return await stream.get_final_message()
    except anthropic.BadRequestError as exc:
        refusal = context.too_long(str(exc.api_message or exc.message))
        if refusal is not None:
            raise refusal from exc
        raise classify(exc, model) from exc
    except anthropic.APIError as exc:
        raise classify(exc, model) from exc
    except AssertionError:  # the SDK's accumulator saw no message_start
        pass
    except httpx2.TransportError as exc:
        raise ApplicationError(
            f"Messages API stream broke off ({type(exc).__name__}: {exc}); retrying",
            type="ModelUnavailable",
        ) from exc
    raise incomplete_stream(response, model)


def _request(
    system: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    model: str,
    estimator: context.Estimator,
) -> dict[str, Any]:
    """The request's system, tools and messages as sent: copies with cache breakpoints
    (the stored transcript stays clean), and a final assistant message (a paused turn
    being continued) without trailing whitespace, which the API refuses."""
    sent_system, sent = copy.deepcopy(system), copy.deepcopy(messages)
    last = sent[-1]
    if last["role"] == "assistant" and last["content"][-1].get("type") == "text":
        last["content"][-1]["text"] = last["content"][-1]["text"].rstrip()
    context.place_breakpoints(sent_system, tools, sent, model, estimator)
    return {"system": sent_system, "tools": tools, "messages": sent}


def _unbind(record: transcripts.Transcript, touched: list[int], plan: thinking.Plan) -> None:
    """After clearing changed earlier turns: on a model that binds thinking blocks to what
    precedes them, drop the blocks from the first changed message on (see
    context.unbind_thinking), and any message that held nothing else."""
    if touched and plan.binds_prefix and context.unbind_thinking(record.messages, touched[0]):
        record.messages = _repaired(record.messages)


def _fits_or_fail(
    call: AgentCall,
    messages: list[dict[str, Any]],
    fixed_chars: int,
    room: int,
    estimator: context.Estimator,
    window: int,
) -> None:
    """Still too long once old results are cleared: a person's problem, said before asking."""
    size = estimator.tokens(fixed_chars + context.chars(messages))
    if size > room:
        raise _too_long(call, size, window)


def _too_long(call: AgentCall, tokens: int, window: int) -> ApplicationError:
    return non_retryable(
        f"agent {call.role} ({call.scope}, round {call.round}) needs about {tokens} tokens of "
        f"context, more than the model's window of {window} less the answer's room, even with "
        "every old tool result cleared. Fix: narrow the task or its focus files, lower "
        "max_tokens_per_turn, or use a model with a larger window (models.context_windows in "
        "orchestrator.toml)",
        "ContextWindowExceeded",
    )


def _repaired(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A saved transcript made valid by the API's rules (one saved before they were kept
    could hold an empty answer): no empty messages or blank text, roles alternating."""
    fixed: list[dict[str, Any]] = []
    for message in messages:
        content = message["content"]
        if not isinstance(content, str):
            content = _clean(content)
        if not content or (isinstance(content, str) and not content.strip()):
            continue
        if fixed and fixed[-1]["role"] == message["role"]:
            before = fixed[-1]["content"]
            if isinstance(before, str):
                before = [{"type": "text", "text": before}]
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            fixed[-1] = {**fixed[-1], "content": [*before, *content]}
        else:
            fixed.append({**message, "content": content})
    return fixed


def _clean(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Without empty text blocks, which the API refuses when they are sent back."""
    return [b for b in content if b.get("type") != "text" or str(b.get("text", "")).strip()]


def _add_assistant(messages: list[dict[str, Any]], content: list[dict[str, Any]]) -> None:
    """Append an answer; one that continues a paused turn joins that turn's message."""
    if messages[-1]["role"] == "assistant":
        messages[-1]["content"] = [*messages[-1]["content"], *content]
    else:
        messages.append({"role": "assistant", "content": content})


def _add_user_text(messages: list[dict[str, Any]], text: str) -> None:
    """Say something to the model without breaking the user/assistant alternation."""
    last = messages[-1]
    if last["role"] == "assistant":
        messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
        return
    if isinstance(last["content"], str):
        last["content"] = [{"type": "text", "text": last["content"]}]
    tail = last["content"][-1] if last["content"] else {}
    if not (tail.get("type") == "text" and tail.get("text") == text):  # once is enough
        last["content"] = [*last["content"], {"type": "text", "text": text}]


def _count_down(messages: list[dict[str, Any]], kind: str, left: int, total: int) -> None:
    """Near the end of its turns, the model hears how many remain (in the message its
    next answer replies to); the last one asks for the submission instead of failing."""
    if messages[-1]["role"] == "user" and left <= prompts.countdown_from(total):
        _add_user_text(messages, prompts.turns_left(kind, left, total))


def _nudge(kind: str, cut_off: bool, max_tokens: int) -> str:
    if cut_off:
        return (
            f"Your answer was cut off at the output limit ({max_tokens} tokens). Go on from "
            f"where it stopped, in shorter steps, and call submit_{kind} when you are done."
        )
    return prompts.nudge(kind)


async def _handle_tools(
    content: list[dict[str, Any]],
    submit_name: str,
    output_model: type[Out],
    check: Check[Out] | None,
    workspace: Workspace,
    record: transcripts.Transcript,
    outputs: context.Outputs,
    cut_off: bool = False,
) -> tuple[Out | None, list[dict[str, Any]]]:
    """Run every tool call of one assistant message; the first valid submission ends the loop.

    Every call gets its `tool_result` (the API refuses a `tool_use` left unanswered).
    In an answer cut off at max_tokens the last call's input is incomplete: it is not
    run, and not counted as invalid output; the model is told to make it again.
    """
    output: Out | None = None
    replies: list[dict[str, Any]] = []
    calls = [b for b in content if b.get("type") == "tool_use"]
    for block in calls:
        with tracing.tool_call(block["name"], block["id"]) as span:
            name, args = block["name"], block.get("input") or {}
            if cut_off and block is calls[-1]:
                text, is_error = (
                    f"your call of {name} was cut off at the output limit before its input was "
                    "complete; nothing was run. Make the call again, with a shorter input (write a "
                    "long file in parts: write_file, then edit_file to add to it)",
                    True,
                )
            elif name == submit_name:
                if output is not None:
                    text, is_error = "already submitted", False
                else:
                    try:
                        candidate = output_model.model_validate(args)
                        if check is not None:
                            pending = check(candidate)
                            if inspect.isawaitable(pending):  # a check that looks at the disk
                                await pending
                        output = candidate
                        text, is_error = "accepted", False
                    except (ValidationError, ValueError) as exc:
                        record.invalid_submissions += 1
                        text = (
                            f"{submit_name} rejected, nothing was recorded:\n{_describe(exc)}\n"
                            f"Call {submit_name} again with corrected input."
                        )
                        is_error = True
            else:
                text, is_error = await workspace.call(name, args)
                text = outputs.fit(text, block["id"], workspace)
            if is_error:
                span.set_attribute("error.type", "tool_error")
        reply: dict[str, Any] = {"type": "tool_result", "tool_use_id": block["id"], "content": text}
        if is_error:
            reply["is_error"] = True
        replies.append(reply)
    return output, replies


_BLOCK_KEYS = {
    "text": ("type", "text"),
    "tool_use": ("type", "id", "name", "input"),
    "thinking": ("type", "thinking", "signature"),
    "redacted_thinking": ("type", "data"),
}


def _block(block: Any) -> dict[str, Any]:
    """A response block as it must be sent back (only the fields the API accepts)."""
    data = block.model_dump(mode="json", exclude_none=True)
    keys = _BLOCK_KEYS.get(data.get("type", ""))
    return {k: data[k] for k in keys if k in data} if keys else data


def _usage(raw: Any, price: Mapping[str, float], duration_s: float) -> Usage:
    usage = Usage(
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cache_creation_input_tokens=getattr(raw, "cache_creation_input_tokens", None) or 0,
        cache_read_input_tokens=getattr(raw, "cache_read_input_tokens", None) or 0,
        requests=1,
        duration_s=round(duration_s, 3),
    )
    return usage.model_copy(update={"cost_usd": cost_usd(usage, price)})


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "\n".join(
            f"- {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
    return f"- {exc}"


def _last_error(record: transcripts.Transcript) -> str:
    for message in reversed(record.messages):
        if message["role"] == "user" and isinstance(message["content"], list):
            for block in message["content"]:
                if block.get("is_error") and "rejected" in str(block.get("content", "")):
                    return " ".join(str(block["content"]).split())[:500]
    return "unknown"
