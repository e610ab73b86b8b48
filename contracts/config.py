"""`orchestrator.toml`: every key optional, read once per workflow by an activity."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.agents import AgentSettings

DEFAULT_DESIGN_REVIEWERS = ["design-requirements", "design-performance", "design-architecture"]
DEFAULT_CODE_REVIEWERS = ["code-correctness", "code-performance", "code-architecture"]


class _Strict(BaseModel):
    # An unknown key is a typo the user wants to hear about, not silently ignore.
    model_config = ConfigDict(extra="forbid")


class ReviewersConfig(_Strict):
    design: list[str] = Field(default_factory=lambda: list(DEFAULT_DESIGN_REVIEWERS))
    code: list[str] = Field(default_factory=lambda: list(DEFAULT_CODE_REVIEWERS))


class ModelsConfig(_Strict):
    default: str = "claude-sonnet-4-6"
    roles: dict[str, str] = Field(default_factory=dict, description="role -> model")


class GatesConfig(_Strict):
    commands: list[str] = Field(default_factory=list, description="run in every worktree")
    timeout_s: float = 900.0
    output_limit: int = 20_000
    heartbeat_timeout_s: float = Field(
        default=30.0,
        ge=15.0,
        description="gates heartbeat every 5 s; a gate silent this long is retried elsewhere",
    )


class ForgeConfig(_Strict):
    kind: Literal["github", "none"] = "github"
    repository: str | None = Field(default=None, description="owner/name; default from origin")
    api_url: str | None = None
    remote: str = "origin"
    base_branch: str | None = Field(default=None, description="default: the current branch")


class TrackerConfig(_Strict):
    path: str = "design-docs/orchestration/pr_tracker.md"


class BudgetConfig(_Strict):
    max_cost_usd: float | None = None
    max_tokens: int | None = None


class AgentsConfig(_Strict):
    dir: str = ".orchestrator/agents"
    max_turns: int = 40
    max_total_tokens: int = 2_000_000
    command_timeout_s: float = 300.0
    timeout_s: float = Field(default=3600.0, description="start-to-close of one agent activity")
    heartbeat_timeout_s: float = Field(
        default=60.0, ge=2.0, description="a silent agent is retried on another worker after this"
    )
    retry_for_s: float = Field(
        default=3600.0,
        ge=0.0,
        description="overload, 5xx and connection errors are retried this long before a person "
        "is asked",
    )


class Price(_Strict):
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float | None = None
    cache_read: float | None = None


class OrchestratorConfig(_Strict):
    threshold: float = Field(default=0.96, ge=0.0, le=1.0)
    max_concurrent_subtasks: int = Field(default=2, ge=1)
    max_parallel_reviews: int = Field(default=4, ge=1, description="design scopes at once")
    stuck_rounds: int = Field(default=3, ge=1, description="rounds without a better score")
    max_rounds: int = Field(default=8, ge=1)
    host_timeout_s: float = Field(
        default=600.0,
        ge=1.0,
        description="a worktree step waiting this long for its host moves the subtask elsewhere",
    )
    reviewers: ReviewersConfig = Field(default_factory=ReviewersConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    forge: ForgeConfig = Field(default_factory=ForgeConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    prices: dict[str, Price] = Field(default_factory=dict)

    def agent_settings(self, role: str) -> AgentSettings:
        """The knobs one agent call runs with; the role's model wins over the default."""
        return AgentSettings(
            model=self.models.roles.get(role, self.models.default),
            max_turns=self.agents.max_turns,
            max_total_tokens=self.agents.max_total_tokens,
            command_timeout_s=self.agents.command_timeout_s,
            agents_dir=self.agents.dir,
            prices={
                name: {k: v for k, v in p.model_dump().items() if v is not None}
                for name, p in self.prices.items()
            },
        )


class ConfigRequest(BaseModel):
    """Find the repository of a design directory and read its orchestrator.toml."""

    design_dir: str


class ProjectContext(BaseModel):
    """Where things are, resolved once at workflow start so later steps are plain paths."""

    repo_root: str
    design_dir: str = Field(description="absolute")
    design_rel: str = Field(description="relative to repo_root")
    feature: str
    branch: str
    config: OrchestratorConfig
    config_path: str | None = None
