"""`orchestrator.toml`: every key optional, read once per workflow by an activity."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from contracts.agents import AgentSettings
from contracts.git import host_name_problem, ref_name_problem, token_hosts_for
from contracts.sandbox import SandboxConfig

DEFAULT_DESIGN_REVIEWERS = ["design-requirements", "design-performance", "design-architecture"]
DEFAULT_CODE_REVIEWERS = ["code-correctness", "code-performance", "code-architecture"]


# Durations become Temporal timeouts: zero, negative, `inf` or `nan` would wedge the
# workflow task that schedules the step, so they are refused when the file is read.
YEAR_S = 365 * 24 * 3600.0
Seconds = Annotated[float, Field(gt=0, le=YEAR_S)]
Positive = Annotated[int, Field(ge=1)]
RoleNames = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


def from_file(info: ValidationInfo) -> bool:
    """Whether the config is being read from orchestrator.toml (`read_config` says so).

    Rules added after loops were already running apply to the file only: the same
    model is decoded from their histories (ProjectContext), where a value a newer rule
    refuses would fail the workflow task on every replay instead of being reported.
    """
    return bool(info.context and info.context.get("file"))


# The answer alone takes up to `AgentSettings.max_tokens_per_turn` (8,000) tokens of a
# window, and no Claude model has one below 100,000 or above a few million: a window
# outside these bounds is a typo (a dropped digit, thousands for tokens).
MIN_CONTEXT_WINDOW = 16_000
MAX_CONTEXT_WINDOW = 10_000_000


def _a_window(value: int, info: ValidationInfo) -> int:
    if from_file(info) and not MIN_CONTEXT_WINDOW <= value <= MAX_CONTEXT_WINDOW:
        raise ValueError(
            f"{value} tokens is no model's context window (the answer alone may take 8000). "
            f"Fix: give the window in tokens, between {MIN_CONTEXT_WINDOW} and "
            f"{MAX_CONTEXT_WINDOW} (Claude's is 200000), or delete the line for 200000"
        )
    return value


ContextWindow = Annotated[int, Field(ge=1), AfterValidator(_a_window)]


def _no_blank(values: list[str]) -> list[str]:
    if any(not v.strip() for v in values):
        raise ValueError("an entry is empty. Fix: delete the empty string from the list")
    return values


Commands = Annotated[list[str], AfterValidator(_no_blank)]


def _inside_repository(value: str, info: ValidationInfo) -> str:
    """A path the loop reads or writes in the repository: relative, without '..', outside
    .git (a tracker written to `.git/config` breaks every git command in the repository).

    Only what the text says; where it leads on disk (symlinks, the design directory, the
    files the loop reads) is checked at the start, by activities/project_checks.py.
    """
    if not value.strip():
        raise ValueError("it is empty. Fix: name a path relative to the repository root")
    parts = PurePosixPath(value).parts
    if value.startswith(("/", "~")) or ".." in parts:
        raise ValueError(
            f"{value!r} leads out of the repository. Fix: name a path relative to the "
            "repository root, without '..'"
        )
    if from_file(info) and any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError(
            f"{value!r} holds a control character (a newline, a NUL). Fix: name a path "
            "relative to the repository root, as it is on disk"
        )
    if from_file(info) and any(part.casefold() == ".git" for part in parts):
        raise ValueError(
            f"{value!r} is inside .git, git's own directory: a write there breaks every git "
            "command in the repository. Fix: name a path outside .git"
        )
    return value


def _git_name(example: str) -> AfterValidator:
    """A branch or remote name git accepts (they end up on git's command line)."""

    def check(value: str | None) -> str | None:
        problem = ref_name_problem(value) if value is not None else None
        if problem:
            raise ValueError(f'{problem}. Fix: use a name git accepts, e.g. "{example}"')
        return value

    return AfterValidator(check)


class _Strict(BaseModel):
    # An unknown key is a typo the user wants to hear about, not silently ignore.
    # TOML allows `inf` and `nan`; no setting here means either. Strict: TOML has types,
    # so `threshold = true` or `timeout_s = "30"` is a mistake, not something to coerce.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class ReviewersConfig(_Strict):
    design: RoleNames = Field(default_factory=lambda: list(DEFAULT_DESIGN_REVIEWERS))
    code: RoleNames = Field(default_factory=lambda: list(DEFAULT_CODE_REVIEWERS))

    @field_validator("design", "code")
    @classmethod
    def _once_each(cls, roles: list[str]) -> list[str]:
        twice = sorted({r for r in roles if roles.count(r) > 1})
        if twice:
            raise ValueError(
                f"{', '.join(twice)} is listed more than once. Fix: name each role once"
            )
        return roles


class ModelsConfig(_Strict):
    # None: the role file's `model:`, else the built-in default (models.DEFAULT_MODEL).
    default: str | None = Field(default=None, min_length=1)
    roles: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict, description="role -> model"
    )
    context_windows: dict[str, ContextWindow] = Field(
        default_factory=dict,
        description="model (or name prefix) -> context window in tokens (default 200,000)",
    )


