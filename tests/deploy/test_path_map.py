"""`--path-map`: a host's own clone stands in for the path the loop was started with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contracts.agents import ReviewIssue, Severity
from contracts.git import WorktreeRequest, WorktreeResult
from runtime.path_map import PathMap, PathMapError

ROOT = Path(__file__).resolve().parents[2]


def test_inputs_become_local_and_results_canonical(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    pm = PathMap.parse([f"/home/alice/shop={clone}"])
    req = WorktreeRequest(repo_root="/home/alice/shop", subtask="a", dependency_branches=["x"])
    local = pm.to_local(req)
    assert isinstance(local, WorktreeRequest)
    assert local.repo_root == str(clone) and local.dependency_branches == ["x"]
    result = WorktreeResult(
        path=f"{clone}/.worktrees/a", branch="feat/a", head="abc", created=True, has_own_work=False
    )
    assert pm.to_canonical(result).path == "/home/alice/shop/.worktrees/a"


def test_only_whole_path_components_and_no_enum_is_touched(tmp_path: Path) -> None:
    pm = PathMap.parse([f"/srv/p={tmp_path}"])
    text = "see /srv/p/x.md and /srv/p, not /srv/p2/y or /srv/pp"
    assert pm.to_local(text) == f"see {tmp_path}/x.md and {tmp_path}, not /srv/p2/y or /srv/pp"
    issue = ReviewIssue(severity=Severity.critical, description="in /srv/p/a.py")
    moved = pm.to_local({"k": [issue], "t": ("/srv/p",)})
    assert moved["k"][0].severity is Severity.critical
    assert moved["k"][0].description == f"in {tmp_path}/a.py"
    assert moved["t"] == (str(tmp_path),)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("/a/b", "expected CANONICAL=LOCAL"),
        ("rel=/tmp", "is not absolute"),
        ("/a=/definitely/not/here", "does not exist"),
    ],
)
def test_bad_entries_name_the_entry_and_the_fix(entry: str, says: str) -> None:
    with pytest.raises(PathMapError, match=says) as err:
        PathMap.parse([entry])
    assert repr(entry) in str(err.value)


def test_the_worker_refuses_a_bad_map_before_connecting() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "worker", "--no-embedded", "--path-map", "/a=/definitely/not"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "clone the repository there" in done.stderr
    assert "does not exist" in done.stderr
