"""The file and command tools an agent may call, confined to its working directory.

Every path is relative to the workdir; `..`, absolute paths and symlinks that
resolve outside it are refused. A refusal is a tool error the model reads and
recovers from, not an exception that fails the activity. Commands run in the
OS sandbox (`activities.sandbox`): the workdir is the only writable place, the
rest of the machine, the network and every secret are out of reach, and time,
processes, memory and output are bounded.
"""

from __future__ import annotations

import ast
import asyncio
import fnmatch
import functools
import json
import os
import re
import stat
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import re2
import yaml

from activities import sandbox
from activities.agents.cancel import finish_in_thread, raise_if_cancelled
from activities.agents.errors import non_retryable
from activities.agents.transcript import REVIEW_CACHE_DIR, TRANSCRIPT_DIR, is_transcript
from activities.files import atomic_write_text
from activities.sandbox.paths import project_environment
from contracts.sandbox import SandboxConfig

READ_TOOLS = ("list_files", "read_file", "search_files")
WRITE_TOOLS = ("write_file", "edit_file")
COMMAND_TOOLS = ("run_command",)
ALL_TOOLS = READ_TOOLS + WRITE_TOOLS + COMMAND_TOOLS

MAX_READ_LINES = 2000
MAX_LINE_CHARS = 2000
READ_CHARS = 15_000  # default page size of read_file, in characters
SNIPPET_CONTEXT = 3  # lines shown around an edit
SYNTAX_CHECKED = {
    ".py": "Python",
    ".json": "JSON",
    ".toml": "TOML",
    ".yaml": "YAML",
    ".yml": "YAML",
}
MAX_TOOL_OUTPUT = 60_000
MAX_LIST_ENTRIES = 1000
MAX_SEARCH_RESULTS = 200
MAX_SEARCH_FILE_BYTES = 2_000_000
# A text file larger than this is not read whole into the worker's memory.
MAX_READ_FILE_BYTES = 10_000_000
# No write or edit leaves a file larger than this: far above any source file a model
# writes in one call, far below what would fill the disk or the worker's memory.
MAX_WRITE_FILE_BYTES = 2_000_000
# One search stops after this long or this much text, whatever the repository's size.
SEARCH_TIME_BUDGET_S = 20.0
MAX_SEARCH_TOTAL_BYTES = 200_000_000
# RE2 (linear time, no backtracking) with a bounded automaton: no pattern can stall the worker.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 64 << 20
SKIP_DIRS = frozenset(
    {".git", "node_modules", "__pycache__", ".venv", ".mypy_cache", ".ruff_cache"}
)
REVIEW_DIRS = frozenset({"design-reviews", "build-reviews"})
_SCORE_LINE = re.compile(r"^(##\s*SCORE:).*$", re.MULTILINE | re.IGNORECASE)


class ToolError(Exception):
    """A problem the model should hear about and can fix (bad path, no match...)."""


def tool_definitions(
    allowed: Iterable[str], limits: ToolLimits | None = None
) -> list[dict[str, Any]]:
    """Messages API tool definitions for the allowed tool names, in a stable order, their
    descriptions stating the limits this run applies."""
    allowed, limits = set(allowed), limits or ToolLimits()
    return [
        {"name": name, **_SPECS[name], "description": describe(name, limits)}
        for name in ALL_TOOLS
        if name in allowed
    ]


@dataclass(frozen=True)
class ToolLimits:
    """The per-run limits a tool description states (the rest are constants here)."""

    command_timeout_s: float = 300.0
    command_output_limit: int = 20_000
    result_limit: int = 16_000  # characters of one tool result in the conversation


