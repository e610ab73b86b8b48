"""The Claude models the agents know: ids, aliases, windows, prices and what each accepts.

One table, read by pricing (cost), context (window, cache floor), strict (strict
tools), roles (aliases) and the loop (thinking and effort). Figures are Anthropic's,
as its documentation states them on 2026-12-06:

- Models overview, https://platform.claude.com/docs/en/about-claude/models/overview:
  the current lineup is Claude Fable 5.2 / 5.1, Opus 5.5, Sonnet 5.5 and Haiku 5.5,
  each with a 1M-token window and 128K-token output; thinking is adaptive ("always on"
  for Fable and Opus 5.5); default effort high (Fable, Sonnet 5.5), medium (Opus 5.5,
  Haiku 5.5). The ids are fixed, with no date suffix ("claude-opus-5-5 is a fixed model
  ID with no date suffix", Opus 5.5 migration guide). The anthropic SDK this worker runs
  (2.14, `types/model_param.py`) lists the same ids, claude-fable-5-2 first.
- Pricing, https://platform.claude.com/docs/en/about-claude/pricing: USD per million
  tokens for input, 5-minute cache writes, cache hits and output. Cache multipliers
  differ by model: a write is 1.25x input everywhere, a hit 0.1x on most models but
  0.05x on Opus 5.5 and Sonnet 5.5 (cut to $0.10 on 2026-10-07), 0.025x on Fable 5.1
  and 0.1x on Haiku 5.5; Haiku 5.5 bills a request whose prompt (input, cache reads and
  writes) is over 100,000 tokens at five times its rates, output included (Haiku 5.5
  overview, https://platform.claude.com/docs/en/models/haiku-5-5/overview).
- Thinking, https://platform.claude.com/docs/en/build-with-claude/thinking-troubleshooting:
  `thinking: {type: "adaptive"}` with `output_config.effort` on every model from the
  4.6 generation on; manual extended thinking (`type: "enabled"`, `budget_tokens`) is
  the only mode of the 4.5 generation and is refused from Claude 4.7 on. Effort is
  refused by Haiku 4.5 and Sonnet 4.5 ("This model does not support the effort
  parameter", github.com/anthropics/claude-code/issues/30760). Opus 5.5 and Fable
  cannot turn thinking off; Sonnet 5.5's lowest setting is `between_tools`.
- Preserved thinking, https://platform.claude.com/docs/en/build-with-claude/preserved-thinking:
  from Fable 5.1 on (Fable 5.1/5.2, Opus 5.5, Sonnet 5.5, Haiku 5.5) a thinking block sent
  back is checked against everything before it; an edited prefix is a 400 unless the
  request asks the API to drop the blocks it can no longer use.
- Forced tool use (`tool_choice` any/tool) is refused by the 5.5 models and Fable 5.1+
  (Opus 5.5 and Sonnet 5.5 "What's new"), and with thinking on by any model (extended
  thinking guide). Assistant prefill (a final assistant message) is refused from the 4.6
  generation on ("This model does not support assistant message prefill. The
  conversation must end with a user message.", whats-new-claude-4-6, breaking changes).
- Strict tool use (structured outputs) is available on every Claude model from the 4.5
  generation on (structured outputs guide; Google's partner-model page: "all Anthropic
  Claude 4.5 and later models").
- The smallest cacheable prompt is 512 tokens on the 5.5 models, 1,024 on Sonnet 5 and
  the 4.x Sonnets, 4,096 on Opus 4.5/4.6 and Haiku 4.5 (prompt-caching guide).

Older ids still answer (legacy) and are listed so a run pinned to one is priced
right; an id this table does not know is priced by `DEFAULT_PRICE` and gets no
thinking configuration (nothing the API could refuse).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Thinking = Literal["adaptive", "extended", "none"]
EFFORTS = ("low", "medium", "high", "xhigh", "max")
SEPARATORS = ("-", "@", "[")


@dataclass(frozen=True)
class Price:
    """USD per million tokens (a cache write is the 5-minute one the agents use)."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def as_dict(self) -> dict[str, float]:
        return {
            "input": self.input,
            "output": self.output,
            "cache_write": self.cache_write,
            "cache_read": self.cache_read,
        }


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    context_window: int
    max_output: int
    price: Price
    thinking: Thinking
    aliases: tuple[str, ...] = ()
    current: bool = False
    # Long prompts: (tokens, factor) - a request whose prompt is over `tokens` pays
    # `factor` times every rate.
    long_prompt: tuple[int, float] | None = None
    always_thinks: bool = False  # thinking cannot be turned off
    default_effort: str | None = None
    efforts: tuple[str, ...] = ()  # effort levels accepted; () = no effort parameter
    strict_tools: bool = False
    min_cacheable: int = 1024
    preserved_thinking: bool = False  # thinking blocks are bound to their prefix
    prefill: bool = True  # a final assistant message is continued


