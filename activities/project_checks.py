"""What a loop's start checks on its project besides orchestrator.toml's own values.

Run by `resolve_project`, so the CLI refuses these before it starts anything and
the `project.resolve` activity holds on them at once (non-retryable) for a loop
started from the plain `temporal` CLI. Each was found only hours into a loop, or
lost work:

- the design directory: a symlink loop, a link into another repository, the file
  system's root, inside `.git`, a worktree of the orchestrator's or its private
  folder, the repository root (whose commit of "the design directory" would take
  every file of the repository), or one whose generated files git ignores;
- the repository's state: a detached HEAD (the approval committed on no branch,
  lost at the next checkout), a branch without commits, a merge, rebase or other
  operation in progress, unresolved conflicts;
- the feature's name (the directory's): git, the tracker and the file system refuse
  spaces, '#', newlines and over-long names only later;
- where `[tracker] path` and `[agents] dir` lead once symlinks are followed: into
  `.git`, onto orchestrator.toml, a role file, the design's own files or a file of
  the person's that is not a tracker;
- for a build: the remote it pushes to, the base branch it starts from, the GitHub
  repository its pull requests go to, and no branch named `feat` or `integration`
  in the way of its own.
"""

from __future__ import annotations

import os
import re
from errno import ELOOP
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities.git.command import GitInputError, git_out, redact, run_git
from activities.git.queries import (
    common_git_dir,
    current_branch,
    has_remote,
    main_checkout,
    remote_url,
    repo_root_of,
    resolve_commit,
)
from activities.repository_url import parse_repository
from contracts.config import BuildChecks, ProjectContext
from contracts.git import WORKTREES_DIR
from contracts.names import feature_name_problem, suggest_name

PRIVATE_DIRS = (WORKTREES_DIR, ".orchestrator")  # agents' worktrees; transcripts, roles
# What a tracker holds (the seeds' table head, in any case and spacing, or our title):
# a file without either is a person's own, which the build must not add tables to.
TRACKER_MARK = re.compile(
    r"^#\s*PR Tracker\b|^\|\s*subtask\s*\|\s*batch\s*\|\s*status\s*\|",
    re.IGNORECASE | re.MULTILINE,
)


def refused(message: str, kind: str) -> ApplicationError:
    """A start no retry can fix: the CLI prints it, a loop holds on it for a person."""
    return ApplicationError(message, type=kind, non_retryable=True)


def design_path(design_dir: str) -> Path:
    """The design directory, absolute and resolved; refused when it cannot be one."""
    if "\0" in design_dir:  # the OS takes no path with a NUL (Python raises ValueError)
        raise refused(
            f"{design_dir!r}: holds a NUL character, which no path on disk has. Fix: pass the "
            "path as it is on disk, e.g. design-docs/active/<feature>",
            "PlanError",
        )
    given = Path(design_dir).expanduser()
    try:
        path = Path(os.path.realpath(given, strict=True))
    except FileNotFoundError:
        path = Path(os.path.abspath(given))  # does not exist: said by the caller
    except OSError as err:  # ELOOP, EACCES on a parent, ENAMETOOLONG
        loop = ": symbolic links that lead back to themselves" if err.errno == ELOOP else ""
        raise refused(
            f"{design_dir}: cannot be resolved ({err.strerror}{loop}). Fix: pass the design "
            "directory itself (the one holding overview.md), e.g. design-docs/active/<feature>",
            "PlanError",
        ) from None
    if path == Path(path.anchor):
        raise refused(
            f"{design_dir}: is the file system's root, not a design directory. Fix: pass the "
            "directory holding overview.md, e.g. design-docs/active/<feature>",
            "PlanError",
        )
    if any(part.casefold() == ".git" for part in path.parts):
        raise refused(
            f"{path}: is inside .git, git's own directory, not a design directory. Fix: put "
            "the design in the project, e.g. design-docs/active/<feature>",
            "PlanError",
        )
    return path


def linked_elsewhere(design_dir: str, path: Path, root: Path) -> ApplicationError | None:
    """A design directory given through a symbolic link whose target lies in another
    repository: the loop would commit to and build in that one, not the one named."""
    given = Path(os.path.abspath(Path(design_dir).expanduser()))
    if given == path:
        return None
    try:
        here = Path(repo_root_of(str(given.parent)))
    except GitInputError:
        return None  # the link lives outside any repository: only its target has one
    if here == root:
        return None
    return refused(
        f"{design_dir}: is a symbolic link to {path}, in another repository ({root}, not "
        f"{here}); the loop would commit to and build in that one. Fix: pass the design "
        f"directory in the repository it belongs to ({path})",
        "PlanError",
    )


def not_a_repository(path: Path) -> ApplicationError:
    """No repository around `path`: say `git init` only when it is a design directory."""
    if not (path / "overview.md").is_file():
        return refused(
            f"{path}: is not a design directory (no overview.md) and not inside a git "
            "repository. Fix: pass the design directory in your project, e.g. "
            "design-docs/active/<feature>",
            "PlanError",
        )
    return refused(
        f"{path}: not inside a git repository. Fix: run `git init` in the project "
        "(the orchestrator commits artifacts and builds on branches)",
        "RepositoryError",
    )