@dataclass
class Workspace:
    """The directory an agent works in, and what it may see and touch there."""

    root: Path
    allowed: frozenset[str]
    command_timeout_s: float = 300.0
    command_output_limit: int = 20_000
    # read_file stops before its answer reaches this many characters and says where to
    # go on, so a page always reaches the model whole (the conversation clips longer ones).
    read_chars: int = READ_CHARS
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    hide_reviews: bool = False  # blind reviewers never see earlier reviews
    redact_scores: bool = True  # editors read reviews' issues, never their scores
    hidden_files: frozenset[Path] = frozenset()
    # Files the orchestrator handed over by path (review files, gate logs) that may lie
    # outside the workdir, e.g. reviews kept in the main checkout while a fixer works in
    # a worktree. Readable exactly as listed; never writable.
    extra_readable: frozenset[Path] = frozenset()
    # The orchestrator's configuration (.orchestrator/, orchestrator.toml, the roles'
    # folder): read from the commit the loop started from, never written by an agent.
    protected: frozenset[Path] = frozenset()
    # When set, the only directories writes may go to (a design writer: the design dir).
    writable: frozenset[Path] | None = None
    touched: set[str] = field(default_factory=set)
    _review_dirs: tuple[Path, ...] | None = None  # found once, for a blind reviewer's commands

    def __post_init__(self) -> None:
        self.root = Path(os.path.realpath(self.root))

    # -- confinement ---------------------------------------------------------------

    def resolve(self, raw: object, *, must_exist: bool = True, write: bool = False) -> Path:
        """The real path for a tool argument, or a ToolError saying why it is refused."""
        if not isinstance(raw, str) or not raw.strip():
            raise ToolError("path must be a non-empty string relative to the working directory")
        text = raw.strip()
        if not write and self.extra_readable:
            given = Path(os.path.expanduser(text))
            granted = Path(os.path.realpath(given if given.is_absolute() else self.root / given))
            if granted in self.extra_readable and granted.is_file():
                return granted
        if text.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", text):
            raise ToolError(
                f"refused {text!r}: absolute paths are not allowed; "
                "use a path relative to the working directory"
            )
        parts = PurePosixPath(text.replace("\\", "/")).parts
        if ".." in parts:
            raise ToolError(
                f"refused {text!r}: '..' may not be used; stay inside the working directory"
            )
        real = Path(os.path.realpath(self.root.joinpath(*parts)))
        if real != self.root and self.root not in real.parents:
            raise ToolError(
                f"refused {text!r}: it resolves (through a symlink) outside the working directory"
            )
        rel = real.relative_to(self.root)
        if ".git" in rel.parts or not self._allowed_file(real):
            raise ToolError(f"refused {text!r}: that path is reserved for the orchestrator")
        if self.hide_reviews and REVIEW_DIRS.intersection(rel.parts):
            raise ToolError(f"refused {text!r}: reviews are blind, earlier reviews are hidden")
        if write:
            self._check_writable(real, text)
        try:
            mode = os.stat(real).st_mode
        except FileNotFoundError:
            if must_exist:
                raise ToolError(f"{text!r} does not exist") from None
            return real
        refuse_special(mode, text)
        return real

    def _check_writable(self, real: Path, text: str) -> None:
        if any(real == p or p in real.parents for p in self.protected):
            raise ToolError(
                f"refused {text!r}: the orchestrator's configuration (.orchestrator/, "
                "orchestrator.toml, the roles) is read from the commit the loop started from "
                "and no agent may change it; if it needs a change, say so in your summary "
                "for a person to make"
            )
        if self.writable is not None and not any(
            real == p or p in real.parents for p in self.writable
        ):
            allowed = ", ".join(sorted(self.rel(p) + "/" for p in self.writable)) or "nothing"
            raise ToolError(f"refused {text!r}: this agent may only write under {allowed}")

    def rel(self, path: Path) -> str:
        if path != self.root and self.root not in path.parents:
            return str(path)  # a granted file outside the workdir: shown as given
        return path.relative_to(self.root).as_posix() or "."

    def _visible(self, path: Path) -> bool:
        rel = path.relative_to(self.root)
        if SKIP_DIRS.intersection(rel.parts) or not self._allowed_file(path):
            return False
        return not (self.hide_reviews and REVIEW_DIRS.intersection(rel.parts))

    def _allowed_file(self, path: Path) -> bool:
        """Transcripts hold other agents' conversations (and scores): never shown."""
        return path not in self.hidden_files and not is_transcript(path)

    def _inside(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        return real == self.root or self.root in real.parents

    def _redact(self, path: Path, text: str) -> str:
        if self.redact_scores and REVIEW_DIRS.intersection(path.parts):
            return _SCORE_LINE.sub(r"\1 (hidden)", text)
        return text

    # -- dispatch ------------------------------------------------------------------

    async def call(self, name: str, args: Mapping[str, Any]) -> tuple[str, bool]:
        """Run one tool call: (text for the model, is_error)."""
        if name not in self.allowed or name not in _SPECS:
            tools = ", ".join(n for n in ALL_TOOLS if n in self.allowed) or "none"
            return (
                f"tool {name!r} is not available to this role; the tools you may call are: "
                f"{tools}, and your submit tool"
            ), True
        if not isinstance(args, Mapping):
            return f"bad arguments for {name}: the input must be a JSON object", True
        problems = argument_problems(name, args)
        if problems:
            return (
                f"bad arguments for {name}, nothing was run:\n"
                + "\n".join(f"- {p}" for p in problems)
                + f"\nCall {name} again with corrected arguments."
            ), True
        args = _normalized(name, args)
        raise_if_cancelled()
        try:
            if name == "run_command":
                text = await self.run_command(**_only(args, "command", "timeout_s"))
            else:
                method = functools.partial(
                    getattr(self, name), **_only(args, *_SPECS[name]["input_schema"]["properties"])
                )
                # A write in progress finishes before a cancellation is reported: no file
                # changes after the activity says it stopped.
                run = finish_in_thread if name in WRITE_TOOLS else asyncio.to_thread
                text = await run(method)
        except ToolError as exc:
            return str(exc), True
        except (TypeError, ValueError) as exc:  # UnicodeError is a ValueError: caught below
            if isinstance(exc, UnicodeError):
                return f"{name} failed: {exc}", True
            return f"bad arguments for {name}: {exc}", True
        except (OSError, UnicodeError) as exc:
            return f"{name} failed: {exc}", True
        return _clip(text, MAX_TOOL_OUTPUT), False

    # -- read tools ----------------------------------------------------------------

    def list_files(self, path: str = ".", recursive: bool = False) -> str:
        base = self.resolve(path)
        if base.is_file():
            return self.rel(base)
        entries: list[str] = []
        for current, dirs, files in os.walk(base):
            here = Path(current)
            dirs[:] = sorted(d for d in dirs if self._visible(here / d) and self._inside(here / d))
            for name in dirs:
                entries.append(self.rel(here / name) + "/")
            for name in sorted(files):
                file = here / name
                if self._visible(file) and self._inside(file) and _is_regular(file):
                    entries.append(self.rel(file))
            if not recursive or len(entries) >= MAX_LIST_ENTRIES:
                break
        entries.sort()
        if len(entries) > MAX_LIST_ENTRIES:
            return (
                "\n".join(entries[:MAX_LIST_ENTRIES])
                + f"\n... (more than {MAX_LIST_ENTRIES} entries; list a subdirectory)"
            )
        return "\n".join(entries) if entries else "(empty)"

    def read_file(self, path: str, offset: int = 1, limit: int = MAX_READ_LINES) -> str:
        target = self.resolve(path)
        if target.is_dir():
            raise ToolError(f"{path!r} is a directory; use list_files")
        offset, limit = max(1, int(offset)), max(1, min(int(limit), MAX_READ_LINES))
        data = read_bounded(target, path, "read_file")
        text = self._redact(target, data.decode("utf-8", errors="replace"))
        lines = text.splitlines()
        out: list[str] = []
        size = 0
        for n, line in enumerate(lines[offset - 1 : offset - 1 + limit], start=offset):
            numbered = f"{n:6d}\t{line[:MAX_LINE_CHARS]}"
            if out and size + len(numbered) + 1 > self.read_chars:
                break
            out.append(numbered)
            size += len(numbered) + 1
        if not out:
            return f"(no lines at offset {offset}; the file has {len(lines)})"
        shown = offset + len(out) - 1
        if shown < len(lines):
            out.append(
                f"... (lines {offset}-{shown} of {len(lines)}; read on with "
                f"read_file(path={path!r}, offset={shown + 1}))"
            )
        return "\n".join(out)

    def search_files(
        self,
        pattern: str,
        path: str = ".",
        regex: bool = True,
        max_results: int = 100,
        glob: str = "",
        files_only: bool = False,
    ) -> str:
        base = self.resolve(path)
        matches = _matcher(pattern, regex)
        limit = max(1, min(int(max_results), MAX_SEARCH_RESULTS))
        deadline = time.monotonic() + SEARCH_TIME_BUDGET_S
        scanned = 0
        hits: list[str] = []
        files = [base] if base.is_file() else self._walk_files(base)
        for count, file in enumerate(f for f in files if _globbed(self.rel(f), glob)):
            if time.monotonic() > deadline or scanned > MAX_SEARCH_TOTAL_BYTES:
                return "\n".join(
                    [
                        *hits,
                        f"... (search stopped after {count} files: it reached its budget of "
                        f"{SEARCH_TIME_BUDGET_S:g}s / {MAX_SEARCH_TOTAL_BYTES // 1_000_000} MB; "
                        "search a narrower path or glob)",
                    ]
                )
            real = Path(os.path.realpath(file))  # opened without following: resolve first
            if not self._inside(real):
                continue
            try:
                data = read_bounded(real, self.rel(file), "search_files", MAX_SEARCH_FILE_BYTES)
            except (OSError, ToolError):
                continue  # too large, unreadable or replaced by a special file: not text to search
            scanned += len(data)
            if b"\0" in data[:4096]:
                continue
            text = self._redact(file, data.decode("utf-8", errors="replace"))
            for n, line in enumerate(text.splitlines(), start=1):
                if matches(line):
                    hits.append(
                        self.rel(file) if files_only else f"{self.rel(file)}:{n}: {line[:300]}"
                    )
                    if len(hits) >= limit:
                        return (
                            "\n".join(hits)
                            + f"\n... (stopped at {limit} {'files' if files_only else 'matches'}; "
                            "narrow the search)"
                        )
                    if files_only:
                        break
        return "\n".join(hits) if hits else "no matches"

    def _walk_files(self, base: Path) -> Iterable[Path]:
        for current, dirs, files in os.walk(base):
            here = Path(current)
            dirs[:] = sorted(d for d in dirs if self._visible(here / d) and self._inside(here / d))
            for name in sorted(files):
                file = here / name
                if self._visible(file) and self._inside(file) and _is_regular(file):
                    yield file

    # -- write tools ---------------------------------------------------------------

    def write_file(self, path: str, content: str) -> str:
        target = self.resolve(path, must_exist=False, write=True)
        if target.is_dir():
            raise ToolError(f"{path!r} is a directory")
        if not isinstance(content, str):
            raise ToolError("content must be a string")
        refuse_oversized(len(content.encode()), path, "write_file")
        created = not target.exists()
        atomic_write_text(target, content)
        self.touched.add(self.rel(target))
        lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
        verb = "created" if created else "overwrote"
        return (
            f"{verb} {self.rel(target)}: {len(content.encode())} bytes, {lines} lines"
            + syntax_note(target, content)
        )

    def edit_file(
        self, path: str, old_string: str, new_string: str, replace_all: bool = False
    ) -> str:
        target = self.resolve(path, write=True)
        if target.is_dir():
            raise ToolError(f"{path!r} is a directory")
        if not old_string:
            raise ToolError("old_string must not be empty; use write_file to create a file")
        text = read_bounded(target, path, "edit_file").decode("utf-8")
        count = text.count(old_string)
        if count == 0:
            raise ToolError(
                f"old_string not found in {path!r}; read the file again and copy the text exactly "
                "(without the line-number prefix)"
            )
        if count > 1 and not replace_all:
            raise ToolError(
                f"old_string occurs {count} times in {path!r}; add surrounding text to make it "
                "unique, or set replace_all"
            )
        # Sized before it is built: a short old_string replaced everywhere by a long
        # new_string must not build a huge string in the worker's memory first.
        growth = len(new_string.encode()) - len(old_string.encode())
        refuse_oversized(len(text.encode()) + count * growth, path, "edit_file")
        first = text.index(old_string)
        updated = text.replace(old_string, new_string)
        atomic_write_text(target, updated)
        self.touched.add(self.rel(target))
        start = text.count("\n", 0, first) + 1
        shown = snippet(updated, start, new_string.count("\n") + 1)
        where = f"{count} occurrences" if replace_all and count > 1 else "1 occurrence"
        return (
            f"replaced {where} in {self.rel(target)}; the first, as the file now reads:\n"
            f"{shown}" + syntax_note(target, updated)
        )

    # -- commands ------------------------------------------------------------------

    async def run_command(self, command: str, timeout_s: float | None = None) -> str:
        if not isinstance(command, str) or not command.strip():
            raise ToolError("command must be a non-empty string")
        limit_s = (
            self.command_timeout_s
            if timeout_s is None
            else min(float(timeout_s), self.command_timeout_s)
        )
        env = await asyncio.to_thread(project_environment, self.root)
        spec = sandbox.Spec(
            command=command,
            workdir=self.root,
            timeout_s=max(0.1, limit_s),
            config=self.sandbox,
            path_first=tuple(env.path_first),
            read_only=env.read_only,
            hidden=self._hidden_from_commands(),
        )
        with tempfile.TemporaryDirectory(prefix="command-") as tmp:
            try:
                outcome = await sandbox.run(spec, Path(tmp) / "output.log")
            except sandbox.SandboxUnavailable as exc:
                raise non_retryable(str(exc), "SandboxUnavailable") from exc
            text = outcome.clipped(self.command_output_limit)
        notice = f"[{outcome.notice}]\n" if outcome.notice else ""
        if outcome.timed_out:
            return f"{notice}command timed out after {limit_s:g}s and was killed: {command}\n{text}"
        return f"{notice}exit code: {outcome.exit_code}\n{text}"

    def _hidden_from_commands(self) -> tuple[Path, ...]:
        """Orchestrator records inside the workdir that a command must not read either;
        for a blind reviewer, every review folder too (a dependency's merged branch, or
        a branch that already carries its review record, brings reviews and scores)."""
        paths = [self.root.joinpath(*TRANSCRIPT_DIR), self.root.joinpath(*REVIEW_CACHE_DIR)]
        paths += [p for p in self.hidden_files if self.root in p.parents]
        if self.hide_reviews:
            if self._review_dirs is None:
                self._review_dirs = review_dirs(self.root)
            paths += self._review_dirs
        return tuple(p for p in paths if p.exists())


def review_dirs(root: Path) -> tuple[Path, ...]:
    """Every `design-reviews` / `build-reviews` folder under `root` (symlinks not followed)."""
    found = []
    for here, dirs, _ in os.walk(root):
        for name in REVIEW_DIRS.intersection(dirs):
            found.append(Path(here, name))
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and d not in REVIEW_DIRS]
    return tuple(sorted(found))


