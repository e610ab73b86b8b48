"""Thinking, effort and the settings they rule out, as the Messages API checks them.

The stand-in's own view of the models (it plays Anthropic's side, so it does not
borrow the agents' table): which thinking modes and effort levels each accepts,
what it refuses with thinking on, and the thinking blocks it signs and checks when
they come back. Every refusal is a 400 `invalid_request_error` with the API's words:

- `thinking.type` per model (thinking troubleshooting guide,
  https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting):
  adaptive from the 4.6 generation on; manual extended thinking (`enabled` with
  `budget_tokens`) up to 4.6 and refused from 4.7 on ('"thinking.type.enabled" is not
  supported for this model. Use "thinking.type.adaptive" and "output_config.effort" to
  control thinking behavior.', github.com/handochan/aelix-ai/issues/258); adaptive on a
  4.5 model: "adaptive thinking is not supported on this model"
  (github.com/docker/docker-agent/issues/3362). Fable and Opus 5.5 cannot turn thinking
  off ('"thinking.type.disabled" is not supported for this model. ...', quoted in
  dev.to/persimmoq, Opus 5.5 migration); Sonnet 5.5's lowest setting is `between_tools`.
- `budget_tokens` is at least 1,024 and less than `max_tokens` ("`max_tokens` must be
  greater than `thinking.budget_tokens`. Please consult our documentation at ...",
  github.com/liuw1535/antigravity2api-nodejs/issues/150).
- Effort: "This model does not support the effort parameter." on Haiku 4.5 and the
  other models without it (github.com/anthropics/claude-code/issues/30760).
- With thinking on: forced tool use ("Thinking may not be enabled when tool_choice
  forces tool use.", github.com/mastra-ai/mastra/issues/7507; the 5.5 models and Fable
  5.1+ refuse forced tool use outright) and a temperature other than 1 ("`temperature`
  may only be set to 1 when thinking is enabled. ...",
  github.com/MartialBE/one-hub/issues/529) are refused.
- Prefill from the 4.6 generation on: "This model does not support assistant message
  prefill. The conversation must end with a user message."
  (github.com/agenticloops-ai/agentic-ai-engineering/issues/43).
- Thinking blocks sent back must carry their signature ("messages.1.content.0.thinking.
  signature: Field required", github.com/justlovemaki/AIClient2API/issues/437) and be
  unchanged ("messages.1.content.0: Invalid `signature` in `thinking` block",
  github.com/kaitranntt/ccs/issues/415). With extended thinking, the assistant turn
  whose tool calls are being answered must start with its thinking block
  (github.com/lbjlaq/Antigravity-Manager/issues/139). Preserved thinking (Fable 5.1 on,
  the 5.5 models): a block is bound to everything before it, and an edited prefix is
  "... The block is bound to a different conversation. Remove the block, or set
  `thinking.block_binding.prefix_mismatch_behavior` to \"drop_block\"."
  (https://platform.claude.com/docs/en/build-with-claude/preserved-thinking/fix-bound-to-a-different-conversation);
  with that setting and its beta header the API drops the invalid blocks instead.
- max_tokens above the model's output limit: "max_tokens: N > M, which is the maximum
  allowed number of output tokens for <model>".

A model this table does not know (the tests' made-up names) is checked for none of
this: the stand-in then accepts every thinking setting, as an unknown endpoint might.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

BINDING_BETA = "thinking-binding-controls-2026-08-01"
_KEY = b"messages-standin-thinking-signatures"
_ALL_EFFORTS = ("low", "medium", "high", "xhigh", "max")
_PRESERVED = ("claude-fable-5-2", "claude-fable-5-1", "claude-opus-5-5", "claude-sonnet-5-5")
_PRESERVED += ("claude-haiku-5-5", "claude-mythos-5-2", "claude-mythos-5-1")
_ALWAYS_ON = ("claude-fable-5-2", "claude-fable-5-1", "claude-fable-5", "claude-opus-5-5")
_ALWAYS_ON += ("claude-mythos-5-2", "claude-mythos-5-1", "claude-mythos-5")
_ON_BY_DEFAULT = (*_ALWAYS_ON, "claude-opus-5", "claude-sonnet-5", "claude-sonnet-5-5")
_ON_BY_DEFAULT += ("claude-haiku-5-5",)
_ADAPTIVE_ONLY = (*_ON_BY_DEFAULT, "claude-opus-4-7", "claude-opus-4-8")
_ADAPTIVE = (*_ADAPTIVE_ONLY, "claude-opus-4-6", "claude-sonnet-4-6")
_EXTENDED = ("claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-5", "claude-sonnet-4-5")
_EXTENDED += ("claude-haiku-4-5", "claude-sonnet-4", "claude-opus-4-1", "claude-opus-4")
_FORCED_TOOL_REFUSED = ("claude-fable-5-2", "claude-fable-5-1", "claude-opus-5-5")
_FORCED_TOOL_REFUSED += ("claude-sonnet-5-5", "claude-haiku-5-5")
_NO_PREFILL = (*_ADAPTIVE,)
_EFFORTS: dict[str, tuple[str, ...]] = {
    **{m: _ALL_EFFORTS for m in (*_ADAPTIVE_ONLY,)},
    "claude-opus-4-6": ("low", "medium", "high", "max"),
    "claude-sonnet-4-6": ("low", "medium", "high", "max"),
    "claude-opus-4-5": ("low", "medium", "high"),
}
_MAX_OUTPUT = {
    **{m: 128_000 for m in (*_ADAPTIVE_ONLY, "claude-opus-4-6")},
    **{m: 64_000 for m in ("claude-sonnet-4-6", "claude-opus-4-5", "claude-sonnet-4-5")},
    **{m: 64_000 for m in ("claude-haiku-4-5", "claude-sonnet-4")},
    "claude-opus-4-1": 32_000,
    "claude-opus-4": 32_000,
}
_KNOWN = frozenset((*_ADAPTIVE, *_EXTENDED))


def family(model: str) -> str | None:
    """The known model `model` names (an id, or a dated snapshot of one), else None."""
    hits = [m for m in _KNOWN if model == m or model.startswith(f"{m}-")]
    return max(hits, key=len) if hits else None


def _in(model: str | None, group: tuple[str, ...]) -> bool:
    return model is not None and model in group


def thinks(body: Mapping[str, Any]) -> bool:
    """Whether this request's answer starts with thinking (adaptive at low effort may not)."""
    model = family(str(body.get("model", "")))
    kind = _thinking_type(body)
    if kind is None:
        on = _in(model, _ON_BY_DEFAULT)
    else:
        on = kind in ("enabled", "adaptive", "between_tools")
    effort = (body.get("output_config") or {}).get("effort")
    return on and not (kind != "enabled" and effort == "low")


