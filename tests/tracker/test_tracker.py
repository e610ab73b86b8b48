"""pr_tracker.md: one section per feature, rebuilt from workflow state, never corrupted."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.design_files import write_build_report
from activities.tracker import parse_tracker, read_tracker, write_tracker
from contracts.build import BuildReport, SubtaskResult
from contracts.metrics import Ledger, Metrics
from contracts.tracker import DEFAULT_TRACKER_PATH, TrackerRow, TrackerUpdate

run = ActivityEnvironment().run


def rows(*specs: tuple[str, int, str, str | None]) -> list[TrackerRow]:
    return [TrackerRow(subtask=s, batch=b, status=st, pr=pr) for s, b, st, pr in specs]  # type: ignore[arg-type]


def update(root: Path, feature: str, table: list[TrackerRow]) -> TrackerUpdate:
    return TrackerUpdate(repo_root=str(root), feature=feature, rows=table)


def section(text: str, feature: str) -> str:
    start = text.index(f"## {feature}\n")
    following = text.find("\n## ", start + 1)
    return text[start : following + 1 if following != -1 else len(text)]


def test_table_keeps_the_seed_format(tmp_path: Path) -> None:
    result = run(
        write_tracker,
        update(
            tmp_path,
            "shop",
            rows(
                ("01-types", 1, "pr_created", "https://github.com/acme/app/pull/1"),
                ("02-parser", 2, "in_progress", None),
                ("03-api", 2, "pending", None),
            ),
        ),
    )

    path = tmp_path / DEFAULT_TRACKER_PATH
    assert result.path == str(path) and result.changed
    assert result.counts == {"pr_created": 1, "in_progress": 1, "pending": 1}
    text = path.read_text()
    assert (
        "## shop\n\n"
        "| subtask | batch | status | PR | notes |\n"
        "|---------|-------|--------|----|-------|\n"
        "| 01-types | 1 | pr_created | https://github.com/acme/app/pull/1 |  |\n"
        "| 02-parser | 2 | in_progress | - |  |\n"
    ) in text
    # The seeds' grep for unfinished subtasks still works on it.
    unfinished = [
        line for line in text.splitlines() if re.match(r"^\| .* \| (in_progress|pending) \|", line)
    ]
    assert len(unfinished) == 2


def test_two_features_share_the_file_and_keep_each_others_bytes(tmp_path: Path) -> None:
    run(write_tracker, update(tmp_path, "shop", rows(("01-a", 1, "pending", None))))
    run(write_tracker, update(tmp_path, "blog", rows(("01-b", 1, "pending", None))))
    path = tmp_path / DEFAULT_TRACKER_PATH
    before = path.read_text()

    run(
        write_tracker,
        update(
            tmp_path,
            "shop",
            rows(("01-a", 1, "pr_created", "https://x/pull/7"), ("02-c", 2, "blocked", None)),
        ),
    )

    after = path.read_text()
    assert section(after, "blog") == section(before, "blog")
    assert after.startswith(before[: before.index("## shop")])  # header untouched
    parsed = read_tracker(str(path))
    assert [r.status for r in parsed["shop"]] == ["pr_created", "blocked"]
    assert parsed["shop"][0].pr == "https://x/pull/7"
    assert [r.subtask for r in parsed["blog"]] == ["01-b"]

    run(write_tracker, update(tmp_path, "blog", rows(("01-b", 1, "skipped", None))))
    assert section(path.read_text(), "shop") == section(after, "shop")


def test_hand_written_preamble_and_foreign_sections_survive(tmp_path: Path) -> None:
    path = tmp_path / DEFAULT_TRACKER_PATH
    path.parent.mkdir(parents=True)
    original = (
        "# Our PRs\n\nSee the wiki.\n\n## legacy\n\n"
        "| subtask | batch | status | PR | notes |\n|-|-|-|-|-|\n"
        "| old | 1 | pr_created | #12 | by hand |\n"
    )
    path.write_text(original)

    run(write_tracker, update(tmp_path, "shop", rows(("01-a", 1, "pending", None))))

    text = path.read_text()
    assert text.startswith(original)
    assert read_tracker(str(path))["legacy"][0].notes == "by hand"


def test_notes_with_pipes_and_newlines_cannot_break_the_table(tmp_path: Path) -> None:
    table = [
        TrackerRow(
            subtask="01-a",
            batch=1,
            status="blocked",
            notes="stuck: a | b\nsecond line",
        )
    ]
    run(write_tracker, update(tmp_path, "shop", table))

    text = (tmp_path / DEFAULT_TRACKER_PATH).read_text()
    assert "| 01-a | 1 | blocked | - | stuck: a \\| b second line |" in text
    assert read_tracker(str(tmp_path / DEFAULT_TRACKER_PATH))["shop"][0].notes == (
        "stuck: a | b second line"
    )


def test_rewriting_the_same_state_changes_nothing(tmp_path: Path) -> None:
    req = update(tmp_path, "shop", rows(("01-a", 1, "pending", None)))
    run(write_tracker, req)
    path = tmp_path / DEFAULT_TRACKER_PATH
    stamp = path.stat().st_mtime_ns
    inode = path.stat().st_ino

    again = run(write_tracker, req)

    assert not again.changed
    assert path.stat().st_mtime_ns == stamp and path.stat().st_ino == inode


def test_a_late_older_write_of_the_same_run_never_overwrites_a_newer_one(
    tmp_path: Path,
) -> None:
    """A cancel leaves an `in_progress` write in flight while the cleanup writes `cancelled`."""

    def write(status: str, writer: str, revision: int):  # type: ignore[no-untyped-def]
        table = rows(("a", 1, status, None))
        return run(
            write_tracker,
            update(tmp_path, "shop", table).model_copy(
                update={"writer": writer, "revision": revision}
            ),
        )

    assert write("cancelled", "run-1", 8).changed
    late = write("in_progress", "run-1", 7)
    assert late.superseded and not late.changed
    path = tmp_path / DEFAULT_TRACKER_PATH
    assert [r.status for r in read_tracker(str(path))["shop"]] == ["cancelled"]
    # The same write retried is harmless; a new run (continue-as-new, reset) always wins.
    assert not write("cancelled", "run-1", 8).superseded
    assert write("pending", "run-2", 1).changed
    assert [r.status for r in read_tracker(str(path))["shop"]] == ["pending"]


def test_concurrent_writers_never_lose_or_corrupt_sections(tmp_path: Path) -> None:
    path = tmp_path / DEFAULT_TRACKER_PATH
    features = [f"feature-{i}" for i in range(6)]
    rounds = 15
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(feature: str) -> None:
        try:
            for n in range(rounds):
                table = rows(*[(f"{k:02d}-task", k, "in_progress", f"pr-{n}") for k in range(4)])
                write_tracker(update(tmp_path, feature, table))
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        # Every snapshot a reader sees is a whole file: complete tables only.
        while not done.is_set():
            if path.exists():
                for table in parse_tracker(path.read_text()).values():
                    if len(table) != 4 or len({r.pr for r in table}) != 1:
                        errors.append(AssertionError(f"torn table: {table}"))

    threads = [threading.Thread(target=writer, args=(f,)) for f in features]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()

    assert errors == []
    parsed = read_tracker(str(path))
    assert sorted(parsed) == features
    assert all(r.pr == f"pr-{rounds - 1}" for table in parsed.values() for r in table)
    assert path.read_text().count("# PR Tracker") == 1
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_write_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(write_tracker, update(tmp_path, "shop", rows(("01-a", 1, "pending", None))))
    path = tmp_path / DEFAULT_TRACKER_PATH
    before = path.read_text()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    # A full disk stays full until a person frees space: the step holds at once, saying so.
    with pytest.raises(ApplicationError) as failed:
        run(write_tracker, update(tmp_path, "shop", rows(("01-a", 1, "pr_created", "u"))))
    assert failed.value.non_retryable and "Fix: the disk is full" in failed.value.message

    assert path.read_text() == before
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_lock_file_stays_out_of_git_status(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)

    run(write_tracker, update(tmp_path, "shop", rows(("01-a", 1, "pending", None))))

    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status.strip() == f"?? {DEFAULT_TRACKER_PATH}"


@pytest.mark.parametrize("feature", ["", "two\nlines", "# heading", " padded"])
def test_bad_feature_names_are_refused(tmp_path: Path, feature: str) -> None:
    with pytest.raises(ApplicationError) as err:
        run(write_tracker, update(tmp_path, feature, []))
    assert err.value.non_retryable


@pytest.mark.parametrize("linked", ["tracker", "lock", "directory"])
def test_a_tracker_path_made_a_link_is_refused_and_its_target_left_alone(
    tmp_path: Path, linked: str
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    root = tmp_path / "repo"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pr_tracker.md").write_text("not a tracker\n")
    path = root / DEFAULT_TRACKER_PATH
    path.parent.mkdir(parents=True)
    if linked == "tracker":
        path.symlink_to(elsewhere / "pr_tracker.md")
    elif linked == "lock":
        path.with_name(f".{path.name}.lock").symlink_to(elsewhere / "lock")
    else:
        path.parent.rmdir()
        path.parent.symlink_to(elsewhere)

    with pytest.raises(ApplicationError) as err:
        run(write_tracker, update(root, "shop", rows(("01-a", 1, "pending", None))))

    assert err.value.non_retryable and err.value.type == "UnsafeRecordPath"
    assert "symbolic link" in err.value.message
    assert sorted(p.name for p in elsewhere.iterdir()) == ["pr_tracker.md"]
    assert (elsewhere / "pr_tracker.md").read_text() == "not a tracker\n"


def test_report_md_rows_hold_notes_with_pipes_and_newlines_in_one_cell(tmp_path: Path) -> None:
    """REPORT.md shows the same notes as the tracker (a failure's message, an
    integrator's reason): they must not add cells, rows or headings to its table."""
    notes = "failed: a | b\n| forged | pr_created | 9 | 1.00 | - | ok |\n## Metrics\nend"
    report = BuildReport(
        path=str(tmp_path / "build-reviews" / "REPORT.md"),
        feature="shop",
        result="INCOMPLETE",
        stop_reason="stopped\n## Metrics\n- Cost: $0",
        subtasks=[SubtaskResult(subtask="01-a", status="blocked", notes=notes)],
        metrics=Metrics.of(Ledger()),
    )

    run(write_build_report, report)

    lines = Path(report.path).read_text().splitlines()
    rows = [line for line in lines if line.startswith("| 01-a |") or "forged" in line]
    assert rows == [
        "| 01-a | blocked | 0 | - | - | failed: a \\| b \\| forged \\| pr_created \\| 9 \\| "
        "1.00 \\| - \\| ok \\| ## Metrics end |"
    ]
    assert [line for line in lines if line.startswith("#")] == [
        "# Build report: shop",
        "## Metrics",
    ]
