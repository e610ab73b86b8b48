"""The token log's file: append-only rows, a torn last line skipped and repaired."""

from __future__ import annotations

import subprocess
from pathlib import Path

from activities.agents.telemetry import TokenLog, append_line, read_rows
from contracts.telemetry import TokenRow, parse_rows, row_key, token_log_path


def row(turn: int, attempt: int = 1, activity_id: str = "3") -> TokenRow:
    return TokenRow(
        key=row_key("design-demo", "run-1", activity_id, attempt, turn),
        time="2026-12-07T04:00:00.000+00:00",
        workflow_id="design-demo",
        run_id="run-1",
        activity_id=activity_id,
        attempt=attempt,
        role="requirements-reviewer",
        scope="01-core",
        round=1,
        turn=turn,
        model="sim-model-1",
        input_tokens=100 * turn,
        output_tokens=10,
        cache_read_input_tokens=5,
        cache_creation_input_tokens=7,
        cost_usd=0.001,
        duration_s=0.5,
        stop_reason="tool_use",
        context_tokens=112 * turn,
        context_window=200_000,
    )


def test_rows_are_appended_one_line_each_and_read_back(tmp_path: Path) -> None:
    path = Path(token_log_path(str(tmp_path / "design")))
    log = TokenLog(path)
    assert log.append(row(1)) and log.append(row(2))
    assert [r.turn for r in read_rows(path)] == [1, 2]
    assert path.read_text().count("\n") == 2
    assert row(2).usage().total_tokens == 200 + 10 + 5 + 7
    assert row(2).usage().requests == 1


def test_a_key_already_in_the_log_is_not_written_again(tmp_path: Path) -> None:
    path = tmp_path / "telemetry" / "token_log.jsonl"
    assert TokenLog(path).append(row(1))
    again = TokenLog(path)  # another attempt's writer reads the keys on disk
    assert not again.append(row(1))
    assert again.append(row(1, attempt=2))  # the same turn asked again: a real request
    assert [(r.turn, r.attempt) for r in read_rows(path)] == [(1, 1), (1, 2)]


def test_a_torn_last_line_is_skipped_and_the_next_row_starts_on_its_own_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "telemetry" / "token_log.jsonl"
    append_line(path, row(1).line())
    whole = row(2).line()
    with path.open("a") as f:
        f.write(whole[: len(whole) // 2])  # a crash cut this write short
    assert [r.turn for r in read_rows(path)] == [1]
    assert TokenLog(path).append(row(3))
    assert [r.turn for r in read_rows(path)] == [1, 3]
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[1] == whole[: len(whole) // 2]


def test_blank_and_foreign_lines_are_not_rows() -> None:
    text = "\n" + row(1).line() + "not json\n" + '{"key": "x"}\n' + row(2).line()
    assert [r.turn for r in parse_rows(text)] == [1, 2]


def test_git_never_sees_the_log(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    path = Path(token_log_path(str(tmp_path / "design")))
    append_line(path, row(1).line())
    status = subprocess.run(
        ["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert status == ""


def test_a_link_planted_for_the_log_is_not_followed(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("keep\n")
    path = Path(token_log_path(str(tmp_path / "design")))
    path.parent.mkdir(parents=True)
    path.symlink_to(outside)
    assert not TokenLog(path).append(row(1))  # refused and logged: the agent goes on
    assert outside.read_text() == "keep\n"
