"""Pull-request activity (push, then open or update the PR) and the PR body.

Forge "github" talks to the GitHub REST API (or anything speaking it, such
as the local stand-in) through PyGithub; forge "none" only pushes (when a
remote exists) and writes the PR text next to the subtask's reviews.
"""

from __future__ import annotations

import os
import re
import urllib.parse

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import files, forge_github
from activities.agent_text import block, inline, pr_text
from activities.git import commits
from activities.git.activities import git_errors, heartbeating
from activities.git.branches import push_branch
from activities.git.command import git_out, redact
from activities.git.queries import (
    current_branch,
    has_remote,
    head_commit,
    local_branch_sha,
    remote_url,
    resolve_commit,
)
from activities.repository_url import parse_repository
from contracts.build import SuiteCounts
from contracts.follow import FollowRound
from contracts.forge import PrBodyInput, PullRequestRequest, PullRequestResult
from contracts.git import subtask_slug_problem, token_hosts_for

PR_FILE = "PULL_REQUEST.md"
# GitHub refuses longer ones with a 422 "is too long (maximum is N characters)".
TITLE_LIMIT = 256
BODY_LIMIT = 65_536


def render_pr_body(data: PrBodyInput) -> str:
    """The PR description (seed 002's sections, plus gates). Pure: workflows may call it.

    The summary is an agent's (the subtask drafter's): text, never a section of its own."""
    summary = block(data.summary) if data.summary.strip() else f"Implements `{data.subtask}`."
    out: list[str] = ["## Summary", "", summary, ""]
    out += ["## Review Scores", ""]
    out += [f"- {name}: {score:.2f}" for name, score in data.scores.items()]
    out += [
        f"- {name}: skipped by a person ({why})" for name, why in data.skipped_reviewers.items()
    ]
    out += [] if data.scores or data.skipped_reviewers else ["- (none)"]
    out += ["", "## Gates", ""]
    out += [f"- `{command}`: {'pass' if ok else 'fail'}" for command, ok in data.gates.items()] or [
        "- (none)"
    ]
    out += ["", "## Evidence", ""]
    evidence = [f"- Reviews: {data.reviews_dir}"] if data.reviews_dir else []
    evidence += [f"- {item}" for item in data.evidence]
    out += evidence or ["- (none)"]
    out += ["", *render_testing(data)]
    out += render_follow_rounds(data)
    out += ["", "## Related", ""]
    related = [f"- Design doc: {data.design_doc}"] if data.design_doc else []
    related += [f"- Subplan: {data.subplan}"] if data.subplan else []
    related += [f"- Depends on: {pr} (merge it first)" for pr in data.dependency_prs]
    out += related or ["- (none)"]
    out += ["", render_footer(data), ""]
    return "\n".join(out)


def render_follow_rounds(data: PrBodyInput) -> list[str]:
    """Each CI and review round on the PR (what was red or asked, the fix pushed)."""
    if not data.follow_rounds:
        return []
    return ["", "## CI and Review Rounds", "", *(follow_round_line(r) for r in data.follow_rounds)]


def follow_round_line(r: FollowRound) -> str:
    """`- ci round 1 on <head>: tests: failure; fix <commit>` (the PR body, REPORT.md)."""
    found = "; ".join([*r.checks, *r.reviews]) or "-"
    comments = f", {r.comments} comment(s), {r.replies} reply(ies)" if r.comments else ""
    fix = f"fix {r.commit[:10]}" if r.commit else (r.note or "no commit")
    return f"- {r.kind} round {r.round} on {r.head[:10]}: {inline(found)}{comments}; {fix}"


BENCHMARK = re.compile(r"\bbench", re.IGNORECASE)
MAX_TEST_LINES = 30  # the section stays a small part of GitHub's 65,536 characters