def _price(input: float, output: float, cache_read_factor: float = 0.1) -> Price:
    return Price(input, output, round(input * 1.25, 6), round(input * cache_read_factor, 6))


_FIVE = EFFORTS


def _bound(model_id: str, name: str, price: Price, **more: object) -> ModelInfo:
    """A model of the preserved-thinking generation (Fable 5.1 on): adaptive thinking with
    all five efforts, strict tools, no prefill, thinking blocks bound to their prefix."""
    fields: dict[str, object] = {
        "efforts": _FIVE,
        "strict_tools": True,
        "preserved_thinking": True,
        "prefill": False,
        "min_cacheable": 512,
        **more,
    }
    return ModelInfo(model_id, name, 1_000_000, 128_000, price, "adaptive", **fields)  # type: ignore[arg-type]


MODELS: tuple[ModelInfo, ...] = (
    # -- current ------------------------------------------------------------------
    _bound(
        "claude-fable-5-2",
        "Claude Fable 5.2",
        Price(8.0, 40.0, 10.0, 0.20),
        aliases=("fable",),
        current=True,
        always_thinks=True,
        default_effort="high",
        min_cacheable=1024,
    ),
    _bound(
        "claude-opus-5-5",
        "Claude Opus 5.5",
        Price(4.0, 20.0, 5.0, 0.20),
        aliases=("opus",),
        current=True,
        always_thinks=True,
        default_effort="medium",
    ),
    _bound(
        "claude-sonnet-5-5",
        "Claude Sonnet 5.5",
        Price(2.0, 10.0, 2.5, 0.10),
        aliases=("sonnet",),
        current=True,
        default_effort="high",
    ),
    _bound(
        "claude-haiku-5-5",
        "Claude Haiku 5.5",
        Price(0.10, 0.50, 0.125, 0.01),
        aliases=("haiku",),
        current=True,
        long_prompt=(100_000, 5.0),
        default_effort="medium",
    ),
    # -- legacy: still served --------------------------------------------------------
    _bound(
        "claude-fable-5-1",
        "Claude Fable 5.1",
        _price(10.0, 50.0, 0.025),
        always_thinks=True,
        default_effort="high",
        min_cacheable=1024,
    ),
    ModelInfo(
        "claude-fable-5",
        "Claude Fable 5",
        1_000_000,
        128_000,
        _price(10.0, 50.0),
        "adaptive",
        always_thinks=True,
        default_effort="high",
        efforts=_FIVE,
        strict_tools=True,
        prefill=False,
    ),
    ModelInfo(
        "claude-opus-5",
        "Claude Opus 5",
        1_000_000,
        128_000,
        _price(5.0, 25.0),
        "adaptive",
        default_effort="high",
        efforts=_FIVE,
        strict_tools=True,
        prefill=False,
    ),
    ModelInfo(
        "claude-sonnet-5",
        "Claude Sonnet 5",
        1_000_000,
        128_000,
        _price(2.0, 10.0),
        "adaptive",
        default_effort="high",
        efforts=_FIVE,
        strict_tools=True,
        prefill=False,
    ),
    ModelInfo(
        "claude-opus-4-8",
        "Claude Opus 4.8",
        200_000,
        128_000,
        _price(5.0, 25.0),
        "adaptive",
        default_effort="high",
        efforts=_FIVE,
        strict_tools=True,
        prefill=False,
    ),
    ModelInfo(
        "claude-opus-4-7",
        "Claude Opus 4.7",
        200_000,
        128_000,
        _price(5.0, 25.0),
        "adaptive",
        default_effort="high",
        efforts=_FIVE,
        strict_tools=True,
        prefill=False,
    ),
    ModelInfo(
        "claude-opus-4-6",
        "Claude Opus 4.6",
        200_000,
        128_000,
        _price(5.0, 25.0),
        "adaptive",
        default_effort="high",
        efforts=("low", "medium", "high", "max"),
        strict_tools=True,
        min_cacheable=4096,
        prefill=False,
    ),
    ModelInfo(
        "claude-sonnet-4-6",
        "Claude Sonnet 4.6",
        200_000,
        64_000,
        _price(3.0, 15.0),
        "adaptive",
        default_effort="high",
        efforts=("low", "medium", "high", "max"),
        strict_tools=True,
        min_cacheable=2048,
        prefill=False,
    ),
    ModelInfo(
        "claude-opus-4-5",
        "Claude Opus 4.5",
        200_000,
        64_000,
        _price(5.0, 25.0),
        "extended",
        aliases=("claude-opus-4-5-20251101",),
        efforts=("low", "medium", "high"),
        strict_tools=True,
        min_cacheable=4096,
    ),
    ModelInfo(
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        200_000,
        64_000,
        _price(3.0, 15.0),
        "extended",
        aliases=("claude-sonnet-4-5-20250929",),
        strict_tools=True,
    ),
    ModelInfo(
        "claude-haiku-4-5",
        "Claude Haiku 4.5",
        200_000,
        64_000,
        _price(1.0, 5.0),
        "extended",
        aliases=("claude-haiku-4-5-20251001",),
        strict_tools=True,
        min_cacheable=4096,
    ),
    ModelInfo(
        "claude-sonnet-4",
        "Claude Sonnet 4",
        200_000,
        64_000,
        _price(3.0, 15.0),
        "extended",
        aliases=("claude-sonnet-4-20250514", "claude-sonnet-4-0"),
    ),
    ModelInfo(
        "claude-opus-4-1",
        "Claude Opus 4.1",
        200_000,
        32_000,
        _price(15.0, 75.0),
        "extended",
        aliases=("claude-opus-4-1-20250805",),
    ),
    ModelInfo(
        "claude-opus-4",
        "Claude Opus 4",
        200_000,
        32_000,
        _price(15.0, 75.0),
        "extended",
        aliases=("claude-opus-4-20250514", "claude-opus-4-0"),
    ),
)
DEFAULT_MODEL = "claude-sonnet-5-5"
# An id this table does not know: priced as a Sonnet of the 4.x generation, the most a
# Sonnet has cost, so a budget errs on the side of pausing early.
DEFAULT_PRICE = _price(3.0, 15.0)
DEFAULT_CONTEXT_WINDOW = 200_000
DEFAULT_MAX_OUTPUT = 32_000
_BY_NAME = {name: m for m in MODELS for name in (m.id, *m.aliases)}