class GatesConfig(_Strict):
    commands: Commands = Field(default_factory=list, description="run in every worktree")
    setup: Commands = Field(
        default_factory=list,
        description="run once per worktree before its first gate (e.g. create the venv)",
    )
    timeout_s: Seconds = 900.0
    smells: bool = Field(
        default=True,
        description="seed 003's smell checks on each subtask's own work, in its review rounds",
    )
    lint: list[Literal["ruff", "flake8", "eslint", "golangci-lint"]] | None = Field(
        default=None,
        description="linters run on each subtask's changed files; default: every one the "
        "repository configures; [] turns lint off",
    )
    output_limit: Positive = Field(default=20_000, description="characters of output kept")
    integration: list[str] | None = Field(
        default=None,
        description="the integrated branch's test suite; default: every subtask's commands",
    )
    heartbeat_timeout_s: float = Field(
        default=30.0,
        ge=15.0,
        le=YEAR_S,
        description="gates heartbeat every 5 s; a gate silent this long is retried elsewhere",
    )


class IntegrationConfig(_Strict):
    """`[integration]`: the feature as a whole, after every subtask has its PR (seed 003)."""

    enabled: bool = True
    lint: list[str] = Field(
        default_factory=list,
        description="lint commands run on the integrated branch (e.g. `ruff check .`)",
    )
    max_rounds: int = Field(default=4, ge=1, description="integrator rounds before a person")
    max_reopens: int = Field(
        default=2, ge=0, description="subtasks reopened by integration, per build, before a person"
    )


class ReleaseConfig(_Strict):
    """`[release]`: the release loop's gates (seed 004), after integration."""

    fix_severity: Literal["critical", "high", "medium", "low"] = Field(
        default="high",
        description="findings at or above it go to a fixer on the integration branch",
    )
    max_fix_rounds: int = Field(
        default=2, ge=0, le=20, description="fixer rounds per gate before a person decides"
    )


class PatternsConfig(_Strict):
    """`[patterns]`: the pattern library (seed 004), one directory shared across projects."""

    path: str | None = Field(
        default=None,
        description="the library's directory (PATTERN_LIBRARY.md, PATTERN_INDEX.md); default "
        "~/.orchestrator/patterns/ (under ORCHESTRATOR_HOME when that is set)",
    )
    offer: int = Field(
        default=3, ge=0, le=10, description="best-matching patterns offered to a builder; 0: none"
    )

    @field_validator("path")
    @classmethod
    def _a_library(cls, value: str | None) -> str | None:
        if value is not None:
            check_library_path(value)
        return value


class ForkConfig(_Strict):
    """`[fork]`: how a build's `!fork` ends (seed 004)."""

    pick: Literal["ask", "best"] = Field(
        default="ask",
        description='"ask": hold for a person\'s `!merge A|B`; "best": take the passing '
        "attempt with the higher lowest score without asking (ask when none passed)",
    )


def check_library_path(value: str) -> None:
    """Refuse (ValueError) a library path that cannot be one directory shared by projects."""
    example = 'e.g. "~/.orchestrator/patterns", or delete the line for the default'
    if not value.strip():
        raise ValueError(f"it is empty. Fix: name the library's directory, {example}")
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        raise ValueError(f"{value!r} holds a control character. Fix: name a directory, {example}")
    if not (value.startswith("/") or value == "~" or value.startswith("~/")):
        raise ValueError(
            f"{value!r} is relative, but the library is shared across projects, so it lives "
            f"in no one repository. Fix: give an absolute path or one under ~/, {example}"
        )
    if any(part.casefold() == ".git" for part in PurePosixPath(value).parts):
        raise ValueError(f"{value!r} is inside a .git directory. Fix: name another, {example}")