_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def refuse_special(mode: int, shown: str) -> None:
    """Only regular files and directories: a FIFO or a device would block or never end."""
    for test, kind in _SPECIAL:
        if test(mode):
            raise ToolError(
                f"refused {shown!r}: it is {kind}, not a regular file; "
                "the file tools only read and write regular files"
            )
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ToolError(f"refused {shown!r}: it is not a regular file or a directory")


def refuse_oversized(size: int, shown: str, tool: str) -> None:
    """A file the tools would leave larger than MAX_WRITE_FILE_BYTES is refused, unwritten."""
    if size > MAX_WRITE_FILE_BYTES:
        raise ToolError(
            f"refused {shown!r}: {tool} would leave it {size:,} bytes, more than the "
            f"{MAX_WRITE_FILE_BYTES:,} bytes a file tool may write; nothing was written. "
            "Split the content into smaller files"
        )


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


def read_bounded(path: Path, shown: str, tool: str, limit: int | None = None) -> bytes:
    """A regular file's bytes, at most `limit` of them.

    Opened non-blocking and checked again on the open descriptor, so a file swapped
    for a FIFO after `resolve` still cannot block the worker, and a file that grows
    while it is read still cannot fill its memory.
    """
    limit = MAX_READ_FILE_BYTES if limit is None else limit
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        refuse_special(info.st_mode, shown)
        if stat.S_ISDIR(info.st_mode):
            raise ToolError(f"{shown!r} is a directory; use list_files")
        too_big = ToolError(
            f"refused {shown!r}: it is larger than {limit:,} bytes, more than {tool} handles; "
            "search it with search_files, or read a part with run_command (`sed -n 1,200p`) "
            "where your role has it"
        )
        if info.st_size > limit:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _matcher(pattern: str, regex: bool) -> Callable[[str], object]:
    """A line test that runs in linear time: RE2 for regular expressions, `in` for text."""
    if not regex:
        return lambda line: pattern in line
    try:
        compiled = re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", errors="replace")
        raise ToolError(
            f"invalid regular expression {pattern!r}: {detail}; the search uses RE2 syntax "
            "(no backreferences or lookaround), or pass regex=false for plain text"
        ) from exc
    search: Callable[[str], object] = compiled.search
    return search


