"""Blocking git helpers behind the git activities.

Every git process is spawned here, with an environment stripped of the
worker's secrets: hooks (post-checkout, commit-msg, ...) and credential
helpers are repository code, and must never see ANTHROPIC_API_KEY or
GITHUB_TOKEN. GitPython's executor always starts from the full `os.environ`
and can only add variables, so commands go through `subprocess` directly.

Commands that talk to a remote (fetch, ls-remote, push) go through
`run_remote`: for an HTTPS remote on an allowed host (github.com, the
GitHub API's host, `[forge] token_hosts`) git gets GITHUB_TOKEN from a
credential helper given on that one command line, scoped to that host. The
helper reads the token from the git process's environment, so the token is
never in a URL, a config file, an argument list or a message.

Bad input raises `GitInputError` (the activities turn it into a
non-retryable ApplicationError); a failing command raises `GitError`
(retryable: a lock file, a full disk or a flaky remote may go away).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from contracts.git import (
    GITHUB_GIT_HOST,
    ORCHESTRATOR_AUTHOR_EMAIL,
    ORCHESTRATOR_AUTHOR_NAME,
    WORKTREES_DIR,
    PushResult,
    ResetResult,
    WorktreeRequest,
    WorktreeResult,
    branch_for,
    git_host_of_api_url,
    subtask_slug_problem,
)

log = logging.getLogger(__name__)

LOCAL_TIMEOUT = 120.0
NETWORK_TIMEOUT = 300.0

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


# Failures that go away by themselves: a lock another git holds, a full disk or exhausted
# memory someone frees, a network or remote that comes back, a command that ran too long.
_TRANSIENT = re.compile(
    r"\.lock'?: File exists|unable to create '[^']*\.lock'|another git process|"
    r"cannot lock ref|no space left on device|disk quota exceeded|cannot allocate memory|"
    r"out of memory|resource temporarily unavailable|input/output error|timed out|"
    r"could not resolve host|connection (?:refused|reset|timed out)|early eof|rpc failed|"
    r"remote end hung up|could not read from remote repository|unable to access '",
    re.IGNORECASE,
)
# Failures caused by what is in the repository (an agent's or a person's files): the same
# content fails the same way on every retry.
_CONTENT = re.compile(
    r"\.gitmodules|invalid value for 'submodule\.|invalid path '|beyond a symbolic link|"
    r"unsupported file type|unable to index file|appears as both a file and as a directory|"
    r"does not have a commit checked out|embedded git repository|is a directory - add files",
    re.IGNORECASE,
)


class GitError(Exception):
    """A git command failed; retryable unless the caller knows better."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = redact((stderr or stdout).strip())
        shown = self.argv
        if shown[: len(_PREFIX)] == _PREFIX:  # the same on every command: it hides what failed
            shown = ["git", *(a for a in shown[len(_PREFIX) :] if a != _NO_SUBMODULES)]
        command = redact(" ".join(shown))
        super().__init__(f"`{command}` failed (exit {returncode}): {detail}")

    @property
    def transient(self) -> bool:
        """Likely to pass on a later attempt: a lock, a full disk, the network, a timeout."""
        return self.returncode == -1 or bool(_TRANSIENT.search(f"{self.stderr}\n{self.stdout}"))

    @property
    def content_caused(self) -> bool:
        """Caused by the repository's content: the same files fail the same way again."""
        return not self.transient and bool(_CONTENT.search(f"{self.stderr}\n{self.stdout}"))


class GitInputError(Exception):
    """The request cannot succeed as given; retrying will not help."""

    def __init__(self, message: str, type_: str) -> None:
        super().__init__(message)
        self.type = type_


_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


TOKEN_ENV = "GITHUB_TOKEN"
API_URL_ENV = "GITHUB_API_URL"


def redact(text: str) -> str:
    """Drop credentials from messages: URL user info (https://user:token@host) and the token."""
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if len(token) >= 4:
        text = text.replace(token, "***")
    return text


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