class BuildConfig(_Strict):
    """`[build]`: what the build leaves behind."""

    keep_worktrees: bool = Field(
        default=False,
        description="keep every worktree after the build; by default one is removed once "
        "integration passed (clean and pushed only) and re-created from its branch if needed",
    )
    orphan_check_s: float = Field(
        default=300.0,
        ge=1.0,
        le=YEAR_S,
        description="a subtask or integration run whose build is gone (terminated, failed, "
        "timed out) ends its work within this long, even while it waits on CI",
    )


class ForgeConfig(_Strict):
    kind: Literal["github", "none"] = "github"
    repository: str | None = Field(default=None, description="owner/name; default from origin")
    api_url: str | None = None
    remote: Annotated[str, _git_name("origin")] = "origin"
    base_branch: Annotated[str | None, _git_name("main")] = Field(
        default=None, description="default: the current branch"
    )
    token_hosts: list[str] = Field(
        default_factory=list,
        description="hosts (besides github.com and api_url's) whose HTTPS remotes get "
        "GITHUB_TOKEN through git's credential helper",
    )
    follow: bool | None = Field(
        default=None,
        description="follow each PR until GitHub says it is mergeable (default: true with "
        "github); false ends the build at ALL_SUBTASKS_PR_CREATED",
    )
    max_ci_rounds: int = Field(
        default=3, ge=1, description="red-CI (and review-answer) fix rounds before a person"
    )
    poll_s: float = Field(default=30.0, ge=1, description="first wait between polls of a PR")
    poll_max_s: float = Field(
        default=600.0, ge=1, description="the longest wait between polls while nothing changes"
    )
    ci_timeout_s: float = Field(
        default=21600.0,
        ge=1,
        description="how long one head's checks may stay queued/in progress (or a required "
        "check unreported) before a person decides retry / skip / stop",
    )

    merge: Literal["manual", "auto"] = Field(
        default="manual",
        description="auto: merge each followed PR once GitHub says clean, in dependency order "
        "(the build ends ALL_SUBTASKS_MERGED); manual: a person merges (ALL_SUBTASKS_MERGEABLE)",
    )
    merge_method: Literal["squash", "merge", "rebase"] = Field(
        default="squash", description='how `merge = "auto"` merges a PR (GitHub\'s merge_method)'
    )

    @property
    def following(self) -> bool:
        """Whether the loops follow their PRs: only on GitHub, unless turned off."""
        return self.kind == "github" and self.follow is not False

    def git_token_hosts(self) -> list[str]:
        """The hosts whose HTTPS remotes get GITHUB_TOKEN (`token_hosts_for` of this forge)."""
        return token_hosts_for(self.api_url, self.token_hosts)

    @field_validator("token_hosts")
    @classmethod
    def _bare_hosts(cls, hosts: list[str]) -> list[str]:
        cleaned = [h.strip().lower() for h in hosts]
        for host in cleaned:
            problem = host_name_problem(host)
            if problem:
                raise ValueError(
                    f'{problem}. Fix: list host names only, e.g. token_hosts = ["git.example.com"]'
                )
        return sorted(set(cleaned))

    @field_validator("repository")
    @classmethod
    def _owner_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        problem = repository_problem(value) if value is not None else None
        if problem and not from_file(info) and _LOOSE_OWNER_NAME.match(value or ""):
            return value  # accepted before the rule got stricter (see `from_file`)
        if problem:
            raise ValueError(
                f"{problem}. Fix: write it as on GitHub, e.g. "
                '"octo-org/my-repo", or delete the line to take it from the remote'
            )
        return value

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError(
                f"{value!r} is not an http(s) URL. Fix: give the API's base URL, e.g. "
                '"https://github.example.com/api/v3", or delete the line for api.github.com'
            )
        return value


_LOOSE_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# GitHub's rules: an owner is letters, digits and '-' (managed users add '_shortcode'), at
# most 39; a repository name letters, digits, '.', '_' and '-', at most 100, not '.' or '..'.
_OWNER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def repository_problem(value: str) -> str | None:
    """Why `value` is not a GitHub `owner/name`, or None."""
    name = value.rpartition("/")[2]
    if value.endswith(".git"):
        return (
            f"{value!r} ends in .git, the ending of a clone URL, not of the repository's name "
            f"(write {value.removesuffix('.git')!r})"
        )
    if not _OWNER_NAME.match(value) or name in (".", ".."):
        return f"{value!r} is not owner/name"
    return None