def render_testing(data: PrBodyInput) -> list[str]:
    """Seed 002's Testing section: each test gate with the tests it ran, passed, failed and
    skipped (its raw result when the runner is not recognised), the benchmark gates, and
    the totals. Smell checks and linters are under Gates."""
    runs = [g for g in data.gate_results if g.kind == "command"]
    benches = [g for g in runs if BENCHMARK.search(g.command)]
    suites = [g for g in runs if g not in benches]
    out = ["## Testing", ""]
    for g in suites[:MAX_TEST_LINES]:
        t = g.tests
        if t is None:
            out.append(
                f"- `{_shown(g.command)}`: {'pass' if g.passed else 'fail'} (exit "
                f"{g.exit_code}; no test counts in its output)"
            )
            continue
        out.append(f"- `{_shown(g.command)}` ({t.runner}): {_counts(t)}")
    if len(suites) > MAX_TEST_LINES:
        out.append(f"- ... {len(suites) - MAX_TEST_LINES} more (see the gate logs)")
    counted = [g.tests for g in suites if g.tests is not None and g.tests.unit == "tests"]
    if len(counted) > 1:
        total = SuiteCounts(
            runner="all",
            passed=sum(t.passed for t in counted),
            failed=sum(t.failed for t in counted),
            skipped=sum(t.skipped for t in counted),
        )
        out.append(f"- Total: {_counts(total)}")
    if not suites:
        out.append("- Tests: (no test gate ran)")
    out += [
        f"- Benchmarks: `{_shown(g.command)}`: {'pass' if g.passed else 'fail'}"
        + (f" ({_shown(g.tail.strip().splitlines()[-1])})" if g.tail.strip() else "")
        for g in benches[:MAX_TEST_LINES]
    ] or ["- Benchmarks: (none)"]
    return out


def _counts(t: SuiteCounts) -> str:
    run = t.passed + t.failed + t.skipped
    return f"{run} {t.unit} run: {t.passed} passed, {t.failed} failed, {t.skipped} skipped"


def _shown(text: str, limit: int = 200) -> str:
    """One line of a command or output inside backticks, kept short."""
    line = " ".join(text.split()).replace("`", "'")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def render_footer(data: PrBodyInput) -> str:
    where = [f"design `{data.design_dir}`"] if data.design_dir else []
    where += [f"review record `{data.reviews_dir}`"] if data.reviews_dir else []
    return f"_Opened by the orchestrator's build workflow ({', '.join(where) or 'no design'})._"


def pr_file_path(design_dir: str, subtask: str) -> str:
    return os.path.join(design_dir, "build-reviews", subtask, PR_FILE)


def _pr_file_text(req: PullRequestRequest, base: str, body: str, head: str | None) -> str:
    """The PR as a file; `head` None in the copy committed on the branch (it moves the head)."""
    lines = [f"# {inline(req.title)}", "", f"- Branch: `{req.branch}`", f"- Base: `{base}`"]
    lines += [f"- Head: `{head}`"] if head else []
    return "\n".join(lines) + f"\n\n{body.rstrip()}\n"


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


def choose_base(req: PullRequestRequest) -> str:
    """A subtask with exactly one dependency is stacked on that dependency's branch."""
    return req.dependency_branches[0] if len(req.dependency_branches) == 1 else req.base


def limit_title(title: str) -> str:
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def limit_body(body: str, full_text: str) -> str:
    """`body` cut to GitHub's limit, ending with a pointer to the committed full text.

    Cut after a line (or a word, in a very long line), and made text again: a code span
    cut open (a wrapped mention) must not leave a mention bare."""
    if len(body) <= BODY_LIMIT:
        return body
    pointer = (
        "\n\n---\n\n_This description is cut at GitHub's limit of "
        f"{BODY_LIMIT:,} characters; the full text is in {full_text}._\n"
    )
    room = BODY_LIMIT - len(pointer)
    while True:
        kept = body[:room]
        for boundary in ("\n", " "):
            at = kept.rfind(boundary)
            if at > room - 2_000:
                kept = kept[:at]
                break
        kept = pr_text(kept.rstrip())
        if len(kept) <= BODY_LIMIT - len(pointer):
            return kept + pointer
        room -= len(kept) - (BODY_LIMIT - len(pointer))


