"""What every git process the orchestrator starts runs with, and what it never runs.

Hooks and credential helpers are repository code, so no git process sees the
worker's secrets (ANTHROPIC_API_KEY, GITHUB_TOKEN) or an inherited GIT_DIR that
would point it at another repository. Hooks, fsmonitor, filters, merge and diff
drivers, signature programs and the transport commands are programs a
repository's config names, and the shared .git of a checkout is within an
agent's reach (`git rev-parse --git-common-dir`), so the orchestrator's own git
runs none of them: fixed settings switch off what can be switched off for good,
and every program-valued key set in the repository's own config (local or
worktree scope, includes followed) is overridden on each call with the worker's
own value (system or global config) or a harmless one; the few commands that start
no program whatever the config says skip that read (`runs_no_program`). The overrides travel in
GIT_CONFIG_COUNT/KEY/VALUE, which take any key as it is, and which git ranks
above every config file. GitPython's executor always starts from the full
`os.environ` and can only add variables, so every command is built here and
run through `subprocess` (docs/architecture.md, "Why git runs through
subprocess").
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence

from contracts.git import ORCHESTRATOR_AUTHOR_EMAIL, ORCHESTRATOR_AUTHOR_NAME

# Every local git command, the config reads below included, gets this long.
LOCAL_TIMEOUT = 120.0

_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIAL|AUTH", re.IGNORECASE
)
# Inherited from a hook or a parent git, these would point our commands at another repository.
_GIT_LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_CEILING_DIRECTORIES",
    }
)
# Needed for ssh pushes; its name only looks like a secret.
_KEEP = frozenset({"SSH_AUTH_SOCK"})


def sanitized_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment without secrets or git location overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in _KEEP or not (_SECRET_NAME.search(k) or k in _GIT_LOCATION_VARS)
    }
    env.update(
        {
            "LC_ALL": "C",
            "LANGUAGE": "C",
            # Never wait for a password prompt nobody will answer.
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "true",
            "GIT_MERGE_AUTOEDIT": "no",
        }
    )
    if extra:
        env.update(extra)
    return env


def identity_env() -> dict[str, str]:
    """A fixed author/committer, so repositories without user config can commit."""
    return {
        "GIT_AUTHOR_NAME": ORCHESTRATOR_AUTHOR_NAME,
        "GIT_AUTHOR_EMAIL": ORCHESTRATOR_AUTHOR_EMAIL,
        "GIT_COMMITTER_NAME": ORCHESTRATOR_AUTHOR_NAME,
        "GIT_COMMITTER_EMAIL": ORCHESTRATOR_AUTHOR_EMAIL,
    }


IDENTITY_CONFIG = (
    "-c",
    f"user.name={ORCHESTRATOR_AUTHOR_NAME}",
    "-c",
    f"user.email={ORCHESTRATOR_AUTHOR_EMAIL}",
    "-c",
    "commit.gpgsign=false",
)


_FIXED_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "submodule.recurse=false",
    "-c",
    "log.showSignature=false",
    "-c",
    "merge.verifySignatures=false",
    "-c",
    "protocol.ext.allow=never",
    # A nested repository (a gitlink, or a directory holding its own .git) is another
    # repository with its own config: looking inside it (status, diff, add, the commit's
    # summary) runs that config's filters and fsmonitor, and reading its .gitmodules
    # entry dies on `update = !cmd`. The orchestrator never looks inside one.
    "-c",
    "diff.ignoreSubmodules=all",
    "-c",
    "status.submoduleSummary=false",
    "-c",
    "diff.submodule=short",
    "-c",
    "fetch.recurseSubmodules=false",
    "-c",
    "push.recurseSubmodules=no",
)
# Commands that compare trees or worktrees: `.gitmodules` may set `ignore = none` per
# submodule, which beats `diff.ignoreSubmodules`; only the option beats `.gitmodules`.
_DIFF_COMMANDS = frozenset(
    {"status", "diff", "diff-index", "diff-files", "diff-tree", "log", "show"}
)
_NO_SUBMODULES = "--ignore-submodules=all"
_PREFIX = [
    "git",
    "--no-pager",
    *_FIXED_CONFIG,
    "-c",
    "core.quotepath=off",
    "-c",
    "advice.detachedHead=false",
]
_TRUSTED_SCOPES = frozenset({"system", "global", "command"})
_TRANSPORT_DEFAULTS = {"uploadpack": "git-upload-pack", "receivepack": "git-receive-pack"}
# Protocols the orchestrator's remotes may use; `ext::` and remote helpers are refused.
DEFAULT_PROTOCOLS = "file:git:http:https:ssh"


def _harmless_value(key: str) -> str | None:
    """What a program-valued key becomes when only the repository set it; None: not one."""
    section, _, rest = key.partition(".")
    name = rest.rsplit(".", 1)[-1]
    sub = "." in rest
    if section == "filter" and sub and name in ("clean", "smudge", "process"):
        return ""  # no filter: content is stored as it is in the worktree
    if section == "merge" and sub and name == "driver":
        return "git merge-file --marker-size=%L %A %O %B"  # git's own text merge
    if section == "diff" and ((sub and name in ("textconv", "command")) or key == "diff.external"):
        return ""
    if section == "remote" and sub and name in _TRANSPORT_DEFAULTS:
        return _TRANSPORT_DEFAULTS[name]  # applied as --receive-pack/--upload-pack (run_remote)
    if key == "core.sshcommand":
        return os.environ.get("GIT_SSH") or "ssh"
    if key == "core.askpass":
        return ""
    if key == "core.alternaterefscommand":
        return "true"  # no alternate refs advertised: fetches send a little more, run nothing
    if key == "core.gitproxy":
        return "none"
    if (section == "gpg" and name == "program") or key == "gpg.ssh.defaultkeycommand":
        return "false"
    return None


def _read_config(cwd: str, *args: str) -> str | None:
    """`git config -z args...` (reading only: no program runs); None when it fails."""
    proc = subprocess.run(
        ["git", "--no-pager", *_FIXED_CONFIG, "config", "-z", *args],
        cwd=cwd,
        env=_base_env(),
        capture_output=True,
        timeout=LOCAL_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return proc.stdout.decode("utf-8", errors="surrogateescape") if proc.returncode == 0 else None


def repository_overrides(cwd: str) -> list[tuple[str, str]]:
    """Overrides for the program-valued keys the repository's own config sets in `cwd`."""
    listing = _read_config(cwd, "--show-scope", "--list")
    if listing is None:
        return []  # no repository here (or a broken config): the command itself will say so
    trusted: dict[str, str] = {}
    untrusted: dict[str, str] = {}
    fields = listing.split("\0")
    for scope, entry in zip(fields[0::2], fields[1::2], strict=False):
        key, _, value = entry.partition("\n")
        if _harmless_value(key) is None and not key.startswith("filter."):
            continue
        (trusted if scope in _TRUSTED_SCOPES else untrusted)[key] = value
    overrides: dict[str, str] = {}
    for key in untrusted:
        harmless = _harmless_value(key)
        if harmless is None:
            continue
        overrides[key] = trusted.get(key, harmless)
        if key.startswith("filter.") and key not in trusted:
            # Without its program a required filter would fail every checkout and commit.
            driver = key.rsplit(".", 1)[0]
            overrides[f"{driver}.required"] = trusted.get(f"{driver}.required", "false")
    return sorted(overrides.items())


