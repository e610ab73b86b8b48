"""What a model call costs, from the model table (USD per million tokens).

`settings.prices` overrides or extends the table (`[prices.<model>]` in
orchestrator.toml); an override is matched exactly first, then by the longest
prefix, then `"default"`. Without one the model table prices the model (by id,
alias or dated snapshot, see models.lookup), and a model it does not know gets
`models.DEFAULT_PRICE`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from activities.agents import models
from contracts.agents import Usage

log = logging.getLogger(__name__)

Price = Mapping[str, float]  # input, output, cache_write, cache_read (+ long_prompt_*)

# Every entry of the model table, by id: what `price_for` finds for a known model.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    **{m.id: m.price.as_dict() for m in models.MODELS},
    "default": models.DEFAULT_PRICE.as_dict(),
}
_WARNED: set[str] = set()


def price_for(model: str, overrides: Mapping[str, Mapping[str, float]] | None = None) -> Price:
    """The price entry for `model`; an override of the settings wins over the table."""
    table = overrides or {}
    if model in table:
        return _complete(table[model])
    prefixes = [p for p in table if p != "default" and model.startswith(p)]
    if prefixes:
        return _complete(table[max(prefixes, key=len)])
    info = models.lookup(model)
    if info is not None:
        price = info.price.as_dict()
        if info.long_prompt is not None:
            price["long_prompt_tokens"], price["long_prompt_factor"] = info.long_prompt
        return price
    if "default" in table:
        return _complete(table["default"])
    if model not in _WARNED and model != "default":
        _WARNED.add(model)
        log.warning(
            "no price known for model %r: costs are estimated at %s; add [prices.%s] to "
            "orchestrator.toml",
            model,
            models.DEFAULT_PRICE,
            model,
        )
    return models.DEFAULT_PRICE.as_dict()


def cost_usd(usage: Usage, price: Price) -> float:
    """Cost of one request's tokens in `usage` (its own cost field is ignored).

    A model billed by prompt length (Haiku 5.5: over 100,000 prompt tokens, five times
    every rate, output included) is priced by this request's prompt: input, cache
    reads and cache writes together.
    """
    factor = 1.0
    threshold = price.get("long_prompt_tokens")
    prompt = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
    if threshold and prompt > threshold:
        factor = float(price.get("long_prompt_factor", 1.0))
    total = (
        usage.input_tokens * price["input"]
        + usage.output_tokens * price["output"]
        + usage.cache_creation_input_tokens * price["cache_write"]
        + usage.cache_read_input_tokens * price["cache_read"]
    )
    return round(total * factor / 1_000_000, 6)


def _complete(entry: Mapping[str, float]) -> dict[str, float]:
    """Fill missing cache prices the way Anthropic sets most: write 1.25x, read 0.1x input."""
    out = {k: float(v) for k, v in entry.items()}
    out.setdefault("input", 3.0)
    out.setdefault("output", out["input"] * 5)
    out.setdefault("cache_write", out["input"] * 1.25)
    out.setdefault("cache_read", out["input"] * 0.1)
    return out