def _real(path: str) -> str:
    return os.path.realpath(path)


def _roots(req: PullRequestRequest) -> list[str]:
    """Checkouts whose absolute paths the body may name, the worktree (inside root) first."""
    roots = [_real(p) for p in (req.worktree, req.repo_root) if p and os.path.isdir(p)]
    return list(dict.fromkeys(roots))


def relative_links(text: str, req: PullRequestRequest, link_base: str | None) -> str:
    """Absolute local paths become repository-relative paths, linked on the branch.

    A reader of the PR has no access to the worker's disk: review files are shown by their
    path in the repository and linked to the copy committed on the branch.
    """
    for root in _roots(req):
        pattern = re.compile(re.escape(root + os.sep) + r"[^\s()\[\]<>`'\"]+")

        def link(m: re.Match[str], root: str = root) -> str:
            rel = os.path.relpath(m.group(0), root).replace(os.sep, "/")
            if not link_base:
                return rel
            return f"[{rel}]({link_base}/{urllib.parse.quote(rel)})"

        text = pattern.sub(link, text)
    return text


def _record_dir(req: PullRequestRequest) -> str:
    return os.path.join(_real(req.design_dir), "build-reviews", req.subtask)


def _record_files(req: PullRequestRequest) -> list[str]:
    """Review files the body names from this subtask's record (the main checkout's copy)."""
    record = _record_dir(req) + os.sep
    found = re.findall(re.escape(record) + r"[^\s()\[\]<>`'\"]+", req.body)
    return [p for p in dict.fromkeys(found) if os.path.isfile(p)]


def _has_own_commits(path: str, branch: str, base: str, remote: str) -> bool:
    """Commits on the branch that neither the local base nor the remote's copy holds: a
    local base left behind by merges on the forge must not make merged work look new."""
    bases = [
        ref
        for ref in (f"refs/heads/{base}", f"refs/remotes/{remote}/{base}")
        if resolve_commit(path, ref)
    ]
    if not bases:
        return True
    out = git_out(path, "rev-list", "--count", f"refs/heads/{branch}", "--not", *bases)
    return int(out or 0) > 0


def publish_record(req: PullRequestRequest, base: str, text: str) -> str | None:
    """Commit the review files and the full PR text on the branch, once; None if not possible.

    Only on the subtask's own worktree (checked out on its branch) and only when the branch
    has work of its own: a record alone must not turn "no commits" into a pull request.
    The worktree is the builder's: every file is read from the main checkout and written
    into the worktree without following a link, and a planted link refuses the step before
    anything is written.
    """
    wt = req.worktree
    if not (wt and os.path.isdir(wt)) or current_branch(wt) != req.branch:
        return None
    if not _has_own_commits(wt, req.branch, base, req.remote):
        return None
    root, top = _real(req.repo_root), _real(wt)
    record = {
        os.path.join(top, os.path.relpath(src, root)): files.read_bytes(src, root=root)
        for src in _record_files(req)
    }
    pr_file = os.path.join(top, os.path.relpath(_record_dir(req), root), PR_FILE)
    record[pr_file] = text.encode("utf-8")
    for dest in record:
        files.check_writable(dest, root=top)
    for dest, data in record.items():
        files.atomic_write_bytes(dest, data, root=top)
    commits.commit_changes(
        top, f"docs({req.subtask}): review record and pull request text", paths=list(record)
    )
    return os.path.relpath(pr_file, top).replace(os.sep, "/")


