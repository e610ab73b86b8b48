"""The agents' file and command tools: bounded, exact, and confined."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from activities.agents.tools import ALL_TOOLS, Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "a.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("def f():\n    return 1\n\ndef g():\n    return 1\n")
    return Workspace(
        root=tmp_path, allowed=frozenset(ALL_TOOLS), command_timeout_s=2, command_output_limit=300
    )


async def test_read_file_pages_with_offset_and_limit(ws: Workspace) -> None:
    text, err = await ws.call("read_file", {"path": "a.txt", "offset": 4, "limit": 2})
    assert not err
    assert text == "     4\tline 4\n     5\tline 5\n... (5 more lines; read on with offset=6)"


async def test_search_is_regex_or_plain_and_bounded(ws: Workspace) -> None:
    text, _ = await ws.call("search_files", {"pattern": r"return \d"})
    assert text.splitlines() == ["pkg/m.py:2:     return 1", "pkg/m.py:5:     return 1"]
    text, _ = await ws.call("search_files", {"pattern": "line 1", "regex": False, "max_results": 1})
    assert text.startswith("a.txt:1: line 1\n... (stopped at 1 matches")
    text, err = await ws.call("search_files", {"pattern": "("})
    assert err and "invalid regular expression" in text


async def test_edit_file_needs_an_exact_unique_match(ws: Workspace) -> None:
    text, err = await ws.call(
        "edit_file", {"path": "pkg/m.py", "old_string": "return 1", "new_string": "return 2"}
    )
    assert err and "occurs 2 times" in text
    text, err = await ws.call(
        "edit_file", {"path": "pkg/m.py", "old_string": "return 9", "new_string": "x"}
    )
    assert err and "not found" in text
    _, err = await ws.call(
        "edit_file",
        {
            "path": "pkg/m.py",
            "old_string": "return 1",
            "new_string": "return 2",
            "replace_all": True,
        },
    )
    assert not err and (ws.root / "pkg/m.py").read_text().count("return 2") == 2
    assert ws.touched == {"pkg/m.py"}


async def test_unknown_arguments_and_unavailable_tools_are_errors_for_the_model(
    tmp_path: Path,
) -> None:
    ws = Workspace(root=tmp_path, allowed=frozenset({"read_file"}))
    text, err = await ws.call("write_file", {"path": "x", "content": "y"})
    assert err and "not available" in text
    text, err = await ws.call("read_file", {"file": "x"})
    assert err and "unknown argument" in text


async def test_commands_are_bounded_in_time_and_output(ws: Workspace) -> None:
    text, err = await ws.call("run_command", {"command": "seq 1 100000"})
    assert not err and text.startswith("exit code: 0\n1\n2\n") and "bytes cut" in text
    assert len(text) < 500 and text.rstrip().endswith("100000")
    started = time.monotonic()
    text, err = await ws.call("run_command", {"command": "sleep 30 & sleep 30"})
    assert "timed out after 2s" in text and time.monotonic() - started < 5
    text, _ = await ws.call("run_command", {"command": "pwd; exit 3"})
    assert text == f"exit code: 3\n{ws.root}\n"


async def test_transcripts_are_invisible_to_agents(tmp_path: Path) -> None:
    stored = tmp_path / ".orchestrator" / "transcripts" / "design-x"
    stored.mkdir(parents=True)
    (stored / "r1.json").write_text('{"score": 0.4}')
    (tmp_path / "mine.transcript.json").write_text("{}")
    (tmp_path / "notes.md").write_text("score")
    ws = Workspace(root=tmp_path, allowed=frozenset(ALL_TOOLS))
    text, err = await ws.call("read_file", {"path": ".orchestrator/transcripts/design-x/r1.json"})
    assert err and "reserved for the orchestrator" in text
    listing, _ = await ws.call("list_files", {})
    assert "r1.json" not in listing and "mine.transcript.json" not in listing
    found, _ = await ws.call("search_files", {"pattern": "score"})
    assert found == "notes.md:1: score"


@pytest.mark.parametrize(
    ("name", "args", "said"),
    [
        (
            "read_file",
            {"path": "a.txt", "offset": "abc"},
            "'offset' must be an integer, not \"abc\"",
        ),
        ("read_file", {"path": "a.txt", "offset": True}, "'offset' must be an integer"),
        ("read_file", {"path": "a\x00.txt"}, "'path' contains a NUL byte"),
        ("read_file", {"path": "a.txt", "limit": 0}, "'limit' must be at least 1, not 0"),
        ("read_file", {"path": "a.txt", "limit": 5000}, "'limit' must be at most 2000"),
        ("read_file", {}, "'path' is required"),
        ("read_file", {"path": ["a.txt"]}, "'path' must be a string"),
        ("write_file", {"path": "b.txt", "content": 7}, "'content' must be a string"),
        ("run_command", {"command": "true", "timeout_s": "soon"}, "'timeout_s' must be a number"),
        ("run_command", {"command": "echo \x00"}, "'command' contains a NUL byte"),
        ("list_files", {"recursive": "yes"}, "'recursive' must be true or false"),
        ("search_files", {"pattern": "x", "max_results": 1e9}, "'max_results' must be at most"),
        ("read_file", "a.txt", "the input must be a JSON object"),
    ],
)
async def test_any_bad_argument_is_a_tool_error_saying_what_to_fix(
    ws: Workspace, name: str, args: object, said: str
) -> None:
    text, err = await ws.call(name, args)  # type: ignore[arg-type]
    assert err and said in text
    assert text.startswith(f"bad arguments for {name}")
    assert not (ws.root / "b.txt").exists()


async def test_whole_numbers_sent_as_floats_are_accepted(ws: Workspace) -> None:
    text, err = await ws.call("read_file", {"path": "a.txt", "offset": 2.0, "limit": 1})
    assert not err and text.startswith("     2\tline 2")


async def test_an_unknown_tool_names_the_tools_there_are(ws: Workspace) -> None:
    text, err = await ws.call("browse_web", {"url": "x"})
    assert err and "'browse_web' is not available" in text
    assert "list_files, read_file, search_files, write_file, edit_file, run_command" in text