def _globbed(rel: str, glob: str) -> bool:
    """Whether a relative path fits a glob: `*.py` matches a file name at any depth,
    `src/**/*.py` (a pattern with a slash) the whole path; no glob: every file."""
    if not glob.strip():
        return True
    pattern = glob.strip().removeprefix("./")
    if "/" not in pattern:
        return fnmatch.fnmatch(PurePosixPath(rel).name, pattern)
    return fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel, pattern.replace("**/", ""))


def snippet(text: str, start: int, count: int, context: int = SNIPPET_CONTEXT) -> str:
    """Lines `start`..`start+count-1` of `text` with `context` lines around, numbered as
    read_file numbers them (a long region shows its ends)."""
    lines = text.splitlines()
    first, last = max(1, start - context), min(len(lines), start + count - 1 + context)
    numbered = [f"{n:6d}\t{lines[n - 1][:MAX_LINE_CHARS]}" for n in range(first, last + 1)]
    if len(numbered) > 40:
        numbered = [*numbered[:20], f"   ... ({len(numbered) - 40} lines)", *numbered[-20:]]
    return "\n".join(numbered) if numbered else "(the file is empty)"


def syntax_note(path: Path, text: str) -> str:
    """A syntax check for the languages it knows (Python, JSON, TOML, YAML), as a line to
    append to a write's answer; nothing for other files."""
    kind = SYNTAX_CHECKED.get(path.suffix.lower())
    if kind is None:
        return ""
    try:
        if kind == "Python":
            ast.parse(text, filename=path.name)
        elif kind == "JSON":
            json.loads(text)
        elif kind == "TOML":
            tomllib.loads(text)
        else:
            yaml.safe_load(text)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        return f"\nsyntax check ({kind}): ERROR at {where}: {exc.msg}. The file is saved; fix it."
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError, TOMLDecodeError
        detail = " ".join(str(exc).split())[:300]
        return f"\nsyntax check ({kind}): ERROR: {detail}. The file is saved; fix it."
    return f"\nsyntax check ({kind}): OK"