def _open_without_forge(req: PullRequestRequest) -> PullRequestResult:
    path = _checkout(req)
    base = choose_base(req)
    root = _real(req.repo_root)
    target = pr_file_path(req.design_dir, req.subtask)
    existed = files.check_writable(target, root=root)
    with git_errors():
        if has_remote(path, req.remote):
            push_branch(
                path, req.branch, req.remote, token_hosts=_token_hosts(req), replaces=req.replaces
            )
        head = local_branch_sha(path, req.branch) or head_commit(path)
    text = _pr_file_text(req, base, pr_text(relative_links(req.body, req, None)), head)
    files.atomic_write_text(target, text, root=root)
    return PullRequestResult(
        url=f"branch:{req.branch}",
        number=None,
        created=not existed,
        updated=existed,
        forge="none",
        body_path=target,
        base=base,
    )


def _remote_repository(req: PullRequestRequest) -> str | None:
    with git_errors():
        url = remote_url(req.repo_root, req.remote)
    return parse_repository(url)


def _repository(req: PullRequestRequest) -> str:
    if req.repository:
        return forge_github.check_repository(req.repository)
    parsed = _remote_repository(req)
    if parsed is None:
        with git_errors():
            url = remote_url(req.repo_root, req.remote)
        shown = redact(url) if url else "not configured"
        raise ApplicationError(
            f"cannot tell which GitHub repository to open the pull request in: remote "
            f"{req.remote!r} is {shown}; set `repository` (owner/name) in orchestrator.toml "
            "or point the remote at GitHub",
            type="UnknownRepository",
            non_retryable=True,
        )
    return parsed


def head_repository(req: PullRequestRequest, repository: str) -> str:
    """Where the branch lives: the remote's repository when it names one (a fork), else
    `repository` itself (a local or unrecognised remote is taken to be the repository)."""
    return _remote_repository(req) or repository


def _open_on_github(req: PullRequestRequest) -> PullRequestResult:
    token = forge_github.read_token()
    repository = _repository(req)
    head_repo = head_repository(req, repository)
    head_owner = head_repo.split("/", 1)[0]
    api_url = forge_github.resolve_api_url(req.api_url)
    base = choose_base(req)
    gh = forge_github.client(api_url, token)
    doing = f"opening the pull request for {req.branch} into {base}"
    try:
        repo = gh.get_repo(repository)
        site = repo.html_url.rsplit("/", 2)[0]
        branch_url = f"{site}/{head_repo}/blob/{urllib.parse.quote(req.branch)}"
        body = pr_text(relative_links(req.body, req, branch_url))
        with git_errors():
            text = _pr_file_text(req, base, body, None)
            record = publish_record(req, base, text) if req.record else None
            push_branch(
                _checkout(req),
                req.branch,
                req.remote,
                token_hosts=_token_hosts(req),
                replaces=req.replaces,
            )
        record_rel = record or os.path.relpath(
            os.path.join(_record_dir(req), PR_FILE), _real(req.repo_root)
        )
        full_text = f"[{record_rel}]({branch_url}/{urllib.parse.quote(record_rel)})"
        pr, created = forge_github.upsert_pull_request(
            repo,
            req.branch,
            base,
            limit_title(req.title),
            limit_body(body, full_text),
            head_owner=head_owner,
        )
        return PullRequestResult(
            url=pr.html_url,
            number=pr.number,
            created=created,
            updated=not created,
            forge="github",
            base=base,
            repository=repository,
        )
    except ApplicationError:
        raise
    except Exception as exc:
        raise forge_github.classify(
            exc,
            doing=doing,
            repository=repository,
            api_url=api_url,
            attempt=_attempt(),
            base=base,
            head=f"{head_owner}:{req.branch}",
        ) from exc
    finally:
        gh.close()


def _attempt() -> int:
    """This activity attempt's number (1 outside an activity): rate-limit waits grow with it."""
    try:
        return activity.info().attempt
    except RuntimeError:
        return 1


@activity.defn(name="forge.open_pull_request")
def open_pull_request(req: PullRequestRequest) -> PullRequestResult:
    """Push the branch, then open its PR or update the one already open (never two)."""
    _check(req)
    with heartbeating(f"pull request {req.branch}"):
        if req.forge == "none":
            return _open_without_forge(req)
        return _open_on_github(req)


ACTIVITIES = [open_pull_request]