def resolve_alias(name: str) -> str:
    """A short name (`opus`, `sonnet`, `haiku`, `fable`) or a dated id, as the model's id;
    any other name unchanged."""
    found = _BY_NAME.get(name.strip().lower())
    return found.id if found is not None else name


def lookup(model: str) -> ModelInfo | None:
    """The table's entry for `model`: by id or alias, else by the longest known id it
    extends at a separator (`claude-sonnet-4-5-20250929` -> claude-sonnet-4-5, never
    `claude-sonnet-5-5` -> claude-sonnet-5)."""
    key = model.strip().lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    matches = [name for name in _BY_NAME if key.startswith(name) and key[len(name)] in SEPARATORS]
    return _BY_NAME[max(matches, key=len)] if matches else None


def by_prefix(model: str, table: dict[str, int]) -> int | None:
    """A per-model override (exact name, then the longest prefix) or None."""
    if model in table:
        return int(table[model])
    prefixes = [p for p in table if p != "default" and model.startswith(p)]
    if prefixes:
        return int(table[max(prefixes, key=len)])
    return None


def current() -> list[ModelInfo]:
    return [m for m in MODELS if m.current]


def effort_for(info: ModelInfo | None, wanted: str | None) -> str | None:
    """The effort level to send: the role's, else none (the model's default); the nearest
    level the model accepts below it when it lacks that one; None without effort support."""
    if info is None or not info.efforts or not wanted:
        return None
    if wanted in info.efforts:
        return wanted
    below = [e for e in EFFORTS[: EFFORTS.index(wanted)] if e in info.efforts]
    return below[-1] if below else info.efforts[0]
