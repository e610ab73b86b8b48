"""Projects a loop cannot start on, refused before anything starts.

Each case puts a committed project (design-docs/active/feat, an `origin`, a
`[forge] repository`) into one state a person can get it into by accident and
runs `resolve_project`, what the CLI runs before `design` and `build` and the
`project.resolve` activity runs first in every loop: the refusal names the
directory, repository or key and the fix, and not a byte of the tree changes.
Before these checks the loops started and failed (or lost the approval) later:
a detached HEAD committed the approval on no branch, a build without `origin`
ran every agent before its first push failed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities.config import resolve_project
from contracts.config import BuildChecks
from tests.badinput.support import git, make_repo, snapshot, write

CONFIG = '[forge]\nrepository = "octo/feat"\n'
LONG = "f" * 233


@dataclass(frozen=True)
class Start:
    """`arrange(root, design)` breaks the project and returns the design directory to pass."""

    id: str
    arrange: Callable[[Path, Path], Path | None]
    where: str
    fix: str
    build: BuildChecks | None = None


def project(tmp_path: Path) -> tuple[Path, Path]:
    """The committed base every case breaks: on main, with a bare origin."""
    root = tmp_path / "repo"
    design = make_repo(root)
    write(root / "orchestrator.toml", CONFIG)
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "origin.git")], check=True)
    git(root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    return root, design


def renamed(name: str) -> Callable[[Path, Path], Path]:
    def go(root: Path, design: Path) -> Path:
        return design.rename(design.parent / name)

    return go


def committed_config(text: str) -> Callable[[Path, Path], None]:
    def go(root: Path, design: Path) -> None:
        write(root / "orchestrator.toml", text)
        git(root, "commit", "-qam", "config")

    return go


def symlink_loop(root: Path, design: Path) -> Path:
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    return root / "loop-a"


def in_a_worktree(root: Path, design: Path) -> Path:
    git(root, "worktree", "add", "-q", "-b", "feat/01-core", ".worktrees/01-core")
    return root / ".worktrees/01-core/design-docs/active/feat"


def inside_git(root: Path, design: Path) -> Path:
    (root / ".git" / "feat").mkdir()
    return root / ".git" / "feat"


def elsewhere(root: Path, design: Path) -> Path:
    (root.parent / "downloads").mkdir()
    return root.parent / "downloads"


def conflicting(root: Path) -> None:
    """A branch `other` and main, each changing the overview's first line."""
    git(root, "checkout", "-q", "-b", "other")
    write(root / "design-docs/active/feat/overview.md", "# Other\n")
    git(root, "commit", "-qam", "other")
    git(root, "checkout", "-q", "main")
    write(root / "design-docs/active/feat/overview.md", "# Main\n")
    git(root, "commit", "-qam", "main")


def mid_merge(root: Path, design: Path) -> None:
    conflicting(root)
    subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "merge",
            "-q",
            "other",
        ],
        capture_output=True,
    )


def mid_rebase(root: Path, design: Path) -> None:
    conflicting(root)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "rebase", "other"],
        capture_output=True,
    )


def stash_conflict(root: Path, design: Path) -> None:
    write(design / "overview.md", "# Mine\n")
    git(root, "stash", "-q")
    write(design / "overview.md", "# Theirs\n")
    git(root, "commit", "-qam", "theirs")
    subprocess.run(["git", "-C", str(root), "stash", "pop", "-q"], capture_output=True)


def ignored_design(root: Path, design: Path) -> None:
    write(root / ".gitignore", "design-docs/active/*/subtasks/\n")
    git(root, "add", ".gitignore")
    git(root, "commit", "-qm", "ignore generated files")


def linked_to_another_repository(root: Path, design: Path) -> Path:
    other = make_repo(root.parent / "other")
    (root / "design-docs/active/theirs").symlink_to(other)
    return root / "design-docs/active/theirs"