def check_start(ctx: ProjectContext, build: BuildChecks | None = None) -> None:
    """Everything above, in the order a person would fix it; the first problem is raised."""
    root, design = Path(ctx.repo_root), Path(ctx.design_dir)
    _check_design_place(root, design)
    problem = feature_name_problem(ctx.feature)
    if problem:
        raise refused(
            f"{design}: {problem}. Fix: rename the directory, e.g. to "
            f"{design.parent / suggest_name(ctx.feature)}",
            "InvalidFeatureName",
        )
    _check_config_paths(ctx)
    _check_head(root, ctx)
    _check_not_ignored(root, ctx)
    if build is not None:
        _check_build(root, ctx, build)


def _check_design_place(root: Path, design: Path) -> None:
    main = Path(main_checkout(str(root)))
    rel = design.relative_to(main) if design.is_relative_to(main) else None
    if design == root:
        raise refused(
            f"{design}: is the repository's root; the loop commits its design directory, which "
            "would be every file in the repository. Fix: keep the design in a directory of "
            "its own, e.g. design-docs/active/<feature>",
            "PlanError",
        )
    if rel is not None and rel.parts and rel.parts[0] in PRIVATE_DIRS:
        raise refused(
            f"{design}: is inside {rel.parts[0]}/, the orchestrator's own folder (agents' "
            "worktrees, transcripts, roles). Fix: pass the design directory in the main "
            "checkout, e.g. design-docs/active/<feature>",
            "PlanError",
        )


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_config_paths(ctx: ProjectContext) -> None:
    """`[tracker] path` and `[agents] dir` as the disk resolves them (symlinks followed)."""
    root, design = Path(ctx.repo_root), Path(ctx.design_dir)
    cfg = ctx.config
    shown = Path(ctx.config_path or root / "orchestrator.toml")
    agents = Path(os.path.realpath(root / cfg.agents.dir))
    git_dir = Path(common_git_dir(str(root)))
    where = f'[agents] dir = "{cfg.agents.dir}"'
    if not _within(agents, root) or _within(agents, git_dir):
        outside = "into .git" if _within(agents, git_dir) else "out of the repository"
        raise _config_problem(
            shown, where, f"leads {outside} through a symbolic link (to {agents})", "a folder"
        )
    if _within(agents, design) or _within(design, agents):
        raise _config_problem(
            shown, where, f"overlaps the design directory {design}", "a folder of its own"
        )
    tracker = Path(os.path.realpath(root / cfg.tracker.path))
    where = f'[tracker] path = "{cfg.tracker.path}"'
    onto = _tracker_target(tracker, root, git_dir, agents, design)
    if onto:
        raise _config_problem(shown, where, onto, "a file of its own")


def _tracker_target(
    tracker: Path, root: Path, git_dir: Path, agents: Path, design: Path
) -> str | None:
    """Why the tracker may not be written where it resolves to, or None."""
    if _within(tracker, git_dir):
        return f"leads into .git ({tracker}), where a write breaks every git command"
    if not _within(tracker, root):
        return f"leads out of the repository through a symbolic link (to {tracker})"
    rel = tracker.relative_to(root)
    if rel == Path("orchestrator.toml"):
        return "is orchestrator.toml, the configuration itself"
    if _within(tracker, agents):
        return f"is inside [agents] dir ({agents}), where the roles are read from"
    if _within(tracker, design):
        return "is inside the design directory, whose files the loops read and commit"
    if rel.parts[0] in PRIVATE_DIRS:
        return f"is inside {rel.parts[0]}/, the orchestrator's own folder"
    if tracker.is_dir():
        return "is a directory"
    try:
        head = tracker.read_text(encoding="utf-8", errors="replace")[:100_000]
    except FileNotFoundError:
        return None
    except OSError as err:
        return f"is unreadable ({err.strerror})"
    if head.strip() and not TRACKER_MARK.search(head):
        return (
            f"is {rel}, an existing file that is not a tracker (no '| subtask | batch | status |' "
            "table): the build would add its tables to it"
        )
    return None


def _config_problem(shown: Path, where: str, problem: str, what: str) -> ApplicationError:
    return refused(
        f"{shown}: {where}: {problem}. Fix: name {what} inside the repository, outside .git, "
        "the design directory and the files the orchestrator reads (for the tracker, the "
        "default design-docs/orchestration/pr_tracker.md)",
        "ConfigError",
    )


# An operation git left half done, and how to end it (`git status` says the same).
IN_PROGRESS = (
    (
        "rebase-merge",
        "a rebase",
        "`git rebase --continue` after resolving, or `git rebase --abort`",
    ),
    (
        "rebase-apply",
        "a rebase or `git am`",
        "`git rebase --continue`/`git am --continue`, or `--abort`",
    ),
    ("MERGE_HEAD", "a merge", "`git commit` after resolving, or `git merge --abort`"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "`git cherry-pick --continue`, or `--abort`"),
    ("REVERT_HEAD", "a revert", "`git revert --continue`, or `--abort`"),
    ("BISECT_LOG", "a bisect", "`git bisect reset`"),
)
# Files the design loop creates in the design directory and commits as the approval.
WRITTEN = ("subtasks/01-x.xml", "plan/dag.md", "design-reviews/answers.md")


