"""The design loop's start check: a person's uncommitted files stop it, the loops' own do not.

Review files an earlier run wrote (the review cache names them, and a loop started
again reuses them) and what a build leaves in the design directory (its review
records and logs under build-reviews/, CHANGE_LOG.md) are the orchestrator's.
"""

from __future__ import annotations

import json

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.git.activities import refuse_persons_changes
from contracts.git import OwnFilesRequest
from tests.git.gitutil import Repos, commit_file, write

DESIGN = "design-docs/active/shop"


def test_only_a_persons_uncommitted_files_stop_the_design_loop(repos: Repos) -> None:
    commit_file(repos.root, f"{DESIGN}/overview.md", "# Shop\n", "design")
    review = f"{DESIGN}/design-reviews/consistency_2026-01-01-00-00-00_design-requirements.md"
    write(repos.root / review, "# Review\n")
    write(repos.root / ".orchestrator/reviews/abc.json", json.dumps({"review_path": review}))
    write(repos.root / f"{DESIGN}/build-reviews/01-core/2026_code-correctness.md", "# Review\n")
    write(repos.root / f"{DESIGN}/CHANGE_LOG.md", "# Changes\n")
    request = OwnFilesRequest(repo_root=str(repos.root), folder=DESIGN)
    ActivityEnvironment().run(refuse_persons_changes, request)  # nothing of a person's

    write(repos.root / f"{DESIGN}/scratch-notes.txt", "call Bob\n")
    write(repos.root / f"{DESIGN}/overview.md", "# Shop, my edit\n")
    write(repos.root / f"{DESIGN}/design-reviews/my-notes.md", "mine\n")
    with pytest.raises(ApplicationError) as held:
        ActivityEnvironment().run(refuse_persons_changes, request)
    assert held.value.non_retryable and held.value.type == "PersonsChangesInDesign"
    named = held.value.message.split(": ", 1)[1].split(". ")[0]
    assert named == ", ".join(
        f"{DESIGN}/{p}" for p in ("design-reviews/my-notes.md", "overview.md", "scratch-notes.txt")
    )
