"""Pull-request activity (push, then open or update the PR) and the PR body.

Forge "github" talks to the GitHub REST API (or anything speaking it, such
as the local stand-in) through PyGithub; forge "none" only pushes (when a
remote exists) and writes the PR text next to the subtask's reviews.
"""

from __future__ import annotations

import os

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import forge_github, gitrepo
from activities.files import atomic_write_text
from activities.git_ops import git_errors, heartbeating
from contracts.forge import PrBodyInput, PullRequestRequest, PullRequestResult
from contracts.git import subtask_slug_problem, token_hosts_for

PR_FILE = "PULL_REQUEST.md"


def render_pr_body(data: PrBodyInput) -> str:
    """The PR description (seed 002's sections, plus gates). Pure: workflows may call it."""
    out: list[str] = ["## Summary", "", data.summary.strip() or f"Implements `{data.subtask}`.", ""]
    out += ["## Review Scores", ""]
    out += [f"- {name}: {score:.2f}" for name, score in data.scores.items()] or ["- (none)"]
    out += ["", "## Gates", ""]
    out += [f"- `{command}`: {'pass' if ok else 'fail'}" for command, ok in data.gates.items()] or [
        "- (none)"
    ]
    out += ["", "## Evidence", ""]
    evidence = [f"- Reviews: {data.reviews_dir}"] if data.reviews_dir else []
    evidence += [f"- {item}" for item in data.evidence]
    out += evidence or ["- (none)"]
    out += ["", "## Related", ""]
    related = [f"- Design doc: {data.design_doc}"] if data.design_doc else []
    related += [f"- Subplan: {data.subplan}"] if data.subplan else []
    related += [f"- Depends on: {pr}" for pr in data.dependency_prs]
    out += related or ["- (none)"]
    out += ["", "_Opened by the orchestrator's build workflow._", ""]
    return "\n".join(out)


def pr_file_path(design_dir: str, subtask: str) -> str:
    return os.path.join(design_dir, "build-reviews", subtask, PR_FILE)


def _pr_file_text(req: PullRequestRequest, head: str) -> str:
    return (
        f"# {req.title}\n\n"
        f"- Branch: `{req.branch}`\n"
        f"- Base: `{req.base}`\n"
        f"- Head: `{head}`\n\n"
        f"{req.body.rstrip()}\n"
    )


def _check(req: PullRequestRequest) -> None:
    problem = subtask_slug_problem(req.subtask)
    if problem:
        raise ApplicationError(
            f"pull request: {problem}; rename the subtask",
            type="InvalidSubtaskName",
            non_retryable=True,
        )
    for field in ("branch", "base", "title"):
        if not getattr(req, field).strip():
            raise ApplicationError(
                f"pull request for {req.subtask}: `{field}` is empty; pass it",
                type="InvalidPullRequest",
                non_retryable=True,
            )


def _token_hosts(req: PullRequestRequest) -> list[str]:
    """Hosts whose HTTPS remotes get GITHUB_TOKEN: github.com, the API's host, token_hosts."""
    return token_hosts_for(req.api_url, req.token_hosts)


def _checkout(req: PullRequestRequest) -> str:
    return req.worktree if req.worktree and os.path.isdir(req.worktree) else req.repo_root


def _open_without_forge(req: PullRequestRequest) -> PullRequestResult:
    path = _checkout(req)
    with git_errors():
        if gitrepo.has_remote(path, req.remote):
            gitrepo.push_branch(path, req.branch, req.remote, token_hosts=_token_hosts(req))
        head = gitrepo.local_branch_sha(path, req.branch) or gitrepo.head_commit(path)
    target = pr_file_path(req.design_dir, req.subtask)
    text = _pr_file_text(req, head)
    try:
        with open(target, encoding="utf-8") as fh:
            existed, same = True, fh.read() == text
    except FileNotFoundError:
        existed, same = False, False
    if not same:
        atomic_write_text(target, text)
    return PullRequestResult(
        url=f"branch:{req.branch}",
        number=None,
        created=not existed,
        updated=existed,
        forge="none",
        body_path=target,
    )


def _repository(req: PullRequestRequest) -> str:
    if req.repository:
        return forge_github.check_repository(req.repository)
    with git_errors():
        url = gitrepo.remote_url(req.repo_root, req.remote)
    parsed = forge_github.parse_repository(url)
    if parsed is None:
        shown = gitrepo.redact(url) if url else "not configured"
        raise ApplicationError(
            f"cannot tell which GitHub repository to open the pull request in: remote "
            f"{req.remote!r} is {shown}; set `repository` (owner/name) in orchestrator.toml "
            "or point the remote at GitHub",
            type="UnknownRepository",
            non_retryable=True,
        )
    return parsed


def _open_on_github(req: PullRequestRequest) -> PullRequestResult:
    token = forge_github.read_token()
    repository = _repository(req)
    api_url = forge_github.resolve_api_url(req.api_url)
    with git_errors():
        gitrepo.push_branch(_checkout(req), req.branch, req.remote, token_hosts=_token_hosts(req))
    gh = forge_github.client(api_url, token)
    doing = f"opening the pull request for {req.branch} into {req.base}"
    try:
        pr, created = forge_github.upsert_pull_request(
            gh, repository, req.branch, req.base, req.title, req.body
        )
        return PullRequestResult(
            url=pr.html_url, number=pr.number, created=created, updated=not created, forge="github"
        )
    except ApplicationError:
        raise
    except Exception as exc:
        raise forge_github.classify(
            exc, doing=doing, repository=repository, api_url=api_url
        ) from exc
    finally:
        gh.close()


@activity.defn(name="forge.open_pull_request")
def open_pull_request(req: PullRequestRequest) -> PullRequestResult:
    """Push the branch, then open its PR or update the one already open (never two)."""
    _check(req)
    with heartbeating(f"pull request {req.branch}"):
        if req.forge == "none":
            return _open_without_forge(req)
        return _open_on_github(req)


ACTIVITIES = [open_pull_request]
