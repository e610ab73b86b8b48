"""Seed 003's checks on a subtask's own branch, before its pull request."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from contracts.integration import SmellRequest
from contracts.sandbox import SandboxConfig

LinterName = Literal["ruff", "flake8", "eslint", "golangci-lint"]


class LintRequest(BaseModel):
    """Lint the files the work changed since `base` (and `bases`) with each linter named,
    or (None) with every one the repository configures."""

    worktree: str
    base: str
    bases: list[str] = Field(default_factory=list)
    linters: list[LinterName] | None = None
    log_dir: str
    timeout_s: float = 900.0
    output_limit: int = 20_000
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)


class ChecksRequest(BaseModel):
    """What `checks.run` checks in a subtask's worktree; a part left None is not run."""

    smells: SmellRequest | None = None
    lint: LintRequest | None = None
