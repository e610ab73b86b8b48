"""Running one git command, and what its failure means to a retry.

Every git process is spawned here (or, for the config reads that decide the
overrides, in `hygiene`), with the environment and settings `hygiene` builds.
Bad input raises `GitInputError` (the activities turn it into a non-retryable
ApplicationError); a failing command raises `GitError` (retryable: a lock file,
a full disk or a flaky remote may go away), which knows whether its failure is
transient or caused by the repository's content. No message carries a
credential: `redact` drops URL user info and the token.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence

from activities.git.hygiene import LOCAL_TIMEOUT, git_argv, git_env, shown_argv

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
        command = redact(" ".join(shown_argv(self.argv)))
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


def redact(text: str) -> str:
    """Drop credentials from messages: URL user info (https://user:token@host) and the token."""
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if len(token) >= 4:
        text = text.replace(token, "***")
    return text


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


def git_out(
    cwd: str, *args: str, timeout: float = LOCAL_TIMEOUT, env: Mapping[str, str] | None = None
) -> str:
    """Stdout of a git command that must succeed, stripped."""
    return run_git(cwd, *args, timeout=timeout, env=env).stdout.strip()
