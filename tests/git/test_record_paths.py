"""Records are written from the checkout down, one directory at a time, never through a link.

An agent can put a symbolic link anywhere in its worktree (and the design writer in
the main checkout); whatever the orchestrator writes there afterwards (reviews, PR
text, gate logs, reports, the tracker, transcripts) must refuse it, not follow it.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities import files
from activities.gates import run_gates
from contracts.build import GateRequest
from contracts.sandbox import SandboxConfig
from tests.git.gitutil import git

DESIGN = "design-docs/active/shop"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / DESIGN).mkdir(parents=True)
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    return root


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """Where a planted link points: another directory the orchestrator must not write."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    return target


def _refused(call: object, *args: object, **kwargs: object) -> files.UnsafePath:
    with pytest.raises(files.UnsafePath) as err:
        call(*args, **kwargs)  # type: ignore[operator]
    assert err.value.non_retryable and err.value.type == "UnsafeRecordPath"
    assert "Fix: " in err.value.message
    return err.value


@pytest.mark.parametrize("linked", ["design-docs", DESIGN, f"{DESIGN}/build-reviews"])
def test_a_linked_directory_anywhere_below_the_checkout_is_refused(
    checkout: Path, elsewhere: Path, linked: str
) -> None:
    shutil.rmtree(checkout / linked, ignore_errors=True)
    (checkout / linked).symlink_to(elsewhere)
    path = checkout / DESIGN / "build-reviews" / "01-a" / "review.md"

    err = _refused(files.atomic_write_text, path, "## SCORE: 1.00\n")

    assert f"`{Path(linked).name}` on that path is a symbolic link (to {elsewhere})" in err.message
    assert list(elsewhere.iterdir()) == []
    # The same refusal where nothing is written or only read.
    _refused(files.check_writable, path)
    _refused(files.read_bytes, path)


def test_a_linked_file_is_refused_and_its_target_left_alone(
    checkout: Path, elsewhere: Path
) -> None:
    secret = elsewhere / "config"
    secret.write_text("original\n")
    link = checkout / DESIGN / "PULL_REQUEST.md"
    link.symlink_to(secret)

    _refused(files.atomic_write_text, link, "overwritten\n")
    _refused(files.read_bytes, link)
    _refused(files.open_file, link, os.O_RDWR | os.O_CREAT)

    assert secret.read_text() == "original\n" and link.is_symlink()


def test_paths_outside_the_root_through_dot_dot_or_into_a_git_directory_are_refused(
    checkout: Path, tmp_path: Path
) -> None:
    worktree = checkout / ".worktrees" / "01-a"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: ../../.git/worktrees/01-a\n")

    outside = _refused(files.atomic_write_text, tmp_path / "x.md", "x", root=worktree)
    assert "outside the checkout" in outside.message
    dotdot = _refused(files.atomic_write_text, f"{worktree}/../../x.md", "x", root=checkout)
    assert "'..'" in dotdot.message
    for into_git in (checkout / ".git" / "x", worktree / "vendored" / ".GIT" / "config"):
        assert "`.git`" in _refused(files.atomic_write_text, into_git, "x").message
    assert not (tmp_path / "x.md").exists() and not (checkout / ".git" / "x").exists()


def test_a_fifo_or_a_directory_where_the_file_goes_is_refused_without_blocking(
    checkout: Path,
) -> None:
    fifo = checkout / DESIGN / "REPORT.md"
    os.mkfifo(fifo)
    (checkout / DESIGN / "INTEGRATION.md").mkdir()
    done = threading.Event()

    def attempt() -> None:
        assert "FIFO" in _refused(files.atomic_write_text, fifo, "x").message
        assert "FIFO" in _refused(files.open_file, fifo, os.O_RDWR | os.O_CREAT).message
        assert (
            "directory"
            in _refused(files.atomic_write_text, checkout / DESIGN / "INTEGRATION.md", "x").message
        )
        done.set()

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert done.is_set()


def test_links_above_the_checkout_are_the_users_own(tmp_path: Path, checkout: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(tmp_path)
    path = alias / "repo" / DESIGN / "plan" / "dag.md"

    files.atomic_write_text(path, "# DAG\n")

    assert (checkout / DESIGN / "plan" / "dag.md").read_text() == "# DAG\n"
    assert files.checkout_of(path) == str(alias / "repo")


def test_a_worktrees_records_are_checked_from_the_main_checkout(
    checkout: Path, elsewhere: Path
) -> None:
    """The outermost checkout is the root: a nested repository an agent made is no root."""
    nested = checkout / ".worktrees" / "01-a" / "vendored"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    (checkout / ".worktrees" / "01-a" / "reviews").symlink_to(elsewhere)

    assert files.checkout_of(nested / "x.md") == str(checkout)
    _refused(files.atomic_write_text, checkout / ".worktrees" / "01-a" / "reviews" / "r.md", "x")
    assert list(elsewhere.iterdir()) == []


def test_writes_stay_atomic_keep_the_mode_and_leave_unchanged_files_alone(
    checkout: Path,
) -> None:
    path = checkout / DESIGN / "build-reviews" / "01-a" / "r.md"
    files.atomic_write_text(path, "one\n")
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    path.chmod(0o600)
    stale = path.with_name(".r.md.deadbeef.tmp")
    stale.write_text("half")  # an attempt killed mid-write
    before = path.stat().st_mtime_ns

    files.atomic_write_text(path, "one\n")
    assert path.stat().st_mtime_ns == before
    files.atomic_write_text(path, "two\n")

    assert path.read_text() == "two\n" and oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.md"]
    assert files.check_writable(path) and not files.check_writable(path.with_name("new.md"))


async def test_a_gate_log_dir_made_a_link_is_refused_before_the_command_runs(
    checkout: Path, elsewhere: Path
) -> None:
    reviews = checkout / DESIGN / "build-reviews"
    reviews.symlink_to(elsewhere)
    request = GateRequest(
        workdir=str(checkout),
        commands=["touch ran"],
        log_dir=str(reviews / "01-a" / "gates" / "round-1"),
        sandbox=SandboxConfig(mode="none"),
    )

    with pytest.raises(files.UnsafePath):
        await ActivityEnvironment().run(run_gates, request)

    assert not (checkout / "ran").exists() and list(elsewhere.iterdir()) == []


def test_concurrent_writers_of_one_file_never_lose_a_write(checkout: Path) -> None:
    """Two agents of one loop write the same record at once (the token log's .gitignore):
    each write lands whole, none fails because another removed its temp file."""
    path = checkout / DESIGN / "telemetry" / ".gitignore"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(60):
                files.atomic_write_text(path, f"{n}-{i}\n")
        except BaseException as err:  # reported below, with its cause
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert path.read_text().endswith("-59\n")
    assert sorted(p.name for p in path.parent.iterdir()) == [".gitignore"]
