"""One ledger of tokens, cost, agent time and errors (seed 001's metrics)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from contracts.agents import Usage


class Ledger(BaseModel):
    by_role: dict[str, Usage] = Field(default_factory=dict)
    by_scope: dict[str, Usage] = Field(default_factory=dict)
    agent_calls: int = 0
    errors: int = 0

    def add(self, role: str, scope: str, usage: Usage) -> None:
        self.by_role[role] = self.by_role.get(role, Usage()) + usage
        self.by_scope[scope] = self.by_scope.get(scope, Usage()) + usage
        self.agent_calls += 1

    def add_failed(self, role: str, scope: str, usage: Usage) -> None:
        """A call that failed for good: its tokens count against the budget all the same."""
        self.add(role, scope, usage)
        self.errors += 1

    def merge(self, other: Ledger) -> None:
        for role, usage in other.by_role.items():
            self.by_role[role] = self.by_role.get(role, Usage()) + usage
        for scope, usage in other.by_scope.items():
            self.by_scope[scope] = self.by_scope.get(scope, Usage()) + usage
        self.agent_calls += other.agent_calls
        self.errors += other.errors

    @property
    def total(self) -> Usage:
        total = Usage()
        for usage in self.by_role.values():
            total = total + usage
        return total


class Metrics(BaseModel):
    """What the `metrics` query returns."""

    total: Usage
    by_role: dict[str, Usage]
    by_scope: dict[str, Usage]
    agent_calls: int
    errors: int
    elapsed_s: float = 0.0

    @classmethod
    def of(cls, ledger: Ledger, elapsed_s: float = 0.0) -> Metrics:
        return cls(
            total=ledger.total,
            by_role=dict(ledger.by_role),
            by_scope=dict(ledger.by_scope),
            agent_calls=ledger.agent_calls,
            errors=ledger.errors,
            elapsed_s=elapsed_s,
        )


def budget_summary(
    ledger: Ledger, max_cost_usd: float | None = None, max_tokens: int | None = None
) -> str:
    """`!budget`'s answer, kept as the loop's notice (shown in `status`): tokens, cost and
    the roles' share from the ledger, and the limits. A running agent's context fill is
    known to its heartbeat only: `orchestrator budget <dir>` shows it."""
    total = ledger.total
    roles = "; ".join(
        f"{role} {u.total_tokens:,} tokens ${u.cost_usd:.4f}"
        for role, u in sorted(ledger.by_role.items())
    )
    limits = [
        *([f"${max_cost_usd:.2f}"] if max_cost_usd is not None else []),
        *([f"{max_tokens:,} tokens weighed by price"] if max_tokens is not None else []),
    ]
    used = f" (used {total.weighted_tokens:,} weighed)" if max_tokens is not None else ""
    return (
        f"budget: {total.total_tokens:,} tokens, ${total.cost_usd:.4f} in {ledger.agent_calls} "
        f"agent calls; by role: {roles or 'none yet'}; limit: "
        f"{' and '.join(limits) or 'none'}{used}. Context fill of the running agents: "
        "`orchestrator budget <dir>`"
    )