def _thinking_type(body: Mapping[str, Any]) -> str | None:
    thinking = body.get("thinking")
    return str(thinking.get("type")) if isinstance(thinking, Mapping) else None


def refusal(body: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """Why the API refuses this request's thinking, effort, sampling or tool settings."""
    name = str(body.get("model", ""))
    model = family(name)
    if model is None:
        return None
    thinking = body.get("thinking")
    kind = _thinking_type(body)
    max_tokens = body.get("max_tokens")
    limit = _MAX_OUTPUT.get(model)
    if isinstance(max_tokens, int) and limit is not None and max_tokens > limit:
        return (
            f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number of "
            f"output tokens for {name}"
        )
    problem = _mode_problem(model, kind, thinking, max_tokens, body)
    if problem:
        return problem
    if isinstance(thinking, Mapping) and "block_binding" in thinking:
        if BINDING_BETA not in headers.get("anthropic-beta", ""):
            return (
                "thinking.block_binding: this field needs the beta header "
                f"`anthropic-beta: {BINDING_BETA}`"
            )
    on = _in(model, _ON_BY_DEFAULT) if kind is None else kind != "disabled"
    return _effort_problem(model, body) or (_with_thinking_problem(model, body) if on else None)


def _mode_problem(
    model: str, kind: str | None, thinking: Any, max_tokens: Any, body: Mapping[str, Any]
) -> str | None:
    use = 'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
    if kind == "adaptive" and not _in(model, _ADAPTIVE):
        return "adaptive thinking is not supported on this model"
    if kind == "enabled":
        if not _in(model, _EXTENDED):
            return f'"thinking.type.enabled" is not supported for this model. {use}'
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if isinstance(max_tokens, int) and budget >= max_tokens:
            return (
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                "documentation at https://docs.claude.com/en/docs/build-with-claude/"
                "extended-thinking#max-tokens-and-context-window-size"
            )
    if kind == "disabled":
        effort = (body.get("output_config") or {}).get("effort")
        if _in(model, _ALWAYS_ON) or model == "claude-sonnet-5-5":
            return f'"thinking.type.disabled" is not supported for this model. {use}'
        if model == "claude-opus-5" and effort in ("xhigh", "max"):
            return f'"thinking.type.disabled" is not supported at effort {effort}. {use}'
    if kind == "between_tools" and model != "claude-sonnet-5-5":
        return f'"thinking.type.between_tools" is not supported for this model. {use}'
    if kind not in (None, "adaptive", "enabled", "disabled", "between_tools"):
        return (
            f"thinking.type: Input tag '{kind}' found using 'type' does not match any of the "
            "expected tags: 'adaptive', 'between_tools', 'disabled', 'enabled'"
        )
    return None


def _effort_problem(model: str, body: Mapping[str, Any]) -> str | None:
    effort = (body.get("output_config") or {}).get("effort")
    if effort is None:
        return None
    levels = _EFFORTS.get(model, ())
    if not levels:
        return "This model does not support the effort parameter."
    if effort not in levels:
        return (
            f"output_config.effort: {effort!r} is not supported for this model; use one of "
            f"{', '.join(levels)}"
        )
    return None


def _with_thinking_problem(model: str, body: Mapping[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    forced = isinstance(choice, Mapping) and choice.get("type") in ("any", "tool")
    if forced:
        return "Thinking may not be enabled when tool_choice forces tool use."
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return (
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            "documentation at https://docs.anthropic.com/en/docs/build-with-claude/"
            "extended-thinking#important-considerations-when-using-extended-thinking"
        )
    if body.get("top_k") is not None:
        return "`top_k` may not be set when thinking is enabled"
    return None


def prefill_refusal(body: Mapping[str, Any]) -> str | None:
    """A final assistant message (a prefill) on a model that takes none."""
    messages = body.get("messages") or []
    model = family(str(body.get("model", "")))
    if messages and messages[-1].get("role") == "assistant" and _in(model, _NO_PREFILL):
        return (
            "This model does not support assistant message prefill. The conversation must end "
            "with a user message."
        )
    forced = body.get("tool_choice")
    if (
        _in(model, _FORCED_TOOL_REFUSED)
        and isinstance(forced, Mapping)
        and forced.get("type") in ("any", "tool")
    ):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


# -- signatures ------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """A request part as the prefix check sees it: cache markers do not count."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _prefix(body: Mapping[str, Any], index: int, position: int) -> str:
    """Everything before block `position` of message `index`: system, tools, messages."""
    messages = [
        {"role": m.get("role"), "content": _blocks(m.get("content"))}
        for m in (body.get("messages") or [])[:index]
    ]
    sent = body.get("messages") or []
    head = _blocks(sent[index].get("content"))[:position] if index < len(sent) else []
    messages.append({"role": "assistant", "content": head})
    prefix = {
        "system": _blocks(body.get("system") or []),
        "tools": body.get("tools") or [],
        "messages": messages,
    }
    return json.dumps(_clean(prefix), sort_keys=True, separators=(",", ":"))


def _mac(*parts: str) -> str:
    return hmac.new(_KEY, "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def signature(body: Mapping[str, Any], index: int, position: int, text: str) -> str:
    """The signature of a thinking block at message `index`, block `position`: over its
    text, and for a model with preserved thinking over its prefix too."""
    bound = _in(family(str(body.get("model", ""))), _PRESERVED)
    sealed = {
        "text": _mac(text),
        "prefix": _mac(text, _prefix(body, index, position)) if bound else "",
    }
    return base64.b64encode(json.dumps(sealed, sort_keys=True).encode()).decode()


def thinking_block(body: Mapping[str, Any], display: str | None = None) -> dict[str, Any]:
    """The thinking that opens an answer to `body` (continuing a final assistant message
    when there is one), signed as the API signs it."""
    messages = body.get("messages") or []
    index, position = len(messages), 0
    if messages and messages[-1].get("role") == "assistant":
        index, position = len(messages) - 1, len(_blocks(messages[-1].get("content")))
    text = "" if display == "omitted" else "I read what I have so far and choose my next step."
    return {
        "type": "thinking",
        "thinking": text,
        "signature": signature(body, index, position, text),
    }


def checked(body: dict[str, Any], headers: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """`body` with its thinking blocks checked: (the body the model sees, a refusal or None).

    Invalid blocks refuse the request, except a prefix mismatch on a request that asks
    for `drop_block`: then that block and every later thinking block are dropped.
    """
    thinking = body.get("thinking") if isinstance(body.get("thinking"), Mapping) else {}
    binding = thinking.get("block_binding") if isinstance(thinking, Mapping) else None
    drop = (
        isinstance(binding, Mapping)
        and binding.get("prefix_mismatch_behavior") == "drop_block"
        and BINDING_BETA in headers.get("anthropic-beta", "")
    )
    dropping = False
    seen = copy.deepcopy(body)
    for index, message in enumerate(body.get("messages") or []):
        if message.get("role") != "assistant":
            continue
        kept: list[dict[str, Any]] = []
        for position, block in enumerate(_blocks(message.get("content"))):
            if block.get("type") != "thinking":
                kept.append(block)
                continue
            where = f"messages.{index}.content.{position}"
            for field in ("thinking", "signature"):
                if not isinstance(block.get(field), str):
                    return body, f"{where}.thinking.{field}: Field required"
            problem = _signature_problem(body, index, position, block)
            if problem == "bound" and drop:
                dropping = True
            elif problem == "bound":
                return body, (
                    f"{where}: Invalid `signature` in `thinking` block. The block is bound to a "
                    "different conversation. Remove the block, or set "
                    '`thinking.block_binding.prefix_mismatch_behavior` to "drop_block".'
                )
            elif problem:
                return body, f"{where}: Invalid `signature` in `thinking` block"
            if not dropping:
                kept.append(block)
        if isinstance(message.get("content"), list):
            seen["messages"][index]["content"] = kept
    return seen, _first_turn_problem(seen)


def _signature_problem(
    body: Mapping[str, Any], index: int, position: int, block: Mapping[str, Any]
) -> str | None:
    """None for a block the API accepts; "invalid" for a forged or edited one; "bound" for
    an intact one whose prefix changed since it was made."""
    try:
        sealed = json.loads(base64.b64decode(str(block["signature"]), validate=True))
        text_mac, prefix_mac = str(sealed["text"]), str(sealed["prefix"])
    except (ValueError, KeyError, TypeError):
        return "invalid"
    text = str(block["thinking"])
    if not hmac.compare_digest(text_mac, _mac(text)):
        return "invalid"
    if prefix_mac and not hmac.compare_digest(
        prefix_mac, _mac(text, _prefix(body, index, position))
    ):
        return "bound"
    return None


def _first_turn_problem(body: Mapping[str, Any]) -> str | None:
    """Extended thinking: the assistant turn whose tool calls are answered last must open
    with its thinking block."""
    if _thinking_type(body) != "enabled":
        return None
    messages = body.get("messages") or []
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") != "assistant":
            continue
        blocks = _blocks(message.get("content"))
        if any(b.get("type") == "tool_use" for b in blocks) and blocks:
            first = blocks[0].get("type")
            if first not in ("thinking", "redacted_thinking"):
                return (
                    f"messages.{index}.content.0.type: Expected `thinking` or "
                    f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, a "
                    "final `assistant` message must start with a thinking block (preceeding the "
                    "lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
                    "include thinking blocks from previous turns. To avoid this requirement, "
                    "disable `thinking`. Please consult our documentation at "
                    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                )
        return None
    return None
