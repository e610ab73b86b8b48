"""No file tool can stall the worker: linear-time search, no special files, bounded reads."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from activities.agents import tools
from activities.agents.tools import ALL_TOOLS, Workspace
from simulators.messages_api import MessagesStandIn
from tests.agents.conftest import Runner, request

# Backtracking engines need ~2^n steps for `(a+)+$` on n a's and no match at the end.
CATASTROPHIC = r"(a+)+$"
LONG_AS = "a" * 50_000 + "b"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "notes.txt").write_text("hello world\n")
    return Workspace(root=tmp_path, allowed=frozenset(ALL_TOOLS))


async def test_a_catastrophic_regex_gets_its_true_answer_in_linear_time(ws: Workspace) -> None:
    (ws.root / "as.txt").write_text(f"{LONG_AS}\n{'a' * 40}\n")
    started = time.monotonic()
    text, err = await ws.call("search_files", {"pattern": CATASTROPHIC})
    # The long line ends in `b` (no match); the short one is all a's (a match).
    assert not err and text == f"as.txt:2: {'a' * 40}"
    assert time.monotonic() - started < 5


async def test_patterns_re2_cannot_run_are_tool_errors_that_say_so(ws: Workspace) -> None:
    text, err = await ws.call("search_files", {"pattern": r"(a)\1"})
    assert err and "invalid regular expression" in text and "RE2 syntax" in text
    text, err = await ws.call("search_files", {"pattern": r"(?=x)"})
    assert err and "no backreferences or lookaround" in text
    text, err = await ws.call("search_files", {"pattern": "(a)\\1", "regex": False})
    assert not err and text == "no matches"


async def test_a_search_that_reaches_its_budget_says_how_to_narrow_it(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "SEARCH_TIME_BUDGET_S", -1.0)
    text, err = await ws.call("search_files", {"pattern": "hello"})
    assert not err
    assert text.startswith("... (search stopped after 0 files") and "narrower path" in text


async def test_fifos_and_sockets_are_refused_at_once(ws: Workspace) -> None:
    os.mkfifo(ws.root / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ws.root / "sock"))
    try:
        for tool, args, kind in [
            ("read_file", {"path": "pipe"}, "a FIFO (named pipe)"),
            ("search_files", {"pattern": "x", "path": "pipe"}, "a FIFO (named pipe)"),
            ("list_files", {"path": "pipe"}, "a FIFO (named pipe)"),
            ("edit_file", {"path": "pipe", "old_string": "a", "new_string": "b"}, "a FIFO"),
            ("write_file", {"path": "pipe", "content": "x"}, "a FIFO"),
            ("read_file", {"path": "sock"}, "a socket"),
        ]:
            text, err = await ws.call(tool, args)
            assert err and kind in text and "not a regular file" in text, (tool, text)
        # Searching and listing a directory that holds them skips them, and finds the rest.
        text, err = await ws.call("search_files", {"pattern": "hello"})
        assert not err and text == "notes.txt:1: hello world"
        text, err = await ws.call("list_files", {})
        assert not err and text == "notes.txt"
        assert (ws.root / "pipe").exists()  # write_file did not replace it either
    finally:
        sock.close()


def test_a_file_swapped_for_a_fifo_after_the_check_is_refused_on_open(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(tools.ToolError, match="a FIFO"):
        tools.read_bounded(tmp_path / "pipe", "pipe", "read_file")


async def test_device_files_are_refused_through_links_and_grants(tmp_path: Path) -> None:
    (tmp_path / "zero").symlink_to("/dev/zero")
    ws = Workspace(
        root=tmp_path,
        allowed=frozenset(ALL_TOOLS),
        extra_readable=frozenset({Path("/dev/zero")}),
    )
    text, err = await ws.call("read_file", {"path": "zero"})
    assert err and "outside the working directory" in text
    text, err = await ws.call("read_file", {"path": "/dev/zero"})
    assert err and "absolute paths are not allowed" in text
    text, err = await ws.call("search_files", {"pattern": "x"})
    assert not err and text == "no matches"


async def test_reads_are_bounded_in_size(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "MAX_READ_FILE_BYTES", 1000)
    big = ws.root / "big.log"
    with big.open("wb") as fh:
        fh.truncate(1001)
    text, err = await ws.call("read_file", {"path": "big.log"})
    assert err and "larger than 1,000 bytes" in text and "search_files" in text
    text, err = await ws.call("edit_file", {"path": "big.log", "old_string": "a", "new_string": ""})
    assert err and "larger than 1,000 bytes" in text
    big.write_bytes(b"x\n" * 500)
    text, err = await ws.call("read_file", {"path": "big.log", "limit": 1})
    assert not err and text.startswith("     1\tx\n... (lines 1-1 of 500; read on")


async def test_an_agent_that_tries_to_stall_the_worker_finishes_its_review(
    repo: Path, standin: MessagesStandIn, runner: Runner
) -> None:
    (repo / "src" / "as.txt").write_text(f"{LONG_AS}\n")
    os.mkfifo(repo / "src" / "pipe")
    (repo / "src" / "zero").symlink_to("/dev/zero")
    steps = [
        {"tool": "search_files", "input": {"pattern": CATASTROPHIC, "path": "src"}},
        {"tool": "read_file", "input": {"path": "src/pipe"}},
        {"tool": "read_file", "input": {"path": "src/zero"}},
        {"tool": "search_files", "input": {"pattern": "return", "path": "src"}},
    ]
    standin.reset({"rules": [{"match": {"role": "code-correctness"}, "steps": steps}]})
    # Focus paths are hashed for review reuse: a FIFO or a device among them must not block.
    await runner.run(
        "agent.review",
        request(
            repo,
            "code-correctness",
            review_path="r.md",
            title="t",
            focus_paths=["src/pipe", "src/zero", "/dev/zero"],
            reuse=True,
            remember=True,
        ),
    )
    results = [r.tool_results[0] for r in standin.requests[1:5]]
    assert [r["is_error"] for r in results] == [False, True, True, False]
    assert results[0]["content"] == "no matches"
    assert "a FIFO (named pipe)" in results[1]["content"]
    assert "outside the working directory" in results[2]["content"]
    assert results[3]["content"] == "src/core.py:2:     return a + b"


async def test_writes_and_edits_are_bounded_in_size(ws: Workspace) -> None:
    """A model can send 20 MB of content in one call: no file tool leaves a file past the cap,
    counted in bytes (é is two), and the model hears the limit; nothing is written."""
    cap = tools.MAX_WRITE_FILE_BYTES
    text, err = await ws.call("write_file", {"path": "blob.txt", "content": "é" * (cap // 2 + 1)})
    assert err and f"{cap + 2:,} bytes, more than the {cap:,} bytes" in text
    assert "nothing was written" in text and not (ws.root / "blob.txt").exists()
    text, err = await ws.call("write_file", {"path": "fits.txt", "content": "a" * cap})
    assert not err and (ws.root / "fits.txt").stat().st_size == cap
    # An edit is sized before it is built: every `hello` becomes a megabyte.
    before = (ws.root / "notes.txt").read_text()
    (ws.root / "notes.txt").write_text(before * 3)
    edit = {"path": "notes.txt", "old_string": "hello", "new_string": "x" * 1_000_000}
    text, err = await ws.call("edit_file", {**edit, "replace_all": True})
    assert err and f"edit_file would leave it {3 * 1_000_000 + 3 * 7:,} bytes" in text
    assert (ws.root / "notes.txt").read_text() == before * 3
    text, err = await ws.call("edit_file", {**edit, "new_string": "hi", "replace_all": True})
    assert not err and (ws.root / "notes.txt").read_text() == "hi world\n" * 3
