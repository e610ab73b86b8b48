"""The demo's forge world: the repository's CI and one reviewer, on the GitHub stand-in.

The demo follows its pull requests, so something must report checks and review them.
This plays both, as GitHub Actions and a colleague would, on the stand-in running in the
demo's process: each new head of a subtask's PR, and of integration's, gets the required
check `tests` at once (the stand-in's check runs on demand: no waiting), red on one PR
until its branch has the test CI runs (`simulators/demo_scenario.py` names it, and the
fixer adds it); one PR gets a review requesting changes with one comment, before its
first check, so it is answered before it can be mergeable. `tick` says what happened,
for the demo to print.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from github import Auth, Github, GithubException

from simulators import github_git
from simulators.demo_scenario import (
    CI_TEST,
    RED_CI_SUBTASK,
    REVIEW_BODY,
    REVIEW_COMMENT,
    REVIEWED_LINE,
    REVIEWED_PATH,
    REVIEWED_SUBTASK,
)
from simulators.github_api import GitHubStandIn

CHECK = "tests"
REVIEWER, REVIEWER_TOKEN = "alice", "demo-reviewer-token"
RED_OUTPUT = {
    "title": "tests: 1 error",
    "summary": f"pytest could not collect {CI_TEST}: file or directory not found",
    "text": f"This repository's CI also runs `pytest {CI_TEST}`, the round trip of every "
    "alphabet character it requires of each codec change; this branch does not have it.",
}
RED_LOG = (
    "Run python -m pytest -q tests\n"
    "........................................\n"
    f"ERROR: file or directory not found: {CI_TEST}\n"
    "Error: Process completed with exit code 4.\n"
)


@dataclass
class DemoForge:
    github: GitHubStandIn
    repository: str
    origin: Path
    checked: set[tuple[int, str]] = field(default_factory=set)
    reviewed: int | None = None  # the PR number the review went to
    comment_id: int | None = None
    replies: set[int] = field(default_factory=set)
    red: int = 0  # red check runs reported
    fixed: int = 0  # green runs on a head after a red one

    def protect(self) -> None:
        """`tests` is required on main, as on a repository with CI: a PR is `blocked`
        until its head has a green run, never `clean` before the demo's CI reported."""
        self.github.protect(self.repository, "main", contexts=[CHECK], strict=False)
        self.github.add_user(REVIEWER, REVIEWER_TOKEN)

    async def tick(self) -> list[str]:
        """Review and check what is new on the stand-in; lines that say what happened."""
        return await asyncio.to_thread(self._tick)

    def _tick(self) -> list[str]:
        said: list[str] = []
        heads = self._branch_heads()  # one git call a tick, not two per PR
        for number, ref in self.github.open_pulls(self.repository):
            head = heads.get(ref)
            if head is None:
                continue
            subtask = ref.removeprefix("feat/") if ref.startswith("feat/") else "integration"
            if subtask == REVIEWED_SUBTASK and self.reviewed is None:
                self.reviewed = number
                try:
                    said.append(self._review(number, subtask, head))
                except GithubException as err:  # e.g. a real builder left the file out
                    said.append(f"  {REVIEWER} (simulated reviewer) could not review: {err}")
            if (number, head) not in self.checked:
                self.checked.add((number, head))
                said.append(self._check(number, subtask, head))
        return said + self._replies()

    def _check(self, number: int, subtask: str, head: str) -> str:
        """The CI run of `head`: red when the subtask's CI needs a test the head lacks."""
        lacks = subtask == RED_CI_SUBTASK and not self._has(head, CI_TEST)
        where = f"{subtask}'s PR #{number} at {head[:10]}"
        if lacks:
            self.github.check_run(
                self.repository, head, CHECK, conclusion="failure", output=RED_OUTPUT, log=RED_LOG
            )
            self.red += 1
            return f"  CI (simulated) {CHECK}: failure on {where}: {RED_OUTPUT['summary']}"
        self.github.check_run(self.repository, head, CHECK, conclusion="success")
        if subtask == RED_CI_SUBTASK and self.red:
            self.fixed += 1
            return f"  CI (simulated) {CHECK}: success on {where}: red CI fixed"
        return f"  CI (simulated) {CHECK}: success on {where}"

    def _branch_heads(self) -> dict[str, str]:
        fmt = "--format=%(refname:short) %(objectname)"
        refs = ("refs/heads/feat/", "refs/heads/integration/")
        _, out = github_git.git(str(self.origin), "for-each-ref", fmt, *refs)
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    def _has(self, head: str, path: str) -> bool:
        code, _ = github_git.git(str(self.origin), "cat-file", "-e", f"{head}:{path}")
        return code == 0

    def _review(self, number: int, subtask: str, head: str) -> str:
        """As the reviewer, through the API: changes requested, one comment on the diff."""
        client = Github(base_url=self.github.url, auth=Auth.Token(REVIEWER_TOKEN), retry=None)
        pr = client.get_repo(self.repository).get_pull(number)
        line = self._line(head)
        review = pr.create_review(
            body=REVIEW_BODY,
            event="REQUEST_CHANGES",
            comments=[{"path": REVIEWED_PATH, "line": line, "body": REVIEW_COMMENT}],
        )
        self.comment_id = next(
            c.id for c in pr.get_review_comments() if c.pull_request_review_id == review.id
        )
        return (
            f"  {REVIEWER} (simulated reviewer) requests changes on {subtask}'s PR #{number}, "
            f'{REVIEWED_PATH}:{line}: "{REVIEW_COMMENT}"'
        )

    def _line(self, head: str) -> int:
        """The line of the branch's file the comment is about (1 when another builder, a
        real model's, wrote it otherwise)."""
        _, text = github_git.git(str(self.origin), "show", f"{head}:{REVIEWED_PATH}")
        lines = text.splitlines(keepends=True)
        return lines.index(REVIEWED_LINE) + 1 if REVIEWED_LINE in lines else 1

    def _replies(self) -> list[str]:
        if self.reviewed is None or self.comment_id is None:
            return []
        said = []
        for c in list(self.github.reviews.comments_of(self.repository, self.reviewed)):
            if c.get("in_reply_to_id") == self.comment_id and c["id"] not in self.replies:
                self.replies.add(c["id"])
                first = c["body"].splitlines()[0] if c["body"] else ""
                said.append(
                    f"  reply on PR #{self.reviewed} to {REVIEWER}'s comment, by "
                    f"{c['user']}: {first}"
                )
        return said

    def summary(self) -> str:
        return (
            f"red CI runs {self.red}, fixed {self.fixed}; review comments answered "
            f"{len(self.replies)} (replies to {REVIEWER}'s one comment)"
        )
