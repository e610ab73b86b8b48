"""Integration's git steps on real repositories: merging subtask branches in DAG order onto
`integration/<feature>` and seed 003's smell checks over what the feature changed."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.git.worktrees import ensure_worktree
from activities.integration import smells
from activities.integration.activities import smell_checks
from activities.integration.merge import integrate
from contracts.git import WorktreeRequest
from contracts.integration import IntegrateRequest, SmellRequest
from tests.git.gitutil import Repos, commit_file, git

BRANCH = "integration/feat"


def subtask_branch(repos: Repos, name: str, files: dict[str, str], base: str = "main") -> None:
    git(repos.root, "switch", "-q", "-c", f"feat/{name}", base)
    for rel, text in files.items():
        commit_file(repos.root, rel, text, f"feat({name})")
    git(repos.root, "switch", "-q", "main")


def integration_worktree(repos: Repos) -> str:
    wt = ensure_worktree(
        WorktreeRequest(repo_root=str(repos.root), subtask="integration", branch=BRANCH)
    )
    assert wt.branch == BRANCH and wt.path.endswith(".worktrees/integration")
    return wt.path


def request(path: str, *names: str) -> IntegrateRequest:
    return IntegrateRequest(
        worktree=path, branch=BRANCH, base_branch="main", branches=[f"feat/{n}" for n in names]
    )


def test_branches_merge_in_the_given_order_and_a_retry_merges_nothing_twice(repos: Repos) -> None:
    subtask_branch(repos, "a", {"src/a.py": "A = 1\n"})
    subtask_branch(repos, "b", {"src/b.py": "B = 2\n"})
    path = integration_worktree(repos)
    first = integrate(request(path, "a", "b"))
    assert first.merged == ["feat/a", "feat/b"] and first.conflict is None
    assert first.base == git(repos.root, "rev-parse", "main")
    merges = git(path, "log", "--merges", "--format=%s").splitlines()
    assert merges == [
        f"Merge branch 'feat/b' into {BRANCH}",
        f"Merge branch 'feat/a' into {BRANCH}",
    ]
    again = integrate(request(path, "a", "b"))
    assert again.merged == [] and again.head == first.head


def test_a_conflict_is_committed_with_its_markers_and_the_rest_merges_next_time(
    repos: Repos,
) -> None:
    subtask_branch(repos, "a", {"src/app.py": "VALUE = 2\n"})
    subtask_branch(repos, "b", {"src/app.py": "VALUE = 3\n"})
    subtask_branch(repos, "c", {"src/c.py": "C = 1\n"})
    path = integration_worktree(repos)
    result = integrate(request(path, "a", "b", "c"))
    assert result.merged == ["feat/a"]
    assert result.conflict is not None
    assert result.conflict.branch == "feat/b" and result.conflict.files == ["src/app.py"]
    assert git(path, "status", "--porcelain") == ""  # committed, nothing half-merged
    assert "<<<<<<<" in (Path(path) / "src/app.py").read_text()
    # Both parents: the merge is recorded, so feat/b counts as merged from now on.
    assert len(git(path, "rev-list", "--parents", "-n1", "HEAD").split()) == 3
    (Path(path) / "src/app.py").write_text("VALUE = 3\n")  # the integrator's resolution
    git(path, "commit", "-qam", "resolve")
    rest = integrate(request(path, "a", "b", "c"))
    assert rest.merged == ["feat/c"] and rest.conflict is None


def test_a_merge_cut_off_by_a_crash_is_started_again(repos: Repos) -> None:
    subtask_branch(repos, "a", {"src/app.py": "VALUE = 2\n"})
    subtask_branch(repos, "b", {"src/app.py": "VALUE = 3\n"})
    path = integration_worktree(repos)
    integrate(request(path, "a"))
    # A worker died mid-merge: MERGE_HEAD and conflicted files are left in the worktree.
    proc = git_may_fail(path, "merge", "--no-ff", "feat/b")
    assert proc != 0
    result = integrate(request(path, "a", "b"))
    assert result.conflict is not None and result.conflict.branch == "feat/b"
    assert git(path, "status", "--porcelain") == ""


def git_may_fail(cwd: str, *args: str) -> int:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True).returncode


def test_smells_name_the_file_line_and_what_to_fix(repos: Repos) -> None:
    commit_file(repos.root, "src/pkg/__init__.py", "", "package")
    commit_file(repos.root, "src/pkg/core.py", "def run():\n    return 1\n", "core")
    # The feature: one subtask renamed run() -> start(), another still imports run.
    subtask_branch(
        repos,
        "a",
        {
            "src/pkg/core.py": "def start():\n    return 1\n",
            "src/pkg/cli.py": "from pkg.core import run\nimport pkg.missing\n# TODO: finish\n",
            "tests/test_cli.py": "from unittest import mock  # fine in tests\n# TODO later\n",
            "src/pkg/ok.py": "import os\nfrom pkg import core\nfrom .core import start\n",
            "src/pkg/merge.py": "x = 1\n<<<<<<< HEAD\ny = 2\n",
        },
    )
    path = integration_worktree(repos)
    result = integrate(request(path, "a"))
    worktree = Path(path)
    changed = smells.changed_files(path, result.base)
    found = [
        *smells.promised_missing(worktree, {"a": ["src/pkg/cli.py", "docs/a.md"]}),
        *smells.smell_markers(path, result.base, changed),
        *smells.conflict_markers(worktree, changed),
    ]
    imports = smells.Imports(worktree)
    for rel in changed:
        if rel.endswith(".py"):
            imports.check(rel)
    found += imports.findings
    text = {(f.check, f.path, f.line, f.message) for f in found}
    assert (
        smells.CHECK_FILES,
        "docs/a.md",
        None,
        "a's XML promises docs/a.md, which is missing on the integrated branch",
    ) in text
    by_check = {(f.check, f.path, f.line) for f in found}
    assert (smells.CHECK_MARKERS, "src/pkg/cli.py", 3) in by_check
    assert (smells.CHECK_CONFLICTS, "src/pkg/merge.py", 2) in by_check
    assert (smells.CHECK_IMPORTS, "src/pkg/cli.py", 1) in by_check  # run() is gone
    assert (smells.CHECK_IMPORTS, "src/pkg/cli.py", 2) in by_check  # no pkg/missing.py
    assert not [f for f in found if f.path.startswith("tests/") or f.path == "src/pkg/ok.py"]
    assert "'run'" in next(f.message for f in found if f.line == 1 and f.path.endswith("cli.py"))


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="tests/setup.sh installs bubblewrap")
def test_third_party_imports_are_looked_up_in_the_repository_environment(repos: Repos) -> None:
    subtask_branch(repos, "a", {"src/use.py": "import json\nimport nosuchlib_xyz\n"})
    path = integration_worktree(repos)
    base = integrate(request(path, "a")).base
    req = SmellRequest(worktree=path, base=base, log_dir=str(repos.root.parent / "logs"))
    result = asyncio.run(ActivityEnvironment().run(smell_checks, req))
    gate = next(g for g in result.results if g.command == smells.CHECK_IMPORTS)
    assert not gate.passed and "cannot import: nosuchlib_xyz" in gate.tail
    assert [g.passed for g in result.results if g.command != smells.CHECK_IMPORTS] == [True] * 3


def test_smells_name_the_subtask_whose_own_work_is_at_fault(repos: Repos) -> None:
    """A missing promised file is the fault of whoever deleted it, else of whoever promised
    it; a marker, of the subtask whose commit wrote it; the integrator's own lines, nobody's."""
    subtask_branch(repos, "a", {"src/a.py": "A = 1  # TODO: finish\n", "src/keep.py": "KEEP = 1\n"})
    git(repos.root, "switch", "-q", "-c", "feat/b", "feat/a")  # b depends on a
    git(repos.root, "rm", "-q", "src/keep.py")
    git(repos.root, "commit", "-qm", "feat(b): drop keep.py")
    commit_file(repos.root, "src/b.py", "B = 1  # FIXME\n", "feat(b)")
    git(repos.root, "switch", "-q", "main")
    path = integration_worktree(repos)
    base = integrate(request(path, "a", "b")).base
    commit_file(path, "src/glue.py", "G = 1  # TODO: the integrator's\n", "integrator")
    req = SmellRequest(
        worktree=path,
        base=base,
        promised_files={"a": ["src/a.py", "src/keep.py", "docs/a.md"], "b": ["src/b.py"]},
        branches={"a": "feat/a", "b": "feat/b"},
        log_dir=str(repos.root.parent / "logs"),
    )
    result = asyncio.run(ActivityEnvironment().run(smell_checks, req))
    gates = {g.command: g for g in result.results}
    files = gates[smells.CHECK_FILES]
    assert not files.passed and files.culprits == ["b", "a"]  # b deleted keep.py; a never wrote
    assert "src/keep.py: a's XML promises src/keep.py" in files.tail
    markers = gates[smells.CHECK_MARKERS]
    assert not markers.passed and markers.culprits == ["a", "b"]
    assert "src/glue.py:1" in markers.tail  # found, but blamed on no subtask