BUILD = BuildChecks()
RENAME = "rename the directory, e.g. to {design_parent}/"
STARTS = [
    Start("detached-head", lambda root, design: git(root, "checkout", "-q", "--detach"),
          "{root}: HEAD is detached at", "`git switch <branch>`, or `git switch -c <new-branch>`"),
    Start("unborn-branch", lambda root, design: git(root, "checkout", "-q", "--orphan", "fresh"),
          "{root}: the branch fresh has no commit yet",
          "commit the project first (`git add <files> && git commit"),
    Start("merge-in-progress", mid_merge,
          "{root}: a merge is in progress", "`git merge --abort`"),
    Start("rebase-in-progress", mid_rebase,
          "{root}: a rebase is in progress", "`git rebase --continue` after resolving"),
    Start("unresolved-conflicts", stash_conflict,
          "{root}: design-docs/active/feat/overview.md has unresolved merge conflicts",
          "resolve them and `git add` the files"),
    Start("design-dir-ignored-by-git", ignored_design,
          "{root}: design-docs/active/feat/subtasks/01-x.xml would be ignored by git "
          "(.gitignore:1:", "take the design directory out of that rule"),
    Start("design-dir-a-link-into-another-repository", linked_to_another_repository,
          "{root}/design-docs/active/theirs: is a symbolic link to ", 
          "Fix: pass the design directory in the repository it belongs to"),
    Start("build-beside-a-branch-named-feat",
          lambda root, design: git(root, "branch", "feat"),
          "{root}: a branch is named 'feat', so git cannot create the build's branches "
          "feat/<name>", "(`git branch -m feat feat-old`)", build=BUILD),
    Start("design-dir-with-a-nul", lambda root, design: Path(f"{design}\0x"),
          "holds a NUL character", "pass the path as it is on disk"),
    Start("feature-name-with-a-space", renamed("my feat"),
          "the feature name 'my feat' (the design directory's name) is not a plain name",
          RENAME + "my-feat"),
    Start("feature-name-with-a-hash", renamed("feat#2"),
          "the feature name 'feat#2'", RENAME + "feat-2"),
    Start("feature-name-with-a-newline", renamed("feat\nx"),
          "the feature name 'feat\\nx'", RENAME + "feat-x"),
    Start("feature-name-too-long", renamed(LONG),
          f"the feature name '{LONG[:40]}'... is 233 characters, more than 100",
          RENAME + "f" * 100),
    Start("feature-name-with-a-look-alike", renamed("feat\u2010x"),
          "(it holds U+2010 HYPHEN where '-' (U+002D) looks the same)", RENAME + "feat-x"),
    Start("design-dir-is-the-repository-root", lambda root, design: root,
          "{root}: is the repository's root", "keep the design in a directory of its own"),
    Start("design-dir-inside-dot-git", inside_git,
          "{root}/.git/feat: is inside .git", "put the design in the project"),
    Start("design-dir-inside-a-worktree", in_a_worktree,
          "is inside .worktrees/, the orchestrator's own folder",
          "pass the design directory in the main checkout"),
    Start("design-dir-a-symlink-loop", symlink_loop,
          "{root}/loop-a: cannot be resolved (Too many levels of symbolic links: symbolic links "
          "that lead back to themselves)", "pass the design directory itself"),
    Start("design-dir-the-file-system-root", lambda root, design: Path("/"),
          "/: is the file system's root, not a design directory",
          "pass the directory holding overview.md"),
    Start("design-dir-not-a-design-outside-a-repository", elsewhere,
          "/downloads: is not a design directory (no overview.md) and not inside a git "
          "repository", "pass the design directory in your project"),
    Start("build-without-origin", lambda root, design: git(root, "remote", "remove", "origin"),
          "{root}: the remote 'origin' is not configured",
          "`git remote add origin <url>`", build=BUILD),
    Start("build-with-a-remote-that-does-not-exist",
          committed_config(CONFIG + 'remote = "upstream"\n'),
          "{root}: the remote 'upstream' is not configured", "set [forge] remote", build=BUILD),
    Start("build-on-a-base-branch-that-does-not-exist",
          committed_config(CONFIG + 'base_branch = "release"\n'),
          "{root}: the base branch 'release' exists neither here nor as origin/release",
          "(`git fetch origin release`)", build=BUILD),
    Start("build-started-with-a-base-that-does-not-exist", lambda root, design: None,
          "the base branch 'relase' exists neither here", "(`git branch relase`)",
          build=BuildChecks(base_branch="relase")),
    Start("build-on-github-without-a-repository", committed_config("threshold = 0.9\n"),
          "{root}/orchestrator.toml: [forge] repository is not set and the remote 'origin'",
          'set [forge] repository = "owner/name"', build=BUILD),
]  # fmt: skip


@pytest.mark.parametrize("case", STARTS, ids=[c.id for c in STARTS])
def test_a_project_a_loop_cannot_start_on_is_refused_first(case: Start, tmp_path: Path) -> None:
    root, design = project(tmp_path)
    given = case.arrange(root, design) or design
    before = snapshot(tmp_path)
    with pytest.raises(ApplicationError) as refused:
        resolve_project(str(given), case.build)
    err = refused.value
    assert err.non_retryable, err
    where = case.where.format(root=root)
    fix = case.fix.format(design_parent=given.parent)
    assert where in err.message, f"{case.id}: {where!r} not in:\n{err.message}"
    assert "Fix: " in err.message and fix in err.message.split(where, 1)[1], err.message
    assert snapshot(tmp_path) == before, f"{case.id}: the refusal wrote to the tree"


def test_the_project_these_cases_break_starts_a_design_and_a_build(tmp_path: Path) -> None:
    _, design = project(tmp_path)
    assert resolve_project(str(design)).branch == "main"
    assert resolve_project(str(design), BUILD).feature == "feat"


def test_a_build_without_a_forge_needs_no_remote(tmp_path: Path) -> None:
    """`none` pushes when it can and opens no pull request: no remote is fine."""
    root, design = project(tmp_path)
    git(root, "remote", "remove", "origin")
    shutil.rmtree(tmp_path / "origin.git")
    assert resolve_project(str(design), BuildChecks(forge="none")).feature == "feat"


def test_a_tracker_the_team_already_keeps_is_written_to(tmp_path: Path) -> None:
    """Only a file that is not a tracker is refused: the seeds' own table, in any case, is one."""
    root, design = project(tmp_path)
    write(
        root / "design-docs/orchestration/pr_tracker.md",
        "# Our PRs\n\n## older-feature\n\n| Subtask | Batch | Status | PR | Notes |\n",
    )
    git(root, "add", "-A")
    git(root, "commit", "-qm", "tracker")
    assert resolve_project(str(design), BUILD).config.tracker.path.endswith("pr_tracker.md")
