"""The agents' file and command tools: bounded, exact, and confined."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from activities.agents.tools import ALL_TOOLS, ToolLimits, Workspace, tool_definitions


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
    assert text == (
        "     4\tline 4\n     5\tline 5\n"
        "... (lines 4-5 of 10; read on with read_file(path='a.txt', offset=6))"
    )


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


async def test_a_long_file_pages_on_the_same_path_within_the_result_size(tmp_path: Path) -> None:
    """A page stops before the conversation would clip it and names the next offset on the
    same file: no saved copy whose lines already carry numbers."""
    (tmp_path / "big.py").write_text("".join(f"x{n} = {'y' * 60}\n" for n in range(1, 401)))
    ws = Workspace(root=tmp_path, allowed=frozenset(ALL_TOOLS), read_chars=2000)
    page, err = await ws.call("read_file", {"path": "big.py"})
    assert not err and len(page) < 2200
    last = page.splitlines()[-2].split("\t")[0].strip()
    assert page.endswith(f"read on with read_file(path='big.py', offset={int(last) + 1}))")
    following, _ = await ws.call("read_file", {"path": "big.py", "offset": int(last) + 1})
    assert following.startswith(f"{int(last) + 1:6d}\tx{int(last) + 1} = ")


async def test_list_files_is_one_level_unless_asked(ws: Workspace) -> None:
    listing, _ = await ws.call("list_files", {})
    assert listing.splitlines() == ["a.txt", "pkg/"]
    deep, _ = await ws.call("list_files", {"recursive": True})
    assert deep.splitlines() == ["a.txt", "pkg/", "pkg/m.py"]


async def test_search_narrows_by_glob_and_lists_files_only(ws: Workspace) -> None:
    (ws.root / "pkg" / "n.txt").write_text("return 1\n")
    text, _ = await ws.call("search_files", {"pattern": "return", "glob": "*.py"})
    assert text.splitlines() == ["pkg/m.py:2:     return 1", "pkg/m.py:5:     return 1"]
    text, _ = await ws.call("search_files", {"pattern": "return", "files_only": True})
    assert text.splitlines() == ["pkg/m.py", "pkg/n.txt"]
    text, _ = await ws.call("search_files", {"pattern": "return", "glob": "pkg/*.txt"})
    assert text == "pkg/n.txt:1: return 1"


async def test_edits_answer_with_the_changed_region_and_a_syntax_check(ws: Workspace) -> None:
    text, err = await ws.call(
        "edit_file",
        {"path": "pkg/m.py", "old_string": "def g():\n    return 1", "new_string": "def g():\n"
         "    return 2"},
    )  # fmt: skip
    assert not err
    assert "     4\tdef g():\n     5\t    return 2" in text
    assert text.endswith("syntax check (Python): OK")
    text, err = await ws.call(
        "edit_file", {"path": "pkg/m.py", "old_string": "return 2", "new_string": "return (2"}
    )
    assert not err and "syntax check (Python): ERROR at line 5" in text
    assert "(2" in (ws.root / "pkg" / "m.py").read_text()  # saved: the model fixes it
    text, _ = await ws.call("write_file", {"path": "conf.json", "content": '{"a": 1,}'})
    assert text.startswith("created conf.json") and "syntax check (JSON): ERROR" in text
    text, _ = await ws.call("write_file", {"path": "notes.md", "content": "# x\n"})
    assert text == "created notes.md: 4 bytes, 1 lines"


def test_tool_descriptions_state_their_limits_with_an_example() -> None:
    limits = ToolLimits(command_timeout_s=120, command_output_limit=9000, result_limit=7000)
    by_name = {t["name"]: t["description"] for t in tool_definitions(ALL_TOOLS, limits)}
    assert set(by_name) == set(ALL_TOOLS)
    for name, text in by_name.items():
        sentences = [s for s in text.replace("e.g.", "eg").split(". ") if s.strip()]
        assert 3 <= len(sentences) <= 7, (name, sentences)
        assert "Example: {" in text, name
    assert "2000 lines" in by_name["read_file"] and "7,000 characters" in by_name["read_file"]
    assert "RE2" in by_name["search_files"] and "200 results" in by_name["search_files"]
    assert "120 s" in by_name["run_command"] and "9,000" in by_name["run_command"]
    assert "no network" in by_name["run_command"] and "tail" in by_name["run_command"]
    assert "1000 entries" in by_name["list_files"] and "recursive=true" in by_name["list_files"]
    assert "2 MB" in by_name["write_file"] and "syntax check" in by_name["edit_file"]
