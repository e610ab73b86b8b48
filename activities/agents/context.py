"""Keep every request inside the model's context window, and its cache breakpoints useful.

The transcript is re-sent every turn. Before each request its size is
estimated in tokens (characters times a ratio calibrated on the API's own
counts: the usage of the previous answer, or the numbers of a "prompt is too
long" error) and weighed against the model's window less the answer's room.
Near the limit the oldest tool results are cleared, as the API's context
editing does (their `tool_use`/`tool_result` pairs stay, so the conversation
stays valid), then the large inputs of old tool calls. What cannot be made to
fit is a clear error for a person, never a request the API refuses.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activities.agents import models
from activities.agents.tools import Workspace
from activities.files import atomic_write_text

# A model's window and shortest cacheable prefix come from the model table
# (activities/agents/models.py); models.context_windows in orchestrator.toml overrides
# the window. A model the table does not know gets 200K and a 1,024-token floor.
DEFAULT_CONTEXT_WINDOW = models.DEFAULT_CONTEXT_WINDOW
DEFAULT_MIN_CACHEABLE = 1024
MAX_CACHE_BREAKPOINTS = 4  # the API refuses a fifth (prompt-caching guide)
# Before calibration: about 3 characters a token, cautious for code and JSON.
DEFAULT_TOKENS_PER_CHAR = 1 / 3
CLEAR_AT = 0.8  # of the room: start clearing here ...
CLEAR_TO = 0.5  # ... down to here, so the cached prefix is not broken every turn
KEEP_RECENT = 2  # the results of the last tool rounds are never cleared
CLEARED = (
    "[tool result cleared to keep the conversation within the context window; "
    "call the tool again if you still need it]"
)
CLEARED_INPUT = "[{n} characters cleared from the conversation to save context]"
BIG_INPUT = 1000  # characters: old tool inputs longer than this may be cleared
THINKING_BLOCKS = ("thinking", "redacted_thinking")
_TOO_LONG = re.compile(r"prompt is too long: (\d+) tokens > (\d+) maximum")


class ContextTooLong(Exception):
    """The API said the prompt exceeds the window ("prompt is too long: N tokens > M maximum")."""

    def __init__(self, tokens: int, maximum: int, message: str) -> None:
        super().__init__(message)
        self.tokens, self.maximum = tokens, maximum


def too_long(message: str) -> ContextTooLong | None:
    """The API's prompt-too-long refusal parsed from its message, else None."""
    found = _TOO_LONG.search(message)
    return ContextTooLong(int(found[1]), int(found[2]), message) if found else None


def context_window(model: str, overrides: Mapping[str, int] | None = None) -> int:
    """The window requests to `model` are kept inside: an override, else the table's."""
    found = models.by_prefix(model, dict(overrides or {}))
    if found is not None:
        return found
    info = models.lookup(model)
    if info is not None:
        return info.context_window
    return int((overrides or {}).get("default", DEFAULT_CONTEXT_WINDOW))


def min_cacheable(model: str) -> int:
    """The shortest prefix the API caches for `model` (prompt-caching guide)."""
    info = models.lookup(model)
    return info.min_cacheable if info is not None else DEFAULT_MIN_CACHEABLE


