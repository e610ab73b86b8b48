"""Reading `orchestrator.toml` and locating the repository of a design directory.

Every problem in the file is refused at workflow start (and by the CLI before it
starts a loop) with the file, the key and the fix: a bad value found later would
fail a step hours into a loop, or wedge the workflow task that schedules it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import search_attributes
from activities.agents.model_names import model_problem
from activities.git.command import GitInputError, run_git
from activities.git.queries import current_branch, head_commit, repo_root_of
from activities.project_checks import (
    check_start,
    design_path,
    linked_elsewhere,
    not_a_repository,
)
from activities.sandbox.paths import READ_ONLY_FIX, read_only_problems
from activities.sandbox.runner import NONE_WARNING
from contracts.config import (
    AgentsConfig,
    BuildChecks,
    ConfigRequest,
    OrchestratorConfig,
    ProjectContext,
)

if TYPE_CHECKING:
    from activities.agents.roles import Role

CONFIG_FILE = "orchestrator.toml"
README_HINT = "see the key table in docs/configuration.md"


def bad_input(message: str, kind: str = "InvalidInput") -> ApplicationError:
    """An error no retry can fix: the workflow fails with the message."""
    return ApplicationError(message, type=kind, non_retryable=True)


def config_error(path: Path, problems: list[str]) -> ApplicationError:
    return bad_input(f"{path}: {'; '.join(problems)} ({README_HINT})", "ConfigError")


def key_name(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the user wrote it: `[agents] timeout_s`, `[prices.m] input`."""
    index = ""
    parts = list(loc)
    while parts and isinstance(parts[-1], int):
        index = f"[{parts.pop()}]{index}"
    if not parts:
        return "the file"
    *tables, key = (str(p) for p in parts)
    return (f"[{'.'.join(tables)}] " if tables else "") + f"{key}{index}"


def _field_at(loc: tuple[Any, ...]) -> tuple[type[BaseModel] | None, str | None]:
    """The model holding the key at `loc` and the key's name, when it is a known field."""
    model: type[BaseModel] = OrchestratorConfig
    names = [p for p in loc if isinstance(p, str)]
    for i, name in enumerate(names):
        field = model.model_fields.get(name)
        if field is None:
            return (model, None) if i == len(names) - 1 else (None, None)
        if i == len(names) - 1:
            return model, name
        sub = field.annotation
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            return None, None
        model = sub
    return None, None


