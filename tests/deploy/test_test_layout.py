"""No test module imports another test module: what tests share lives in support modules.

A helper borrowed from `tests/.../test_x.py` ties one test file to another's insides, runs
that module a second time under another name, and (imported by a `test_` name) collects its
tests twice. Shared helpers belong in support modules (`tests/support.py`,
`tests/workflows/builds.py`, `tests/agents/steps.py`, ...), shared fixtures in a conftest.py.
Imports are read from the source with `ast`, at any depth (inside functions too).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO_ROOT

TESTS = REPO_ROOT / "tests"


def is_test_module(name: str) -> bool:
    return name.rsplit(".", 1)[-1].startswith("test_")


def imports_of_test_modules(path: Path, source: str) -> Iterator[str]:
    """Each import in `source` (the file at `path`) that reaches into a `test_*` module."""
    package = path.relative_to(REPO_ROOT).parent.parts
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if any(part.startswith("test_") for part in alias.name.split(".")):
                    yield f"{path.relative_to(REPO_ROOT)}:{node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: from .test_x import y, from . import test_x
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([module] if module else [])])
            names = [alias.name for alias in node.names]
            into_tests = module == "tests" or module.startswith("tests.") or node.level > 0
            if any(part.startswith("test_") for part in module.split(".")) or (
                into_tests and any(is_test_module(name) for name in names)
            ):
                shown = "." * node.level + (node.module or "")
                yield (
                    f"{path.relative_to(REPO_ROOT)}:{node.lineno}: "
                    f"from {shown} import {', '.join(names)}"
                )


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts)


def test_no_module_under_tests_imports_a_test_module() -> None:
    found = [
        hit for path in python_files() for hit in imports_of_test_modules(path, path.read_text())
    ]
    assert not found, (
        "test modules import from other test modules; move what they share into a support "
        "module (e.g. tests/support.py, tests/<area>/<topic>.py) or, for a fixture, the "
        "package's conftest.py:\n" + "\n".join(found)
    )


def test_every_way_of_reaching_into_a_test_module_is_seen() -> None:
    path = TESTS / "workflows" / "example.py"
    caught = [
        "from tests.workflows.test_build_loop import tiny_project",
        "import tests.agents.test_roles",
        "from tests.cli import test_cli_loops",
        "from .test_integration import builder",
        "from . import test_integration",
        "def f():\n    from tests.git.test_repository_programs import plant",
        "from tests.agents.test_agent_faults import test_transient_failures_are_retried",
    ]
    for source in caught:
        assert list(imports_of_test_modules(path, source)), source
    allowed = [
        "from tests.support import until",
        "from tests.workflows.builds import tiny_project",
        "from tests.agents.conftest import Runner",
        "import pytest",
        "from contracts.build import BuildInput",
    ]
    for source in allowed:
        assert not list(imports_of_test_modules(path, source)), source
