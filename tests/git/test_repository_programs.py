"""The orchestrator's own git runs no program a repository configures.

An agent can reach the shared .git of its worktree, so every program the
repository's config can name is planted here as a script that leaves a marker:
hooks (in .git/hooks and through core.hooksPath), core.fsmonitor, clean, smudge
and process filters (one from an included file), a merge driver and the
transport programs. The worktree, commit, merge and push activities must run
none of them, and still store exactly the content the worktree holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.agents.commit import commit_agent_changes
from activities.git.activities import (
    commit_worktree,
    ensure_worktree,
    merge_dependencies,
    push_branch,
)
from activities.git.command import run_git
from activities.git.hygiene import git_env, repository_overrides, runs_no_program
from contracts.git import CommitRequest, MergeRequest, PushRequest, WorktreeRequest
from tests.git.gitutil import HOOKS, Repos, commit_file, git, plant, write

run = ActivityEnvironment().run


def plant_everything(repos: Repos, markers: Path, hooks_via_config: bool) -> None:
    root = repos.root
    tools = root.parent / "planted"
    # Attributes first (as a person's commit), then the config that gives them programs.
    write(root / ".gitattributes", "*.txt filter=upper merge=mine\n*.md filter=proc\n")
    commit_file(root, "notes.txt", "one\ntwo\nthree\nfour\nfive\n", "notes")
    git(root, "push", "-q", "origin", "main")
    hook_dir = root / ".git" / "hooks"
    if hooks_via_config:
        hook_dir = tools / "hooks"
        git(root, "config", "core.hooksPath", str(hook_dir))
    for hook in HOOKS:
        plant(hook_dir / hook, markers, f"hook-{hook}")
    git(root, "config", "core.fsmonitor", plant(tools / "fsmonitor", markers, "fsmonitor"))
    upper = plant(tools / "upper", markers, "filter", "tr a-z A-Z")
    git(root, "config", "filter.upper.clean", upper)
    git(root, "config", "filter.upper.smudge", upper)
    git(root, "config", "filter.upper.required", "true")
    write(
        tools / "included.cfg",
        f'[filter "proc"]\n\tprocess = {plant(tools / "proc", markers, "process")}\n',
    )
    git(root, "config", "include.path", str(tools / "included.cfg"))
    git(root, "config", "merge.mine.driver", plant(tools / "merge", markers, "merge-driver"))
    git(
        root,
        "config",
        "remote.origin.receivepack",
        plant(tools / "receive", markers, "receive-pack", 'exec git-receive-pack "$@"'),
    )
    git(
        root,
        "config",
        "remote.origin.uploadpack",
        plant(tools / "upload", markers, "upload-pack", 'exec git-upload-pack "$@"'),
    )


@pytest.mark.parametrize("hooks_via_config", [False, True], ids=["dot-git-hooks", "hooksPath"])
def test_no_planted_program_runs_and_commits_hold_the_worktrees_content(
    repos: Repos, tmp_path: Path, hooks_via_config: bool
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    plant_everything(repos, markers, hooks_via_config)

    a = run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="a")).path
    assert Path(a, "notes.txt").read_text() == "one\ntwo\nthree\nfour\nfive\n"  # no smudge
    write(f"{a}/notes.txt", "ONE-by-a\ntwo\nthree\nfour\nfive\n")
    write(f"{a}/README.md", "# app, revised\n")
    first = run(commit_worktree, CommitRequest(worktree=a, message="a: work"))
    assert first.files == ["README.md", "notes.txt"]
    b = run(
        ensure_worktree,
        WorktreeRequest(repo_root=str(repos.root), subtask="b", dependency_branches=["feat/a"]),
    ).path
    write(f"{b}/notes.txt", "ONE-by-a\ntwo\nthree\nfour\nfive-by-b\n")
    trailer = "Orchestrator-Call: builder b round-1 x"
    sha, files = commit_agent_changes(Path(b), ["notes.txt"], "b: work", trailer)
    assert sha and files == ["notes.txt"]
    write(f"{a}/notes.txt", "ONE-by-a\ntwo\nthree-by-a\nfour\nfive\n")
    run(commit_worktree, CommitRequest(worktree=a, message="a: revised"))
    merged = run(
        merge_dependencies,
        MergeRequest(worktree=b, branch="feat/b", dependency_branches=["feat/a"]),
    )
    pushed = run(push_branch, PushRequest(path=b, branch="feat/b"))

    assert sorted(p.name for p in markers.iterdir()) == []
    # A clean text merge (git's own), and every byte as the worktree held it: no clean filter.
    assert merged.conflict is None and merged.merged == ["feat/a"]
    assert (
        git(repos.origin, "show", "feat/b:notes.txt")
        == "ONE-by-a\ntwo\nthree-by-a\nfour\nfive-by-b"
    )
    assert git(repos.origin, "show", "feat/b:README.md") == "# app, revised"
    assert pushed.pushed and git(repos.origin, "rev-parse", "feat/b") == pushed.remote_sha


def test_programs_the_workers_own_config_names_still_run(
    repos: Repos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter from the worker's global config (git-lfs, say) is the worker's choice: kept."""
    markers = tmp_path / "markers"
    markers.mkdir()
    upper = plant(tmp_path / "upper", markers, "global-filter", "tr a-z A-Z")
    global_config = tmp_path / "gitconfig"
    write(global_config, f'[filter "upper"]\n\tclean = {upper}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    write(repos.root / ".gitattributes", "*.txt filter=upper\n")
    # The repository redefines the same filter: the worker's definition wins.
    git(repos.root, "config", "filter.upper.clean", plant(tmp_path / "evil", markers, "repo"))
    assert repository_overrides(str(repos.root)) == [("filter.upper.clean", upper)]

    wt = run(ensure_worktree, WorktreeRequest(repo_root=str(repos.root), subtask="c")).path
    write(f"{wt}/.gitattributes", "*.txt filter=upper\n")
    write(f"{wt}/x.txt", "shout\n")
    run(commit_worktree, CommitRequest(worktree=wt, message="c"))

    assert git(wt, "show", "HEAD:x.txt") == "SHOUT"
    assert sorted(p.name for p in markers.iterdir()) == ["global-filter"]


def test_the_commands_read_without_overrides_start_no_planted_program(
    repos: Repos, tmp_path: Path
) -> None:
    """The commands git runs without first reading the repository's config (hygiene's
    `runs_no_program`) start none of its programs, from the main checkout or a worktree,
    and still answer from it; every other command gets its overrides."""
    markers = tmp_path / "markers"
    markers.mkdir()
    plant_everything(repos, markers, hooks_via_config=True)
    root, tools = repos.root, repos.root.parent / "planted"
    for key in ("gpg.program", "diff.external", "core.sshCommand", "core.askPass", "core.gitProxy"):
        git(root, "config", key, plant(tools / key, markers, key))
    git(root, "config", "core.alternateRefsCommand", plant(tools / "alt", markers, "alt-refs"))
    git(root, "config", "diff.upper.textconv", plant(tools / "textconv", markers, "textconv"))
    git(root, "config", "log.showSignature", "true")
    wt = run(ensure_worktree, WorktreeRequest(repo_root=str(root), subtask="r")).path
    head = git(root, "rev-parse", "HEAD")
    shapes = [
        ("rev-parse", "--show-toplevel"),
        ("rev-parse", "--git-common-dir"),
        ("rev-parse", "--verify", "--quiet", "HEAD^{commit}"),
        ("merge-base", "--is-ancestor", head, "HEAD"),
        ("symbolic-ref", "--quiet", "--short", "HEAD"),
        ("ls-tree", "-r", "-z", "HEAD"),
        ("remote",),
        ("remote", "get-url", "--all", "origin"),
        ("remote", "get-url", "--push", "--all", "origin"),
        ("config", "--get", "remote.origin.url"),
    ]
    for cwd in (str(root), wt):
        for args in shapes:
            assert runs_no_program(args), args
            run_git(cwd, *args, check=False)
            assert git_env(cwd, None, args).get("GIT_CONFIG_COUNT") is None, args
    assert run_git(wt, "config", "--get", "remote.origin.url").stdout.strip() == str(repos.origin)
    assert run_git(wt, "rev-parse", "--show-toplevel").stdout.strip() == str(Path(wt).resolve())
    assert sorted(p.name for p in markers.iterdir()) == []

    for args in [
        ("status",),
        ("remote", "show", "origin"),
        ("remote", "update"),
        ("config", "--add", "x.y", "z"),
        ("log", "-1"),
        ("-c", "user.name=x", "commit", "-m", "m"),
    ]:
        assert not runs_no_program(args), args
        assert git_env(wt, None, args).get("GIT_CONFIG_COUNT"), args