def chars(value: Any) -> int:
    """The size the estimate is based on: the JSON as sent."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


@dataclass
class Estimator:
    """Tokens from characters, calibrated on what the API counted."""

    tokens_per_char: float = DEFAULT_TOKENS_PER_CHAR

    def tokens(self, n_chars: int) -> int:
        return math.ceil(n_chars * self.tokens_per_char)

    def calibrate(self, n_chars: int, counted: int) -> None:
        """The API counted `counted` tokens for a request of `n_chars` characters."""
        if n_chars > 0 and counted > 0:
            self.tokens_per_char = counted / n_chars


def clear_old(
    messages: list[dict[str, Any]], fixed_chars: int, room: int, est: Estimator
) -> list[int]:
    """Clear old tool results (then old tool inputs) while the request is over `CLEAR_AT`
    of `room` tokens, down to `CLEAR_TO`; the indexes of the messages changed.

    `fixed_chars` is what is sent besides the messages (system prompt, tools).
    """
    size = fixed_chars + chars(messages)
    if est.tokens(size) <= room * CLEAR_AT:
        return []
    return clear_until(messages, fixed_chars, room * CLEAR_TO, est)


def clear_until(
    messages: list[dict[str, Any]], fixed_chars: int, goal: float, est: Estimator
) -> list[int]:
    """Clear what can be cleared until the estimate is at most `goal` tokens; the indexes
    of the messages changed (empty: nothing could be cleared)."""
    size = fixed_chars + chars(messages)
    touched: set[int] = set()
    for index, block in _clearable(messages):
        if est.tokens(size) <= goal:
            break
        before = chars(block)
        if block.get("type") == "tool_result":
            block["content"] = CLEARED
        else:
            block["input"] = _cleared_input(block.get("input"))
        size -= before - chars(block)
        touched.add(index)
    return sorted(touched)


def unbind_thinking(messages: list[dict[str, Any]], since: int) -> int:
    """Drop the thinking blocks of every assistant message from `since` on; how many.

    A model with preserved thinking binds each thinking block to everything before it
    and refuses a request whose earlier turns changed ("The block is bound to a different
    conversation", preserved-thinking guide); clearing an old tool result changes them.
    The guide's remedy for a prefix the client changed on purpose is to remove those
    blocks: the model thinks afresh on the next turn.
    """
    dropped = 0
    for message in messages[since:]:
        if message["role"] != "assistant" or isinstance(message["content"], str):
            continue
        kept = [b for b in message["content"] if b.get("type") not in THINKING_BLOCKS]
        dropped += len(message["content"]) - len(kept)
        message["content"] = kept
    return dropped


def _clearable(messages: Sequence[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Old tool results, oldest first, then old tool inputs: never the latest rounds."""
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    recent = set(users[-KEEP_RECENT:])
    results: list[tuple[int, dict[str, Any]]] = []
    inputs: list[tuple[int, dict[str, Any]]] = []
    for index, message in enumerate(messages):
        content = message["content"]
        if isinstance(content, str) or index in recent or index >= len(messages) - KEEP_RECENT:
            continue
        for block in content:
            if block.get("type") == "tool_result" and block.get("content") != CLEARED:
                results.append((index, block))
            elif block.get("type") == "tool_use" and _big(block.get("input")):
                inputs.append((index, block))
    return results + inputs


def _big(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) > BIG_INPUT
    if isinstance(value, dict):
        return any(_big(v) for v in value.values())
    if isinstance(value, list):
        return any(_big(v) for v in value)
    return False


def _cleared_input(value: Any) -> Any:
    if isinstance(value, str):
        return CLEARED_INPUT.format(n=len(value)) if len(value) > BIG_INPUT else value
    if isinstance(value, dict):
        return {k: _cleared_input(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleared_input(v) for v in value]
    return value


def place_breakpoints(
    system: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    model: str,
    est: Estimator,
) -> None:
    """Mark (in place) the end of the system prompt and the end of the conversation as
    cache breakpoints, each only where the prefix up to it is long enough to be cached.

    Two breakpoints: the fixed prefix (tools and system, shared by every turn) and the
    conversation so far (read back by the next turn). Never more than the API's four.
    """
    floor = min_cacheable(model)
    marks = 0
    prefix = chars(tools) + chars(system)
    if system and est.tokens(prefix) >= floor:
        system[-1]["cache_control"] = {"type": "ephemeral"}
        marks += 1
    last = messages[-1]
    if isinstance(last["content"], str):
        last["content"] = [{"type": "text", "text": last["content"]}]
    if (
        last["content"]
        and marks < MAX_CACHE_BREAKPOINTS
        and est.tokens(prefix + chars(messages)) >= floor
    ):
        last["content"][-1]["cache_control"] = {"type": "ephemeral"}


@dataclass
class Outputs:
    """Tool outputs larger than `limit` characters: the model gets their head and their
    tail (a test run's summary and a traceback are at the end) and the path of a file
    holding all of it, whose middle it reads with read_file.

    The files sit beside the transcript (hidden from listings, never committed) and are
    readable by the exact path given, as the orchestrator's hand-outs are.
    """

    folder: Path
    limit: int
    pageable: bool

    def saved(self) -> frozenset[Path]:
        """Files an earlier attempt saved: still readable after a resume."""
        if not self.folder.is_dir():
            return frozenset()
        return frozenset(Path(os.path.realpath(p)) for p in self.folder.iterdir() if p.is_file())

    def fit(self, text: str, tool_use_id: str, workspace: Workspace) -> str:
        if len(text) <= self.limit:
            return text
        head, tail = text[: self.limit // 3], text[-(self.limit - self.limit // 3) :]
        if "\n" in head:
            head = head[: head.rindex("\n")]
        if "\n" in tail:
            tail = tail[tail.index("\n") + 1 :]
        cut = len(text) - len(head) - len(tail)
        if not self.pageable:
            return f"{head}\n... [{cut} characters cut here; ask for less output]\n{tail}"
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", tool_use_id) + ".txt"
        file = self.folder / name
        atomic_write_text(file, text)
        workspace.extra_readable = workspace.extra_readable | {Path(os.path.realpath(file))}
        first = head.count("\n") + 2
        last = text.count("\n") - tail.count("\n") + (0 if text.endswith("\n") else 1)
        return (
            f"{head}\n... [output shortened: {cut} of its {len(text)} characters, lines "
            f"{first}-{last}, are not shown here. All of it is saved in {file}; read them with "
            f"read_file(path={str(file)!r}, offset={first})]\n{tail}"
        )