# --- running nothing a repository configures ---------------------------------
#
# Hooks, fsmonitor, filters, merge and diff drivers, signature programs and the
# transport commands are programs a repository's config names. The shared .git
# of a checkout is within an agent's reach (`git rev-parse --git-common-dir`),
# so the orchestrator's own git runs none of them: fixed settings switch off
# what can be switched off for good, and every program-valued key set in the
# repository's own config (local or worktree scope, includes followed) is
# overridden on each call with the worker's own value (system or global config)
# or a harmless one. The overrides travel in GIT_CONFIG_COUNT/KEY/VALUE, which
# take any key as it is, and which git ranks above every config file.

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
    env["GIT_LITERAL_PATHSPECS"] = "1"
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


def git_env(
    cwd: str, extra: Mapping[str, str] | None = None, args: Sequence[str] = ()
) -> dict[str, str]:
    """The environment of one git command (`args`) in `cwd`: no secrets, no repository
    programs, no look into a submodule."""
    env = _base_env(extra)
    overrides = repository_overrides(cwd)
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


def run_git(
    cwd: str,
    *args: str,
    check: bool = True,
    timeout: float = LOCAL_TIMEOUT,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `git args...` in `cwd`: sanitized environment, no program the repository names.

    `input` goes to the command's stdin (path lists: never an argument list that grows
    with the number of files)."""
    argv = git_argv(*args)
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=git_env(cwd, env, args),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(argv, -1, "", f"timed out after {timeout:.0f}s") from exc
    except FileNotFoundError as exc:
        if not os.path.isdir(cwd):
            raise GitInputError(
                f"directory {cwd} does not exist; pass an existing repository path",
                "NotAGitRepository",
            ) from exc
        raise GitInputError(
            "the `git` executable is not on PATH; install git on the worker host", "GitNotInstalled"
        ) from exc
    if check and proc.returncode != 0:
        raise GitError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def git_bytes(cwd: str, *args: str, timeout: float = LOCAL_TIMEOUT) -> bytes | None:
    """Raw stdout of a git command (file contents as committed); None when it fails."""
    argv = git_argv(*args)
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=git_env(cwd, None, args),
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(argv, -1, "", f"timed out after {timeout:.0f}s") from exc
    return proc.stdout if proc.returncode == 0 else None


def committed_files(top: str, commit: str, folder: str) -> list[str]:
    """Regular files directly in `folder` at `commit` (paths from the top; no symlinks)."""
    out = git_bytes(top, "ls-tree", "-z", "--full-tree", commit, "--", folder.rstrip("/") + "/")
    files: list[str] = []
    for entry in (out or b"").decode("utf-8", errors="surrogateescape").split("\0"):
        meta, _, path = entry.partition("\t")
        mode = meta.split(" ", 1)[0]
        if path and mode in ("100644", "100755"):
            files.append(path)
    return sorted(files)


def git_out(
    cwd: str, *args: str, timeout: float = LOCAL_TIMEOUT, env: Mapping[str, str] | None = None
) -> str:
    """Stdout of a git command that must succeed, stripped."""
    return run_git(cwd, *args, timeout=timeout, env=env).stdout.strip()


# --- repository facts -------------------------------------------------------


def repo_root_of(path: str) -> str:
    """Top directory of the checkout (main or linked worktree) that contains `path`."""
    start = path if os.path.isdir(path) else os.path.dirname(path) or "."
    if not os.path.isdir(start):
        raise GitInputError(
            f"{path} does not exist; pass a directory inside a git repository", "NotAGitRepository"
        )
    proc = run_git(start, "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise GitInputError(
            f"{path} is not inside a git repository (git: {proc.stderr.strip()}); "
            "run `git init` there or pass the repository's path",
            "NotAGitRepository",
        )
    return os.path.realpath(proc.stdout.strip())


def head_commit(path: str) -> str:
    """The commit checked out at `path` ('' in a repository without commits)."""
    proc = run_git(path, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def current_branch(path: str) -> str:
    """Short name of the checked-out branch ('' when HEAD is detached)."""
    proc = run_git(path, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def remote_url(path: str, remote: str = "origin") -> str | None:
    """The remote's URL as configured (before `insteadOf` rewriting: it names the repository)."""
    proc = run_git(path, "config", "--get", f"remote.{remote}.url", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def has_remote(path: str, remote: str) -> bool:
    return remote in run_git(path, "remote").stdout.split()


def resolve_commit(path: str, rev: str) -> str | None:
    proc = run_git(path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def local_branch_sha(path: str, branch: str) -> str | None:
    return resolve_commit(path, f"refs/heads/{branch}")


def is_ancestor(path: str, older: str, newer: str) -> bool:
    return run_git(path, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def common_git_dir(path: str) -> str:
    """The repository's shared .git directory (the same from every worktree)."""
    out = git_out(path, "rev-parse", "--git-common-dir")
    return os.path.realpath(os.path.join(path, out))


def main_checkout(path: str) -> str:
    """The main checkout of the repository holding `path` (a worktree's lies above it)."""
    common = common_git_dir(path)
    if os.path.basename(common) == ".git":
        return os.path.dirname(common)
    return repo_root_of(path)  # a separate git directory: the checkout itself


# Configuration the orchestrator reads and no agent may change (relative to a checkout's top).
PROTECTED_PATHS = (".orchestrator", "orchestrator.toml")


def is_protected(rel: str, extra: Iterable[str] = ()) -> bool:
    """True when `rel` (relative to the checkout top) is configuration agents may not change."""
    parts = _parts(rel)
    for protected in (*PROTECTED_PATHS, *extra):
        prefix = _parts(protected)
        if prefix and parts[: len(prefix)] == prefix:
            return True
    return False


def _parts(rel: str) -> list[str]:
    return [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]


def ensure_excluded(repo_root: str, pattern: str = f"/{WORKTREES_DIR}/") -> None:
    """Keep worktrees out of `git status` without touching the tracked .gitignore."""
    info = os.path.join(common_git_dir(repo_root), "info")
    exclude = os.path.join(info, "exclude")
    os.makedirs(info, exist_ok=True)
    try:
        with open(exclude, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    wanted = {pattern, pattern.lstrip("/"), pattern.lstrip("/").rstrip("/")}
    if any(line.strip() in wanted for line in text.splitlines()):
        return
    sep = "" if not text or text.endswith("\n") else "\n"
    with open(exclude, "a", encoding="utf-8") as fh:
        fh.write(f"{sep}{pattern}\n")


# --- remote authentication --------------------------------------------------

# The helper prints the token from its own environment: argv holds only `$GITHUB_TOKEN`.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get && echo username=x-access-token && '
    f'echo "password=${TOKEN_ENV}"; }}; f'
)


def default_token_hosts() -> list[str]:
    """github.com and the host of GITHUB_API_URL from the worker's environment."""
    hosts = {GITHUB_GIT_HOST}
    api_host = git_host_of_api_url(os.environ.get(API_URL_ENV))
    if api_host:
        hosts.add(api_host)
    return sorted(hosts)


def _remote_urls(path: str, remote: str) -> list[str]:
    """Effective fetch and push URLs of `remote` (insteadOf applied); a URL stands for itself."""
    urls: list[str] = []
    for extra in ((), ("--push",)):
        proc = run_git(path, "remote", "get-url", *extra, "--all", remote, check=False)
        if proc.returncode != 0:
            return [remote]
        urls.extend(line.strip() for line in proc.stdout.splitlines() if line.strip())
    return list(dict.fromkeys(urls))


def _https_origin(url: str) -> tuple[str, str] | None:
    """(`https://host[:port]`, host) of an HTTPS URL, without user info; None otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    host = parts.hostname.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    return (f"https://{host}" + (f":{port}" if port else ""), host)


@dataclass(frozen=True)
class RemoteAuth:
    """How one remote command authenticates: extra `-c` options and environment."""

    remote: str
    config: tuple[str, ...]
    env: dict[str, str]
    # HTTPS hosts of the remote, and those of them that get the token.
    https_hosts: tuple[str, ...] = ()
    token_hosts: tuple[str, ...] = ()
    token_set: bool = False
    # Some of the remote's URLs are not HTTPS (ssh, a path): no token for any of them.
    mixed: bool = False

    def advice(self) -> str:
        """What to configure after the remote refused us."""
        if self.https_hosts and self.mixed:
            return (
                f"remote {self.remote!r} mixes HTTPS and SSH/path URLs (url and pushurl), so "
                f"{TOKEN_ENV} is not offered; make all of its URLs HTTPS, or all SSH with a key"
            )
        if not self.https_hosts:
            return (
                "give the worker an SSH key the remote accepts (ssh-agent via SSH_AUTH_SOCK, or "
                "~/.ssh), or use an HTTPS remote with GITHUB_TOKEN set"
            )
        outside = [h for h in self.https_hosts if h not in self.token_hosts]
        if outside:
            return (
                f"GITHUB_TOKEN is offered only to github.com, the host of `[forge] api_url` and "
                f"hosts in `[forge] token_hosts`; add {', '.join(outside)} to `[forge] "
                "token_hosts` in orchestrator.toml (and set GITHUB_TOKEN), or use an SSH remote"
            )
        if not self.token_set:
            return (
                f"set {TOKEN_ENV} in the worker's environment to a token with push (contents: "
                "write) rights on the repository and restart the worker, or use an SSH remote"
            )
        return (
            f"the remote refused {TOKEN_ENV}: set it to a valid, unexpired token with push "
            "(contents: write) rights on this repository and restart the worker, or use an "
            "SSH remote"
        )


def remote_auth(path: str, remote: str, token_hosts: Iterable[str] | None = None) -> RemoteAuth:
    """Credential options for commands that talk to `remote` (a remote name or a URL)."""
    allowed = set(default_token_hosts())
    allowed.update(h.strip().lower() for h in token_hosts or () if h.strip())
    token = os.environ.get(TOKEN_ENV, "").strip()
    # An empty helper first: no configured helper (repository code) is asked or told anything.
    config: list[str] = ["-c", "credential.helper=", "-c", "core.askPass="]
    env: dict[str, str] = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
    https: dict[str, str] = {}
    urls = _remote_urls(path, remote)
    for url in urls:
        origin = _https_origin(url)
        if origin:
            https.setdefault(origin[0], origin[1])
    given = sorted({host for host in https.values() if host in allowed})
    # A remote that also fetches or pushes over ssh or a path would run programs the
    # repository configures (core.sshCommand, remote.*.receivepack): no token near those.
    only_https = all(_https_origin(url) for url in urls)
    if token and given and only_https:
        for prefix, host in sorted(https.items()):
            if host in allowed:
                # Scoped to this scheme, host and port: a redirect elsewhere gets nothing.
                config += ["-c", f"credential.{prefix}.helper={CREDENTIAL_HELPER}"]
        # Only https may carry the token (no insteadOf rewrite to ext::, file:// ...).
        env.update({TOKEN_ENV: token, "GIT_ALLOW_PROTOCOL": "https"})
    return RemoteAuth(
        remote=remote,
        config=tuple(config),
        env=env,
        https_hosts=tuple(sorted(set(https.values()))),
        token_hosts=tuple(given),
        token_set=bool(token),
        mixed=bool(https) and not only_https,
    )


def run_remote(
    path: str, auth: RemoteAuth, *args: str, timeout: float = NETWORK_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a git command that talks to a remote, authenticated as `auth` says; never checks."""
    command, *rest = args
    program = {"push": "receivepack", "fetch": "uploadpack", "ls-remote": "uploadpack"}.get(command)
    if program:
        # The first remote.<name>.receivepack/uploadpack git reads wins, so no later config
        # can undo the repository's: the command-line option can.
        chosen = dict(repository_overrides(path)).get(f"remote.{auth.remote}.{program}")
        if chosen is not None:
            option = "--receive-pack" if program == "receivepack" else "--upload-pack"
            rest = [f"{option}={chosen}", *rest]
    return run_git(path, *auth.config, command, *rest, check=False, timeout=timeout, env=auth.env)


_AUTH = (
    "authentication failed",
    "permission denied",
    "could not read username",
    "could not read password",
    "the requested url returned error: 403",
    "the requested url returned error: 401",
    "invalid username or password",
    "terminal prompts disabled",
)
_NO_REPO = re.compile(
    r"does not appear to be a git repository|repository not found|repository '[^']*' not found"
    r"|the requested url returned error: 404"
)


def _is_local_path(url: str) -> bool:
    return url.startswith(("/", "./", "../", "file:")) or (
        "://" not in url and ":" not in url.split("/", 1)[0]
    )


def remote_failure(
    path: str, auth: RemoteAuth, doing: str, proc: subprocess.CompletedProcess[str]
) -> GitInputError | GitError:
    """Why a remote command failed: refused credentials or no repository stop; the rest retries."""
    text = f"{proc.stdout}\n{proc.stderr}".lower()
    detail = redact(proc.stderr.strip() or proc.stdout.strip())
    shown = redact(remote_url(path, auth.remote) or auth.remote)
    if any(s in text for s in _AUTH):
        return GitInputError(
            f"{doing}: remote {auth.remote!r} ({shown}) refused the credentials "
            f"(git: {detail}); {auth.advice()}",
            "GitAuthFailed",
        )
    # A local path that vanished may be a disk that comes back: retry those.
    if _NO_REPO.search(text) and not _is_local_path(remote_url(path, auth.remote) or auth.remote):
        return GitInputError(
            f"{doing}: remote {auth.remote!r} ({shown}) is not a reachable repository "
            f"(git: {detail}); fix the remote URL (`git remote set-url {auth.remote} <url>`), "
            "create the repository, or, if it is private, make sure the token or SSH key can "
            f"see it ({auth.advice()})",
            "RemoteNotFound",
        )
    return GitError(["git", *doing.split()], proc.returncode, proc.stdout, proc.stderr)


# --- remotes ----------------------------------------------------------------

_MISSING_REMOTE_REF = ("couldn't find remote ref", "could not find remote ref")


def fetch_branch(
    path: str, remote: str, branch: str, token_hosts: Iterable[str] | None = None
) -> str | None:
    """Fetch `remote`'s `branch` into `refs/remotes/<remote>/<branch>`; None if it has none."""
    tracking = f"refs/remotes/{remote}/{branch}"
    auth = remote_auth(path, remote, token_hosts)
    proc = run_remote(
        path, auth, "fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}"
    )
    if proc.returncode != 0:
        if any(s in proc.stderr.lower() for s in _MISSING_REMOTE_REF):
            # The remote dropped the branch: forget our stale copy of it as well.
            run_git(path, "update-ref", "-d", tracking, check=False)
            return None
        raise remote_failure(path, auth, f"fetch {remote} {branch}", proc)
    return resolve_commit(path, tracking)


def remote_branch_sha(
    path: str, remote: str, branch: str, token_hosts: Iterable[str] | None = None
) -> str | None:
    """What the remote has for `branch` right now (asks the remote, no local refs)."""
    auth = remote_auth(path, remote, token_hosts)
    proc = run_remote(path, auth, "ls-remote", "--heads", remote, f"refs/heads/{branch}")
    if proc.returncode != 0:
        raise remote_failure(path, auth, f"ls-remote {remote} {branch}", proc)
    for line in proc.stdout.strip().splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None


def resolve_branch(
    path: str,
    name: str,
    remote: str | None,
    *,
    fetch: bool,
    token_hosts: Iterable[str] | None = None,
) -> str | None:
    """Commit for a branch name: the local branch, or the remote's when it is strictly newer.

    A dependency built on another host exists here only as a pushed branch;
    one built here may not be pushed yet. Falls back to any revision (a tag,
    a sha) so a base like `v1.2` works too.
    """
    local = local_branch_sha(path, name)
    tracked = None
    if remote:
        if fetch:
            try:
                tracked = fetch_branch(path, remote, name, token_hosts)
            except GitError:
                if local is None:
                    raise  # nothing to fall back on: let Temporal retry the fetch
                log.warning("cannot fetch %s from %s; using the local branch", name, remote)
        tracked = tracked or resolve_commit(path, f"refs/remotes/{remote}/{name}")
    if local and tracked and local != tracked and is_ancestor(path, local, tracked):
        return tracked
    return local or tracked or resolve_commit(path, name)


# --- worktrees --------------------------------------------------------------


@dataclass(frozen=True)
class WorktreeEntry:
    path: str
    head: str
    branch: str | None  # full ref, e.g. refs/heads/feat/x; None when detached


def list_worktrees(repo_root: str) -> list[WorktreeEntry]:
    out = git_out(repo_root, "worktree", "list", "--porcelain")
    entries: list[WorktreeEntry] = []
    for block in out.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" in fields:
            entries.append(
                WorktreeEntry(
                    path=os.path.realpath(fields["worktree"]),
                    head=fields.get("HEAD", ""),
                    branch=fields.get("branch"),
                )
            )
    return entries


def worktree_path(repo_root: str, subtask: str) -> str:
    return os.path.join(repo_root, WORKTREES_DIR, subtask)


def _check_slug(subtask: str) -> None:
    problem = subtask_slug_problem(subtask)
    if problem:
        raise GitInputError(
            f"{problem}; rename the subplan/subtask so its name is a valid slug",
            "InvalidSubtaskName",
        )


def _remove_worktree(repo_root: str, path: str) -> None:
    run_git(repo_root, "worktree", "remove", "--force", "--force", path, check=False)
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    run_git(repo_root, "worktree", "prune")


def _own_work(path: str, branch: str, bases: Iterable[str], remote: str | None) -> bool:
    """Non-merge commits on `branch` that neither the base nor any dependency has."""
    excludes: list[str] = []
    for name in bases:
        refs = [f"refs/heads/{name}", *([f"refs/remotes/{remote}/{name}"] if remote else [])]
        found = [ref for ref in refs if resolve_commit(path, ref)]
        if not found:
            sha = resolve_commit(path, name)  # a tag or a commit id as base
            found = [sha] if sha else []
        excludes.extend(found)
    count = git_out(
        path, "rev-list", "--count", "--no-merges", f"refs/heads/{branch}", "--not", *excludes
    )
    return int(count or "0") > 0


def conflicted_files(path: str) -> list[str]:
    out = run_git(path, "diff", "--name-only", "--diff-filter=U", check=False).stdout
    return sorted({line for line in out.splitlines() if line})


def _add_worktree(repo_root: str, *args: str) -> None:
    proc = run_git(repo_root, "worktree", "add", "--quiet", *args, check=False)
    if proc.returncode == 0:
        return
    err = proc.stderr.lower()
    if "already checked out" in err or "is already used by worktree" in err:
        raise GitInputError(
            f"cannot add worktree: {proc.stderr.strip()}; switch that checkout to another branch "
            "(git switch main) so the subtask's worktree can use it",
            "BranchCheckedOutElsewhere",
        )
    raise GitError(["git", "worktree", "add", *args], proc.returncode, proc.stdout, proc.stderr)


def ensure_worktree(req: WorktreeRequest) -> WorktreeResult:
    """Create or reuse the subtask's worktree; see contracts.git.WorktreeRequest."""
    _check_slug(req.subtask)
    root = repo_root_of(req.repo_root)
    branch = req.branch or branch_for(req.subtask)
    path = worktree_path(root, req.subtask)
    remote = req.remote if req.remote and has_remote(root, req.remote) else None
    deps = sorted({d for d in req.dependency_branches if d and d != branch})
    bases = [req.base_branch, *deps]

    ensure_excluded(root)
    # A worktree whose directory vanished (lost disk, rm -rf) must not block re-creating it.
    run_git(root, "worktree", "prune")

    if _reusable(root, path, branch):
        return WorktreeResult(
            path=path,
            branch=branch,
            head=head_commit(path),
            created=False,
            has_own_work=_own_work(root, branch, bases, remote),
        )
    os.makedirs(os.path.dirname(path), exist_ok=True)

    if local_branch_sha(root, branch):
        _add_worktree(root, path, branch)
    elif remote and fetch_branch(root, remote, branch, req.token_hosts):
        # Pushed before, from this host or one that is gone: continue from that work.
        _add_worktree(root, "--track", "-b", branch, path, f"refs/remotes/{remote}/{branch}")
    else:
        conflict = _new_branch(root, path, branch, req, deps, remote)
        if conflict is not None:
            return conflict
    return WorktreeResult(
        path=path,
        branch=branch,
        head=head_commit(path),
        created=True,
        has_own_work=_own_work(root, branch, bases, remote),
    )


def _reusable(root: str, path: str, branch: str) -> bool:
    """True if `path` is already the branch's worktree; clears harmless leftovers."""
    existing = next((w for w in list_worktrees(root) if w.path == os.path.realpath(path)), None)
    if existing is not None:
        if existing.branch == f"refs/heads/{branch}":
            return True
        if existing.branch is None and local_branch_sha(root, branch) is None:
            # Left detached by an interrupted dependency merge: nothing of value, start over.
            _remove_worktree(root, path)
            return False
        raise GitInputError(
            f"worktree {path} is on {existing.branch or 'a detached HEAD'}, expected "
            f"{branch}; run `git -C {path} switch {branch}` or remove the worktree",
            "WorktreeOnOtherBranch",
        )
    if os.path.lexists(path):
        if not (os.path.isdir(path) and not os.listdir(path)):
            raise GitInputError(
                f"{path} exists but is not a git worktree; move it away so the subtask's "
                "worktree can be created there",
                "WorktreePathOccupied",
            )
        os.rmdir(path)
    return False


def _resolve_or_refuse(
    root: str,
    name: str,
    remote: str | None,
    what: str,
    fix: str,
    token_hosts: Iterable[str] | None = None,
) -> str:
    sha = resolve_branch(root, name, remote, fetch=True, token_hosts=token_hosts)
    if sha is None:
        where = f"{root}" + (f" nor on remote {remote!r}" if remote else "")
        raise GitInputError(
            f"{what} {name!r} does not exist in {where}; {fix}",
            "UnknownBaseBranch" if what == "base branch" else "UnknownDependencyBranch",
        )
    return sha


def _merge_or_conflicts(path: str, dep: str, sha: str, branch: str) -> list[str] | None:
    """Merge `sha` (no-ff) into the checkout at `path`; on a conflict abort and name the files."""
    proc = run_git(
        path,
        *IDENTITY_CONFIG,
        "merge",
        "--no-ff",
        "--no-verify",
        "--no-edit",
        "-m",
        f"Merge branch '{dep}' into {branch}",
        sha,
        check=False,
        env=identity_env(),
    )
    if proc.returncode == 0:
        return None
    files = conflicted_files(path)
    run_git(path, "merge", "--abort", check=False)
    if not files:
        raise GitError(["git", "merge", dep], proc.returncode, proc.stdout, proc.stderr)
    return files


def _new_branch(
    root: str,
    path: str,
    branch: str,
    req: WorktreeRequest,
    deps: list[str],
    remote: str | None,
) -> WorktreeResult | None:
    """Base plus each dependency merged (no-ff); a conflict result instead of a branch.

    Merging happens in a detached worktree and the branch is named only at
    the end, so an interrupted or conflicting merge never leaves a half-built
    branch behind for a retry to mistake for finished work.
    """
    base_sha = _resolve_or_refuse(
        root,
        req.base_branch,
        remote,
        "base branch",
        "set the build's base to an existing branch",
        req.token_hosts,
    )
    dep_shas = [
        (
            dep,
            _resolve_or_refuse(
                root,
                dep,
                remote,
                "dependency branch",
                "build it (and push it) first",
                req.token_hosts,
            ),
        )
        for dep in deps
    ]
    _add_worktree(root, "--detach", path, base_sha)
    merged: list[str] = []
    for dep, sha in dep_shas:
        files = _merge_or_conflicts(path, dep, sha, branch)
        if files is not None:
            _remove_worktree(root, path)
            after = f" (after merging {', '.join(merged)})" if merged else ""
            return WorktreeResult(
                path=path,
                branch=branch,
                head=base_sha,
                created=False,
                has_own_work=False,
                conflict=(
                    f"merging dependency branch {dep} onto {req.base_branch}{after} for {branch} "
                    f"conflicts in: {', '.join(files)}; resolve it on the dependency branches "
                    f"(or merge them by hand into a branch named {branch}) and retry"
                ),
            )
        merged.append(dep)
    run_git(path, "switch", "--quiet", "-c", branch)
    return None


def merge_dependencies(
    worktree: str,
    branch: str,
    deps: list[str],
    remote: str | None,
    token_hosts: Iterable[str] | None = None,
) -> tuple[list[str], str | None]:
    """Bring dependency branches that moved (a spec change reopened them) into `branch`.

    Returns the branches merged and, on a conflict, what conflicts: the merge is
    aborted so the branch is left exactly as it was.
    """
    root = repo_root_of(worktree)
    merged: list[str] = []
    for dep in sorted(deps):
        sha = _resolve_or_refuse(
            root, dep, remote, "dependency branch", "build it (and push it) first", token_hosts
        )
        if is_ancestor(worktree, sha, "HEAD"):
            continue
        files = _merge_or_conflicts(worktree, dep, sha, branch)
        if files is not None:
            return merged, (
                f"merging the updated dependency branch {dep} into {branch} conflicts in: "
                f"{', '.join(files)}; merge it by hand on {branch} and continue, or skip"
            )
        merged.append(dep)
    return merged, None


# --- commits, pushes, resets ------------------------------------------------


_NON_FF = ("non-fast-forward", "fetch first", "updates were rejected")


def push_branch(
    path: str,
    branch: str,
    remote: str = "origin",
    force: bool = False,
    token_hosts: Iterable[str] | None = None,
) -> PushResult:
    """Push `branch` to `remote` unless it already has that commit."""
    if not has_remote(path, remote):
        raise GitInputError(
            f"remote {remote!r} is not configured in {repo_root_of(path)}; add it with "
            f"`git remote add {remote} <url>` (or use forge 'none' without a remote)",
            "NoSuchRemote",
        )
    local = local_branch_sha(path, branch)
    if local is None:
        raise GitInputError(
            f"branch {branch!r} does not exist in {path}; create the subtask's worktree first",
            "UnknownBranch",
        )
    token_hosts = list(token_hosts or ())
    current = remote_branch_sha(path, remote, branch, token_hosts)
    if current == local:
        return PushResult(pushed=False, remote_sha=local)
    args = ["push", "--porcelain", "--no-verify", "--set-upstream"]
    if force:
        args.append(f"--force-with-lease=refs/heads/{branch}:{current or ''}")
    args += [remote, f"refs/heads/{branch}:refs/heads/{branch}"]
    auth = remote_auth(path, remote, token_hosts)
    proc = run_remote(path, auth, *args)
    if proc.returncode != 0:
        text = f"{proc.stdout}\n{proc.stderr}".lower()
        if force and "stale info" in text:
            # The remote moved between our look and the push: look again on retry.
            raise GitError(["git", *args], proc.returncode, proc.stdout, proc.stderr)
        if any(s in text for s in _NON_FF) or "[rejected]" in text:
            raise GitInputError(
                f"push of {branch} to {remote} was rejected as non-fast-forward: the remote "
                f"branch has commits the local one lacks; fetch and merge them into {branch}, "
                "or push with force=True after an intended reset",
                "NonFastForward",
            )
        raise remote_failure(path, auth, f"push {remote} {branch}", proc)
    return PushResult(pushed=True, remote_sha=local)


def reset_branch(path: str, commit: str, clean: bool = True) -> ResetResult:
    """Hard-reset the checkout at `path` (and its branch) to `commit`."""
    target = resolve_commit(path, commit)
    if target is None:
        raise GitInputError(
            f"commit {commit!r} does not exist in {path}; pass a commit from this branch's history",
            "UnknownCommit",
        )
    previous = head_commit(path)
    run_git(path, "reset", "--quiet", "--hard", target)
    if clean:
        run_git(path, "clean", "-fdq")
    return ResetResult(head=head_commit(path), previous=previous)
