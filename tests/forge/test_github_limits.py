"""GitHub's rate limits, length limits, forks and stacked PRs, against the strict stand-in."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from github import GithubException, RateLimitExceededException
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import forge_github
from activities.forge import BODY_LIMIT, TITLE_LIMIT, open_pull_request
from activities.review_pass import find_review_pass, record_review_pass
from contracts.build import ReviewPass, ReviewPassRequest
from simulators.github_api import ABUSE_DETECTION_MESSAGE, GitHubStandIn
from tests.forge.conftest import REPOSITORY
from tests.forge.pulls import built_subtask, open_pr, request, run
from tests.git.gitutil import Repos, commit_file, git, write


def _rate_limited(err: pytest.ExceptionInfo[ApplicationError]) -> float:
    assert not err.value.non_retryable and err.value.type == "GitHubRateLimited", err.value
    assert err.value.next_retry_delay is not None
    return err.value.next_retry_delay.total_seconds()


@pytest.mark.parametrize(
    ("status", "retry_after", "message"),
    [
        (403, 45, None),  # github.com's secondary limit with retry-after
        (429, 45, None),
        (403, 45, ABUSE_DETECTION_MESSAGE),  # GitHub Enterprise's older wording
    ],
)
def test_a_secondary_limit_with_retry_after_waits_as_told(
    repos: Repos, github: GitHubStandIn, status: int, retry_after: int, message: str | None
) -> None:
    wt = built_subtask(repos)
    kwargs = {"message": message} if message else {}
    github.secondary_limit("POST", r"/pulls$", status=status, retry_after=retry_after, **kwargs)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert _rate_limited(err) == 45
    assert open_pr(request(repos, wt, github.url)).created  # the retry goes through


@pytest.mark.parametrize("status", [403, 429])
def test_a_secondary_limit_without_retry_after_waits_a_minute_then_longer(
    repos: Repos, github: GitHubStandIn, status: int
) -> None:
    wt = built_subtask(repos)
    waits = []
    for attempt in (1, 2, 3):
        # The activity as Temporal runs its `attempt`-th try.
        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, attempt=attempt)
        github.secondary_limit("GET", r"/repos/acme/app$", status=status)
        with pytest.raises(ApplicationError) as err:
            env.run(open_pull_request, request(repos, wt, github.url))
        assert "secondary rate limit" in err.value.message
        waits.append(_rate_limited(err))
    assert waits == [60, 120, 240]


def test_a_bare_429_and_pygithubs_rate_limit_exception_are_rate_limits() -> None:
    bare = GithubException(429, {"message": "Too Many Requests"}, {})
    assert forge_github.rate_limit_delay(bare, 1).total_seconds() == 60  # type: ignore[union-attr]
    pygithub = RateLimitExceededException(403, {"message": "slow down"}, {})
    assert forge_github.rate_limit_delay(pygithub, 2).total_seconds() == 120  # type: ignore[union-attr]
    forbidden = GithubException(403, {"message": "Resource not accessible by integration"}, {})
    assert forge_github.rate_limit_delay(forbidden, 1) is None


def test_a_primary_limit_waits_until_the_reset(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)
    github.primary_limit("GET", r"/pulls$", reset_in=300)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert 299 <= _rate_limited(err) <= 302


def test_a_real_permission_403_is_not_a_rate_limit(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)
    github.inject(
        "POST", r"/pulls$", 403, body={"message": "Resource not accessible by integration"}
    )

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url))

    assert err.value.non_retryable and err.value.type == "GitHubForbidden"


def test_long_title_and_body_are_cut_to_githubs_limits(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)
    body = "## Summary\n\n" + "word " * 20_000  # 100,000+ characters

    result = open_pr(request(repos, wt, github.url, title="feat: " + "t" * 300, body=body))

    (pr,) = github.pulls(REPOSITORY)
    assert result.created and len(pr["title"]) == TITLE_LIMIT and pr["title"].endswith("…")
    assert len(pr["body"]) <= BODY_LIMIT and pr["body"].startswith("## Summary\n\nword word")
    rel = "design-docs/active/shop/build-reviews/01-types/PULL_REQUEST.md"
    assert (
        f"the full text is in [{rel}]({github.url}/acme/app/blob/feat/01-types/{rel})"
        in (pr["body"])
    )
    # The full text is committed on the pushed branch.
    full = git(repos.origin, "show", f"feat/01-types:{rel}")
    assert body.strip() in full and full.startswith("# feat: ttt")


def test_a_422_says_what_github_objected_to(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)

    with pytest.raises(ApplicationError) as err:
        open_pr(request(repos, wt, github.url, base="release"))

    assert err.value.non_retryable and err.value.type == "GitHubValidationFailed"
    assert "does not know the base branch release" in err.value.message
    assert "[forge] base_branch" in err.value.message


def test_a_branch_in_a_fork_is_sent_as_owner_branch(
    repos: Repos, github: GitHubStandIn, tmp_path: Path
) -> None:
    fork = tmp_path / "alice-app.git"
    git(tmp_path, "clone", "-q", "--bare", str(repos.origin), str(fork))
    github.add_repo("alice/app", git_dir=str(fork), fork_of=REPOSITORY)
    # origin is alice's fork on GitHub; git's insteadOf sends the pushes to the local bare copy.
    url = "https://github.com/alice/app.git"
    git(repos.root, "remote", "set-url", "origin", url)
    git(repos.root, "config", f"url.{fork}.insteadOf", url)
    wt = built_subtask(repos)

    result = open_pr(request(repos, wt, github.url))
    again = open_pr(request(repos, wt, github.url, title="feat(01-types): renamed"))

    assert result.created and not again.created and again.number == result.number
    (pr,) = github.pulls(REPOSITORY)
    assert pr["head"]["label"] == "alice:feat/01-types"
    assert pr["head"]["sha"] == git(fork, "rev-parse", "feat/01-types")
    posts = [r.body for r in github.requests if r.method == "POST"]
    assert posts[0]["head"] == "alice:feat/01-types"
    assert git(repos.origin, "branch", "--list", "feat/01-types") == ""  # pushed to the fork


def test_one_dependency_stacks_the_pr_on_its_branch(repos: Repos, github: GitHubStandIn) -> None:
    dep = built_subtask(repos, "01-types")
    open_pr(request(repos, dep, github.url))
    wt = built_subtask(repos, "02-parser")  # starts from main; takes in its dependency's work
    git(wt, "merge", "-q", "--no-edit", "feat/01-types")
    commit_file(wt, "src/parser.py", "P = 2\n", "parser")

    result = open_pr(
        request(
            repos,
            wt,
            github.url,
            branch="feat/02-parser",
            subtask="02-parser",
            title="feat(02-parser): parser",
            dependency_branches=["feat/01-types"],
        )
    )

    assert result.base == "feat/01-types"
    pr = next(p for p in github.pulls(REPOSITORY) if p["head"]["ref"] == "feat/02-parser")
    assert pr["base"]["ref"] == "feat/01-types"
    # Only its own change is between the base and the head.
    changed = git(repos.origin, "diff", "--name-only", "feat/01-types", "feat/02-parser")
    assert "src/01-types.py" not in changed and "src/parser.py" in changed


def test_several_dependencies_keep_the_base_branch(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)

    result = open_pr(request(repos, wt, github.url, dependency_branches=["feat/a", "feat/b"]))

    assert result.base == "main" and github.pulls(REPOSITORY)[0]["base"]["ref"] == "main"


def test_review_files_are_linked_on_the_branch(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)
    record = repos.root / "design-docs/active/shop/build-reviews/01-types"
    review = record / "2026-01-01-00-00-00_code-correctness.md"
    write(review, "score: 0.97\n")
    body = f"## Evidence\n\n- {review}\n"

    open_pr(request(repos, wt, github.url, body=body))

    rel = "design-docs/active/shop/build-reviews/01-types/2026-01-01-00-00-00_code-correctness.md"
    (pr,) = github.pulls(REPOSITORY)
    assert str(repos.root) not in pr["body"]
    assert f"- [{rel}]({github.url}/acme/app/blob/feat/01-types/{rel})" in pr["body"]
    assert git(repos.origin, "show", f"feat/01-types:{rel}") == "score: 0.97"


def test_the_committed_record_keeps_the_review_pass(repos: Repos, github: GitHubStandIn) -> None:
    """A build started again still finds its reviewed head after the PR step's record commit,
    and only then: new work on the branch needs a new review."""
    wt = built_subtask(repos)
    design_dir = str(repos.root / "design-docs/active/shop")
    reviewed = git(wt, "rev-parse", "HEAD")
    passed = ReviewPass(
        subtask="01-types", commit=reviewed, scores={"code-correctness": 0.99}, rounds=1
    )
    run(record_review_pass, ReviewPassRequest(
        design_dir=design_dir, subtask="01-types", worktree=wt, record=passed
    ))  # fmt: skip
    find = ReviewPassRequest(design_dir=design_dir, subtask="01-types", worktree=wt)

    open_pr(request(repos, wt, github.url))

    assert git(wt, "rev-parse", "HEAD") != reviewed  # the record was committed
    assert run(find_review_pass, find) == passed
    commit_file(wt, "src/more.py", "M = 3\n", "more work")
    assert run(find_review_pass, find) is None


def test_a_retried_pr_step_commits_its_record_once(repos: Repos, github: GitHubStandIn) -> None:
    wt = built_subtask(repos)
    github.inject("POST", r"/pulls$", 502)  # after the record was committed and pushed

    with pytest.raises(ApplicationError):
        open_pr(request(repos, wt, github.url))
    assert open_pr(request(repos, wt, github.url)).created
    open_pr(request(repos, wt, github.url))

    # The subtask's work and one record commit; the retries added nothing.
    assert git(repos.origin, "rev-list", "--count", "main..feat/01-types") == "2"
    assert git(wt, "status", "--porcelain") == ""


def test_a_followed_prs_body_changes_without_a_record_commit(
    repos: Repos, github: GitHubStandIn
) -> None:
    """While the loop follows the PR (`record=False`) only the PR's body changes: the round's
    fix is its one push, so CI runs once per round."""
    wt = built_subtask(repos)
    open_pr(request(repos, wt, github.url))
    commit_file(wt, "src/fix.py", "F = 1\n", "fix: CI round 1")
    fixed = git(wt, "rev-parse", "HEAD")

    again = open_pr(
        request(repos, wt, github.url, body="## Summary\n\nTypes, fixed.\n", record=False)
    )

    assert again.updated and git(wt, "rev-parse", "HEAD") == fixed
    assert git(repos.origin, "rev-parse", "feat/01-types") == fixed  # pushed, nothing after
    (pr,) = github.pulls(REPOSITORY)
    assert "Types, fixed." in pr["body"]