def _base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = sanitized_env(extra)
    env.setdefault("GIT_ALLOW_PROTOCOL", DEFAULT_PROTOCOLS)
    env.update({"GIT_PAGER": "cat", "PAGER": "cat", "GIT_SEQUENCE_EDITOR": "true"})
    # Paths are names, never patterns: a file an agent calls `*` or `:(glob)**` means itself.
    # (Only a caller of ours may turn it off, for a command that takes no pathspec magic.)
    env["GIT_LITERAL_PATHSPECS"] = (extra or {}).get("GIT_LITERAL_PATHSPECS", "1")
    return env


# Porcelain that checks whether a gitlink's checkout is dirty when `.gitmodules` says
# `ignore = none` for it (a per-submodule setting that beats `diff.ignoreSubmodules`, and
# which only `submodule.<name>.ignore` in config beats in turn).
_CHECKS_SUBMODULES = frozenset(
    {
        "add",
        "checkout",
        "cherry-pick",
        "commit",
        "merge",
        "mv",
        "pull",
        "rebase",
        "reset",
        "restore",
        "revert",
        "rm",
        "stash",
        "switch",
        "worktree",
    }
)


def submodule_overrides(cwd: str) -> list[tuple[str, str]]:
    """`submodule.<name>.ignore=all` for every submodule `.gitmodules` names in `cwd` (the
    checkout's file and HEAD's), so no porcelain looks into one."""
    names: set[str] = set()
    sources = [["--blob", "HEAD:.gitmodules"]]
    if os.path.lexists(os.path.join(cwd, ".gitmodules")):
        sources.append(["--file", os.path.join(cwd, ".gitmodules")])
    for source in sources:
        for key in (_read_config(cwd, *source, "--name-only", "--list") or "").split("\0"):
            section, _, rest = key.partition(".")
            name = rest.rpartition(".")[0]
            if section.lower() == "submodule" and name:
                names.add(name)
    return [(f"submodule.{name}.ignore", "all") for name in sorted(names)]


