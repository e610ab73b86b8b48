"""`orchestrator budget`'s text: live agents' fill, the ledger per role, the build's limit."""

from __future__ import annotations

from cli.budget_cmd import budget_view, limits_line
from contracts.agents import Usage
from contracts.metrics import Ledger, Metrics, budget_summary
from contracts.telemetry import LiveAgent


def ledger() -> Ledger:
    book = Ledger()
    book.add("builder", "01-core", Usage(input_tokens=1000, output_tokens=200, cost_usd=0.5))
    book.add("code-correctness", "01-core", Usage(input_tokens=300, cost_usd=0.25))
    return book


def test_the_view_shows_each_agents_fill_the_roles_and_the_limit() -> None:
    agent = LiveAgent(
        workflow_id="build-shop-01-core",
        activity="agent.edit",
        role="builder",
        scope="01-core",
        turn=7,
        phase="waiting on model",
        context_tokens=50_000,
        context_window=200_000,
    )
    out = {
        "build": {
            "workflow_id": "build-shop",
            "status": "RUNNING",
            "live": [agent],
            "ledger": Metrics.of(ledger()),
            "limits": {
                "max_cost_usd": 2.0,
                "max_tokens": None,
                "budget_tokens": 1500,
                "held": False,
            },
        },
        "token_log": {"path": "/d/telemetry/token_log.jsonl", "turns": 3, "total": Usage()},
    }
    text = budget_view(out)
    row = next(line for line in text.splitlines() if line.startswith("builder  "))
    assert "50,000 / 200,000" in row and "25.0%" in row and "7" in row
    assert "Ledger: 1,500 tokens in 2 agent calls; cost $0.7500" in text
    assert "Budget: $2.00; used 1,500 tokens weighed by price" in text
    assert "Token log /d/telemetry/token_log.jsonl: 3 turns" in text


def test_no_limit_and_a_held_build_are_said() -> None:
    free = {"max_cost_usd": None, "max_tokens": None, "budget_tokens": 0, "held": False}
    assert limits_line(free).startswith("Budget: no limit")
    held = {"max_cost_usd": None, "max_tokens": 1000, "budget_tokens": 1200, "held": True}
    assert (
        limits_line(held)
        == "Budget: 1,000 tokens; used 1,200 tokens weighed by price; HELD at the limit"
    )


def test_the_budget_notice_adds_up_the_ledger() -> None:
    said = budget_summary(ledger(), max_cost_usd=2.0)
    assert said.startswith("budget: 1,500 tokens, $0.7500 in 2 agent calls; by role: builder ")
    assert "limit: $2.00." in said
    assert "limit: none." in budget_summary(Ledger())
