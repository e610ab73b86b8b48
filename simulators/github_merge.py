"""Mergeability, update-branch and merge for the GitHub stand-in, from real git state.

`mergeable` is null until GitHub's background job has computed it ("If the value is null,
then GitHub has started a background job to compute the mergeability. After giving the job
time to complete, resubmit the request", pulls/get), so the first GET after the head or the
base moved answers null and `mergeable_state` `unknown`. `mergeable_state` then takes the
values of GitHub's MergeStateStatus (https://docs.github.com/en/graphql/reference/enums
#mergestatestatus): `dirty` (a real conflict), `behind` (the base moved past the head, and
the branch must be up to date: GitHub's "strict" required-status-checks setting, which a
branch has only when protected with it: `protect(strict=True)`), `blocked` (a required
check or approval is missing), `unstable` (a check that is not required is not passing),
`draft`, else `clean`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulators import github_git
from simulators.github_errors import ApiError, bad_json, unprocessable, validation_failed

if TYPE_CHECKING:
    from simulators.github_api import GitHubStandIn

MERGE_DOCS = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
UPDATE_DOCS = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request-branch"
METHODS = ("merge", "squash", "rebase")
# pulls/merge's documented answers: 405 "Pull Request is not mergeable", 409 "Head branch
# was modified. Review and try the merge again." (its OpenAPI examples).
NOT_MERGEABLE = "Pull Request is not mergeable"
HEAD_MODIFIED = "Head branch was modified. Review and try the merge again."
# pulls/update-branch: "If the expected SHA does not match the pull request's HEAD, you will
# receive a 422 Unprocessable Entity status."
HEAD_MISMATCH = "expected head sha didn't match current head ref."
_PASSING = {"success", "neutral", "skipped"}


@dataclass
class Protection:
    """A base branch's rules: required check/status names, approvals, up-to-date."""

    contexts: list[str] = field(default_factory=list)
    approvals: int = 0
    strict: bool = True