def _clip(text: str, limit: int) -> str:
    """Keep head and tail of long output: errors are usually at the end."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    return f"{text[:head]}\n... ({len(text) - limit} characters cut) ...\n{text[-tail:]}"


def _only(args: Mapping[str, Any], *names: str) -> dict[str, Any]:
    unknown = set(args) - set(names)
    if unknown:
        raise TypeError(f"unknown argument(s) {sorted(unknown)}; expected {list(names)}")
    return {k: v for k, v in args.items() if k in names}


_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


def argument_problems(name: str, args: Mapping[str, Any]) -> list[str]:
    """What is wrong with a call's arguments by the tool's input schema, in words for the model.

    The model's tool input is not validated by the API: wrong types, values out of
    range, missing or unknown arguments and NUL bytes (which no path or command may
    hold) all end here as a tool error, never as an exception.
    """
    schema = _SPECS[name]["input_schema"]
    props: dict[str, Any] = schema["properties"]
    problems = [f"{key!r} is required" for key in schema["required"] if key not in args]
    for key, value in args.items():
        spec = props.get(key)
        if spec is None:
            problems.append(f"unknown argument {key!r}; the arguments are {list(props)}")
            continue
        kind = spec["type"]
        if not _is_type(value, kind):
            shown = json.dumps(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            problems.append(f"{key!r} must be {_JSON_TYPES.get(kind, kind)}, not {shown}")
            continue
        if kind == "string" and "\x00" in value:
            problems.append(f"{key!r} contains a NUL byte (\\u0000); remove it")
        if "minimum" in spec and value < spec["minimum"]:
            problems.append(f"{key!r} must be at least {spec['minimum']}, not {value}")
        if "maximum" in spec and value > spec["maximum"]:
            problems.append(f"{key!r} must be at most {spec['maximum']}, not {value}")
    return problems


def _is_type(value: Any, kind: str) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float)
    return isinstance(value, str) if kind == "string" else True


def _normalized(name: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Whole numbers sent as 3.0 become 3 where the schema says integer."""
    props = _SPECS[name]["input_schema"]["properties"]
    return {
        k: int(v) if props[k]["type"] == "integer" and isinstance(v, float) else v
        for k, v in args.items()
    }


