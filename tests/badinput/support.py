"""What every bad-input case shares: the case itself, and proof that nothing was written.

A case is an input a person (or a tool) can give, the fragment of the refusal that
names the file or field, and the fragment that says the fix. A refused call must
leave the tree byte-identical: `snapshot` before, `snapshot` after, equal.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError


@dataclass(frozen=True)
class Case:
    """One bad input: `arrange` makes it under a root; `where` and `fix` must be in the refusal.

    `where` and `fix` may name `{root}` (the repository) and `{design}` (the design directory).
    """

    id: str
    arrange: Callable[[Path, Path], Any]
    where: str
    fix: str


def ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under `root`: a file's bytes, a link's target, a directory, a FIFO's kind.

    Nothing is opened that could block (FIFOs) or follow a link out of the tree.
    """
    found: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(mode):
                found[rel] = ("dir",)
            elif stat.S_ISREG(mode):
                found[rel] = path.read_bytes()
            else:
                found[rel] = ("special", stat.S_IFMT(mode))
    return found


def refusal_names(message: str, case: Case, root: Path, design: Path) -> None:
    """The refusal names the file or field, then says how to fix it."""
    where = case.where.format(root=root, design=design)
    fix = case.fix.format(root=root, design=design)
    assert where in message, f"{case.id}: {where!r} not named in:\n{message}"
    assert "Fix: " in message, f"{case.id}: no fix in:\n{message}"
    assert fix in message.split(where, 1)[1], (
        f"{case.id}: {fix!r} not said after {where!r}:\n{message}"
    )


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def subplan(title: str, deps: str = "None", files: str = "src/x.py") -> str:
    """A seed-001 subplan with the metadata the plan reads."""
    return (
        f"# {title}\n\n**Dependencies**: {deps}\n**Files Modified**: {files}\n\n"
        "## Acceptance Criteria\n\n- [ ] it works\n\n"
        "## Validation Gates\n\n- [ ] `pytest -q` passes\n"
    )


def make_repo(root: Path) -> Path:
    """A git repository holding design-docs/active/feat with two subplans (02 needs 01)."""
    design = root / "design-docs" / "active" / "feat"
    write(design / "overview.md", "# Feat\n\nA feature.\n")
    write(design / "subplans" / "01-core.md", subplan("Core", files="src/core.py"))
    write(design / "subplans" / "02-api.md", subplan("Api", deps="01-core", files="src/api.py"))
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return design


def refused_untouched(
    case: Case,
    tmp_path: Path,
    call: Callable[[Path], object],
    types: tuple[str, ...],
    prepare: Callable[[Path], object] = lambda design: None,
) -> str:
    """Run `call(design)` on the base repository with `case` applied: it must refuse (one
    of `types`, for good), name the file and the fix, and leave every byte as it was."""
    root = tmp_path / "repo"
    design = make_repo(root)
    prepare(design)
    case.arrange(root, design)
    before = snapshot(tmp_path)
    with pytest.raises(ApplicationError) as refused:
        call(design)
    err = refused.value
    assert err.type in types and err.non_retryable, err
    refusal_names(err.message, case, root, design)
    assert snapshot(tmp_path) == before, f"{case.id}: the refusal wrote to the tree"
    return err.message
