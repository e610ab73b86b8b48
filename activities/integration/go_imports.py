"""Go imports: a path under the module's own path (`go.mod`'s `module`) names a package
directory of the repository; any other non-standard path a module `go.mod` requires.

The standard library is every path whose first element has no dot (`fmt`,
`net/http`), as the go command decides it. Without a go.mod there is no module
to check against, and nothing is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
LINE_COMMENT = re.compile(r"//[^\n]*")
IMPORT_BLOCK = re.compile(r"^import\s*\((.*?)\)", re.DOTALL | re.MULTILINE)
IMPORT_ONE = re.compile(r'^import\s+(?:[\w.]+\s+)?"([^"]+)"', re.MULTILINE)
IN_BLOCK = re.compile(r'(?:[\w.]+\s+)?"([^"]+)"')
MODULE = re.compile(r"^module\s+(\S+)", re.MULTILINE)
REQUIRE_ONE = re.compile(r"^(?:require|replace)\s+([^\s(]+)", re.MULTILINE)
REQUIRE_BLOCK = re.compile(r"^(?:require|replace)\s*\((.*?)\)", re.DOTALL | re.MULTILINE)


@dataclass
class Module:
    root: Path
    path: str
    requires: list[str] = field(default_factory=list)


def module_of(worktree: Path, rel: str, cache: dict[Path, Module | None]) -> Module | None:
    """The module `rel` belongs to: the nearest go.mod above it, inside the repository."""
    for folder in (worktree / rel).parents:
        if not folder.is_relative_to(worktree):
            return None
        if folder not in cache:
            cache[folder] = _read_mod(folder)
        if cache[folder] is not None:
            return cache[folder]
    return None


def _read_mod(folder: Path) -> Module | None:
    try:
        text = LINE_COMMENT.sub("", (folder / "go.mod").read_text(encoding="utf-8"))
    except OSError:
        return None
    name = MODULE.search(text)
    if name is None:
        return None
    requires = REQUIRE_ONE.findall(text)
    for block in REQUIRE_BLOCK.findall(text):
        requires += [line.split()[0] for line in block.splitlines() if line.split()]
    return Module(root=folder, path=name.group(1).strip('"'), requires=requires)


def check(rel: str, text: str, module: Module) -> list[tuple[int, str]]:
    """(line, what is wrong) for each import of `rel` that does not resolve."""
    code = LINE_COMMENT.sub("", BLOCK_COMMENT.sub(lambda m: "\n" * m[0].count("\n"), text))
    found = [(m.start(1), m.group(1)) for m in IMPORT_ONE.finditer(code)]
    for block in IMPORT_BLOCK.finditer(code):
        found += [(block.start(1) + m.start(1), m.group(1)) for m in IN_BLOCK.finditer(block[1])]
    problems = []
    for at, path in sorted(found):
        problem = _problem(path, module)
        if problem:
            problems.append((code.count("\n", 0, at) + 1, problem))
    return problems


def _problem(path: str, module: Module) -> str | None:
    if path == "C" or "." not in path.split("/")[0]:
        return None  # cgo, or the standard library
    own = module.path
    if path == own or path.startswith(own + "/"):
        folder = module.root / path[len(own) :].lstrip("/")
        if folder.is_dir() and any(not p.name.endswith("_test.go") for p in folder.glob("*.go")):
            return None
        return (
            f"imports {path!r}, but module {own} has no package in "
            f"{folder.relative_to(module.root)}. Fix: create the package or import the "
            "one that exists"
        )
    if any(path == r or path.startswith(r + "/") for r in module.requires):
        return None
    return f"imports {path!r}, which go.mod does not require. Fix: `go get` it (go mod tidy)"