def _schema(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


_PATH = {"type": "string", "description": "path relative to the working directory"}
_SPECS: dict[str, dict[str, Any]] = {
    "list_files": {
        "input_schema": _schema(
            {
                "path": {**_PATH, "default": "."},
                "recursive": {
                    "type": "boolean",
                    "default": False,
                    "description": "true: the whole tree below path",
                },
            },
            [],
        ),
    },
    "read_file": {
        "input_schema": _schema(
            {
                "path": _PATH,
                "offset": {"type": "integer", "minimum": 1, "description": "first line (1-based)"},
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_READ_LINES,
                    "description": "how many lines at most",
                },
            },
            ["path"],
        ),
    },
    "search_files": {
        "input_schema": _schema(
            {
                "pattern": {"type": "string", "description": "RE2 regular expression or text"},
                "path": {**_PATH, "default": "."},
                "regex": {
                    "type": "boolean",
                    "default": True,
                    "description": "false: plain substring",
                },
                "max_results": {"type": "integer", "minimum": 1, "maximum": MAX_SEARCH_RESULTS},
                "glob": {
                    "type": "string",
                    "default": "",
                    "description": "only files whose name (or, with a slash, path) fits, "
                    "e.g. *.py or tests/**/*.py",
                },
                "files_only": {
                    "type": "boolean",
                    "default": False,
                    "description": "true: each matching file once, without the lines",
                },
            },
            ["pattern"],
        ),
    },
    "write_file": {
        "input_schema": _schema(
            {"path": _PATH, "content": {"type": "string"}}, ["path", "content"]
        ),
    },
    "edit_file": {
        "input_schema": _schema(
            {
                "path": _PATH,
                "old_string": {"type": "string", "description": "exact text, without line numbers"},
                "new_string": {"type": "string"},
                "replace_all": {"type": "boolean", "default": False},
            },
            ["path", "old_string", "new_string"],
        ),
    },
    "run_command": {
        "input_schema": _schema(
            {
                "command": {"type": "string", "description": "a shell command line (bash -c)"},
                "timeout_s": {
                    "type": "number",
                    "minimum": 1,
                    "description": "seconds, at most the limit",
                },
            },
            ["command"],
        ),
    },
}


