"""`[sandbox]` in orchestrator.toml: how agent commands and gates are confined."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.git import host_name_problem


class SandboxConfig(BaseModel):
    """Every agent command and every gate runs in an OS sandbox unless `mode = "none"`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    mode: Literal["os", "none"] = Field(
        default="os",
        description='"os": bubblewrap on Linux, sandbox-exec on macOS; "none": commands run '
        "unconfined as the worker (warned at every start)",
    )
    network: list[str] = Field(
        default_factory=list,
        description="destinations commands need (e.g. pypi.org). Empty: no network at all. "
        "Non-empty: the sandbox shares the host's network, every destination included",
    )
    read_only: list[str] = Field(
        default_factory=list,
        description="absolute paths commands may read besides the system and the worktree "
        "(toolchains such as /opt/node)",
    )
    max_processes: int = Field(default=512, ge=8, le=1_000_000)
    memory_mb: int = Field(default=4096, ge=64, description="data memory per process")
    output_limit_bytes: int = Field(
        default=5_000_000, ge=10_000, description="output kept on disk per command"
    )

    @field_validator("network")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        cleaned = [h.strip().lower() for h in hosts]
        for host in cleaned:
            problem = host_name_problem(host)
            if problem:
                raise ValueError(
                    f'{problem}. Fix: list host names only, e.g. network = ["pypi.org"]'
                )
        return sorted(set(cleaned))

    @field_validator("read_only")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(
                    f'"{path}" is not an absolute path. Fix: write it from the root, e.g. '
                    '"/opt/node"'
                )
        return paths
