"""`[sandbox]` in orchestrator.toml: how agent commands and gates are confined."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.git import host_name_problem

WEB_PORTS = (80, 443)  # what a listed bare host name opens


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
        description="destinations commands may reach through the sandbox's HTTP/HTTPS proxy: "
        "a host name (its ports 80 and 443, e.g. pypi.org) or host:port (that port only, "
        "e.g. devpi.internal:3141). Empty: no network at all",
    )
    read_only: list[str] = Field(
        default_factory=list,
        description="absolute paths commands may read besides the system and the worktree "
        "(toolchains such as /opt/node)",
    )
    max_processes: int = Field(default=512, ge=8, le=1_000_000)
    memory_mb: int = Field(default=4096, ge=64, description="data memory per process")
    tmp_mb: int = Field(
        default=1024,
        ge=16,
        description="size of each of the command's private /tmp, /var/tmp and /dev/shm "
        "(memory-backed; each file at most this on macOS)",
    )
    output_limit_bytes: int = Field(
        default=5_000_000, ge=10_000, description="output kept on disk per command"
    )
    # What git would commit from a worktree (tracked files and new ones not ignored) is
    # checked before every commit of an agent's work: over budget, the agent is told to
    # clean up, and a commit still over it holds for a person.
    worktree_max_files: int = Field(
        default=50_000, ge=1, description="files git would commit from a worktree"
    )
    worktree_max_mb: int = Field(default=1_000, ge=1, description="their total size, in MiB")
    worktree_max_file_mb: int = Field(
        default=50, ge=1, description="the largest single file, in MiB"
    )

    @field_validator("network")
    @classmethod
    def _hosts(cls, entries: list[str]) -> list[str]:
        cleaned = [e.strip().lower().rstrip(".") for e in entries]
        for entry in cleaned:
            host, colon, port = entry.partition(":")
            problem = None
            if host_name_problem(host) or (colon and not port.isdigit()):
                problem = f"{entry!r} is not a host name or host:port (no scheme, user or path)"
            elif colon and not 0 < int(port) < 65536:
                problem = f"{port} in {entry!r} is not a port number (1-65535)"
            if problem:
                raise ValueError(
                    f"{problem}. Fix: list host names, optionally with a port, e.g. "
                    'network = ["pypi.org", "files.pythonhosted.org", "devpi.internal:3141"]'
                )
        return sorted(set(cleaned))

    def allows(self, host: str, port: int) -> bool:
        """Whether the proxy may connect to `host:port`: a listed name on 80/443, or a
        listed `host:port` exactly. Names are compared exactly (no wildcards)."""
        host = host.strip().lower().rstrip(".")
        return f"{host}:{port}" in self.network or (port in WEB_PORTS and host in self.network)

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
