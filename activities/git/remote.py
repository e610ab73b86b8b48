"""How a git command talks to a remote: who gets the token, which transport
program runs, and what a refusal means.

Commands that talk to a remote (fetch, ls-remote, push) go through
`run_remote`: for an HTTPS remote on an allowed host (github.com, the GitHub
API's host, `[forge] token_hosts`) git gets GITHUB_TOKEN from a credential
helper given on that one command line, scoped to that host. The helper reads the
token from the git process's environment, so the token is never in a URL, a
config file, an argument list or a message. A remote's failure is sorted into
refused credentials or a missing repository (a person fixes those: stop, with
the fix) and everything else (retry).
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from activities.git.command import TOKEN_ENV, GitError, GitInputError, redact, run_git
from activities.git.hygiene import repository_overrides
from activities.git.queries import remote_url
from contracts.git import GITHUB_GIT_HOST, git_host_of_api_url

NETWORK_TIMEOUT = 300.0
API_URL_ENV = "GITHUB_API_URL"

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
