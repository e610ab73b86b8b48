"""Lint by default (issue 23): a linter the repository configures runs on the subtask's changed
files, in the sandbox, in the repository's environment; one configured but not installed
there is a hold for a person, not a pass."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.checks import run_checks
from activities.git.worktrees import ensure_worktree
from contracts.build import GateResult
from contracts.checks import ChecksRequest, LintRequest
from contracts.git import WorktreeRequest
from tests.git.gitutil import Repos, commit_file, write

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="tests/setup.sh installs bubblewrap"
)
RUFF = Path(sys.executable).parent / "ruff"


def lint(repos: Repos, worktree: str, linters: list[str] | None = None) -> GateResult:
    req = ChecksRequest(
        lint=LintRequest(
            worktree=worktree,
            base="main",
            linters=linters,  # type: ignore[arg-type]
            log_dir=str(repos.root.parent / "logs"),
        )
    )
    return asyncio.run(ActivityEnvironment().run(run_checks, req))


def subtask(repos: Repos, files: dict[str, str]) -> str:
    wt = ensure_worktree(WorktreeRequest(repo_root=str(repos.root), subtask="s")).path
    for rel, text in files.items():
        commit_file(wt, rel, text, f"add {rel}")
    return wt


def repository_venv(root: Path, *tools: Path) -> None:
    """The repository's own .venv (untracked, in the main checkout), holding `tools`."""
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    write(venv / "pyvenv.cfg", f"home = {Path(sys.base_prefix) / 'bin'}\n")
    for tool in tools:
        shutil.copy2(tool, venv / "bin" / tool.name)
    write(root / ".git/info/exclude", "/.venv/\n/.worktrees/\n")


@pytest.mark.skipif(not RUFF.is_file(), reason="ruff is a dev dependency")
def test_a_configured_linter_runs_on_the_changed_files_only(repos: Repos) -> None:
    commit_file(repos.root, "pyproject.toml", "[tool.ruff]\nline-length = 100\n", "ruff")
    commit_file(repos.root, "src/old.py", "import sys\n", "an old lint problem, not ours")
    repository_venv(repos.root, RUFF)
    wt = subtask(repos, {"src/own.py": "import os\n", "src/fine.py": "X = 1\n"})
    (gate,) = lint(repos, wt).results
    assert gate.command == "lint: ruff" and gate.kind == "lint"
    assert not gate.passed
    log = Path(gate.log_path).read_text()
    assert "src/own.py" in log and "F401" in log
    assert "src/old.py" not in log  # what the subtask did not change is not its to fix

    clean = subtask(repos, {})  # the same worktree, the offending file fixed
    commit_file(clean, "src/own.py", "import os\n\nprint(os.sep)\n", "use it")
    assert [g.passed for g in lint(repos, clean).results] == [True]


@pytest.mark.skipif(shutil.which("flake8") is not None, reason="flake8 is installed here")
def test_a_configured_linter_that_is_not_installed_holds(repos: Repos) -> None:
    commit_file(repos.root, "setup.cfg", "[flake8]\nmax-line-length = 100\n", "flake8")
    wt = subtask(repos, {"src/own.py": "X = 1\n"})
    with pytest.raises(ApplicationError) as info:
        lint(repos, wt)
    err = info.value
    assert err.type == "LinterMissing" and err.non_retryable
    assert "flake8 is configured (setup.cfg [flake8]) but not installed" in err.message
    assert "Fix: install it there" in err.message and "`[gates] lint = []`" in err.message


def test_no_linter_configured_or_lint_off_runs_nothing(repos: Repos) -> None:
    wt = subtask(repos, {"src/own.py": "import os\n", "web/app.ts": "export {}\n"})
    assert lint(repos, wt).results == []  # nothing configures a linter here
    commit_file(repos.root, "setup.cfg", "[flake8]\nmax-line-length = 100\n", "flake8")
    assert lint(repos, wt, linters=[]).results == []  # [gates] lint = []
    with pytest.raises(ApplicationError) as info:  # named, it runs whether configured or not
        lint(repos, wt, linters=["eslint"])
    assert "eslint is configured ([gates] lint) but not installed" in info.value.message


@pytest.mark.skipif(not RUFF.is_file(), reason="ruff is a dev dependency")
def test_a_half_made_venv_in_the_worktree_does_not_hide_the_repositorys(repos: Repos) -> None:
    """An agent's `.venv` with a config but no interpreter is not an environment: the
    linter still comes from the repository's own."""
    commit_file(repos.root, "pyproject.toml", "[tool.ruff]\nline-length = 100\n", "ruff")
    repository_venv(repos.root, RUFF)
    wt = subtask(repos, {"src/own.py": "import os\n"})
    write(Path(wt) / ".venv/pyvenv.cfg", "home = /nowhere\n")
    (Path(wt) / ".venv/bin").mkdir()
    (gate,) = lint(repos, wt).results
    assert gate.command == "lint: ruff" and not gate.passed
    assert "F401" in Path(gate.log_path).read_text()
