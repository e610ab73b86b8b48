"""`orchestrator budget`: a held agent's context fill, the totals after, and `!budget`."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from activities.agents.telemetry import read_rows
from contracts.agents import Usage
from contracts.telemetry import token_log_path
from contracts.version import TASK_QUEUE
from simulators.demo_scenario import link_shortener_scenario
from simulators.github_api import GitHubStandIn
from tests.cli.commands import orchestrator
from tests.support import example_design, make_project, scripted_model, until
from worker import build_worker
from workflows.design_review import DesignReviewWorkflow

HELD = ("design-requirements", "consistency")


def _turn(who: Any, usage: dict[str, Any]) -> tuple[Any, ...]:
    """A request as the stand-in logged it or as its row has it."""
    tokens = ("input_tokens", "output_tokens", "cache_read_input_tokens")
    return (who.role, who.scope, who.round, who.turn, *(usage.get(t, 0) for t in tokens))


async def budget_json(env: dict[str, str], design: str) -> dict[str, Any]:
    shown = await orchestrator(env, "budget", design, "--json")
    assert shown.returncode == 0, shown.stderr
    out: dict[str, Any] = json.loads(shown.stdout)
    return out


async def test_budget_shows_a_held_agents_context_fill_then_every_answered_turn(
    client: Client,
    temporal_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_leftovers: None,
) -> None:
    rules = link_shortener_scenario()["rules"]
    assert (rules[0]["match"]["role"], rules[0]["match"]["scope"]) == HELD
    # The consistency reviewer's second request is held until the test lets it answer.
    held = {**rules[0], "faults": [{"type": "hold", "at_turn": 2, "until": "go", "seconds": 120}]}
    with (
        GitHubStandIn() as github,
        scripted_model({"rules": [held, *rules[1:]]}, monkeypatch, github.url) as model,
    ):
        # A short heartbeat timeout: the worker sends heartbeat details that often. Two of
        # the example's subplans: every design role still answers turns to be logged.
        source = example_design(tmp_path, "01-models", "02-storage")
        config = "\n[agents]\nheartbeat_timeout_s = 10\n"
        repo = make_project(tmp_path, github.url, config, design_source=source)
        design = str(repo.design_dir)
        async with build_worker(client, TASK_QUEUE):
            started = await orchestrator(temporal_env, "design", design)
            assert started.returncode == 0, started.stderr
            await asyncio.to_thread(model.wait_for, lambda r: r.fault == "hold", 60)

            async def held_agent() -> dict[str, Any] | None:
                live = (await budget_json(temporal_env, design))["design"]["live"]
                found = [a for a in live if (a["role"], a["scope"]) == HELD and a["turn"] == 2]
                return found[0] if found else None

            agent = await until(held_agent, limit=90, what="the held reviewer in budget")
            assert agent["phase"] == "waiting on model"
            assert agent["activity"] == "agent.review"
            assert 0 < agent["context_tokens"] < agent["context_window"]
            fill = round(100 * agent["context_tokens"] / agent["context_window"], 1)
            assert agent["context_percent"] == fill
            text = await orchestrator(temporal_env, "budget", design)
            assert text.returncode == 0, text.stderr
            line = next(ln for ln in text.stdout.splitlines() if ln.startswith(HELD[0]))
            assert f"{agent['context_tokens']:,} / {agent['context_window']:,}" in line
            assert f"{fill:.1f}%" in line
            status = await orchestrator(temporal_env, "status", design)
            assert "Agents running (context fill" in status.stdout, status.stdout
            assert f"{agent['context_window']:,}" in status.stdout
            as_json = await orchestrator(temporal_env, "status", design, "--json")
            live = json.loads(as_json.stdout)["design"]["live_agents"]
            assert any((a["role"], a["scope"]) == HELD for a in live)

            model.release("go")
            handle = client.get_workflow_handle("design-link-shortener")

            async def asks_a_person() -> bool:  # and waits for nothing else
                st = await handle.query(DesignReviewWorkflow.status)
                return st.phase == "questions"

            await until(asks_a_person, limit=120, what="the design waiting for answers")

            async def quiet() -> dict[str, Any] | None:
                out = await budget_json(temporal_env, design)
                return out if not out["design"]["live"] else None

            out = await until(quiet, limit=120, what="no agent running")
            answered = [r for r in model.requests if r.action not in ("error", "disconnected")]
            rows = read_rows(Path(token_log_path(design)))
            # One row per answer the agents received, with the usage the model reported.
            # A request asked twice (its first answer cut off with an attempt the server
            # gave up on, on a busy machine) may have one row: never more than asked.
            asked = Counter(_turn(r, r.usage) for r in answered)
            logged = Counter(_turn(r, r.model_dump()) for r in rows)
            assert not logged - asked, logged - asked  # no row without its request
            assert set(logged) == set(asked)  # every request answered has its row
            assert out["token_log"]["turns"] == len(rows)
            ledger = out["design"]["ledger"]
            by_role = out["token_log"]["by_role"]
            assert set(ledger["by_role"]) == set(by_role)
            if max(asked.values()) == 1:  # nothing asked twice: the log is the ledger
                assert len(rows) == len(answered)
                for role, usage in ledger["by_role"].items():
                    assert Usage(**usage).total_tokens == Usage(**by_role[role]).total_tokens
                    assert usage["cost_usd"] == pytest.approx(by_role[role]["cost_usd"], abs=1e-5)
            text = await orchestrator(temporal_env, "budget", design)
            assert "No agent is running." in text.stdout and "design-requirements" in text.stdout

            # `!budget` as a `command` line, as a chat or the plain temporal CLI sends it.
            await handle.signal(DesignReviewWorkflow.command, "!budget")

            async def noted() -> str:
                st = await handle.query(DesignReviewWorkflow.status)
                return st.notice if st.notice.startswith("budget: ") else ""

            notice = await until(noted, what="the budget notice")
            total = Usage(**ledger["total"])
            assert f"{total.total_tokens:,} tokens" in notice and "design-requirements" in notice
            shown = await orchestrator(temporal_env, "status", design)
            assert "Note: budget: " in shown.stdout
            await handle.cancel()

            async def closed() -> dict[str, Any] | None:
                out = await budget_json(temporal_env, design)
                return out if out["design"]["status"] == "CANCELED" else None

            after = (await until(closed, what="the cancelled loop in budget"))["design"]
            assert after["live"] == [] and after["ledger"]["total"] == ledger["total"]
