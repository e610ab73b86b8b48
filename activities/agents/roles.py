"""Roles: who an agent is (prompt, model, tools) and what it hands back.

Built-in roles live as markdown files in `builtin_roles/`, in the same format a
repository uses to add or override roles (Claude Code agent files): YAML front
matter with `name`, `description`, optional `model`, `effort`, `tools` and `kind`,
then the prompt as the body. Repository files come from `settings.agents_dir`
(relative to the repository root of the workdir).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from activities.agents import models
from activities.agents.errors import non_retryable
from activities.agents.outputs import KINDS, OutputKind
from activities.agents.tools import ALL_TOOLS, COMMAND_TOOLS, READ_TOOLS
from activities.git.command import GitError, GitInputError, git_bytes
from activities.git.queries import committed_files, head_commit, main_checkout, resolve_commit
from contracts.agents import AgentSettings
from contracts.names import MAX_ROLE_NAME

DEFAULT_MODEL = models.DEFAULT_MODEL
MODEL_ENV = "ORCHESTRATOR_MODEL"  # a worker-wide default model, below [models] default
# Claude Code's short names (and dated ids) -> the model table's ids.
MODEL_ALIASES = {alias: m.id for m in models.MODELS for alias in m.aliases}
# How hard a role thinks when its file names no `effort` (adaptive thinking's effort
# parameter): builders, fixers and reviewers think hard; the short, formulaic kinds
# (drafting a subtask, answering from the code, naming a change's reach) do not.
KIND_EFFORT: dict[str, str] = {
    "review": "high",
    "edit": "high",
    "answer": "low",
    "draft": "low",
    "change": "low",
}
# Claude Code tool names map onto ours, so its agent files work as they are.
TOOL_ALIASES = {
    "read": "read_file",
    "write": "write_file",
    "edit": "edit_file",
    "multiedit": "edit_file",
    "glob": "list_files",
    "ls": "list_files",
    "grep": "search_files",
    "bash": "run_command",
}
# Claude Code tools we do not offer; listing them is not an error.
IGNORED_TOOLS = frozenset(
    {
        "webfetch",
        "websearch",
        "todowrite",
        "task",
        "notebookedit",
        "notebookread",
        "bashoutput",
        "killshell",
        "killbash",
        "exitplanmode",
        "slashcommand",
        "skill",
    }
)
# What a kind may use at most: only editors change files.
KIND_TOOLS: dict[str, frozenset[str]] = {
    "review": frozenset(READ_TOOLS + COMMAND_TOOLS),
    "edit": frozenset(ALL_TOOLS),
    "answer": frozenset(READ_TOOLS + COMMAND_TOOLS),
    "draft": frozenset(READ_TOOLS),
    "change": frozenset(READ_TOOLS),
}
# What a kind gets when its role names no tools.
DEFAULT_KIND_TOOLS: dict[str, tuple[str, ...]] = {
    "review": READ_TOOLS,
    "edit": ALL_TOOLS,
    "answer": READ_TOOLS,
    "draft": READ_TOOLS,
    "change": READ_TOOLS,
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)


class Role(BaseModel):
    # Frozen: parsed roles are shared (parse_role_file is cached).
    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    model: str | None = None
    effort: str | None = None  # None: the kind's (KIND_EFFORT)
    prompt: str
    tools: tuple[str, ...] | None = None  # None: the kind's defaults
    kind: OutputKind | None = None  # None: whatever the activity asks for
    source: str = "built-in"
    replaces: str | None = None  # the built-in role this file replaces, said explicitly


@dataclass(frozen=True)
class ResolvedRole:
    """A role ready to run as one kind of agent."""

    role: Role
    kind: OutputKind
    model: str
    tools: frozenset[str]
    effort: str = "high"


# Every agent call loads its roles: the same few files, parsed once per process (a failed
# parse is not cached: it raises again, with the same message).
@functools.lru_cache(maxsize=256)
def parse_role_file(text: str, source: str) -> Role:
    """A Role from an agent file; a malformed one is a non-retryable error naming the fix."""
    match = _FRONT.match(text.lstrip("\ufeff"))
    if not match:
        raise _bad(source, "it does not start with YAML front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise _bad(source, f"its front matter is not valid YAML ({_first_line(exc)})") from exc
    if not isinstance(meta, dict):
        raise _bad(source, "its front matter must be a mapping of `key: value` lines")
    name, description = meta.get("name"), meta.get("description")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad(source, "`name` is missing or not a plain name (letters, digits, '.', '_', '-')")
    if len(name) > MAX_ROLE_NAME:
        raise _bad(
            source,
            f"`name` is {len(name)} characters, more than {MAX_ROLE_NAME} (it becomes part of "
            "review and transcript file names)",
        )
    replaces = meta.get("replaces")
    if replaces is not None and not isinstance(replaces, str):
        raise _bad(source, "`replaces` must be the name of the built-in role it replaces")
    if not isinstance(description, str) or not description.strip():
        raise _bad(source, "`description` is missing; add one line saying what the role does")
    model = meta.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad(source, "`model` must be a model name such as claude-sonnet-5-5")
    effort = meta.get("effort")
    if effort is not None and effort not in models.EFFORTS:
        raise _bad(source, f"`effort` is {effort!r}; use one of {', '.join(models.EFFORTS)}")
    kind = meta.get("kind")
    if kind is not None and kind not in KINDS:
        raise _bad(source, f"`kind` is {kind!r}; use one of {', '.join(KINDS)}")
    prompt = match.group(2).strip()
    if not prompt:
        raise _bad(source, "the prompt (the text after the front matter) is empty")
    return Role(
        name=name,
        description=description.strip(),
        model=model,
        effort=effort,
        prompt=prompt,
        tools=_parse_tools(meta.get("tools"), source),
        kind=kind,
        source=source,
        replaces=replaces,
    )


def builtin_roles() -> dict[str, Role]:
    return dict(_builtin_roles())


@functools.cache
def _builtin_roles() -> tuple[tuple[str, Role], ...]:
    """The package's own role files: they do not change while the worker runs."""
    roles: dict[str, Role] = {}
    for entry in sorted(resources.files("activities.agents.builtin_roles").iterdir(), key=str):
        if entry.name.endswith(".md"):
            role = parse_role_file(entry.read_text(encoding="utf-8"), f"built-in {entry.name}")
            roles[role.name] = role
    return tuple(roles.items())