def _check_head(root: Path, ctx: ProjectContext) -> None:
    asked = [arg for name, _, _ in IN_PROGRESS for arg in ("--git-path", name)]
    markers = git_out(str(root), "rev-parse", *asked).splitlines()
    for marker, (_, what, fix) in zip(markers, IN_PROGRESS, strict=True):
        if os.path.exists(os.path.join(root, marker)):
            raise refused(
                f"{root}: {what} is in progress; the loop would commit on top of it, or fail "
                f"to. Fix: finish it ({fix}), then start again",
                "RepositoryError",
            )
    unmerged = git_out(str(root), "ls-files", "--unmerged", "--", ".")
    if unmerged:
        path = unmerged.splitlines()[0].split("\t", 1)[-1]
        raise refused(
            f"{root}: {path} has unresolved merge conflicts. Fix: resolve them and `git add` the "
            "files (or `git checkout --ours/--theirs`), then start again",
            "RepositoryError",
        )
    if ctx.start_commit is None:
        branch = run_git(str(root), "symbolic-ref", "--short", "HEAD", check=False)
        raise refused(
            f"{root}: the branch {branch.stdout.strip() or 'HEAD'} has no commit yet; the loops "
            "read their configuration from a commit and build on it. Fix: commit the project "
            "first (`git add <files> && git commit -m 'Initial commit'`), then start again",
            "RepositoryError",
        )
    if not current_branch(str(root)):
        raise refused(
            f"{root}: HEAD is detached at {ctx.start_commit[:12]} (not on a branch): the design "
            "loop would commit the approved design on no branch, lost at the next checkout, "
            "and a build would start from no branch. Fix: `git switch <branch>`, or `git "
            "switch -c <new-branch>` to keep this commit, then start again",
            "RepositoryError",
        )


def _check_not_ignored(root: Path, ctx: ProjectContext) -> None:
    """The files the design loop writes must be ones git will commit: an ignored design
    directory (or its subtasks/, plan/) lost the approval with nothing said."""
    probes = [f"{ctx.design_rel}/{rel}" for rel in WRITTEN]
    # check-ignore refuses literal pathspecs ("pathspec magic not supported"); the probes
    # are the loop's own names.
    found = run_git(
        str(root),
        "check-ignore",
        "--no-index",
        "-v",
        "--",
        *probes,
        check=False,
        env={"GIT_LITERAL_PATHSPECS": "0"},
    ).stdout.strip()
    if found:
        source, _, path = found.splitlines()[0].partition("\t")
        raise refused(
            f"{root}: {path} would be ignored by git ({source}: the rule at that line), so the "
            "approved design the loop writes there would never be committed. Fix: take the "
            "design directory out of that rule (or add a `!` rule for it), then start again",
            "RepositoryError",
        )


def _check_build(root: Path, ctx: ProjectContext, build: BuildChecks) -> None:
    forge = ctx.config.forge
    kind = build.forge or forge.kind
    shown = Path(ctx.config_path or root / "orchestrator.toml")
    remote_configured = has_remote(str(root), forge.remote)
    if kind == "github" and not remote_configured:
        raise refused(
            f"{root}: the remote {forge.remote!r} is not configured; the build pushes every "
            "subtask's branch there and opens its pull request on GitHub. Fix: `git remote add "
            f"{forge.remote} <url>`, set [forge] remote in {shown} to an existing remote, or "
            'build without a forge ([forge] kind = "none", or `build --forge none`)',
            "RepositoryError",
        )
    for folder in ("feat", "integration"):
        if resolve_commit(str(root), f"refs/heads/{folder}"):
            raise refused(
                f"{root}: a branch is named {folder!r}, so git cannot create the build's "
                f"branches {folder}/<name> beside it. Fix: rename it (`git branch -m {folder} "
                f"{folder}-old`), then start again",
                "RepositoryError",
            )
    base = build.base_branch or forge.base_branch or ctx.branch
    tracked = f"refs/remotes/{forge.remote}/{base}"
    if not any(resolve_commit(str(root), ref) for ref in (f"refs/heads/{base}", tracked, base)):
        raise refused(
            f"{root}: the base branch {base!r} exists neither here nor as "
            f"{forge.remote}/{base}; every subtask's branch starts from it. Fix: create it "
            f"(`git branch {base}`), fetch it (`git fetch {forge.remote} {base}`), or name an "
            f"existing branch in [forge] base_branch ({shown})",
            "RepositoryError",
        )
    if kind == "github" and not forge.repository:
        url = remote_url(str(root), forge.remote)
        if parse_repository(url) is None:
            raise refused(
                f"{shown}: [forge] repository is not set and the remote {forge.remote!r} "
                f"({redact(url or '')}) names no GitHub repository, so no pull request "
                'could be opened. Fix: set [forge] repository = "owner/name", point the remote '
                'at GitHub, or build without a forge ([forge] kind = "none")',
                "ConfigError",
            )