def _default_text(loc: tuple[Any, ...]) -> str | None:
    model, name = _field_at(loc)
    if model is None or name is None:
        return None
    field = model.model_fields[name]
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None or isinstance(value, BaseModel):
        return None
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        text = "[" + ", ".join(_shown(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


RANGE_FIX = {
    "greater_than": "set it above {gt}",
    "greater_than_equal": "set it to {ge} or more",
    "less_than": "set it below {lt}",
    "less_than_equal": "set it to {le} or less",
    "finite_number": "use a finite number (TOML's inf and nan are not settings)",
    "too_short": "list at least {min_length} role",
    "string_too_short": "give it a value",
}


def describe_problem(error: Any) -> str:
    """One pydantic error as `key = value: what is wrong. Fix: ...`."""
    loc = tuple(error["loc"])
    key = key_name(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        model, _ = _field_at(loc)
        known = f" (keys here: {', '.join(model.model_fields)})" if model is not None else ""
        return f"{key} is not a known key. Fix: correct its spelling{known} or delete the line"
    if kind == "missing":
        return f"{key} is missing. Fix: add it"
    msg = str(error["msg"]).removeprefix("Value error, ")
    wrong = (msg[:1].lower() + msg[1:]) or "invalid"
    wrong = wrong.replace("input should", "it should").replace("list should", "it should")
    if kind == "too_short" and not error.get("input"):
        wrong = "it is empty"
    if "Fix:" in wrong:
        fix = ""
    elif kind in RANGE_FIX:
        ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in error.get("ctx", {}).items()}
        fix = "Fix: " + RANGE_FIX[kind].format(**ctx)
    elif kind == "list_type" and isinstance(error.get("input"), str):
        fix = f"Fix: write it as a list, e.g. [{_shown(error['input'])}]"
    else:
        fix = "Fix: give it a value of the right type"
    default = _default_text(loc)
    _, name = _field_at(loc)
    if not fix:
        pass
    elif default is not None:
        fix += f", or delete the line for the default ({default})"
    elif name is not None and loc[:1] == ("budget",):
        fix += ", or delete the line for no limit"
    shown = f"{key} = {_shown(error.get('input'))}"
    return f"{shown}: {wrong}. {fix}" if fix else f"{shown}: {wrong.rstrip('.')}"


def read_config(
    repo_root: Path, commit: str | None = None
) -> tuple[OrchestratorConfig, str | None]:
    """orchestrator.toml and the roles it names, checked; with `commit`, as committed there."""
    path = repo_root / CONFIG_FILE
    if path.is_symlink():
        raise config_error(
            path,
            [
                f"is a symbolic link (to {os.readlink(path)}): the configuration is read only "
                "from the repository's own file, which an edit elsewhere cannot change. Fix: "
                f'replace the link with the file (`cp --remove-destination "$(readlink -f '
                f'{CONFIG_FILE})" {CONFIG_FILE}`) and commit it'
            ],
        )
    if path.exists() and not path.is_file():
        raise config_error(
            path,
            [
                "is not a regular file (a directory?). Fix: make it a file, or remove it for "
                "the defaults"
            ],
        )
    try:
        raw = path.read_bytes() if path.exists() else None
    except OSError as err:
        raise config_error(
            path,
            [
                f"is unreadable ({err.strerror}). Fix: make it readable by the user running "
                f"the orchestrator (`chmod a+r {CONFIG_FILE}`)"
            ],
        ) from None
    if commit:
        _refuse_uncommitted(repo_root, path, commit)
    if raw is None:
        if commit:
            check_roles(OrchestratorConfig(), repo_root, path, commit)
        return OrchestratorConfig(), None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise config_error(
            path,
            [
                f"line {line} is not valid UTF-8 (byte 0x{raw[err.start]:02x}). Fix: save "
                "the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
            ],
        ) from None
    if text.startswith("\ufeff"):
        raise config_error(
            path,
            [
                "starts with a byte-order mark, which TOML does not allow. Fix: save it as "
                "UTF-8 without BOM (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' orchestrator.toml`)"
            ],
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise config_error(
            path, [f"is not valid TOML: {err}. Fix: correct the syntax at that line"]
        ) from None
    try:
        config = OrchestratorConfig.model_validate(data, context={"file": True})
    except ValidationError as err:
        raise config_error(path, [describe_problem(e) for e in err.errors()]) from None
    if commit:
        _refuse_uncommitted(repo_root, path, commit, config.agents.dir)
    check_roles(config, repo_root, path, commit)
    binds = read_only_problems(config.sandbox.read_only, repo_root)
    if binds and config.sandbox.mode != "none":
        raise config_error(path, [*binds[:-1], f"{binds[-1]}. {READ_ONLY_FIX}"])
    if config.sandbox.mode == "none":
        logging.getLogger(__name__).warning("%s: %s", path, NONE_WARNING)
    return config, str(path)


def _refuse_uncommitted(
    repo_root: Path, path: Path, commit: str, agents_dir: str | None = None
) -> None:
    """The loop reads configuration from `commit`: the files on disk must be just that.

    An agent (or its commands) can write the checkout but not its commits, so
    what differs from the commit is refused rather than read, and a person's own
    edit is named so it can be committed.
    """
    rels = [CONFIG_FILE, AgentsConfig().dir, *([agents_dir] if agents_dir else [])]
    # A look, not a change: no refresh of git's index (the person may be using it).
    out = run_git(
        str(repo_root),
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--",
        *rels,
        env={"GIT_OPTIONAL_LOCKS": "0"},
    ).stdout
    changed = sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})
    # git lists a file it cannot read as changed: that one is not to be committed.
    unreadable = [rel for rel in changed if not _readable(repo_root / rel)]
    if unreadable:
        raise config_error(
            repo_root / unreadable[0],
            [
                "is unreadable (Permission denied). Fix: make it readable by the user running "
                f"the orchestrator (`chmod a+r {' '.join(unreadable)}`)"
            ],
        )
    if changed:
        raise config_error(
            path,
            [
                f"{', '.join(changed)} differ from the commit {commit[:12]} the loop starts "
                "from; configuration and roles are read only from that commit, where no agent "
                "can change them. Fix: commit them (`git add "
                f"{' '.join(changed)} && git commit`) or discard the changes "
                f"(`git checkout -- {' '.join(changed)}`, delete new files), then start again"
            ],
        )


def _readable(path: Path) -> bool:
    try:
        if path.is_file():
            path.open("rb").close()
    except PermissionError:
        return False
    except OSError:
        pass  # gone, or a directory: git's own listing says what it is
    return True


def check_roles(
    config: OrchestratorConfig, repo_root: Path, path: Path, commit: str | None = None
) -> None:
    """Reviewers must be review roles that exist: built-in or a file in `[agents] dir`."""
    from activities.agents.roles import load_roles

    roles = load_roles(repo_root, config.agents.dir, commit)
    reviewers = sorted(n for n, r in roles.items() if r.kind in (None, "review"))
    where = f"{config.agents.dir}/<name>.md"
    problems = []
    for loop in ("design", "code"):
        for name in getattr(config.reviewers, loop):
            role = roles.get(name)
            if role is None:
                problems.append(
                    f'[reviewers] {loop} names the unknown role "{name}". Fix: use one of the '
                    f"known reviewer roles ({', '.join(reviewers)}) or add {where} (front matter "
                    "with name and description, then the prompt)"
                )
            elif role.kind not in (None, "review"):
                problems.append(
                    f'[reviewers] {loop} names "{name}" ({role.source}), a role of kind '
                    f"{role.kind!r} that cannot review. Fix: use one of the reviewer roles "
                    f"({', '.join(reviewers)})"
                )
    for name in config.models.roles:
        if name not in roles:
            problems.append(
                f"[models.roles] {name} is not a known role. Fix: use one of "
                f"{', '.join(sorted(roles))}, or add {where}"
            )
    problems += model_problems(config, roles.values())
    if problems:
        raise config_error(path, problems)


def model_problems(config: OrchestratorConfig, roles: Iterable[Role]) -> list[str]:
    """Every model name the configuration and the role files give, checked (see model_names)."""
    declared = [*config.prices, *config.models.context_windows]
    named = [
        ("[models] default", config.models.default),
        *((f"[models.roles] {role}", model) for role, model in config.models.roles.items()),
        *((f"model in {r.source}", r.model) for r in roles if r.model and r.source != "built-in"),
    ]
    problems = []
    for where, model in named:
        if model is None:  # not set: the role file's model, else the table's default
            continue
        problem = model_problem(model, declared)
        if problem:
            problems.append(f'{where} = "{model}": {problem}')
    return problems


def repository_of(path: Path) -> Path | None:
    """The checkout holding `path` (git through `activities.git`: no repository program runs)."""
    try:
        return Path(repo_root_of(str(path)))
    except GitInputError:
        return None


def resolve_project(design_dir: str, build: BuildChecks | None = None) -> ProjectContext:
    """Resolve the design directory, its git repository and the config, or explain what is
    wrong; `build`: also what a build needs (its remote, base branch and forge)."""
    path = design_path(design_dir)
    if not path.is_dir():
        raise bad_input(
            f"{design_dir}: design directory not found. Fix: pass the path of a directory "
            "holding overview.md (e.g. design-docs/active/<feature>)",
            "PlanError",
        )
    found = repository_of(path)
    if found is None:
        raise not_a_repository(path)
    root = found
    elsewhere = linked_elsewhere(design_dir, path, root)
    if elsewhere is not None:
        raise elsewhere
    branch = current_branch(str(root)) or "HEAD"
    start = head_commit(str(root)) or None
    config, config_path = read_config(root, start)
    ctx = ProjectContext(
        repo_root=str(root),
        design_dir=str(path),
        design_rel=str(path.relative_to(root)) if path.is_relative_to(root) else str(path),
        feature=path.name,
        branch=branch,
        config=config,
        config_path=config_path,
        start_commit=start,
    )
    check_start(ctx, build)
    return ctx


@activity.defn(name="project.resolve")
async def resolve_project_activity(request: ConfigRequest) -> ProjectContext:
    """The project, and whether the server takes the loops' search attributes: recorded
    with it, so every replay of the loop upserts exactly as its first run did."""
    ctx = await asyncio.to_thread(resolve_project, request.design_dir, request.build)
    listed = await search_attributes.registered(activity.client())
    return ctx.model_copy(update={"search_attributes": listed})


ACTIVITIES = [resolve_project_activity]