def repository_root(workdir: Path) -> Path:
    """The top of the git checkout (or worktree) holding workdir; workdir itself otherwise."""
    for candidate in (workdir, *workdir.parents):
        if (candidate / ".git").exists():
            return candidate
    return workdir


def trusted_commit(workdir: Path, commit: str | None) -> tuple[str, str] | None:
    """(main checkout, commit) the roles are read from; None outside a repository with commits.

    Never the working tree of a checkout an agent writes: a builder that writes
    `.orchestrator/agents/code-correctness.md` must not become its own reviewer.
    """
    try:
        top = main_checkout(str(workdir))
        if commit:
            sha = resolve_commit(top, commit)
            if sha is None:
                raise non_retryable(
                    f"the configuration commit {commit} does not exist in {top}; restart the "
                    "loop from the repository's current commit",
                    "UnknownConfigCommit",
                )
            return top, sha
        head = head_commit(top)
    except (GitError, GitInputError):
        return None
    return (top, head) if head else None


def role_files(workdir: Path, agents_dir: str, commit: str | None = None) -> list[tuple[str, str]]:
    """(source, text) of the repository's agent files: as committed, or on disk without git.

    A role file (or the folder) that is a symbolic link is refused: its prompt would
    come from wherever the link points, outside what the repository holds.
    """
    trusted = trusted_commit(workdir, commit)
    if trusted is None:  # no repository, or no commit yet: nothing an agent has written to
        folder = repository_root(workdir) / agents_dir
        for link in [folder, *(sorted(folder.glob("*.md")) if folder.is_dir() else [])]:
            if link.is_symlink():
                raise _linked(str(link), os.readlink(link))
        files = sorted(folder.glob("*.md")) if folder.is_dir() else []
        try:
            return [(str(f), f.read_text(encoding="utf-8")) for f in files]
        except OSError as err:
            raise non_retryable(
                f"agent file {err.filename} is unreadable ({err.strerror}). Fix: make it "
                f"readable by the user running the orchestrator (`chmod a+r {err.filename}`)",
                "RoleDefinitionError",
            ) from None
        except UnicodeDecodeError as err:
            raise _bad(str(folder), f"a file is not UTF-8 text (byte {err.start})") from None
    top, sha = trusted
    for path, target in committed_links(top, sha, os.path.normpath(agents_dir)):
        raise _linked(os.path.join(top, path), target, f" (as committed in {sha[:12]})")
    found: list[tuple[str, str]] = []
    for path in committed_files(top, sha, os.path.normpath(agents_dir)):
        if not path.endswith(".md"):
            continue
        source = f"{path} (as committed in {sha[:12]})"
        data = git_bytes(top, "cat-file", "blob", f"{sha}:{path}") or b""
        try:
            found.append((source, data.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise _bad(source, f"it is not UTF-8 text (byte {exc.start})") from None
    return found


def committed_links(top: str, sha: str, folder: str) -> list[tuple[str, str]]:
    """(path, target) of the symbolic links at `folder` or directly in it, at commit `sha`."""
    out = git_bytes(
        top, "ls-tree", "-z", "--full-tree", sha, "--", folder, folder.rstrip("/") + "/"
    )
    links = []
    for entry in (out or b"").decode("utf-8", errors="surrogateescape").split("\0"):
        meta, _, path = entry.partition("\t")
        if meta.startswith("120000 ") and (path == folder or path.endswith(".md")):
            blob = meta.split()[2]
            target = git_bytes(top, "cat-file", "blob", blob) or b""
            links.append((path, target.decode("utf-8", errors="replace")))
    return links


def _linked(path: str, target: str, where: str = "") -> Exception:
    return non_retryable(
        f"agent file {path}{where} is a symbolic link (to {target}): a role's prompt is read "
        "only from a file the repository itself holds. Fix: replace the link with the file "
        f'(`cp --remove-destination "$(readlink -f {path})" {path}`) and commit it',
        "RoleDefinitionError",
    )


def _replacing(override: Role, builtins: dict[str, Role]) -> None:
    """A file replaces a built-in role only when it says so (`replaces: <name>`): a file
    that merely happens to share the name would otherwise swap the builder, a
    reviewer or the writer without anyone noticing."""
    name, says = override.name, override.replaces
    if says is None and name in builtins:
        raise non_retryable(
            f"agent file {override.source}: `name: {name}` is the name of a built-in role. Fix: "
            f"to replace the built-in {name}, add `replaces: {name}` to its front matter; to "
            "add a role of your own, give it another name",
            "RoleDefinitionError",
        )
    if says is not None and (says != name or says not in builtins):
        wanted = (
            f"name it {says} too (`name: {says}`)"
            if says in builtins
            else f"name one of the built-in roles ({', '.join(sorted(builtins))}), or delete "
            "the line to add a role of your own"
        )
        raise non_retryable(
            f"agent file {override.source}: `replaces: {says}` with `name: {name}`. Fix: {wanted}",
            "RoleDefinitionError",
        )


def load_roles(workdir: Path, agents_dir: str, commit: str | None = None) -> dict[str, Role]:
    """Built-in roles overlaid with the repository's agent files (from `commit`, see above)."""
    roles = builtin_roles()
    builtins = dict(roles)
    for source, text in role_files(workdir, agents_dir, commit):
        override = parse_role_file(text, source)
        _replacing(override, builtins)
        base = roles.get(override.name)
        if base is not None:  # keep what the override does not say
            override = override.model_copy(
                update={
                    "model": override.model or base.model,
                    "effort": override.effort or base.effort,
                    "tools": override.tools if override.tools is not None else base.tools,
                    "kind": override.kind or base.kind,
                }
            )
        roles[override.name] = override
    return roles


def resolve_role(
    name: str, kind: OutputKind, workdir: Path, settings: AgentSettings
) -> ResolvedRole:
    """The role `name` as a `kind` agent: its model and the tools it may use."""
    roles = load_roles(workdir, settings.agents_dir, settings.config_commit)
    role = roles.get(name)
    if role is None:
        raise non_retryable(
            f"unknown agent role {name!r}; known roles: {', '.join(sorted(roles))}. "
            f"Add {settings.agents_dir}/{name}.md (YAML front matter with name and description, "
            "then the prompt) to define it.",
            "UnknownRole",
        )
    if role.kind is not None and role.kind != kind:
        raise non_retryable(
            f"role {name!r} ({role.source}) is a {role.kind!r} role and cannot act as {kind!r}; "
            f"choose another role or set `kind: {kind}` in its front matter",
            "RoleKindMismatch",
        )
    wanted = set(role.tools) if role.tools is not None else set(DEFAULT_KIND_TOOLS[kind])
    tools = frozenset(wanted & KIND_TOOLS[kind])
    return ResolvedRole(
        role=role,
        kind=kind,
        model=choose_model(role, settings),
        tools=tools,
        effort=role.effort or KIND_EFFORT[kind],
    )


def choose_model(role: Role, settings: AgentSettings) -> str:
    """The most specific choice wins: settings.model (`[models.roles] <role>`) > the role
    file's `model:` > settings.default_model (`[models] default`) > ORCHESTRATOR_MODEL >
    the built-in default. `inherit` (Claude Code's word) means "no choice here"."""
    for model in (settings.model, role.model, settings.default_model):
        if model and model != "inherit":
            return models.resolve_alias(model)
    return models.resolve_alias(os.environ.get(MODEL_ENV) or DEFAULT_MODEL)


def _parse_tools(raw: Any, source: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        items = [t.strip() for t in raw.split(",")]
    elif isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        items = [t.strip() for t in raw]
    else:
        raise _bad(source, "`tools` must be a list or a comma-separated string of tool names")
    tools: list[str] = []
    for item in filter(None, items):
        key = item.lower()
        if key in IGNORED_TOOLS or key.startswith("mcp__"):
            continue
        name = TOOL_ALIASES.get(key, key)
        if name not in ALL_TOOLS:
            raise _bad(
                source,
                f"unknown tool {item!r} in `tools`; use any of {', '.join(ALL_TOOLS)} "
                f"(or Claude Code's {', '.join(sorted({k.capitalize() for k in TOOL_ALIASES}))})",
            )
        if name not in tools:
            tools.append(name)
    return tuple(tools)


def _bad(source: str, problem: str) -> Exception:
    return non_retryable(
        f"agent file {source}: {problem}. Fix: write it as\n---\nname: my-reviewer\n"
        "description: what it does\nmodel: claude-sonnet-5-5   # optional\n"
        "effort: high   # optional: low, medium, high, xhigh, max\n"
        "tools: read_file, search_files   # optional\n---\n<the prompt>",
        "RoleDefinitionError",
    )


def _first_line(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    # +2: the mark counts from 0 inside the front matter, which starts after the opening '---'
    return f"{problem} at line {mark.line + 2}" if mark is not None else str(problem)
