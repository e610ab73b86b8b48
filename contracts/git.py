"""Inputs and results of the git activities (worktrees, commits, pushes).

Paths are absolute strings and results carry commit ids, never file contents,
so they stay small in workflow history.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Literal

from pydantic import BaseModel, Field

SUBTASK_SLUG = re.compile(r"^[0-9a-z][0-9a-z._-]*$")
BRANCH_PREFIX = "feat/"
WORKTREES_DIR = ".worktrees"
ORCHESTRATOR_AUTHOR_NAME = "Orchestrator"
ORCHESTRATOR_AUTHOR_EMAIL = "orchestrator@localhost"


def subtask_slug_problem(name: str) -> str | None:
    """Why `name` cannot be a subtask name (it becomes a branch and a path), or None."""
    if not name:
        return "the subtask name is empty"
    if ".." in name:
        return f"subtask name {name!r} contains '..'"
    if name.endswith((".", ".lock")):
        return f"subtask name {name!r} ends with '.' or '.lock', which git refuses in branch names"
    if not SUBTASK_SLUG.match(name):
        return (
            f"subtask name {name!r} is not a slug: use lowercase letters, digits, '.', '_' "
            "and '-', starting with a letter or digit (no '/', spaces or capitals)"
        )
    return None


_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def ref_name_problem(name: str) -> str | None:
    """Why git would refuse `name` as a branch or remote name (`git check-ref-format`), or None.

    A leading '-' is refused too: git would read the name as an option.
    """
    if not name:
        return "it is empty"
    if name.startswith("-"):
        return f"{name!r} starts with '-', which git reads as an option"
    if _REF_FORBIDDEN.search(name) or ".." in name or "@{" in name or "//" in name:
        return f"{name!r} holds a character git refuses in names (space, ~ ^ : ? * [ \\, '..')"
    if name.startswith("/") or name.endswith(("/", ".", ".lock")) or name == "@":
        return f"{name!r} starts or ends in a way git refuses ('/', '.', '.lock', '@')"
    if any(part.startswith(".") for part in name.split("/")):
        return f"{name!r} has a part starting with '.', which git refuses"
    return None


GITHUB_GIT_HOST = "github.com"
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$"
)


def host_name_problem(host: str) -> str | None:
    """Why `host` is not a bare host name (as `[forge] token_hosts` lists them), or None."""
    if not _HOSTNAME.match(host):
        return (
            f"{host!r} is not a host name: write it bare and lowercase, like `github.com` or "
            "`git.example.com` (no scheme, user, port or path)"
        )
    return None


def git_host_of_api_url(api_url: str | None) -> str | None:
    """The git host that goes with a GitHub API URL (api.github.com -> github.com)."""
    if not api_url:
        return None
    host = (urllib.parse.urlsplit(api_url.strip()).hostname or "").lower()
    if not host:
        return None
    if host == f"api.{GITHUB_GIT_HOST}":
        return GITHUB_GIT_HOST
    if host.startswith("api.") and host.endswith(".ghe.com"):
        return host.removeprefix("api.")  # GitHub Enterprise Cloud with data residency
    return host


def token_hosts_for(api_url: str | None, extra: list[str] | None = None) -> list[str]:
    """Hosts whose HTTPS remotes get GITHUB_TOKEN: github.com, the API's host, `extra`.

    Pure (no environment): workflows may call it to fill a request's `token_hosts`
    from `[forge] api_url` and `[forge] token_hosts`.
    """
    hosts = {GITHUB_GIT_HOST, *(h.strip().lower() for h in extra or [] if h.strip())}
    api_host = git_host_of_api_url(api_url)
    if api_host:
        hosts.add(api_host)
    return sorted(hosts)


def branch_for(subtask: str) -> str:
    """The branch a subtask is built on (`feat/<subtask>`, as the seeds name it)."""
    return f"{BRANCH_PREFIX}{subtask}"


class WorktreeRequest(BaseModel):
    """Make sure `<repo_root>/.worktrees/<subtask>` exists on branch `feat/<subtask>`."""

    repo_root: str
    subtask: str
    base_branch: str = "main"
    # The branch to use instead of `feat/<subtask>` (integration: `integration/<feature>`).
    branch: str | None = None
    # Branches whose work this subtask builds on; merged (no-ff, sorted) into a new branch.
    dependency_branches: list[str] = Field(default_factory=list)
    # Where a branch lost with its host can be fetched back from; None = local only.
    remote: str | None = "origin"
    # Hosts (besides github.com and GITHUB_API_URL's) whose HTTPS remotes get GITHUB_TOKEN:
    # pass token_hosts_for(cfg.forge.api_url, cfg.forge.token_hosts).
    token_hosts: list[str] = Field(default_factory=list)
    # A remote head a `!replay` archived: old work, not work to continue from.
    replaces: str | None = None
    # The branch must exist already, here or on the remote (the release continues the
    # integration branch, never starts one from the base): refused otherwise.
    existing_only: bool = False


class WorktreeResult(BaseModel):
    path: str
    branch: str
    head: str
    # True when this call added the worktree (a reused one reports False).
    created: bool
    # The branch has non-merge commits that neither the base nor any dependency has.
    has_own_work: bool
    # Set (and nothing created) when merging the dependencies conflicts.
    conflict: str | None = None


class CommitRequest(BaseModel):
    """Commit the changes in a worktree (all of them, or only `paths`)."""

    worktree: str
    message: str
    paths: list[str] | None = None


class CommitPathsRequest(BaseModel):
    """Commit given files (design artifacts) on the current branch of the main checkout."""

    repo_root: str
    paths: list[str]
    message: str


class OwnFilesRequest(BaseModel):
    """A folder of the main checkout a loop writes into must hold nothing uncommitted but
    the orchestrator's own records: the rest is a person's, never to be committed."""

    repo_root: str
    folder: str = Field(description="relative to repo_root, e.g. the design directory")


class CommitResult(BaseModel):
    # None when there was nothing to commit (e.g. a retried commit already happened).
    commit: str | None
    files: list[str] = Field(default_factory=list)
    head: str = ""


class PushRequest(BaseModel):
    """Push `branch` from a worktree or the main checkout (`path`) to `remote`."""

    path: str
    branch: str
    remote: str = "origin"
    # Replace the remote branch (with a lease on what we last saw), after a replay reset.
    force: bool = False
    # See WorktreeRequest.token_hosts.
    token_hosts: list[str] = Field(default_factory=list)
    # A remote head a `!replay` archived: overwritten (force-with-lease on exactly it).
    replaces: str | None = None


class PushResult(BaseModel):
    # False when the remote already had exactly this commit.
    pushed: bool
    remote_sha: str


class ResetRequest(BaseModel):
    """Move a worktree's branch (and files) back to `commit`, for replay."""

    worktree: str
    commit: str
    # Also delete untracked files (not ignored ones), so a replay starts from the commit alone.
    clean: bool = True


