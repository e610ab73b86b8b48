"""The model table: every alias resolves, every model is priced, a role's model is honoured."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from activities.agents import context, models, strict
from activities.agents.pricing import cost_usd, price_for
from activities.agents.roles import resolve_role
from contracts.agents import Usage
from contracts.config import ModelsConfig, OrchestratorConfig
from tests.agents.steps import agent_file

MODELS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "agents.md"
MILLION = Usage(input_tokens=1_000_000, output_tokens=1_000_000)


def test_every_alias_resolves_to_a_listed_model() -> None:
    ids = {m.id for m in models.MODELS}
    aliases = [a for m in models.MODELS for a in m.aliases]
    assert len(aliases) == len(set(aliases)) and not set(aliases) & ids
    for model in models.MODELS:
        for alias in model.aliases:
            assert models.resolve_alias(alias) == model.id
            assert models.lookup(alias) is model
    # Claude Code's short names name the current models of their families.
    assert {a: models.resolve_alias(a) for a in ("opus", "sonnet", "haiku", "fable")} == {
        "opus": "claude-opus-5-5",
        "sonnet": "claude-sonnet-5-5",
        "haiku": "claude-haiku-5-5",
        "fable": "claude-fable-5-2",
    }
    # A dated snapshot finds its model; a longer id never falls back to a shorter one.
    assert models.lookup("claude-sonnet-4-5-20250929").id == "claude-sonnet-4-5"
    assert models.lookup("claude-sonnet-5-5-20260928").id == "claude-sonnet-5-5"
    assert models.lookup("claude-sonnet-5-20260630").id == "claude-sonnet-5"
    assert models.lookup("claude-opus-45") is None
    assert models.resolve_alias("sim-model-1") == "sim-model-1"


@pytest.mark.parametrize("model", models.MODELS, ids=lambda m: m.id)
def test_every_listed_model_is_priced_and_sized(model: models.ModelInfo) -> None:
    price = price_for(model.id)
    assert {k: price[k] for k in ("input", "output", "cache_write", "cache_read")} == (
        model.price.as_dict()
    )
    assert price["output"] > price["input"] > price["cache_read"] > 0
    assert price["cache_write"] == pytest.approx(price["input"] * 1.25)
    assert context.context_window(model.id) == model.context_window
    assert strict.supports_strict(model.id) == model.strict_tools
    if model.current:
        assert model.context_window == 1_000_000 and model.max_output == 128_000
        assert model.strict_tools and model.thinking == "adaptive" and model.default_effort


def test_current_prices_are_the_published_ones() -> None:
    """Opus 5.5 at $4/$20 (no longer three times that), Sonnet 5.5 at $2/$10 with cache
    hits at $0.10, Haiku 5.5 five times dearer on a prompt over 100,000 tokens."""
    assert cost_usd(MILLION, price_for("claude-opus-5-5")) == 24.0
    assert cost_usd(MILLION, price_for("claude-sonnet-5-5")) == 12.0
    reads = Usage(cache_read_input_tokens=1_000_000)
    assert cost_usd(reads, price_for("claude-sonnet-5-5")) == 0.1
    short = Usage(input_tokens=90_000, output_tokens=10_000)
    long = Usage(input_tokens=10_000, cache_read_input_tokens=95_000, output_tokens=10_000)
    haiku = price_for("claude-haiku-5-5")
    assert cost_usd(short, haiku) == pytest.approx(0.009 + 0.005)
    assert cost_usd(long, haiku) == pytest.approx(5 * (0.001 + 0.00095 + 0.005))
    # Settings still override the table.
    assert price_for("claude-opus-5-5", {"claude-opus": {"input": 1.0}})["input"] == 1.0


def test_a_role_files_model_is_honoured_below_the_roles_setting(tmp_path: Path) -> None:
    agent_file(
        tmp_path,
        "code-correctness",
        "---\nname: code-correctness\nreplaces: code-correctness\ndescription: Ours\n"
        "model: opus\neffort: max\n---\nReview.\n",
    )
    config = OrchestratorConfig(models=ModelsConfig(default="claude-haiku-5-5"))
    settings = config.agent_settings("code-correctness")
    resolved = resolve_role("code-correctness", "review", tmp_path, settings)
    assert (resolved.model, resolved.effort) == ("claude-opus-5-5", "max")
    # Roles whose file names no model get [models] default; [models.roles] beats the file.
    assert resolve_role("code-performance", "review", tmp_path, settings).model == (
        "claude-haiku-5-5"
    )
    pinned = OrchestratorConfig(
        models=ModelsConfig(default="claude-haiku-5-5", roles={"code-correctness": "sonnet"})
    ).agent_settings("code-correctness")
    assert resolve_role("code-correctness", "review", tmp_path, pinned).model == (
        "claude-sonnet-5-5"
    )
    # Nothing configured: the built-in default, a current model.
    bare = OrchestratorConfig().agent_settings("fixer")
    assert resolve_role("fixer", "edit", tmp_path, bare).model == models.DEFAULT_MODEL
    assert models.lookup(models.DEFAULT_MODEL).current  # type: ignore[union-attr]


def test_the_docs_list_the_model_table() -> None:
    """The model table in docs/agents.md is this table: ids, aliases, windows and prices."""
    text = MODELS_PAGE.read_text(encoding="utf-8")
    for model in models.current():
        row = next((line for line in text.splitlines() if f"`{model.id}`" in line), "")
        assert row.startswith("|"), f"docs/agents.md has no row for {model.id}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(f"`{a}`" in row for a in model.aliases)
        assert f"${model.price.input:g}" in cells[3] and f"${model.price.output:g}" in cells[3]
        assert re.search(rf"\b{model.context_window // 1000}K\b|1M", cells[2])
