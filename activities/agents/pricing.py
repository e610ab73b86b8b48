"""What a model call costs, from a per-model price table (USD per million tokens).

`settings.prices` overrides or extends the built-in table; a model is matched
exactly first, then by the longest known prefix (so dated snapshots such as
`claude-sonnet-4-5-20250929` find their family), then `"default"`.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.agents import Usage

Price = Mapping[str, float]  # input, output, cache_write, cache_read

DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "claude-opus-4-5": {"input": 5.0, "output": 25.0, "cache_write": 6.25, "cache_read": 0.5},
    "claude-opus-4-6": {"input": 5.0, "output": 25.0, "cache_write": 6.25, "cache_read": 0.5},
    "claude-opus-4": {"input": 15.0, "output": 75.0, "cache_write": 18.75, "cache_read": 1.5},
    "claude-sonnet-4": {"input": 3.0, "output": 15.0, "cache_write": 3.75, "cache_read": 0.3},
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0, "cache_write": 1.25, "cache_read": 0.1},
    "claude-3-5-haiku": {"input": 0.8, "output": 4.0, "cache_write": 1.0, "cache_read": 0.08},
    "default": {"input": 3.0, "output": 15.0, "cache_write": 3.75, "cache_read": 0.3},
}


def price_for(model: str, overrides: Mapping[str, Mapping[str, float]] | None = None) -> Price:
    """The price entry for `model`; overrides win over built-ins at every step."""
    tables = [overrides or {}, DEFAULT_PRICES]
    for table in tables:
        if model in table:
            return _complete(table[model])
    for table in tables:
        prefixes = [p for p in table if p != "default" and model.startswith(p)]
        if prefixes:
            return _complete(table[max(prefixes, key=len)])
    for table in tables:
        if "default" in table:
            return _complete(table["default"])
    raise AssertionError("DEFAULT_PRICES has a default entry")


def cost_usd(usage: Usage, price: Price) -> float:
    """Cost of the tokens in `usage` (its own cost field is ignored)."""
    total = (
        usage.input_tokens * price["input"]
        + usage.output_tokens * price["output"]
        + usage.cache_creation_input_tokens * price["cache_write"]
        + usage.cache_read_input_tokens * price["cache_read"]
    )
    return round(total / 1_000_000, 6)


def _complete(entry: Mapping[str, float]) -> dict[str, float]:
    """Fill missing cache prices the way Anthropic sets them: write 1.25x, read 0.1x input."""
    out = {k: float(v) for k, v in entry.items()}
    out.setdefault("input", 3.0)
    out.setdefault("output", out["input"] * 5)
    out.setdefault("cache_write", out["input"] * 1.25)
    out.setdefault("cache_read", out["input"] * 0.1)
    return out
