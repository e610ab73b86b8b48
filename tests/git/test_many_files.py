"""A commit of 100,000 files works: no argument list grows with the number of files.

Issue 20: committing an agent's 100,000 new files raised `OSError: Argument list
too long` (every path was an argument of `git add` and `git commit`), a retryable
error that could never pass.
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.agents.commit import changed_paths, commit_agent_changes
from activities.git import commit_guard
from activities.git.activities import ensure_worktree
from contracts.git import WorktreeRequest
from contracts.sandbox import SandboxConfig
from tests.git.gitutil import Repos, git

FILES = 100_000


def test_an_agents_hundred_thousand_new_files_commit_in_one_go(repos: Repos) -> None:
    wt = Path(
        ActivityEnvironment()
        .run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="many"))
        .path
    )
    for d in range(FILES // 1000):
        folder = wt / "generated" / f"d{d:03}"
        folder.mkdir(parents=True)
        for i in range(1000):
            fd = os.open(folder / f"f{i:03}.txt", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"%d\n" % i)
            os.close(fd)

    paths = changed_paths(wt)
    used = commit_guard.usage(str(wt))
    sha, files = commit_agent_changes(wt, paths, "many files", "Orchestrator-Call: builder x")

    assert len(paths) == FILES and used.files == FILES + 2  # and README.md, src/app.py
    assert commit_guard.budget_problems(str(wt), SandboxConfig(worktree_max_files=FILES + 2)) == []
    assert sha and len(files) == FILES
    assert (
        int(git(wt, "ls-tree", "-r", "--name-only", "HEAD", "generated/").count("\n")) == FILES - 1
    )
    assert git(wt, "status", "--porcelain") == ""
    message = git(wt, "log", "-1", "--format=%B")
    assert f"and {FILES - 50} more ({FILES} files)" in message and len(message) < 10_000