_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


class TrackerConfig(_Strict):
    # Inside this repository: a path outside it (a tracker "shared" by absolute path) could
    # be any file of the person's, and the build rewrites a section of it on every change.
    path: str = "design-docs/orchestration/pr_tracker.md"

    @field_validator("path")
    @classmethod
    def _a_file_path(cls, value: str, info: ValidationInfo) -> str:
        if value.startswith("/") and not from_file(info):
            return value  # accepted before the rule got stricter (see `from_file`)
        return _inside_repository(value, info)


class BudgetConfig(_Strict):
    # Above zero: a zero budget would hold the build before its first agent (leave the
    # key out for no limit).
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, ge=1)


class AgentsConfig(_Strict):
    # Roles are read from the commit the loop starts from: the directory is in the repository.
    dir: Annotated[str, AfterValidator(_inside_repository)] = ".orchestrator/agents"
    max_turns: Positive = 40
    max_total_tokens: Positive = 2_000_000
    command_timeout_s: Seconds = 300.0
    timeout_s: Seconds = Field(default=3600.0, description="start-to-close of one agent activity")
    heartbeat_timeout_s: float = Field(
        default=60.0,
        ge=2.0,
        le=YEAR_S,
        description="a silent agent is retried on another worker after this",
    )
    retry_for_s: float = Field(
        default=3600.0,
        ge=0.0,
        le=YEAR_S,
        description="overload, 5xx and connection errors are retried this long before a person "
        "is asked",
    )


class Price(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    cache_read: float | None = Field(default=None, ge=0)


class OrchestratorConfig(_Strict):
    threshold: float = Field(default=0.96, ge=0.0, le=1.0)
    max_concurrent_subtasks: int = Field(default=2, ge=1)
    max_parallel_reviews: int = Field(default=4, ge=1, description="design scopes at once")
    stuck_rounds: int = Field(default=3, ge=1, description="rounds without a better score")
    max_rounds: int = Field(default=8, ge=1)
    host_timeout_s: float = Field(
        default=600.0,
        ge=1.0,
        le=YEAR_S,
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
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    integration: IntegrationConfig = Field(default_factory=IntegrationConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)
    patterns: PatternsConfig = Field(default_factory=PatternsConfig)
    fork: ForkConfig = Field(default_factory=ForkConfig)

    def agent_settings(self, role: str, config_commit: str | None = None) -> AgentSettings:
        """The knobs one agent call runs with: `[models.roles]` wins over the role file's
        `model:`, which wins over `[models] default`.

        `config_commit` (ProjectContext.start_commit) is where the roles are read from.
        """
        return AgentSettings(
            config_commit=config_commit,
            model=self.models.roles.get(role),
            default_model=self.models.default,
            max_turns=self.agents.max_turns,
            max_total_tokens=self.agents.max_total_tokens,
            command_timeout_s=self.agents.command_timeout_s,
            agents_dir=self.agents.dir,
            context_windows=dict(self.models.context_windows),
            sandbox=self.sandbox,
            prices={
                name: {k: v for k, v in p.model_dump().items() if v is not None}
                for name, p in self.prices.items()
            },
        )


class BuildChecks(BaseModel):
    """What a build's start checks besides a design's: it pushes and opens pull requests
    (the build's own overrides of orchestrator.toml, from BuildInput)."""

    forge: Literal["github", "none"] | None = None
    base_branch: str | None = None


class ConfigRequest(BaseModel):
    """Find the repository of a design directory and read its orchestrator.toml."""

    design_dir: str
    build: BuildChecks | None = Field(default=None, description="set by a build's start")


class ProjectContext(BaseModel):
    """Where things are, resolved once at workflow start so later steps are plain paths."""

    repo_root: str
    design_dir: str = Field(description="absolute")
    design_rel: str = Field(description="relative to repo_root")
    feature: str
    branch: str
    config: OrchestratorConfig
    config_path: str | None = None
    start_commit: str | None = Field(
        default=None,
        description="HEAD of the repository when the loop started: configuration and roles "
        "come from this commit (None: a repository without commits yet)",
    )
    search_attributes: bool = Field(
        default=False,
        description="the server has the loops' search attributes (contracts/"
        "search_attributes.py): the loops upsert them; without them they run unlisted",
    )