class ResetResult(BaseModel):
    head: str
    # The commit the branch was on before the reset (equal to head when it was a no-op).
    previous: str


class RepoInfo(BaseModel):
    repo_root: str
    branch: str
    head: str
    origin_url: str | None = None


class MergeRequest(BaseModel):
    """Merge dependency branches that moved into a subtask's existing branch."""

    worktree: str
    branch: str
    dependency_branches: list[str] = Field(default_factory=list)
    remote: str | None = "origin"
    # See WorktreeRequest.token_hosts.
    token_hosts: list[str] = Field(default_factory=list)


class MergeResult(BaseModel):
    head: str
    merged: list[str] = Field(default_factory=list)
    # Set (and the branch left untouched) when a merge conflicts.
    conflict: str | None = None


class BaseMergeRequest(BaseModel):
    """Merge a PR's base into its branch in the worktree, for a fixer to resolve (GitHub
    says `dirty`)."""

    worktree: str
    branch: str
    base: str
    remote: str = "origin"
    # See WorktreeRequest.token_hosts.
    token_hosts: list[str] = Field(default_factory=list)
    # Branches of dependencies whose PRs merged: their last heads are taken in first.
    dependencies: list[str] = Field(default_factory=list)


class BaseMergeResult(BaseModel):
    # merged: a merge commit is on the branch (clean, or its conflicts resolved);
    # conflicted: the merge waits in the worktree, `files` hold conflict markers;
    # up_to_date: the base adds nothing; markers_left: the fixer left markers in `files`,
    # so the merge was aborted and the branch is as it was.
    outcome: Literal["merged", "conflicted", "up_to_date", "markers_left"]
    head: str
    files: list[str] = Field(default_factory=list)
    # The conflicted regions of each file (capped), what the fixer is shown.
    excerpts: dict[str, str] = Field(default_factory=dict)
    # Tracked files the fixer changed besides the conflicted ones: not committed, restored.
    restored: list[str] = Field(default_factory=list)