# Commands that, with the fixed settings above (no hooks, no fsmonitor), start no program
# whatever the repository's config says: they read refs, trees and the config's plain values,
# and never touch the worktree's content (filters), compare it (diff drivers), merge (merge
# drivers), check a signature (gpg) or reach a remote (transport programs). Reading the
# repository's config before them (a git process of its own, about 2.4 ms of CPU; a build
# asks for half its git commands here) would find nothing to override. Kept by argument
# shape, not by name alone, where a form of the command does reach a program.
_RUNS_NO_PROGRAM = frozenset({"rev-parse", "merge-base", "symbolic-ref", "ls-tree"})
_REMOTE_READS = ((), ("get-url",))  # `remote show`, `update`, `prune` connect to it
_CONFIG_READS = frozenset({"--get", "--get-all", "--get-regexp"})


def runs_no_program(args: Sequence[str]) -> bool:
    """Whether `git args...` starts no program, whatever the repository configures."""
    i = _subcommand_index(args)
    command, rest = (args[i], tuple(args[i + 1 :])) if i < len(args) else ("", ())
    if command in _RUNS_NO_PROGRAM:
        return True
    if command == "remote":
        return rest[:1] in _REMOTE_READS
    return command == "config" and bool(rest) and rest[0] in _CONFIG_READS


def git_env(
    cwd: str, extra: Mapping[str, str] | None = None, args: Sequence[str] = ()
) -> dict[str, str]:
    """The environment of one git command (`args`) in `cwd`: no secrets, no repository
    programs, no look into a submodule."""
    env = _base_env(extra)
    overrides = [] if runs_no_program(args) else repository_overrides(cwd)
    if _subcommand(args) in _CHECKS_SUBMODULES:
        overrides += submodule_overrides(cwd)
    count = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
    for key, value in overrides:
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    if overrides:
        env["GIT_CONFIG_COUNT"] = str(count)
    if any(key == "core.gitproxy" for key, _ in overrides):
        # The first gitProxy that matches wins, so no later value undoes it: no git:// at all.
        allowed = env["GIT_ALLOW_PROTOCOL"].split(":")
        env["GIT_ALLOW_PROTOCOL"] = ":".join(p for p in allowed if p != "git")
    return env


def git_argv(*args: str) -> list[str]:
    """The full command line of `git args...`: fixed settings first, and every command that
    compares trees or worktrees told to ignore submodules outright."""
    args_list = list(args)
    i = _subcommand_index(args_list)
    if i < len(args_list) and args_list[i] in _DIFF_COMMANDS:
        args_list.insert(i + 1, _NO_SUBMODULES)
    return [*_PREFIX, *args_list]


def _subcommand_index(args: Sequence[str]) -> int:
    i = 0
    while i < len(args) - 1 and args[i] == "-c":
        i += 2  # per-call settings (identity, credentials) come before the subcommand
    return i


def _subcommand(args: Sequence[str]) -> str:
    i = _subcommand_index(args)
    return args[i] if i < len(args) else ""


def shown_argv(argv: Sequence[str]) -> list[str]:
    """`argv` as a person would type it: the fixed settings, the same on every command,
    hide what failed."""
    shown = list(argv)
    if shown[: len(_PREFIX)] == _PREFIX:
        shown = ["git", *(a for a in shown[len(_PREFIX) :] if a != _NO_SUBMODULES)]
    return shown