class Merging:
    """The stand-in's mergeability job and merge endpoints (called with its lock held)."""

    def __init__(self, standin: GitHubStandIn) -> None:
        self.standin = standin
        self.protection: dict[str, Protection] = {}
        # (repo, number) -> (head, base, ready at): the background job under way or done.
        self._jobs: dict[tuple[str, int], tuple[str, str, float]] = {}
        self.delay = 0.0  # seconds the background job takes after the first GET

    def protect(self, full: str, branch: str, rules: Protection) -> None:
        self.protection[f"{full}:{branch}"] = rules

    def rules(self, full: str, branch: str) -> Protection:
        # An unprotected branch requires nothing: a PR behind it is `clean` on GitHub.
        return self.protection.get(f"{full}:{branch}", Protection(strict=False))

    # --- mergeability -------------------------------------------------------

    def view(self, full: str, pr: dict[str, Any]) -> tuple[bool | None, str]:
        """(mergeable, mergeable_state) as a GET of the PR answers it now."""
        if pr["state"] != "open":
            return None, "unknown"
        head, base = self.standin.head_sha(full, pr), self.standin.base_sha(full, pr) or ""
        job = self._jobs.get((full, pr["number"]))
        if job is None or job[:2] != (head, base):
            self._jobs[(full, pr["number"])] = (head, base, time.monotonic() + self.delay)
            return None, "unknown"
        if time.monotonic() < job[2]:
            return None, "unknown"
        state = self.state_now(full, pr)
        return state != "dirty", state

    def state_now(self, full: str, pr: dict[str, Any]) -> str:
        git_dir = self._base_dir(full, pr)
        head, base = self.standin.head_sha(full, pr), self.standin.base_sha(full, pr) or ""
        if github_git.merged_tree(git_dir, base, head) is None:
            return "dirty"
        rules = self.rules(full, pr["base_ref"])
        if rules.strict and not github_git.is_ancestor(git_dir, base, head):
            return "behind"
        if pr.get("draft"):
            return "draft"
        checks = self._check_states(full, head)
        missing = [c for c in rules.contexts if checks.get(c) not in _PASSING]
        if missing or not self._approved(full, pr, rules.approvals):
            return "blocked"
        if any(state not in _PASSING for state in checks.values()):
            return "unstable"
        return "clean"

    def _check_states(self, full: str, sha: str) -> dict[str, str]:
        """Name -> outcome of each check run and commit status on the head commit
        (a run not completed yet is `pending`)."""
        checks = self.standin.checks
        found = {
            run["name"]: (run["conclusion"] if run["status"] == "completed" else "pending")
            for run in checks.latest_runs(full, sha)
        }
        for status in checks.latest_statuses(full, sha):
            found[status["context"]] = status["state"]
        return found

    def _approved(self, full: str, pr: dict[str, Any], needed: int) -> bool:
        latest: dict[str, str] = {}
        for review in self.standin.reviews.of(full, pr["number"]):
            if review["state"] in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[review["user"]] = review["state"]
        if needed and "CHANGES_REQUESTED" in latest.values():
            return False
        return list(latest.values()).count("APPROVED") >= needed

    def _base_dir(self, full: str, pr: dict[str, Any]) -> str:
        """The base repository's git directory, holding the head's commits too."""
        git_dir = self.standin.git_dir(full) or ""
        head_repo = pr.get("head_repo") or full
        if head_repo != full:
            github_git.fetch_into(
                git_dir, self.standin.git_dir(head_repo) or "", self.standin.head_sha(full, pr)
            )
        return git_dir

    # --- update-branch ------------------------------------------------------

    def update_branch(self, full: str, number: int, body: Any) -> tuple[int, Any, dict[str, str]]:
        """pulls/update-branch: merges the base into the head branch; 202 when under way."""
        pr = self.standin.find_pull(full, number)
        body = body or {}
        if not isinstance(body, dict):
            raise bad_json()
        head, base = self.standin.head_sha(full, pr), self.standin.base_sha(full, pr) or ""
        expected = body.get("expected_head_sha")
        if expected is not None and expected != head:
            raise unprocessable(HEAD_MISMATCH, UPDATE_DOCS)
        if pr["state"] != "open":
            raise unprocessable("Pull request is closed", UPDATE_DOCS)
        head_repo = pr.get("head_repo") or full
        head_dir = self.standin.git_dir(head_repo) or ""
        github_git.fetch_into(head_dir, self.standin.git_dir(full) or "", base)
        if github_git.is_ancestor(head_dir, base, head):
            raise unprocessable("There are no new commits on the base branch.", UPDATE_DOCS)
        tree = github_git.merged_tree(head_dir, head, base)
        if tree is None:
            raise unprocessable("merge conflict between base and head", UPDATE_DOCS)
        message = f"Merge branch '{pr['base_ref']}' into {pr['head_ref']}"
        new = github_git.commit(head_dir, tree, [head, base], message)
        if not github_git.move_branch(head_dir, pr["head_ref"], new, head):
            raise unprocessable(HEAD_MISMATCH, UPDATE_DOCS)
        pr["updated_at"] = self.standin.now()
        url = f"{self.standin.url}/{full}/pull/{number}"
        return 202, {"message": "Updating pull request branch.", "url": url}, {}

    # --- merge --------------------------------------------------------------

    def merge(
        self, full: str, number: int, body: Any, caller: str
    ) -> tuple[int, Any, dict[str, str]]:
        """pulls/merge: 409 on a head SHA mismatch, 405 when the PR cannot be merged."""
        pr = self.standin.find_pull(full, number)
        body = body or {}
        if not isinstance(body, dict):
            raise bad_json()
        method = body.get("merge_method", "merge")
        if method not in METHODS:
            raise validation_failed(
                {"resource": "PullRequest", "field": "merge_method", "code": "invalid"},
                docs=MERGE_DOCS,
            )
        if pr["state"] != "open":
            raise ApiError(405, {"message": NOT_MERGEABLE, "documentation_url": MERGE_DOCS})
        head, base = self.standin.head_sha(full, pr), self.standin.base_sha(full, pr) or ""
        if body.get("sha") is not None and body["sha"] != head:
            raise ApiError(409, {"message": HEAD_MODIFIED, "documentation_url": MERGE_DOCS})
        state = self.state_now(full, pr)
        if state in ("dirty", "behind", "blocked", "draft"):
            raise ApiError(405, {"message": NOT_MERGEABLE, "documentation_url": MERGE_DOCS})
        git_dir = self._base_dir(full, pr)
        new = self._write(git_dir, method, pr, body, head, base)
        if new is None:
            raise ApiError(405, {"message": NOT_MERGEABLE, "documentation_url": MERGE_DOCS})
        if not github_git.move_branch(git_dir, pr["base_ref"], new, base):
            raise ApiError(
                409,
                {
                    "message": "Base branch was modified. Review and try the merge again.",
                    "documentation_url": MERGE_DOCS,
                },
            )
        stamp = self.standin.now()
        pr.update(
            state="closed",
            merged=True,
            merged_at=stamp,
            closed_at=stamp,
            updated_at=stamp,
            merge_commit_sha=new,
            merged_by=caller,
            head_sha=head,
        )
        return 200, {"sha": new, "merged": True, "message": "Pull Request successfully merged"}, {}

    def _write(
        self,
        git_dir: str,
        method: str,
        pr: Mapping[str, Any],
        body: Mapping[str, Any],
        head: str,
        base: str,
    ) -> str | None:
        """The new base commit for `method`, or None when git cannot make it (a conflict)."""
        if method == "rebase":
            merge_base = github_git.git(git_dir, "merge-base", base, head)[1]
            return github_git.rebase(git_dir, base, merge_base, head)
        tree = github_git.merged_tree(git_dir, base, head)
        if tree is None:
            return None
        number = pr["number"]
        if method == "squash":
            title = body.get("commit_title") or f"{pr['title']} (#{number})"
            parents = [base]
        else:
            title = (
                body.get("commit_title") or f"Merge pull request #{number} from {pr['head_label']}"
            )
            parents = [base, head]
        message = f"{title}\n\n{body.get('commit_message') or pr['title']}"
        return github_git.commit(git_dir, tree, parents, message)