def describe(name: str, limits: ToolLimits) -> str:
    """A tool's description: what it does, its limits, an example (SWE-agent's and Claude
    Code's tools describe themselves this way: the model plans around the limits)."""
    result = limits.result_limit
    timeout = f"{limits.command_timeout_s:g}"
    texts = {
        "list_files": (
            "List the files and directories directly under a path (directories end in /). "
            "Set recursive=true for the whole tree below it; hidden tool folders (.git, "
            "node_modules, caches) are left out. At most "
            f"{MAX_LIST_ENTRIES} entries: for a big tree, list a subdirectory or use "
            "search_files with a glob and files_only=true instead. Example: "
            '{"path": "src"}.'
        ),
        "read_file": (
            "Read a text file; each line comes with its number and a tab, which are not part "
            f"of the file. One call returns at most {MAX_READ_LINES} lines and about "
            f"{limits.result_limit:,} characters (lines over {MAX_LINE_CHARS} characters are "
            "cut); when there is more, the answer ends by naming the offset to read on with, "
            "on the same path. Files over 10 MB are refused. Example: "
            '{"path": "src/app.py", "offset": 120, "limit": 80}.'
        ),
        "search_files": (
            "Search file contents line by line for a regular expression (RE2 syntax: no "
            "backreferences or lookaround) or, with regex=false, plain text; answers "
            "`path:line: text`. Narrow it with glob (`*.py`, `tests/**/*.py`); files_only=true "
            "lists each matching file once. At most "
            f"{MAX_SEARCH_RESULTS} results; one search stops after {SEARCH_TIME_BUDGET_S:g} s "
            f"or {MAX_SEARCH_TOTAL_BYTES // 1_000_000} MB and says so; files over 2 MB and "
            'binary files are skipped. Example: {"pattern": "def parse_", "glob": "*.py"}.'
        ),
        "write_file": (
            "Create a text file, or replace its whole content. Prefer edit_file to change part "
            f"of an existing file. A file may not exceed {MAX_WRITE_FILE_BYTES // 1_000_000} MB; "
            "write a long file in parts (write_file, then edit_file to add). The answer gives "
            "its size and, for Python, JSON, TOML and YAML, a syntax check. Example: "
            '{"path": "tests/test_app.py", "content": "import app\\n"}.'
        ),
        "edit_file": (
            "Replace an exact piece of a file: old_string must match the file's text exactly "
            "(copy it from read_file without the line-number prefix, whitespace included) and "
            "occur once, unless replace_all=true. The answer shows the changed region with "
            "line numbers and, for Python, JSON, TOML and YAML, a syntax check, so you need "
            "not read the file again. Example: "
            '{"path": "src/app.py", "old_string": "return a + b", "new_string": "return a - b"}.'
        ),
        "run_command": (
            "Run a shell command in the working directory, in a sandbox: no network, no "
            "secrets, only the working directory writable, no process outliving it. It is "
            f"killed after {timeout} s (or timeout_s, if lower). The answer is the exit code "
            f"and the output (stdout and stderr together): at most {limits.command_output_limit:,} "
            "bytes are kept, the head and the tail (where test summaries and errors are), and "
            f"a result over {result:,} characters is shortened the same way, the whole saved "
            "to a file you can read_file. Example: "
            '{"command": "python -m pytest -q tests/test_app.py -x"}.'
        ),
    }
    return texts[name]
