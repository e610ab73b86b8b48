"""Reading `orchestrator.toml` and locating the repository of a design directory."""

from __future__ import annotations

import tomllib
from pathlib import Path

from git import InvalidGitRepositoryError, NoSuchPathError, Repo
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.config import ConfigRequest, OrchestratorConfig, ProjectContext

CONFIG_FILE = "orchestrator.toml"


def bad_input(message: str, kind: str = "InvalidInput") -> ApplicationError:
    """An error no retry can fix: the workflow fails with the message."""
    return ApplicationError(message, type=kind, non_retryable=True)


def read_config(repo_root: Path) -> tuple[OrchestratorConfig, str | None]:
    path = repo_root / CONFIG_FILE
    if not path.exists():
        return OrchestratorConfig(), None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise bad_input(f"{path}: not valid TOML ({err}). Fix the syntax", "ConfigError") from err
    try:
        return OrchestratorConfig.model_validate(data), str(path)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise bad_input(
            f"{path}: {problems}. Fix these keys (see the README's configuration table)",
            "ConfigError",
        ) from err


def resolve_project(design_dir: str) -> ProjectContext:
    """Resolve the design directory, its git repository and the config, or explain what is wrong."""
    path = Path(design_dir).expanduser().resolve()
    if not path.is_dir():
        raise bad_input(
            f"{design_dir}: design directory not found. Fix: pass the path of a directory "
            "holding overview.md (e.g. design-docs/active/<feature>)",
            "PlanError",
        )
    try:
        repo = Repo(path, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError) as err:
        raise bad_input(
            f"{path}: not inside a git repository. Fix: run `git init` in the project "
            "(the orchestrator commits artifacts and builds on branches)",
            "RepositoryError",
        ) from err
    root = Path(repo.working_tree_dir or path).resolve()
    try:
        branch = repo.active_branch.name
    except TypeError:
        branch = "HEAD"
    config, config_path = read_config(root)
    return ProjectContext(
        repo_root=str(root),
        design_dir=str(path),
        design_rel=str(path.relative_to(root)) if path.is_relative_to(root) else str(path),
        feature=path.name,
        branch=branch,
        config=config,
        config_path=config_path,
    )


@activity.defn(name="project.resolve")
def resolve_project_activity(request: ConfigRequest) -> ProjectContext:
    return resolve_project(request.design_dir)


ACTIVITIES = [resolve_project_activity]
