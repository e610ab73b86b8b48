"""Seed 003's checks on one subtask's own work (issue 23): on real repositories, over what its
commits wrote, not its base's or its dependencies'; imports of Python, JavaScript/TypeScript
and Go resolved against the repository and its manifests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.checks import run_checks
from activities.git.worktrees import ensure_worktree
from activities.integration import smells
from contracts.build import GateResult
from contracts.checks import ChecksRequest
from contracts.git import WorktreeRequest
from contracts.integration import SmellRequest
from tests.git.gitutil import Repos, commit_file, git, write


def checks(repos: Repos, worktree: str, bases: list[str], promised: list[str]) -> GateResult:
    req = ChecksRequest(
        smells=SmellRequest(
            worktree=worktree,
            base="main",
            bases=bases,
            promised_files={"s": promised},
            log_dir=str(repos.root.parent / "logs"),
        )
    )
    return asyncio.run(ActivityEnvironment().run(run_checks, req))


def test_a_subtask_is_checked_on_its_own_work_only(repos: Repos) -> None:
    git(repos.root, "switch", "-q", "-c", "feat/dep")
    commit_file(repos.root, "src/dep.py", "D = 1  # TODO: the dependency's own\n", "dep")
    git(repos.root, "switch", "-q", "main")
    wt = ensure_worktree(
        WorktreeRequest(
            repo_root=str(repos.root),
            subtask="s",
            base_branch="main",
            dependency_branches=["feat/dep"],
        )
    ).path
    commit_file(wt, "src/own.py", "import src.dep\nX = 1  # FIXME later\n", "own")
    # The base moves on after the subtask branched: its new TODO is not the subtask's either.
    commit_file(repos.root, "src/later.py", "L = 1  # TODO: main's\n", "later")
    write(Path(wt) / "src/wip.py", "W = 2  # XXX not committed yet\n")

    result = checks(repos, wt, ["feat/dep"], ["src/own.py", "src/missing.py"])
    gates = {g.command: g for g in result.results}
    assert set(gates) == {
        smells.CHECK_FILES,
        smells.CHECK_CONFLICTS,
        smells.CHECK_MARKERS,
        smells.CHECK_IMPORTS,
    }
    files = gates[smells.CHECK_FILES]
    assert not files.passed
    assert files.tail.splitlines()[0] == (
        "src/missing.py: s's XML promises src/missing.py, which is missing on this branch"
    )
    assert files.tail.splitlines()[-1].startswith("Fix: write each promised file")
    markers = gates[smells.CHECK_MARKERS]
    found = [line.split(": ", 1)[0] for line in markers.tail.splitlines()[:-1]]
    assert found == ["src/own.py:2", "src/wip.py:1"], markers.tail
    assert gates[smells.CHECK_CONFLICTS].passed and gates[smells.CHECK_IMPORTS].passed


def test_a_subtask_without_dependencies_is_checked_against_where_it_left_its_base(
    repos: Repos,
) -> None:
    wt = ensure_worktree(
        WorktreeRequest(repo_root=str(repos.root), subtask="s", base_branch="main")
    ).path
    commit_file(wt, "src/own.py", "X = 1\n", "own")
    commit_file(repos.root, "src/later.py", "L = 1  # TODO: main's\n", "later")
    result = checks(repos, wt, [], ["src/own.py"])
    assert all(g.passed for g in result.results), result


def imports_of(root: Path, files: dict[str, str]) -> set[tuple[str, int | None]]:
    for rel, text in files.items():
        write(root / rel, text)
    found = smells.Imports(root)
    for rel in files:
        found.check(rel)
    return {(f.path, f.line) for f in found.findings}


def test_javascript_and_typescript_imports_resolve_against_files_and_package_json(
    repos: Repos,
) -> None:
    write(
        repos.root / "package.json",
        json.dumps({"name": "app", "dependencies": {"lodash": "^4"}, "devDependencies": {}}),
    )
    write(
        repos.root / "tsconfig.json",
        '{\n  // aliases\n  "compilerOptions": {"paths": {"@/*": ["src/*"]},},\n}\n',
    )
    write(repos.root / "src/b.ts", "export const b = 1\n")
    write(repos.root / "src/c.ts", "export const c = 1\n")
    write(repos.root / "src/lib/index.js", "module.exports = {}\n")
    source = "\n".join(
        [
            "import { b } from './b'",
            "import y from './missing'",
            "import _ from 'lodash/fp'",
            "import pad from 'left-pad'",
            "import fs from 'node:fs'",
            "import path from 'path'",
            "import q from '@/q'",
            "const c = require('./c.js')",
            "// import bad from 'commented-out'",
            "export * from './lib'",
            "const later = await import('../nowhere')",
        ]
    )
    found = imports_of(repos.root, {"src/a.ts": source})
    assert found == {("src/a.ts", 2), ("src/a.ts", 4), ("src/a.ts", 11)}


def test_go_imports_resolve_against_the_module_path_and_go_mod(repos: Repos) -> None:
    write(
        repos.root / "go.mod",
        "module example.com/app\n\ngo 1.22\n\nrequire (\n\tgithub.com/pkg/errors v0.9.1\n)\n",
    )
    write(repos.root / "internal/util/util.go", "package util\n")
    source = "\n".join(
        [
            "package main",
            "",
            'import "fmt"',
            "",
            "import (",
            '\t"net/http"',
            '\tu "example.com/app/internal/util"',
            '\t"example.com/app/internal/nope"',
            '\t"github.com/pkg/errors"',
            '\t"github.com/other/thing" // not required',
            ")",
        ]
    )
    found = imports_of(repos.root, {"cmd/main.go": source})
    assert found == {("cmd/main.go", 8), ("cmd/main.go", 10)}
